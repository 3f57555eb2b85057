//! Distillation: the student ImfwNet learns to reproduce the teacher ([`crate::teacher`]) on
//! photos, and to stay still when its input moves a little or gets noisier (temporal stability).
//!
//! Data: every photo is resized (shorter side `teacher_size`, 384 by default, the size Magenta's
//! transformer was exported at) and centre-cropped to a square; the teacher stylizes that square
//! with the painting's embedding (blended with the photo's own by `strength`, Magenta's way). The
//! stylized squares are cached on disk as 16-bit PNGs under a key made of the teacher's weights,
//! the painting and its size, the strength, the photo and the crop ([`cache_key`]), so a resumed or
//! repeated run computes nothing twice. Batches are random `image_size` crops (with horizontal
//! flips) of the (photo, target) pairs, drawn from `(seed, step)` alone, so a resumed run sees
//! exactly the batches an uninterrupted one would.
//!
//! Loss (in [0,1] RGB after the app's clamp and denormalisation, the pixels a user sees):
//! - teacher = mean |student − teacher| + `grad_weight` · mean |∇student − ∇teacher| (∇: horizontal
//!   and vertical neighbour differences; the gradient term weighs the brush texture that a pixel
//!   loss learns last) + `texture_weight` · the texture-energy term ([`teacher_loss`]);
//! - stability = mean |student(shifted, noisier input) − shifted student(input)| over the overlap,
//!   away from the borders (the student's output on the unshifted input is the target, without
//!   gradient).

use std::path::{Path, PathBuf};

use image::{ImageBuffer, Rgb, RgbImage};
use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use stylecam::net::arch::{MEAN, OUTPUT_CLAMP, STD};
use tch::{Device, Kind, Tensor};

use crate::checkpoint::write_atomic;
use crate::data;
use crate::net::ImfwNet;
use crate::teacher::Teacher;
use crate::{Error, Result};

/// Pixels left out at the overlap's borders by the stability term (where reflection padding
/// legitimately changes the output when the window moves).
const STABILITY_BORDER: i64 = 8;
/// Version of the cache's key and file layout.
const CACHE_VERSION: &str = "stylecam-distill-v1";

/// The distillation settings (saved in checkpoints with the rest of the run's configuration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistillConfig {
    /// `--teacher DIR` (else `$STYLECAM_TEACHER`, else `.venv`).
    pub teacher: Option<PathBuf>,
    /// Magenta's style strength: 1 = the painting's embedding, 0 = the photo's own.
    pub strength: f32,
    /// Side of the square the teacher stylizes.
    pub teacher_size: u32,
    /// Weight of the gradient part of the teacher term.
    pub grad_weight: f64,
    /// Weight of the texture-energy part of the teacher term.
    #[serde(default)]
    pub texture_weight: f64,
    /// Largest shift (pixels) of the stability term's moved input.
    pub stability_shift: u32,
    /// Standard deviation of the noise added to the moved input ([0,1] RGB units).
    pub stability_noise: f64,
    /// Folder of held-out photos for the final score (else every `holdout_every`-th photo of
    /// `--data` is held out of training).
    pub val: Option<PathBuf>,
    pub holdout_every: usize,
    /// Where teacher targets are cached.
    pub cache_dir: PathBuf,
}

impl DistillConfig {
    /// The settings a resumed run must share (the maths and the data; not where the teacher or
    /// the cache lives).
    pub fn resume_key(&self) -> String {
        format!(
            "strength {}, teacher size {}, grad weight {}, texture weight {}, stability shift {}, noise {}, val {:?}, holdout every {}",
            self.strength, self.teacher_size, self.grad_weight, self.texture_weight, self.stability_shift, self.stability_noise, self.val, self.holdout_every
        )
    }

    pub fn validate(&self, crop: u32) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        if !(0.0..=1.0).contains(&self.strength) {
            return bad(format!(
                "--strength {}: must be between 0 (the photo's own style) and 1 (the painting's)",
                self.strength
            ));
        }
        if !(64..=2048).contains(&self.teacher_size) {
            return bad(format!(
                "--teacher-size {}: must be between 64 and 2048 pixels",
                self.teacher_size
            ));
        }
        if crop + 2 * self.stability_shift > self.teacher_size {
            return bad(format!(
                "--size {crop} plus twice --stability-shift {} does not fit in --teacher-size {}: lower --size or --stability-shift, or raise --teacher-size",
                self.stability_shift, self.teacher_size
            ));
        }
        for (flag, v) in [
            ("--grad-weight", self.grad_weight),
            ("--texture-weight", self.texture_weight),
        ] {
            if !(v >= 0.0 && v.is_finite()) {
                return bad(format!("{flag} {v}: must be a finite number ≥ 0"));
            }
        }
        if !(0.0..=0.5).contains(&self.stability_noise) {
            return bad(format!(
                "--stability-noise {}: must be between 0 and 0.5 ([0,1] RGB units)",
                self.stability_noise
            ));
        }
        if self.holdout_every == 1 {
            return bad(
                "--holdout-every 1 would hold out every photo: use 0 (none) or at least 2".into(),
            );
        }
        Ok(())
    }
}

/// The default cache folder: `$XDG_CACHE_HOME/stylecam/teacher`, else `~/.cache/stylecam/teacher`.
pub fn default_cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("stylecam").join("teacher")
}

/// The painting, as the teacher's style input: shorter side `style_size` (256 by default). This is
/// the painting's scale as the style predictor sees it, which sets the size of the strokes.
pub fn style_picture(path: &Path, style_size: Option<u32>) -> Result<RgbImage> {
    data::load_style_image(path, Some(style_size.unwrap_or(256)))
}

/// The cache key of one target.
pub fn cache_key(
    teacher_id: &str,
    style_sha: &str,
    style_size: u32,
    strength: f32,
    photo_sha: &str,
    teacher_size: u32,
) -> String {
    use sha2::Digest;
    let text = format!("{CACHE_VERSION}|{teacher_id}|{style_sha}|{style_size}|{strength}|{photo_sha}|{teacher_size}|centre-square");
    format!("{:x}", sha2::Sha256::digest(text.as_bytes()))
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(bytes))
}

/// (photo, teacher target) pairs in memory: photos `[N,3,S,S]` u8, targets `[N,3,S,S]` f16 in [0,1].
pub struct PairSet {
    pub photos: Tensor,
    pub targets: Tensor,
    pub files: Vec<PathBuf>,
    pub skipped: Vec<(PathBuf, String)>,
    /// How many targets came from the cache / were computed.
    pub cached: usize,
    pub computed: usize,
}

impl PairSet {
    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Up to `n` pairs spread over the set, as images: (photos, teacher targets).
    pub fn samples(&self, n: usize) -> (Vec<RgbImage>, Vec<RgbImage>) {
        let stride = (self.len() / n.max(1)).max(1);
        let to_image = |t: Tensor| {
            let (_, h, w) = t.size3().expect("CHW");
            let hwc = t.permute([1, 2, 0]).contiguous().flatten(0, -1);
            let px = Vec::<u8>::try_from(hwc).expect("u8 pixels");
            RgbImage::from_raw(w as u32, h as u32, px).expect("sizes match")
        };
        (0..self.len())
            .step_by(stride)
            .take(n)
            .map(|i| {
                let i = i as i64;
                let target = (self.targets.get(i).to_kind(Kind::Float) * 255.0)
                    .round()
                    .to_kind(Kind::Uint8);
                (to_image(self.photos.get(i)), to_image(target))
            })
            .unzip()
    }
}

/// What the teacher needs to make targets for one style.
pub struct TargetMaker<'a> {
    pub teacher: &'a mut Teacher,
    pub cfg: &'a DistillConfig,
    pub style_sha: String,
    pub style_size: u32,
    pub style_embedding: Vec<f32>,
}

impl<'a> TargetMaker<'a> {
    pub fn new(
        teacher: &'a mut Teacher,
        cfg: &'a DistillConfig,
        style: &Path,
        style_size: Option<u32>,
    ) -> Result<Self> {
        let bytes = std::fs::read(style).map_err(|e| Error::io(style, e))?;
        let picture = style_picture(style, style_size)?;
        let style_embedding = teacher.embed(&picture)?;
        Ok(Self {
            teacher,
            cfg,
            style_sha: sha256(&bytes),
            style_size: style_size.unwrap_or(256),
            style_embedding,
        })
    }

    /// The photo's teacher square and its target (from the cache, or computed and cached).
    /// Returns (square, target HWC [0,1], whether it came from the cache).
    pub fn pair(&mut self, photo: &Path) -> Result<(RgbImage, Vec<f32>, bool)> {
        let bytes = std::fs::read(photo).map_err(|e| Error::io(photo, e))?;
        let size = self.cfg.teacher_size;
        // Decoded from the bytes read for the cache key: the file is read once.
        let decoded = image::load_from_memory(&bytes).map_err(|e| Error::Input {
            path: photo.to_path_buf(),
            reason: e.to_string(),
        })?;
        let square = data::training_square(decoded.to_rgb8(), photo, size)?;
        let key = cache_key(
            &self.teacher.id,
            &self.style_sha,
            self.style_size,
            self.cfg.strength,
            &sha256(&bytes),
            size,
        );
        let path = self
            .cfg
            .cache_dir
            .join(&key[..2])
            .join(format!("{key}.png"));
        if let Some(t) = read_target(&path, size) {
            return Ok((square, t, true));
        }
        let emb = if self.cfg.strength < 1.0 {
            let own = self.teacher.embed(&square)?;
            stylecam::net::arbitrary::blend_embeddings(
                &self.style_embedding,
                &own,
                self.cfg.strength,
            )
        } else {
            self.style_embedding.clone()
        };
        let target = quantize(&self.teacher.stylize(&square, &emb)?);
        write_target(&path, &target, size)?;
        // What the cache will give back next time, so fresh and cached runs train identically.
        let target = target.iter().map(|&v| v as f32 / 65535.0).collect();
        Ok((square, target, false))
    }
}

fn read_target(path: &Path, size: u32) -> Option<Vec<f32>> {
    let img = image::open(path).ok()?.into_rgb16();
    (img.dimensions() == (size, size))
        .then(|| img.as_raw().iter().map(|&v| v as f32 / 65535.0).collect())
}

/// [0,1] floats → the cache's 16-bit levels.
fn quantize(target: &[f32]) -> Vec<u16> {
    target
        .iter()
        .map(|v| (v.clamp(0.0, 1.0) * 65535.0).round() as u16)
        .collect()
}

fn write_target(path: &Path, data: &[u16], size: u32) -> Result<()> {
    let data = data.to_vec();
    let img: ImageBuffer<Rgb<u16>, Vec<u16>> =
        ImageBuffer::from_raw(size, size, data).expect("target size");
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb16(img)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| Error::Output {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    write_atomic(path, &png)
}

/// Builds the pairs for `files` (unreadable photos are skipped and reported), with a progress bar.
pub fn make_pairs(maker: &mut TargetMaker, files: &[PathBuf], what: &str) -> Result<PairSet> {
    let size = maker.cfg.teacher_size as i64;
    let pb = ProgressBar::new(files.len() as u64);
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner} teacher targets ({msg}) {bar:30} {pos}/{len} | ETA {eta}",
        )
        .expect("valid template"),
    );
    pb.set_message(what.to_string());
    let (mut photos, mut targets, mut kept, mut skipped) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut cached, mut computed) = (0, 0);
    for f in files {
        match maker.pair(f) {
            Ok((square, target, hit)) => {
                photos.push(
                    Tensor::from_slice(square.as_raw())
                        .reshape([size, size, 3])
                        .permute([2, 0, 1]),
                );
                targets.push(
                    Tensor::from_slice(&target)
                        .reshape([size, size, 3])
                        .permute([2, 0, 1])
                        .to_kind(Kind::Half),
                );
                kept.push(f.clone());
                if hit {
                    cached += 1
                } else {
                    computed += 1
                }
            }
            Err(e @ (Error::Input { .. } | Error::Io { .. })) => {
                skipped.push((f.clone(), e.to_string()))
            }
            Err(e) => return Err(e),
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    if photos.is_empty() {
        return Err(Error::NoImages {
            dir: files
                .first()
                .and_then(|f| f.parent())
                .map(Path::to_path_buf)
                .unwrap_or_default(),
            detail: format!("none of the {} {what} photos could be read", files.len()),
        });
    }
    Ok(PairSet {
        photos: Tensor::stack(&photos, 0),
        targets: Tensor::stack(&targets, 0),
        files: kept,
        skipped,
        cached,
        computed,
    })
}

/// Splits `files` into (training, held-out): every `every`-th photo is held out (none when
/// `every` is 0 or there are fewer than two photos).
pub fn split_holdout(files: &[PathBuf], every: usize) -> (Vec<PathBuf>, Vec<PathBuf>) {
    if every < 2 || files.len() < 2 {
        return (files.to_vec(), Vec::new());
    }
    let (mut train, mut held) = (Vec::new(), Vec::new());
    for (i, f) in files.iter().enumerate() {
        if i % every == every - 1 {
            held.push(f.clone())
        } else {
            train.push(f.clone())
        }
    }
    (train, held)
}

/// One distillation batch.
pub struct DistillBatch {
    /// Normalised student input `[B,3,c,c]`.
    pub x: Tensor,
    /// The teacher's target, [0,1] `[B,3,c,c]`.
    pub target: Tensor,
    /// The moved, noisier input and its shift (dx, dy), when the stability term is on.
    pub moved: Option<(Tensor, i64, i64)>,
}

/// The batch for step `step` (0-based), from `(seed, step)` alone.
/// What a run draws its batches with.
#[derive(Debug, Clone, Copy)]
pub struct Draw {
    pub seed: u64,
    pub batch: usize,
    /// Crop side in pixels.
    pub crop: u32,
    /// Whether to make the moved inputs of the stability term.
    pub stability: bool,
}

pub fn batch(
    pairs: &PairSet,
    cfg: &DistillConfig,
    draw: Draw,
    step: u64,
    device: Device,
) -> DistillBatch {
    let Draw {
        seed,
        batch,
        crop,
        stability,
    } = draw;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(
        seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ step.wrapping_add(0x5151),
    );
    let (s, c, m) = (
        cfg.teacher_size as i64,
        crop as i64,
        cfg.stability_shift as i64,
    );
    let (dx, dy) = if stability && m > 0 {
        (rng.random_range(-m..=m), rng.random_range(-m..=m))
    } else {
        (0, 0)
    };
    let (mut xs, mut ts, mut moved) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..batch {
        let i = rng.random_range(0..pairs.len()) as i64;
        let ox = rng.random_range(m..=s - c - m);
        let oy = rng.random_range(m..=s - c - m);
        let flip = rng.random_bool(0.5);
        let window = |t: &Tensor, x0: i64, y0: i64| {
            let w = t.get(i).narrow(1, y0, c).narrow(2, x0, c);
            if flip {
                w.flip([2])
            } else {
                w
            }
        };
        xs.push(window(&pairs.photos, ox, oy));
        ts.push(window(&pairs.targets, ox, oy));
        // The moved copies of the first half of the batch (at least one) carry the stability
        // term: half the extra forward and backward work for the same signal.
        if stability && moved.len() < batch.div_ceil(2) {
            // With a flip, moving the window right moves the flipped content left.
            let sx = if flip { -dx } else { dx };
            moved.push(window(&pairs.photos, ox + sx, oy + dy));
        }
    }
    let to01 = |v: Vec<Tensor>| Tensor::stack(&v, 0).to_kind(Kind::Float) / 255.0;
    let x01 = to01(xs);
    let moved = stability.then(|| {
        let m01 = to01(moved);
        // The noise comes from libtorch's generator: seeded from (seed, step) too.
        tch::manual_seed((seed ^ step.wrapping_mul(0x2545_F491_4F6C_DD1D)) as i64);
        let noise = Tensor::randn_like(&m01) * cfg.stability_noise;
        let noisy = (m01 + noise).clamp(0.0, 1.0);
        (normalize01(&noisy).to_device(device), dx, dy)
    });
    DistillBatch {
        x: normalize01(&x01).to_device(device),
        target: Tensor::stack(&ts, 0).to_kind(Kind::Float).to_device(device),
        moved,
    }
}

fn channel(v: [f32; 3], like: &Tensor) -> Tensor {
    Tensor::from_slice(&v)
        .reshape([1, 3, 1, 1])
        .to_device(like.device())
}

/// [0,1] RGB → ImageNet-normalised.
pub fn normalize01(x: &Tensor) -> Tensor {
    (x - channel(MEAN, x)) / channel(STD, x)
}

/// The network's normalised output → [0,1] RGB as the app shows it (clamp, denormalise, clip).
pub fn to_display(y: &Tensor) -> Tensor {
    (y.clamp(OUTPUT_CLAMP.0 as f64, OUTPUT_CLAMP.1 as f64) * channel(STD, y) + channel(MEAN, y))
        .clamp(0.0, 1.0)
}

fn grad_l1(a: &Tensor, b: &Tensor) -> Tensor {
    let (_, _, h, w) = a.size4().expect("images are 4-D");
    let dx = |t: &Tensor| t.narrow(3, 1, w - 1) - t.narrow(3, 0, w - 1);
    let dy = |t: &Tensor| t.narrow(2, 1, h - 1) - t.narrow(2, 0, h - 1);
    (dx(a) - dx(b)).abs().mean(Kind::Float) + (dy(a) - dy(b)).abs().mean(Kind::Float)
}

/// The teacher term for the student's display output `y01` and the target.
pub fn teacher_loss(
    y01: &Tensor,
    target: &Tensor,
    grad_weight: f64,
    texture_weight: f64,
) -> Tensor {
    let pixel = (y01 - target).abs().mean(Kind::Float);
    let with_grad = match grad_weight > 0.0 {
        true => pixel + grad_l1(y01, target) * grad_weight,
        false => pixel,
    };
    match texture_weight > 0.0 {
        true => with_grad + texture_l1(y01, target) * texture_weight,
        false => with_grad,
    }
}

/// Texture energy: |horizontal| + |vertical| neighbour differences, per channel.
fn edge_energy(t: &Tensor) -> Tensor {
    let (_, _, h, w) = t.size4().expect("images are 4-D");
    let dx = (t.narrow(3, 1, w - 1) - t.narrow(3, 0, w - 1))
        .narrow(2, 0, h - 1)
        .abs();
    let dy = (t.narrow(2, 1, h - 1) - t.narrow(2, 0, h - 1))
        .narrow(3, 0, w - 1)
        .abs();
    dx + dy
}

/// How much texture each neighbourhood has, compared without regard to where exactly the
/// strokes fall: the texture energy averaged over 4×4 and 16×16 windows, mean |student − teacher|.
/// A blurred student has too little energy everywhere; this term asks for the teacher's amount
/// (the pixel and gradient terms ask for the teacher's exact strokes, which a small network can
/// only average into blur).
fn texture_l1(a: &Tensor, b: &Tensor) -> Tensor {
    let (ea, eb) = (edge_energy(a), edge_energy(b));
    [4i64, 16]
        .iter()
        .map(|&k| {
            let pool = |e: &Tensor| e.avg_pool2d([k, k], [k, k], [0, 0], false, true, None::<i64>);
            (pool(&ea) - pool(&eb)).abs().mean(Kind::Float)
        })
        .reduce(|x, y| x + y)
        .expect("two scales")
}

/// The stability term: `moved01` is the output on the input windows moved by (dx, dy) (for the
/// first images of the batch); it must equal `y01` (the output on the unmoved windows, no
/// gradient) moved the same way.
pub fn stability_loss(y01: &Tensor, moved01: &Tensor, dx: i64, dy: i64) -> Tensor {
    let (_, _, h, w) = y01.size4().expect("images are 4-D");
    // The moved batch covers the first images of the batch.
    let y01 = y01.narrow(0, 0, moved01.size()[0]);
    let b = STABILITY_BORDER;
    let (ow, oh) = (w - dx.abs() - 2 * b, h - dy.abs() - 2 * b);
    if ow <= 0 || oh <= 0 {
        return Tensor::zeros([], (Kind::Float, y01.device()));
    }
    // Output pixel (r, c) of the moved window shows input (r + dy, c + dx) of the original.
    let region = |t: &Tensor, x0: i64, y0: i64| t.narrow(2, y0 + b, oh).narrow(3, x0 + b, ow);
    let fixed = region(&y01.detach(), dx.max(0), dy.max(0));
    let moving = region(moved01, (-dx).max(0), (-dy).max(0));
    (moving - fixed).abs().mean(Kind::Float)
}

/// The student's distance to the teacher on held-out pairs (whole squares): mean L1 and mean
/// PSNR (dB) in [0,1] RGB.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HeldOut {
    pub photos: usize,
    pub l1: f64,
    pub psnr: f64,
}

pub fn held_out_score(net: &ImfwNet, pairs: &PairSet) -> HeldOut {
    let device = net.vs.device();
    let (mut l1, mut psnr) = (0.0, 0.0);
    for i in 0..pairs.len() as i64 {
        let x = normalize01(&(pairs.photos.get(i).unsqueeze(0).to_kind(Kind::Float) / 255.0))
            .to_device(device);
        let t = pairs
            .targets
            .get(i)
            .unsqueeze(0)
            .to_kind(Kind::Float)
            .to_device(device);
        let y = tch::no_grad(|| to_display(&net.forward(&x)));
        l1 += (&y - &t).abs().mean(Kind::Float).double_value(&[]);
        let mse = (&y - &t)
            .square()
            .mean(Kind::Float)
            .double_value(&[])
            .max(1e-10);
        psnr += -10.0 * mse.log10();
    }
    let n = pairs.len().max(1) as f64;
    HeldOut {
        photos: pairs.len(),
        l1: l1 / n,
        psnr: psnr / n,
    }
}
