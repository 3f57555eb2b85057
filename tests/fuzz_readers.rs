//! Mutation fuzzing of the readers that take a user's file: images (`read_rgb`), MP4 video
//! (`VideoReader`: the box parser, then the H.264 decoder on the first frames) and ONNX models
//! (`read_model_info`, the protobuf reader behind `styles` and every model load).
//!
//! Our own small generator rather than `cargo fuzz` (which needs nightly): valid seed files made
//! here are mutated (bit flips, interesting bytes and 32-bit values such as box and chunk
//! lengths, chunks inserted, duplicated, deleted, truncation) and fed to the reader. A reader
//! must return `Ok` or an `Err` with a message; a panic, or one input taking longer than
//! [`PER_INPUT_BOUND`], fails the test and saves the input under `target/fuzz-findings/`; if the
//! process dies instead (an allocation abort), the input is `last-input-TARGET.*` there.
//!
//! Found so far (both fixed with `MAX_SAMPLES` in `src/video/mp4_read.rs`): an MP4 whose sample
//! table (`stsz`) declared four billion samples made the reader allocate 32 GB and abort; a
//! fragment run (`trun`) declaring billions of samples without per-sample fields kept the reader
//! appending default samples for minutes (a hang).
//!
//! Time per target: `STYLECAM_FUZZ_SECS` (default 12, so `make test` spends about that, the three
//! targets running in parallel). Seed: `STYLECAM_FUZZ_SEED` (default: from the clock; printed).
//! A longer run by hand: `STYLECAM_FUZZ_SECS=600 cargo test --release --test fuzz_readers -- --nocapture`.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One input may take this long before it counts as a hang (the watchdog then aborts the run).
const PER_INPUT_BOUND: Duration = Duration::from_secs(30);

fn budget() -> Duration {
    let secs = std::env::var("STYLECAM_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(12.0);
    Duration::from_secs_f64(secs)
}

fn seed(target: &str) -> u64 {
    let base = std::env::var("STYLECAM_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("fuzz {target}: seed {base} (STYLECAM_FUZZ_SEED={base} repeats it)");
    base
}

/// Values that make length and count fields interesting.
const INTERESTING_U32: &[u32] = &[
    0,
    1,
    7,
    8,
    0x7F,
    0xFF,
    0x100,
    0xFFFF,
    0x1_0000,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFFE,
    0xFFFF_FFFF,
];

/// One random mutation of `data` (never empty unless `data` is).
fn mutate(rng: &mut StdRng, data: &mut Vec<u8>) {
    if data.is_empty() {
        data.push(rng.random());
        return;
    }
    let len = data.len();
    let at = rng.random_range(0..len);
    match rng.random_range(0..8) {
        0 => data[at] ^= 1 << rng.random_range(0..8),
        1 => data[at] = [0, 0xFF, 0x7F, 0x80, 1][rng.random_range(0..5)],
        2 if len >= 4 => {
            let at = rng.random_range(0..=len - 4);
            let v = INTERESTING_U32[rng.random_range(0..INTERESTING_U32.len())];
            let bytes = if rng.random() {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            };
            data[at..at + 4].copy_from_slice(&bytes);
        }
        3 => {
            let n = rng.random_range(1..=16.min(len - at));
            data.drain(at..at + n);
        }
        4 => {
            let n = rng.random_range(1..=64);
            let junk: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            data.splice(at..at, junk);
        }
        5 => {
            let n = rng.random_range(1..=64.min(len - at));
            let chunk = data[at..at + n].to_vec();
            let to = rng.random_range(0..=data.len());
            data.splice(to..to, chunk);
        }
        6 => data.truncate(at.max(1)),
        _ => data[at] = rng.random(),
    }
}

/// Feeds mutants of `seeds` to `read` for [`budget`]; returns how many inputs ran. Fails on a
/// panic or a hang, saving the input.
fn fuzz(target: &str, seeds: &[Vec<u8>], ext: &str, read: impl Fn(&Path) -> Result<(), String>) {
    let mut rng = StdRng::seed_from_u64(seed(target));
    // The input being read stays on disk if the process dies (an allocation abort, a crash in
    // a C decoder): that file is the finding. Removed after a clean run.
    let file = findings_dir().join(format!("last-input-{target}.{ext}"));
    let deadline = Instant::now() + budget();
    let (mut runs, mut errors) = (0u64, 0u64);
    while Instant::now() < deadline {
        let mut data = seeds[rng.random_range(0..seeds.len())].clone();
        for _ in 0..rng.random_range(1..=4) {
            mutate(&mut rng, &mut data);
        }
        std::fs::write(&file, &data).unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let watchdog = watch(target, &data, ext, done.clone());
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| read(&file)));
        done.store(true, Ordering::SeqCst);
        drop(watchdog);
        match result {
            Ok(Ok(())) => {}
            Ok(Err(msg)) => {
                assert!(
                    !msg.trim().is_empty(),
                    "{target}: an error without a message"
                );
                errors += 1;
            }
            Err(_) => {
                let saved = save_finding(target, &data, ext);
                panic!("{target}: the reader panicked on {}", saved.display());
            }
        }
        runs += 1;
    }
    std::fs::remove_file(&file).unwrap();
    eprintln!(
        "fuzz {target}: {runs} inputs in {:.0} s, {errors} rejected with a message, no panic or hang",
        budget().as_secs_f64()
    );
    assert!(runs > 0);
}

/// Aborts the process (saving the input) if `done` is not set within [`PER_INPUT_BOUND`].
fn watch(
    target: &str,
    data: &[u8],
    ext: &str,
    done: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    let (target, data, ext) = (target.to_string(), data.to_vec(), ext.to_string());
    std::thread::spawn(move || {
        let t0 = Instant::now();
        while !done.load(Ordering::SeqCst) {
            if t0.elapsed() > PER_INPUT_BOUND {
                let saved = save_finding(&target, &data, &ext);
                eprintln!(
                    "{target}: input still running after {PER_INPUT_BOUND:?}: {}",
                    saved.display()
                );
                std::process::abort();
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    })
}

fn findings_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-findings");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn save_finding(target: &str, data: &[u8], ext: &str) -> PathBuf {
    let dir = findings_dir();
    let n = std::fs::read_dir(&dir).map(|r| r.count()).unwrap_or(0);
    let path = dir.join(format!("{target}-{n}.{ext}"));
    std::fs::write(&path, data).unwrap();
    path
}

fn picture(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([(x * 9) as u8, (y * 13) as u8, ((x ^ y) * 7) as u8])
    })
}

#[test]
fn image_reader_survives_mutated_files() {
    use image::ImageFormat as F;
    let img = picture(19, 11);
    let seeds: Vec<Vec<u8>> = [
        F::Png,
        F::Jpeg,
        F::Bmp,
        F::Gif,
        F::WebP,
        F::Tiff,
        F::Qoi,
        F::Tga,
        F::Pnm,
    ]
    .into_iter()
    .map(|f| {
        let mut buf = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(img.clone())
            .write_to(&mut buf, f)
            .unwrap();
        buf.into_inner()
    })
    .collect();
    fuzz("image", &seeds, "img", |p| {
        stylecam::source::image_file::read_rgb(p)
            .map(drop)
            .map_err(|e| e.to_string())
    });
}

/// Four 32×24 frames recorded by stylecam's recorder (fragmented MP4, H.264).
fn record_seed_clip(clip: &Path) {
    use stylecam::sink::recorder::{Recorder, RecorderOptions};
    let mut opts = RecorderOptions::new(clip);
    opts.queue_len = 8;
    let mut rec = Recorder::start(opts).unwrap();
    let t0 = Instant::now();
    for i in 0..4u32 {
        let t = t0 + Duration::from_millis(u64::from(i) * 40);
        rec.push(&picture(32, 24), t).unwrap();
    }
    rec.finish().unwrap();
}

#[test]
fn mp4_reader_survives_mutated_files() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("seed.mp4");
    record_seed_clip(&clip);
    let seeds = vec![std::fs::read(&clip).unwrap()];
    fuzz("mp4", &seeds, "mp4", |p| {
        let mut reader = stylecam::video::VideoReader::open(p).map_err(|e| e.to_string())?;
        for _ in 0..6 {
            match reader.next_frame().map_err(|e| e.to_string())? {
                Some(_) => {}
                None => break,
            }
        }
        Ok(())
    });
}

#[test]
fn onnx_reader_survives_mutated_files() {
    use stylecam::net::onnx::{random_weights, write_model, ModelMetadata};
    let arch = stylecam::net::ImfwArch::new(2, 1);
    let meta = ModelMetadata {
        name: "seed".into(),
        extra: vec![("k".into(), "v".into())],
    };
    let seeds = vec![write_model(&arch, &random_weights(&arch, 1), &meta).unwrap()];
    fuzz("onnx", &seeds, "onnx", |p| {
        stylecam::styles::describe(p)
            .map(drop)
            .map_err(|e| e.to_string())
    });
}

/// The inputs the fuzzer found, rebuilt from a fresh recording, read in bounded time and memory.
#[test]
fn mp4_sample_counts_found_by_fuzzing_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("seed.mp4");
    record_seed_clip(&clip);
    let seed = std::fs::read(&clip).unwrap();
    let patch = |fourcc: &[u8; 4], fields: &[u32]| {
        let mut data = seed.clone();
        let at = data
            .windows(4)
            .position(|w| w == fourcc)
            .unwrap_or_else(|| panic!("no {fourcc:?} box in the recording"))
            + 4;
        for (i, v) in fields.iter().enumerate() {
            data[at + 4 * i..at + 4 * i + 4].copy_from_slice(&v.to_be_bytes());
        }
        data
    };
    // trun: version/flags 0 (no per-sample fields), four billion samples.
    // stsz: a fixed sample size of 1 byte, four billion samples.
    for (name, data) in [
        ("trun", patch(b"trun", &[0, u32::MAX])),
        ("stsz", patch(b"stsz", &[0, 1, u32::MAX])),
    ] {
        let path = dir.path().join(format!("{name}.mp4"));
        std::fs::write(&path, data).unwrap();
        let t0 = Instant::now();
        let _ = stylecam::video::VideoReader::open(&path);
        assert!(
            t0.elapsed() < PER_INPUT_BOUND,
            "{name}: {:?} to open",
            t0.elapsed()
        );
    }
}
