//! Training images: listing, decoding, the seed's resize + centre crop, normalisation, and a
//! loader that decodes on worker threads ahead of the network.
//!
//! Order is deterministic: epoch `e` visits the files in a permutation drawn from `(seed, e)`, and
//! a [`Cursor`] (epoch, position) says where the stream continues, so a resumed run sees exactly the
//! batches an uninterrupted one would. Unreadable files are skipped (and remembered), so batches
//! are always full.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use image::imageops::FilterType;
use image::RgbImage;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use stylecam::net::arch::{MEAN, OUTPUT_CLAMP, STD};
use tch::Tensor;

use crate::{Error, Result};

/// Every file under `dir` (recursively) whose extension `image` can decode, sorted by path.
pub fn list_images(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| Error::NoImages {
            dir: dir.to_path_buf(),
            detail: format!("cannot list {}: {e}", d.display()),
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if image::ImageFormat::from_path(&path)
                .map(|f| f.reading_enabled())
                .unwrap_or(false)
            {
                files.push(path);
            }
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(Error::NoImages {
            dir: dir.to_path_buf(),
            detail: "the folder (and its subfolders) holds no image files".into(),
        });
    }
    Ok(files)
}

/// Decodes any image `image` reads, as RGB8.
pub fn read_rgb(path: &Path) -> Result<RgbImage> {
    let img = image::ImageReader::open(path)
        .map_err(|e| Error::Input {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?
        .with_guessed_format()
        .map_err(|e| Error::Input {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?
        .decode()
        .map_err(|e| Error::Input {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    Ok(img.to_rgb8())
}

/// Resizes so the shorter side is `size`, keeping the aspect ratio (bilinear with antialiasing).
pub fn resize_shorter_side(img: &RgbImage, size: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    let (nw, nh) = if w <= h {
        (
            size,
            ((h as f64 * size as f64 / w as f64).round() as u32).max(size),
        )
    } else {
        (
            ((w as f64 * size as f64 / h as f64).round() as u32).max(size),
            size,
        )
    };
    image::imageops::resize(img, nw, nh, FilterType::Triangle)
}

/// The central `size`×`size` square.
pub fn center_crop(img: &RgbImage, size: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    let x = (w.saturating_sub(size)) / 2;
    let y = (h.saturating_sub(size)) / 2;
    image::imageops::crop_imm(img, x, y, size.min(w), size.min(h)).to_image()
}

/// The seed's training transform: shorter side to `size`, then the central square.
pub fn load_training_image(path: &Path, size: u32) -> Result<RgbImage> {
    training_square(read_rgb(path)?, path, size)
}

/// [`load_training_image`] for an image already decoded from `path`.
pub fn training_square(img: RgbImage, path: &Path, size: u32) -> Result<RgbImage> {
    if img.width() == 0 || img.height() == 0 {
        return Err(Error::Input {
            path: path.to_path_buf(),
            reason: "empty image".into(),
        });
    }
    Ok(center_crop(&resize_shorter_side(&img, size), size))
}

/// `--size`: crops must be a multiple of 4 (the network) and at least 16 px (VGG16 pools three
/// times).
pub fn check_crop_size(size: u32) -> Result<()> {
    if size < 16 || !size.is_multiple_of(4) {
        return Err(Error::InvalidArgument(format!(
            "--size {size}: must be a multiple of 4 and at least 16 (VGG16 pools three times)"
        )));
    }
    Ok(())
}

/// The style image, shorter side resized to `size` when given (VGG needs at least 16 px).
pub fn load_style_image(path: &Path, size: Option<u32>) -> Result<RgbImage> {
    let img = read_rgb(path).map_err(|e| match e {
        Error::Input { path, reason } => Error::Input {
            path,
            reason: format!(
                "{reason}\nFix: --style must name a readable image file (jpg, png, webp, …)"
            ),
        },
        other => other,
    })?;
    let img = match size {
        Some(s) => resize_shorter_side(&img, s),
        None => img,
    };
    if img.width() < 16 || img.height() < 16 {
        return Err(Error::Input {
            path: path.to_path_buf(),
            reason: format!(
                "the style image is {}×{} after resizing; VGG16 needs at least 16×16 (raise --style-size)",
                img.width(),
                img.height()
            ),
        });
    }
    Ok(img)
}

/// Appends the image as ImageNet-normalised CHW floats.
pub fn normalize_into(img: &RgbImage, out: &mut Vec<f32>) {
    let (w, h) = img.dimensions();
    let plane = (w * h) as usize;
    let start = out.len();
    out.resize(start + 3 * plane, 0.0);
    for (i, px) in img.pixels().enumerate() {
        for c in 0..3 {
            out[start + c * plane + i] = (px[c] as f32 / 255.0 - MEAN[c]) / STD[c];
        }
    }
}

/// One image as a normalised `[1,3,H,W]` tensor.
pub fn image_to_tensor(img: &RgbImage) -> Tensor {
    let mut data = Vec::new();
    normalize_into(img, &mut data);
    Tensor::from_slice(&data).reshape([1, 3, img.height() as i64, img.width() as i64])
}

/// A normalised `[3,H,W]` (or `[1,3,H,W]`) tensor back to pixels, as the app does it: clamp to
/// [-2.1, 2.7], denormalise, clip to [0,1], round.
pub fn tensor_to_image(t: &Tensor) -> Result<RgbImage> {
    let t = t
        .detach()
        .to_device(tch::Device::Cpu)
        .to_kind(tch::Kind::Float);
    let size = t.size();
    let (h, w) = (size[size.len() - 2], size[size.len() - 1]);
    let data = Vec::<f32>::try_from(t.reshape([3, h * w]).contiguous().flatten(0, -1))?;
    let plane = (h * w) as usize;
    Ok(RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let i = y as usize * w as usize + x as usize;
        let px = |c: usize| {
            let v = data[c * plane + i].clamp(OUTPUT_CLAMP.0, OUTPUT_CLAMP.1) * STD[c] + MEAN[c];
            (v.clamp(0.0, 1.0) * 255.0).round() as u8
        };
        image::Rgb([px(0), px(1), px(2)])
    }))
}

/// Where the image stream continues: position `index` in epoch `epoch`'s permutation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Cursor {
    pub epoch: u64,
    pub index: usize,
}

/// The visiting order of epoch `epoch`: a permutation of `0..n` drawn from `(seed, epoch)`.
pub fn epoch_order(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(
        seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ epoch.wrapping_add(1),
    );
    order.shuffle(&mut rng);
    order
}

/// One batch, ready to become a `[len,3,size,size]` tensor.
pub struct Batch {
    pub data: Vec<f32>,
    pub len: usize,
    pub size: u32,
    /// Where the stream continues after this batch (saved in checkpoints).
    pub cursor_after: Cursor,
    /// Files found unreadable while assembling this batch: (index into the file list, reason).
    pub newly_skipped: Vec<(usize, String)>,
}

impl Batch {
    pub fn to_tensor(&self) -> Tensor {
        let s = self.size as i64;
        Tensor::from_slice(&self.data).reshape([self.len as i64, 3, s, s])
    }
}

/// Loader settings.
#[derive(Debug, Clone)]
pub struct LoaderOptions {
    pub batch: usize,
    pub size: u32,
    pub seed: u64,
    /// Decoding threads per batch.
    pub workers: usize,
    /// Batches decoded ahead of the network.
    pub prefetch: usize,
}

/// Decodes batches on background threads; [`Loader::next`] hands them out in order.
pub struct Loader {
    rx: Option<Receiver<Result<Batch>>>,
    thread: Option<JoinHandle<()>>,
}

impl Loader {
    /// Starts the stream at `start`; `known_bad` are file indices already found unreadable.
    pub fn start(
        files: Arc<Vec<PathBuf>>,
        opts: LoaderOptions,
        start: Cursor,
        known_bad: BTreeSet<usize>,
    ) -> Self {
        let (tx, rx) = sync_channel(opts.prefetch.max(1));
        let thread = std::thread::Builder::new()
            .name("data-loader".into())
            .spawn(move || {
                let mut stream = Stream {
                    files,
                    opts,
                    cursor: start,
                    order: Vec::new(),
                    bad: known_bad,
                };
                stream.order = epoch_order(stream.files.len(), stream.opts.seed, start.epoch);
                loop {
                    let batch = stream.next_batch();
                    let failed = batch.is_err();
                    if tx.send(batch).is_err() || failed {
                        return;
                    }
                }
            })
            .expect("spawning the data-loader thread");
        Self {
            rx: Some(rx),
            thread: Some(thread),
        }
    }

    /// The next batch (blocks until it is decoded).
    pub fn next(&self) -> Result<Batch> {
        self.rx
            .as_ref()
            .expect("receiver lives until drop")
            .recv()
            .unwrap_or_else(|_| {
                Err(Error::InvalidArgument(
                    "the data-loader thread stopped unexpectedly".into(),
                ))
            })
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        // Dropping the receiver makes the thread's next send fail, so it ends.
        self.rx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Stream {
    files: Arc<Vec<PathBuf>>,
    opts: LoaderOptions,
    cursor: Cursor,
    order: Vec<usize>,
    bad: BTreeSet<usize>,
}

impl Stream {
    /// The next file index not known to be bad, advancing across epochs.
    fn next_index(&mut self) -> Result<usize> {
        let n = self.files.len();
        loop {
            if self.bad.len() >= n {
                return Err(Error::NoImages {
                    dir: self
                        .files
                        .first()
                        .and_then(|p| p.parent())
                        .map(Path::to_path_buf)
                        .unwrap_or_default(),
                    detail: format!("all {n} image files are unreadable"),
                });
            }
            if self.cursor.index >= n {
                self.cursor = Cursor {
                    epoch: self.cursor.epoch + 1,
                    index: 0,
                };
                self.order = epoch_order(n, self.opts.seed, self.cursor.epoch);
            }
            let f = self.order[self.cursor.index];
            self.cursor.index += 1;
            if !self.bad.contains(&f) {
                return Ok(f);
            }
        }
    }

    fn next_batch(&mut self) -> Result<Batch> {
        let size = self.opts.size;
        let mut images: Vec<RgbImage> = Vec::with_capacity(self.opts.batch);
        let mut newly_skipped = Vec::new();
        while images.len() < self.opts.batch {
            let wanted = self.opts.batch - images.len();
            let candidates = (0..wanted)
                .map(|_| self.next_index())
                .collect::<Result<Vec<_>>>()?;
            let decoded = decode_parallel(&self.files, &candidates, size, self.opts.workers);
            for (f, result) in candidates.into_iter().zip(decoded) {
                match result {
                    Ok(img) => images.push(img),
                    Err(e) => {
                        self.bad.insert(f);
                        newly_skipped.push((f, e.to_string()));
                    }
                }
            }
        }
        let mut data = Vec::with_capacity(images.len() * 3 * (size * size) as usize);
        for img in &images {
            normalize_into(img, &mut data);
        }
        Ok(Batch {
            data,
            len: images.len(),
            size,
            cursor_after: self.cursor,
            newly_skipped,
        })
    }
}

/// Decodes `indices` of `files` on up to `workers` threads, results in input order.
fn decode_parallel(
    files: &[PathBuf],
    indices: &[usize],
    size: u32,
    workers: usize,
) -> Vec<Result<RgbImage>> {
    let workers = workers.clamp(1, indices.len().max(1));
    let chunk = indices.len().div_ceil(workers).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = indices
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|&f| load_training_image(&files[f], size))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("decoder thread panicked"))
            .collect()
    })
}
