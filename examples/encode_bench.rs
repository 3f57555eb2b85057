//! Encoder benchmark: ms per frame and quality (PSNR) at 640×480 and 1280×720 on a moving
//! test card, encoded by stylecam's H.264 writer and decoded back by its reader.
//!
//! `cargo run --release --example encode_bench [FRAMES]`

use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};
use stylecam::video::{EncoderSettings, VideoReader, VideoWriter, VideoWriterOptions};

fn test_card(w: u32, h: u32, i: u32) -> RgbImage {
    let t = i as f32;
    let bx = ((t * 7.0) as u32) % w;
    let by = ((t * 3.0) as u32) % h;
    RgbImage::from_fn(w, h, |x, y| {
        let mut p = [
            (x * 255 / w) as u8,
            (y * 255 / h) as u8,
            ((x / 8 + y / 8 + i) % 2 * 60 + 90) as u8,
        ];
        if (x as i64 - bx as i64).abs() < (w / 8) as i64
            && (y as i64 - by as i64).abs() < (h / 8) as i64
        {
            p = [240, 240, 40];
        }
        Rgb(p)
    })
}

fn psnr(a: &RgbImage, b: &RgbImage) -> f64 {
    let mse: f64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum::<f64>()
        / a.as_raw().len() as f64;
    10.0 * (255.0f64 * 255.0 / mse.max(1e-9)).log10()
}

fn main() -> stylecam::Result<()> {
    let frames: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(90);
    let dir = std::env::temp_dir().join(format!("stylecam-encode-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| stylecam::Error::io(&dir, e))?;
    println!("| size | ms/frame (median) | ms/frame (mean) | kbit/s | PSNR dB (mean/min) |");
    println!("|---|---|---|---|---|");
    for (w, h) in [(640u32, 480u32), (1280, 720)] {
        let cards: Vec<RgbImage> = (0..frames).map(|i| test_card(w, h, i)).collect();
        let path = dir.join(format!("{w}x{h}.mp4"));
        let mut encoder = EncoderSettings::default();
        if let Some(q) = std::env::var("MAX_QP").ok().and_then(|s| s.parse().ok()) {
            encoder.max_qp = q;
        }
        let opts = VideoWriterOptions {
            encoder,
            ..Default::default()
        };
        let mut writer = VideoWriter::create(&path, w, h, &opts, None)?;
        let mut times = Vec::new();
        for (i, c) in cards.iter().enumerate() {
            let t = Instant::now();
            writer.write(c, Duration::from_secs_f64(i as f64 / 30.0))?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        writer.finish(None)?;
        let bytes = std::fs::metadata(&path)
            .map_err(|e| stylecam::Error::io(&path, e))?
            .len();
        let kbps = bytes as f64 * 8.0 / (f64::from(frames) / 30.0) / 1000.0;
        let mut reader = VideoReader::open(&path)?;
        let mut ps = Vec::new();
        let mut i = 0;
        while let Some(f) = reader.next_frame()? {
            ps.push(psnr(&f.image, &cards[i]));
            i += 1;
        }
        let mean_ms = times.iter().sum::<f64>() / times.len() as f64;
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        let mean_psnr = ps.iter().sum::<f64>() / ps.len() as f64;
        let min_psnr = ps.iter().copied().fold(f64::INFINITY, f64::min);
        println!(
            "| {w}×{h} | {median:.2} | {mean_ms:.2} | {kbps:.0} | {mean_psnr:.1} / {min_psnr:.1} |"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
