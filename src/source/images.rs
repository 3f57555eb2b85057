//! A folder of images (or one image) played as a looping video at a fixed frame rate.
//! Every frame has the same size: `--camera-res` if given, else the first image's.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use image::imageops::FilterType;

use super::{Frame, FrameSource};
use crate::{Error, Result};

/// Whether `path` has the extension of an image format this source reads (the one list:
/// [`super::image_file::IMAGE_EXTENSIONS`]).
pub fn is_image_path(path: &Path) -> bool {
    super::image_file::has_image_extension(path)
}

/// Looping image slideshow.
pub struct ImageFolder {
    root: PathBuf,
    files: Vec<PathBuf>,
    size: (u32, u32),
    period: Duration,
    next_due: Option<Instant>,
    index: u64,
}

impl ImageFolder {
    /// Opens `path` (a folder: every image in it, sorted by name; or one image file).
    pub fn open(path: &Path, size: Option<(u32, u32)>, fps: f64) -> Result<Self> {
        if !(fps.is_finite() && fps > 0.0 && fps <= 1000.0) {
            return Err(Error::InvalidArgument(format!(
                "frame rate {fps} is out of range (greater than 0, at most 1000)"
            )));
        }
        let files = if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| Error::io(path, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_image_path(p))
                .collect();
            files.sort();
            files
        } else {
            vec![path.to_path_buf()]
        };
        // Find the first readable image: it fixes the frame size when none is requested.
        let mut first = None;
        for f in &files {
            // Checked reads: a FIFO or device named like an image must not block or run away.
            match super::image_file::read_rgb(f) {
                Ok(img) => {
                    first = Some(img);
                    break;
                }
                Err(e) => tracing::warn!("skipping {}: {e}", f.display()),
            }
        }
        let Some(first) = first else {
            return Err(Error::Input {
                path: path.to_path_buf(),
                reason: "no readable images (png, jpg, webp, bmp, …) here".into(),
            });
        };
        let size = size.unwrap_or((first.width(), first.height()));
        Ok(ImageFolder {
            root: path.to_path_buf(),
            files,
            size,
            period: Duration::from_secs_f64(1.0 / fps),
            next_due: None,
            index: 0,
        })
    }
}

impl FrameSource for ImageFolder {
    fn next_frame(&mut self) -> Result<Option<Frame>> {
        let now = Instant::now();
        let due = *self.next_due.get_or_insert(now);
        if due > now {
            std::thread::sleep(due - now);
        }
        self.next_due = Some(due.max(now) + self.period);
        // Skip unreadable files, but give up after a full unreadable loop.
        for _ in 0..self.files.len() {
            let path = &self.files[(self.index % self.files.len() as u64) as usize];
            self.index += 1;
            match super::image_file::read_rgb(path) {
                Ok(img) => {
                    let mut rgb = img;
                    if rgb.dimensions() != self.size {
                        rgb = image::imageops::resize(
                            &rgb,
                            self.size.0,
                            self.size.1,
                            FilterType::Triangle,
                        );
                    }
                    return Ok(Some(Frame {
                        image: rgb,
                        captured: Instant::now(),
                        index: self.index - 1,
                    }));
                }
                Err(e) => tracing::warn!("skipping {}: {e}", path.display()),
            }
        }
        Err(Error::Input {
            path: self.root.clone(),
            reason: "none of the images can be read any more".into(),
        })
    }

    fn describe(&self) -> String {
        format!(
            "{} ({} images) {}x{}",
            self.root.display(),
            self.files.len(),
            self.size.0,
            self.size.1
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loops_a_folder_at_one_size() {
        let dir = tempfile::tempdir().unwrap();
        image::RgbImage::from_pixel(20, 10, image::Rgb([255, 0, 0]))
            .save(dir.path().join("a.png"))
            .unwrap();
        image::RgbImage::from_pixel(40, 40, image::Rgb([0, 0, 255]))
            .save(dir.path().join("b.png"))
            .unwrap();
        std::fs::write(dir.path().join("c.png"), b"not a png").unwrap();
        let mut src = ImageFolder::open(dir.path(), None, 500.0).unwrap();
        let colours: Vec<[u8; 3]> = (0..4)
            .map(|_| {
                let f = src.next_frame().unwrap().unwrap();
                assert_eq!(f.image.dimensions(), (20, 10));
                f.image.get_pixel(5, 5).0
            })
            .collect();
        assert_eq!(
            colours,
            vec![[255, 0, 0], [0, 0, 255], [255, 0, 0], [0, 0, 255]]
        );
    }

    #[test]
    fn empty_folder_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = ImageFolder::open(dir.path(), None, 5.0)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("no readable images"), "{err}");
    }
}
