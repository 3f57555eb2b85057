//! Flicker on real clips: how much the stylized video changes from frame to frame, relative to how
//! much the camera's frames change: mean |out_t − out_{t−1}| / mean |in_t − in_{t−1}| (RGB, over
//! every pixel and consecutive pair of a clip). 1 means the style moves exactly as much as the
//! picture; a per-frame network that amplifies noise and small motion scores well above it.
//!
//! Clips are folders of frames (any image format, in name order), e.g. made with
//! `ffmpeg -i clip.mkv clip/%04d.png`; `training/data/prepare_open_data.sh` makes the held-out
//! ones the shipped styles are measured on.

use std::path::{Path, PathBuf};

use image::RgbImage;
use serde::Serialize;

use crate::{data, Error, Result};

/// One clip's score.
#[derive(Debug, Clone, Serialize)]
pub struct ClipScore {
    pub clip: String,
    pub frames: usize,
    /// mean |out_t − out_{t−1}| / mean |in_t − in_{t−1}|.
    pub flicker: f64,
}

/// The clips under `dir`: each subfolder holding images is a clip; a folder of images with no
/// subfolders is one clip.
pub fn find_clips(dir: &Path) -> Result<Vec<(String, Vec<PathBuf>)>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut subdirs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    subdirs.sort();
    let folders = if subdirs.is_empty() {
        vec![dir.to_path_buf()]
    } else {
        subdirs
    };
    let mut clips = Vec::new();
    for f in folders {
        let frames = data::list_images(&f)?;
        if frames.len() >= 2 {
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            clips.push((name, frames));
        }
    }
    if clips.is_empty() {
        return Err(Error::NoImages {
            dir: dir.to_path_buf(),
            detail: "no clip with at least two frames (a clip is a folder of frames in name order)"
                .into(),
        });
    }
    Ok(clips)
}

/// Mean absolute difference of two equally sized images, in 8-bit levels.
pub fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| x.abs_diff(*y) as u64)
        .sum();
    sum as f64 / a.as_raw().len().max(1) as f64
}

/// The flicker of `stylize` over `frames`.
pub fn clip_flicker(
    frames: &[PathBuf],
    mut stylize: impl FnMut(&RgbImage) -> Result<RgbImage>,
) -> Result<f64> {
    let (mut din, mut dout) = (0.0, 0.0);
    let mut prev: Option<(RgbImage, RgbImage)> = None;
    for f in frames {
        let input = data::read_rgb(f)?;
        let output = stylize(&input)?;
        if output.dimensions() != input.dimensions() {
            return Err(Error::InvalidArgument(format!(
                "stylized frame is {:?}, the input {:?}: flicker needs equal sizes",
                output.dimensions(),
                input.dimensions()
            )));
        }
        if let Some((pi, po)) = &prev {
            if pi.dimensions() == input.dimensions() {
                din += mean_abs_diff(pi, &input);
                dout += mean_abs_diff(po, &output);
            }
        }
        prev = Some((input, output));
    }
    if din <= 0.0 {
        return Err(Error::InvalidArgument(format!(
            "the frames of {} do not change: flicker is undefined for a still clip",
            frames
                .first()
                .and_then(|f| f.parent())
                .unwrap_or(Path::new("."))
                .display()
        )));
    }
    Ok(dout / din)
}

/// Scores `stylize` on every clip; returns the per-clip scores and their mean.
pub fn score(
    clips: &[(String, Vec<PathBuf>)],
    mut stylize: impl FnMut(&RgbImage) -> Result<RgbImage>,
) -> Result<(Vec<ClipScore>, f64)> {
    let mut scores = Vec::new();
    for (name, frames) in clips {
        let flicker = clip_flicker(frames, &mut stylize)?;
        scores.push(ClipScore {
            clip: name.clone(),
            frames: frames.len(),
            flicker,
        });
    }
    let mean = scores.iter().map(|s| s.flicker).sum::<f64>() / scores.len().max(1) as f64;
    Ok((scores, mean))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_clip(dir: &Path, frames: &[u8]) -> Vec<PathBuf> {
        frames
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let p = dir.join(format!("{i:03}.png"));
                RgbImage::from_pixel(8, 6, image::Rgb([v, v, v]))
                    .save(&p)
                    .unwrap();
                p
            })
            .collect()
    }

    #[test]
    fn identity_scores_one_and_amplifier_more() {
        let dir = tempfile::tempdir().unwrap();
        let frames = write_clip(dir.path(), &[100, 104, 100, 108]);
        let same = clip_flicker(&frames, |i| Ok(i.clone())).unwrap();
        assert!((same - 1.0).abs() < 1e-9, "{same}");
        let doubled = clip_flicker(&frames, |i| {
            Ok(RgbImage::from_fn(i.width(), i.height(), |x, y| {
                let v = i.get_pixel(x, y)[0].saturating_sub(100) * 2 + 100;
                image::Rgb([v, v, v])
            }))
        })
        .unwrap();
        assert!((doubled - 2.0).abs() < 1e-9, "{doubled}");
        let still = clip_flicker(&frames, |i| {
            Ok(RgbImage::from_pixel(
                i.width(),
                i.height(),
                image::Rgb([7, 7, 7]),
            ))
        })
        .unwrap();
        assert_eq!(still, 0.0);
    }

    #[test]
    fn still_clip_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let frames = write_clip(dir.path(), &[50, 50, 50]);
        let e = clip_flicker(&frames, |i| Ok(i.clone()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("do not change"), "{e}");
    }
}
