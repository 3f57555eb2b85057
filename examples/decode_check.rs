//! Decodes a video with stylecam's reader and compares every frame with ffmpeg's decode
//! (PSNR), to check real-world files: `cargo run --release --example decode_check -- FILE...`

use std::process::Command;

use stylecam::video::VideoReader;

fn main() -> anyhow::Result<()> {
    for path in std::env::args().skip(1) {
        let mut reader = match VideoReader::open(path.as_ref()) {
            Ok(r) => r,
            Err(e) => {
                println!("{path}: {e}");
                continue;
            }
        };
        let info = reader.info();
        let out = Command::new("ffmpeg")
            .args([
                "-v", "error", "-i", &path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
            ])
            .output()?;
        let n = (info.width * info.height * 3) as usize;
        let reference: Vec<&[u8]> = out.stdout.chunks_exact(n).collect();
        let (mut count, mut min_psnr, mut sum_psnr) = (0usize, f64::INFINITY, 0.0);
        while let Some(f) = reader.next_frame()? {
            if let Some(r) = reference.get(count) {
                let mse = f
                    .image
                    .as_raw()
                    .iter()
                    .zip(r.iter())
                    .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                    .sum::<f64>()
                    / n as f64;
                let p = 10.0 * (65025.0 / mse.max(1e-9)).log10();
                min_psnr = min_psnr.min(p);
                sum_psnr += p;
            }
            count += 1;
        }
        println!(
            "{path}: {}x{} {:.2} fps, {} frames decoded (ffmpeg: {}), PSNR vs ffmpeg mean {:.1} min {:.1} dB, audio {:?}",
            info.width, info.height, info.fps, count, reference.len(), sum_psnr / count.max(1) as f64, min_psnr, info.audio_codec
        );
    }
    Ok(())
}
