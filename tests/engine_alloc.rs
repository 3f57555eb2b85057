//! Steady-state stylizing allocates no frame-sized buffers on the Rust side (output frames,
//! scratch vectors). Its own test binary because it installs a counting global allocator.
//! ONNX Runtime's tensors come from its own allocator, which Rust cannot see: that they are reused
//! is checked by a unit test in `engine::stylizer` (it counts buffer rebuilds).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use image::{Rgb, RgbImage};
use stylecam::engine::{DeviceChoice, EngineOptions, Stylizer};
use stylecam::net::onnx::{random_weights, write_model, ModelMetadata};
use stylecam::net::ImfwArch;

struct Counting;

static BYTES: AtomicUsize = AtomicUsize::new(0);
static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        BYTES.fetch_add(new_size, Ordering::Relaxed);
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn steady_state_frames_allocate_no_frame_buffers() {
    let d = tempfile::tempdir().unwrap();
    let arch = ImfwArch::new(8, 1);
    let bytes = write_model(
        &arch,
        &random_weights(&arch, 3),
        &ModelMetadata {
            name: "alloc".into(),
            extra: vec![],
        },
    )
    .unwrap();
    let model = d.path().join("alloc.onnx");
    std::fs::write(&model, bytes).unwrap();
    let opts = EngineOptions {
        intra_threads: Some(1),
        ..EngineOptions::default()
    };
    let mut st = Stylizer::load(&model, DeviceChoice::Cpu, &opts).unwrap();
    // 90×70 → a 92×72 tensor: 79 kB per buffer, 19 kB per frame.
    let frames: Vec<RgbImage> = (0..3u32)
        .map(|s| RgbImage::from_fn(90, 70, |x, y| Rgb([(x + s) as u8, y as u8, (x * y) as u8])))
        .collect();
    let mut out = RgbImage::new(90, 70);
    st.stylize_into(&frames[0], &mut out).unwrap(); // warm-up: buffers are created here

    BYTES.store(0, Ordering::Relaxed);
    LARGEST.store(0, Ordering::Relaxed);
    for f in &frames {
        st.stylize_into(f, &mut out).unwrap();
    }
    let (total, largest) = (
        BYTES.load(Ordering::Relaxed),
        LARGEST.load(Ordering::Relaxed),
    );
    // A frame is 18 900 bytes and a tensor 79 488: anything near those sizes would be a
    // per-frame buffer. What remains is ort's bookkeeping for each run (names, handles) and
    // for each call of stylecam's own operators (the value handles of their inputs and
    // outputs, the parallel-for closure): ≈ 4 kB per frame for this graph's five norms.
    assert!(
        largest < 4096,
        "largest allocation per frame: {largest} bytes"
    );
    assert!(total < 3 * 8192, "allocated {total} bytes over 3 frames");

    // The counter does see frame-sized allocations: a new frame size resizes the output frame.
    let bigger = RgbImage::new(120, 90);
    BYTES.store(0, Ordering::Relaxed);
    st.stylize_into(&bigger, &mut out).unwrap();
    assert!(BYTES.load(Ordering::Relaxed) > 120 * 90 * 3);
}
