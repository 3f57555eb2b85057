//! Pre/post-processing kernels at webcam sizes: `cargo bench --bench pixels`.
//!
//! Goal (issue 6): preprocess + postprocess ≤ 3 % of a frame's inference time.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use image::{Rgb, RgbImage};
use stylecam::pixels::{
    blend, phase_input_shape, phase_output_shape, postprocess, postprocess_phases, preprocess,
    preprocess_phases, preserve_colour, PadGeometry,
};

fn frame(w: u32, h: u32, salt: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([(x ^ y) as u8, (x * 3 + salt) as u8, (y * 5 + x) as u8])
    })
}

fn bench_pixels(c: &mut Criterion) {
    let mut group = c.benchmark_group("pixels");
    // 640×480 and 1280×720 are multiples of 4; 638×478 exercises the padding path.
    for (w, h) in [(640u32, 480u32), (1280, 720), (638, 478)] {
        let id = format!("{w}x{h}");
        let input = frame(w, h, 0);
        let geometry = PadGeometry::for_frame(w as usize, h as usize);
        let mut tensor = vec![0f32; geometry.tensor_len()];
        let mut out = RgbImage::new(w, h);
        group.throughput(Throughput::Elements(u64::from(w * h)));

        group.bench_function(BenchmarkId::new("preprocess", &id), |b| {
            b.iter(|| preprocess(&input, &geometry, &mut tensor).unwrap())
        });
        preprocess(&input, &geometry, &mut tensor).unwrap();
        group.bench_function(BenchmarkId::new("postprocess", &id), |b| {
            b.iter(|| postprocess(&tensor, &geometry, &mut out).unwrap())
        });
        // The phase-split ends of a lowered graph (reflection pad 4 and SpaceToDepth fused into
        // the preprocess, DepthToSpace into the postprocess).
        let [c_in, h_in, w_in] = phase_input_shape(&geometry, 4);
        let mut phases_in = vec![0f32; c_in * h_in * w_in];
        group.bench_function(BenchmarkId::new("preprocess_phases", &id), |b| {
            b.iter(|| preprocess_phases(&input, &geometry, 4, &mut phases_in).unwrap())
        });
        let [c_out, h_out, w_out] = phase_output_shape(&geometry);
        let phases_out: Vec<f32> = tensor.iter().copied().take(c_out * h_out * w_out).collect();
        group.bench_function(BenchmarkId::new("postprocess_phases", &id), |b| {
            b.iter(|| postprocess_phases(&phases_out, &geometry, &mut out).unwrap())
        });
        if (w, h) == (640, 480) {
            let stylized = frame(w, h, 77);
            group.bench_function(BenchmarkId::new("blend", &id), |b| {
                b.iter(|| blend(&input, &stylized, 0.7, &mut out).unwrap())
            });
            group.bench_function(BenchmarkId::new("preserve_colour", &id), |b| {
                b.iter(|| preserve_colour(&input, &stylized, &mut out).unwrap())
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_pixels);
criterion_main!(benches);
