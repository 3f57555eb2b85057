//! Offline video stylization benchmark: frames/s of `stylize_video` vs inference alone, and the
//! flicker ratio (mean |Δ| between consecutive output frames ÷ the same for the input frames)
//! with and without `--smooth`.
//!
//! ```text
//! cargo run --release --example video_stylize_bench -- [--model M.onnx] [--size WxH]
//!     [--frames N] [--smooth S] CLIP.mp4...
//! ```
//! Without `--model` a seed-architecture network (width 32, 5 blocks) with random weights
//! (seed 7) is written to a temporary file and used.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use image::RgbImage;
use stylecam::engine::device::DeviceChoice;
use stylecam::engine::stylizer::{EngineOptions, Stylizer};
use stylecam::net::arch::ImfwArch;
use stylecam::net::onnx::{random_weights, write_model, ModelMetadata};
use stylecam::video::{stylize_video, VideoReader, VideoStylizeOptions};

fn main() -> anyhow::Result<()> {
    let mut model: Option<PathBuf> = None;
    let mut size: Option<(u32, u32)> = None;
    let mut max_frames = usize::MAX;
    let mut smooth = 0.5f32;
    let mut clips = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--model" => model = args.next().map(PathBuf::from),
            "--size" => {
                let s = args.next().unwrap_or_default();
                let (w, h) = s
                    .split_once('x')
                    .ok_or_else(|| anyhow::anyhow!("--size WxH"))?;
                size = Some((w.parse()?, h.parse()?));
            }
            "--frames" => max_frames = args.next().unwrap_or_default().parse()?,
            "--smooth" => smooth = args.next().unwrap_or_default().parse()?,
            _ => clips.push(PathBuf::from(a)),
        }
    }
    let tmp = tempfile::tempdir()?;
    let model = match model {
        Some(m) => m,
        None => {
            let arch = ImfwArch::new(32, 5);
            let bytes = write_model(
                &arch,
                &random_weights(&arch, 7),
                &ModelMetadata::new("random-seed7"),
            )?;
            let p = tmp.path().join("random.onnx");
            std::fs::write(&p, bytes)?;
            p
        }
    };
    let mut stylizer = Stylizer::load(&model, DeviceChoice::Cpu, &EngineOptions::default())?;
    println!(
        "model {} on {}; frames per clip ≤ {}; size {:?}",
        model.display(),
        stylizer.provider(),
        if max_frames == usize::MAX {
            "all".to_string()
        } else {
            max_frames.to_string()
        },
        size
    );
    println!("| clip | size | frames | stylize_video fps | inference-only fps | flicker (no smooth) | flicker (smooth {smooth}) | audio |");
    println!("|---|---|---|---|---|---|---|---|");
    for clip in &clips {
        let info = VideoReader::open(clip)?.info();
        let (w, h) = size.unwrap_or((info.width, info.height));
        // Inference alone on one decoded frame of the clip, same size.
        let first = VideoReader::open(clip)?
            .next_frame()?
            .expect("a frame")
            .image;
        let input = image::imageops::resize(&first, w, h, image::imageops::FilterType::Triangle);
        let mut out = RgbImage::new(w, h);
        stylizer.stylize_into(&input, &mut out)?; // warm-up
        let n = 10;
        let t = Instant::now();
        for _ in 0..n {
            stylizer.stylize_into(&input, &mut out)?;
        }
        let inference_fps = f64::from(n) / t.elapsed().as_secs_f64();

        let mut results = Vec::new();
        for s in [0.0f32, smooth] {
            let out_path = tmp.path().join(format!("out-{s}.mp4"));
            let stop = Arc::new(AtomicBool::new(false));
            let opts = VideoStylizeOptions {
                size,
                smooth: s,
                interrupt: Some(Arc::clone(&stop)),
                ..Default::default()
            };
            let mut count = 0usize;
            let report = stylize_video(
                clip,
                &out_path,
                opts,
                &mut |i: &RgbImage, o: &mut RgbImage| {
                    count += 1;
                    if count >= max_frames {
                        stop.store(true, Ordering::SeqCst);
                    }
                    stylizer.stylize_into(i, o)
                },
            )?;
            results.push(report);
        }
        let r = &results[0];
        println!(
            "| {} | {}×{} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:?} |",
            clip.file_name().unwrap_or_default().to_string_lossy(),
            r.width,
            r.height,
            r.frames_written,
            r.frames_per_sec(),
            inference_fps,
            r.flicker_ratio.unwrap_or(f64::NAN),
            results[1].flicker_ratio.unwrap_or(f64::NAN),
            r.audio
        );
    }
    Ok(())
}
