//! The live view: a source (camera, video, images, test card) stylised in a window with hotkeys,
//! and/or into sinks (a pipe, a virtual camera, a recording).
//!
//! Threads: capture → newest-frame slot → inference → newest-result slot → display (this
//! thread, [`display`]) → sinks (each on its own thread). The display never waits for inference
//! or for a sink. See [`pipeline`].

pub mod compose;
pub mod control;
mod display;
pub mod engine;
pub mod overlay;
pub mod pictures;
pub mod pipeline;
pub mod screen;
pub mod slot;
pub mod stats;
pub mod style_list;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use image::RgbImage;

use control::{Controls, VariantPick};
use display::{Display, DisplayParts};
pub use engine::{Catalog, PixelTransformEngine, StyleChoice};
pub use pipeline::WorkerPlan;
use pipeline::{InferSettings, Shared};

use crate::sink::{SinkKind, SinkReport};
#[cfg(feature = "camera")]
pub use crate::source::camera::CameraInfo;
use crate::source::{SourceOptions, SourceSpec};
use crate::styles::Preset;
use crate::{Error, Result};

pub use crate::engine::arbitrary::ArbitraryOptions;
pub use crate::engine::{DeviceChoice, EngineOptions};
use crate::engine::{ModelFactory, ModelLoader};

/// Cross-fade length when the style changes.
pub const CROSSFADE: Duration = Duration::from_millis(300);

/// Everything `stylecam live` can be told.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Where frames come from.
    pub source: SourceSpec,
    /// Capture resolution asked of the camera; the test card's size (default 640×480).
    pub camera_res: Option<(u32, u32)>,
    /// Fixed inference resolution (`--size`); `None`: the camera's.
    pub size: Option<(u32, u32)>,
    /// Inference resolution factor (`--scale`, ↑/↓).
    pub scale: f32,
    /// Style to start with (name or path); `None`: the first.
    pub style: Option<String>,
    /// Which variant of each style runs (`--preset`); `None`: auto, not asked for explicitly.
    /// Auto is fast on the CPU and full on CUDA/TensorRT: settled by `--device cpu|cuda|tensorrt`,
    /// and with `--device auto` by the provider of the first model loaded (the lightest variant
    /// runs until then; on CUDA/TensorRT the full one then replaces it like a style change).
    pub preset: Option<Preset>,
    /// Models folder; `None`: `$STYLECAM_MODELS`, else the repository's `models/`.
    pub models: Option<PathBuf>,
    /// Execution provider choice (`--device`).
    pub device: DeviceChoice,
    /// Path to libonnxruntime (`--ort-lib`); `None`: searched.
    pub ort_lib: Option<PathBuf>,
    /// How ONNX Runtime sessions are built (threads, optimisation).
    pub engine: EngineOptions,
    /// How style pictures become styles (the arbitrary family).
    pub arbitrary: ArbitraryOptions,
    /// Pictures as styles: image files, or folders of them (`--style-image`, `--style-images`).
    pub style_images: Vec<PathBuf>,
    pub fullscreen: bool,
    /// Show a window (`false`: `--no-window`, headless; then there must be an output).
    pub window: bool,
    /// Where every new picture goes besides the window (`--pipe y4m`, `--virtual-cam`).
    pub outputs: Vec<SinkKind>,
    /// Stop after this many new pictures (`--frames`).
    pub frames: Option<u64>,
    /// Where screenshots and hotkey recordings go.
    pub out_dir: PathBuf,
    /// Record from the start into this file.
    pub record: Option<PathBuf>,
    /// Temporal smoothing 0…1 (0 = off).
    pub smooth: f32,
    /// Inference workers (`--workers`): sessions working on alternate frames; `None` is auto
    /// (see [`WorkerPlan::resolve`]). With more than one, each session gets `cores / workers`
    /// threads unless `engine.intra_threads` is set.
    pub workers: Option<usize>,
    /// Frame rate of the test card and image folders.
    pub source_fps: f64,
    /// Overlay visible at start.
    pub overlay: bool,
    /// Style strength at start (0…1).
    pub strength: f32,
    /// Benchmark mode: run this long, print a summary, exit.
    pub benchmark: Option<Duration>,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            source: SourceSpec::Auto,
            camera_res: None,
            size: None,
            scale: 1.0,
            style: None,
            preset: None,
            models: None,
            device: DeviceChoice::Auto,
            ort_lib: None,
            engine: EngineOptions::default(),
            arbitrary: ArbitraryOptions::default(),
            style_images: Vec::new(),
            fullscreen: false,
            window: true,
            outputs: Vec::new(),
            frames: None,
            out_dir: PathBuf::from("."),
            record: None,
            smooth: 0.0,
            workers: None,
            source_fps: 30.0,
            overlay: true,
            strength: 1.0,
            benchmark: None,
        }
    }
}

impl LiveOptions {
    /// The inference workers these options ask for, on this machine's physical cores.
    pub fn worker_plan(&self) -> WorkerPlan {
        WorkerPlan::resolve(
            self.workers,
            self.device,
            self.smooth,
            num_cpus::get_physical(),
        )
    }
}

/// What the live view plugs in: how styles are loaded, and the caller's stop flag.
#[derive(Clone)]
pub struct LiveHooks {
    /// Loads a style's engine (for workers that share the CPU: `cores / workers` threads).
    pub loader: ModelLoader,
    /// Loads a style's engine for a worker that runs alone under `--workers auto` (a heavy
    /// style, or a GPU); `None`: `loader`.
    pub solo_loader: Option<ModelLoader>,
    /// Set by the caller (e.g. on Ctrl-C) to end the run gracefully; sinks are finished.
    pub stop: Arc<AtomicBool>,
}

/// Measurements of one run (printed in benchmark mode, logged otherwise).
#[derive(Debug, Clone, Default)]
pub struct LiveSummary {
    pub seconds: f64,
    pub frame_size: (u32, u32),
    pub inference_size: (u32, u32),
    /// Frames delivered by the source.
    pub captured: u64,
    /// Frames the engine stylised.
    pub inferred: u64,
    /// Stale frames skipped by inference.
    pub dropped: u64,
    /// Inference workers that took part, and stylised frames not shown because another worker
    /// had already shown a newer one.
    pub workers: usize,
    pub stale: u64,
    /// New stylised frames shown per second.
    pub displayed_fps: f64,
    /// Stylised frames produced per second by the pipeline's inference thread.
    pub pipeline_infer_fps: f64,
    /// Mean time in the engine per frame, in the pipeline.
    pub engine_ms: f64,
    /// Inference alone (benchmark mode): frames per second of back-to-back `stylize_into`.
    pub standalone_infer_fps: Option<f64>,
    /// Capture-to-display latency, median and 95th percentile, ms.
    pub latency_ms: (f64, f64),
    /// CPU ms per displayed stylised frame outside inference: capture + display threads (CPU
    /// time) + the inference thread's own work around the engine (resizes, copies).
    pub outside_ms_per_frame: f64,
    pub capture_ms_per_frame: f64,
    pub display_ms_per_frame: f64,
    /// Capture thread CPU per frame it delivered.
    pub capture_ms_per_captured: f64,
    /// Display thread CPU time as a share of one core.
    pub display_cpu_percent: f64,
    pub infer_extra_ms_per_frame: f64,
    /// What each output (pipe, virtual camera, recording, screenshots) wrote.
    pub outputs: Vec<SinkReport>,
}

impl std::fmt::Display for LiveSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "live summary over {:.1} s", self.seconds)?;
        writeln!(
            f,
            "  frame {}x{}, inference {}x{}",
            self.frame_size.0, self.frame_size.1, self.inference_size.0, self.inference_size.1
        )?;
        if let Some(fps) = self.standalone_infer_fps {
            writeln!(f, "  inference alone:        {fps:.2} fps")?;
            writeln!(
                f,
                "  displayed stylised:     {:.2} fps ({:.3}x of inference alone)",
                self.displayed_fps,
                self.displayed_fps / fps.max(1e-9)
            )?;
        } else {
            writeln!(f, "  displayed stylised:     {:.2} fps", self.displayed_fps)?;
        }
        writeln!(
            f,
            "  pipeline inference:     {:.2} fps, engine {:.1} ms/frame",
            self.pipeline_infer_fps, self.engine_ms
        )?;
        writeln!(
            f,
            "  captured {}  stylised {}  dropped {}",
            self.captured, self.inferred, self.dropped
        )?;
        if self.workers > 1 {
            writeln!(
                f,
                "  inference workers {}; {} stylised frames arrived after a newer one and were not shown",
                self.workers, self.stale
            )?;
        }
        writeln!(
            f,
            "  capture-to-display latency: median {:.1} ms, p95 {:.1} ms",
            self.latency_ms.0, self.latency_ms.1
        )?;
        write!(
            f,
            "  CPU outside inference: {:.2} ms/frame (capture {:.2}, display {:.2}, around-engine {:.2})",
            self.outside_ms_per_frame, self.capture_ms_per_frame, self.display_ms_per_frame, self.infer_extra_ms_per_frame
        )?;
        write!(
            f,
            "\n  capture {:.2} ms CPU per captured frame; display thread {:.1}% of a core",
            self.capture_ms_per_captured, self.display_cpu_percent
        )?;
        for r in &self.outputs {
            write!(f, "\n  {r}")?;
        }
        Ok(())
    }
}

/// Every camera with its capture modes (for `stylecam cameras`).
#[cfg(feature = "camera")]
pub fn list_cameras() -> Result<Vec<CameraInfo>> {
    crate::source::camera::list_cameras()
}

/// `stylecam live`: runs until the window is closed, Q/Esc, `stop` is set, the source ends or a
/// limit (`--frames`, `--benchmark`) is reached. Returns the run's measurements.
pub fn run_live(opts: LiveOptions, stop: Arc<AtomicBool>) -> Result<LiveSummary> {
    let (loader, solo_loader) = default_loaders(&opts)?;
    let hooks = LiveHooks {
        loader,
        solo_loader: Some(solo_loader),
        stop,
    };
    run_live_with(opts, hooks)
}

/// The ONNX Runtime loaders for `opts.device`: sessions for workers that share the CPU, and
/// sessions for a worker alone (starts ONNX Runtime first, so a missing library is reported
/// before any window opens).
fn default_loaders(opts: &LiveOptions) -> Result<(ModelLoader, ModelLoader)> {
    crate::engine::runtime::init(opts.ort_lib.as_deref())?;
    let plan = opts.worker_plan();
    let mut shared = opts.engine.clone();
    if plan.count > 1 && shared.intra_threads.is_none() {
        shared.intra_threads = Some((num_cpus::get_physical() / plan.count).max(1));
    }
    let factory = Arc::new(ModelFactory::new(
        opts.device,
        shared,
        opts.arbitrary.clone(),
    ));
    let solo = Arc::new(factory.with_engine(opts.engine.clone()));
    Ok((factory.loader(), solo.loader()))
}

/// Joins `handle`, giving up after `deadline` (a thread stuck in a driver call is left behind).
fn join_bounded(handle: JoinHandle<()>, deadline: Instant, what: &str) {
    while !handle.is_finished() {
        if Instant::now() >= deadline {
            tracing::warn!("the {what} thread did not stop in time; leaving it");
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    if handle.join().is_err() {
        tracing::warn!("the {what} thread panicked");
    }
}

/// Measures inference alone: back-to-back `stylize_into` on test-card frames (benchmark mode).
fn measure_inference_alone(
    loader: &ModelLoader,
    style: &StyleChoice,
    frame: (u32, u32),
    infer: (u32, u32),
    duration: Duration,
) -> Result<f64> {
    let mut engine = loader(style)?;
    let input = crate::source::testcard::render(frame.0, frame.1, 0);
    let mut small = RgbImage::new(infer.0, infer.1);
    compose::resize_into(&input, &mut small);
    let mut out = RgbImage::new(infer.0, infer.1);
    engine.stylize_into(&small, &mut out)?; // warm-up
    let t0 = Instant::now();
    let mut n = 0u32;
    while t0.elapsed() < duration || n < 3 {
        engine.stylize_into(&small, &mut out)?;
        n += 1;
    }
    Ok(n as f64 / t0.elapsed().as_secs_f64())
}

/// The style and variant to start with, and whether `--preset auto` waits for the provider.
struct Start {
    file: usize,
    variant: usize,
    pick: VariantPick,
    auto_pending: bool,
}

/// `--preset` made concrete for the first style: settled by `--device`, else (auto on auto) the
/// light variant until the first model's provider is known (see [`Preset::start`]).
fn start_style(opts: &LiveOptions, catalog: &Catalog) -> Start {
    let preset = opts.preset.unwrap_or(Preset::Auto);
    if let (Some(p), None) = (opts.preset, catalog.start_variant) {
        crate::styles::note_single_variant(&catalog.styles[catalog.start], p);
    }
    let (first, pending) = preset.start(opts.device);
    let pick = match first {
        Preset::Full | Preset::Auto => VariantPick::Full,
        Preset::Fast => VariantPick::Fast,
    };
    let style = &catalog.styles[catalog.start];
    let variant = catalog
        .start_variant
        .unwrap_or_else(|| pick.index(style.variants.len()));
    tracing::info!(
        "style '{}' {} ({}), --preset {preset}{}",
        style.name,
        style.variant_label(variant),
        style.variants[variant].path.display(),
        if pending {
            " (settled by the first model's provider)"
        } else {
            ""
        }
    );
    Start {
        file: catalog.file_index(catalog.start, variant),
        variant,
        pick,
        auto_pending: pending,
    }
}

/// Options that cannot go together, refused before anything starts.
fn check_options(opts: &LiveOptions) -> Result<()> {
    if opts.workers.is_some_and(|n| n > 1) && opts.smooth > 0.0 {
        return Err(Error::InvalidArgument(
            "--smooth needs every frame through one inference worker; drop --smooth or use \
             --workers 1 (or auto)"
                .into(),
        ));
    }
    if !opts.window && opts.outputs.is_empty() && opts.record.is_none() {
        return Err(Error::InvalidArgument(
            "--no-window needs somewhere for the frames to go: --pipe y4m, --virtual-cam or \
             --record FILE.mp4"
                .into(),
        ));
    }
    Ok(())
}

/// Starts the capture thread and waits for its first frame (20 s at most).
fn start_capture(
    shared: &Arc<Shared>,
    opts: &LiveOptions,
) -> Result<(JoinHandle<()>, pipeline::SourceReady)> {
    let source_opts = SourceOptions {
        resolution: opts.camera_res,
        fps: opts.source_fps,
    };
    let (capture, ready) =
        pipeline::spawn_capture(shared.clone(), opts.source.clone(), source_opts);
    match ready.recv_timeout(Duration::from_secs(20)) {
        Ok(Ok(r)) => {
            tracing::info!("source: {}", r.description);
            Ok((capture, r))
        }
        Ok(Err(e)) => {
            shared.stop();
            join_bounded(capture, Instant::now() + Duration::from_secs(2), "capture");
            Err(e)
        }
        Err(_) => {
            shared.stop();
            Err(Error::Camera(format!(
                "{} delivered no frame within 20 s. Try another --source (e.g. --source testcard)",
                opts.source
            )))
        }
    }
}

/// Runs the live view with the given engine loaders.
pub fn run_live_with(opts: LiveOptions, hooks: LiveHooks) -> Result<LiveSummary> {
    check_options(&opts)?;
    let dir = crate::styles::models_dir(opts.models.as_deref());
    let pictures = if opts.style_images.is_empty() {
        Vec::new()
    } else {
        crate::batch::find_images(&opts.style_images)?
    };
    let mut catalog = engine::choose_styles(&dir, opts.style.as_deref(), &pictures)?;
    let files = catalog.files();
    let start = start_style(&opts, &catalog);
    let settings = InferSettings {
        style: start.file,
        base_size: opts.size,
        scale: opts.scale,
        paused: false,
        smooth: opts.smooth,
    };
    let shared = Arc::new(Shared::new(Arc::new(AtomicBool::new(false)), settings));
    let plan = opts.worker_plan();
    tracing::info!(
        "inference workers: {}{}",
        plan.count,
        if plan.auto {
            " (auto: the second shares the CPU on light styles)"
        } else {
            ""
        }
    );
    let loaders = pipeline::WorkerLoaders {
        shared: hooks.loader.clone(),
        solo: hooks.solo_loader.clone().unwrap_or(hooks.loader.clone()),
    };
    // "Inference alone" times the session the first worker runs the first style on.
    let alone_loader = loaders.for_worker(plan, 0, pipeline::shares_the_cpu(&files[start.file]));
    let bench_frame = opts.camera_res.unwrap_or((640, 480));
    let bench_infer = control::inference_size(bench_frame, opts.size, opts.scale);
    let alone = |d: Duration| {
        measure_inference_alone(
            alone_loader,
            &files[start.file],
            bench_frame,
            bench_infer,
            d / 4,
        )
    };
    // Benchmark: inference alone, before anything else runs (and again afterwards).
    let alone_before = opts.benchmark.map(alone).transpose()?;

    let (capture, ready) = start_capture(&shared, &opts)?;
    let inference =
        pipeline::spawn_inference_workers(shared.clone(), files.clone(), loaders.clone(), plan);
    let controls = Controls::new(catalog.start, catalog.styles.len(), opts.scale)
        .with_variants(catalog.variant_counts(), start.pick);
    let controls = Controls {
        variant: start.variant,
        ..controls
    };
    let parts = DisplayParts {
        opts: &opts,
        catalog: &mut catalog,
        shared: &shared,
        ready: &ready,
        stop: &hooks.stop,
        auto_pending: start.auto_pending,
    };
    let result = Display::open(parts, controls).and_then(Display::run);

    // Shutdown: stop the workers, join with a bound (the sinks are finished by the display).
    tracing::debug!("display loop ended; stopping the workers");
    shared.stop();
    // An engine call in flight is not interrupted; past this bound its thread is left to the exit.
    let deadline = Instant::now() + Duration::from_millis(1200);
    for worker in inference {
        join_bounded(worker, deadline, "inference");
    }
    join_bounded(capture, deadline, "capture");
    tracing::debug!("workers stopped");
    let mut summary = result?;
    if let (Some(d), Some(before)) = (opts.benchmark, alone_before) {
        summary.standalone_infer_fps = Some((before + alone(d)?) / 2.0);
    }
    add_pipeline_counters(&mut summary, &shared);
    Ok(summary)
}

/// Fills the summary's capture and inference figures from the pipeline's counters.
fn add_pipeline_counters(summary: &mut LiveSummary, shared: &Shared) {
    let c = &shared.counters;
    summary.captured = c.captured.load(Ordering::Relaxed);
    summary.inferred = c.inferred.load(Ordering::Relaxed);
    summary.dropped = shared.frames.dropped() + c.skipped.load(Ordering::Relaxed);
    summary.workers = c.workers.load(Ordering::Relaxed) as usize;
    summary.stale = c.stale.load(Ordering::Relaxed);
    let per = |ns: u64| ns as f64 / 1e6 / summary.inferred.max(1) as f64;
    summary.engine_ms = per(c.infer_ns.load(Ordering::Relaxed));
    summary.pipeline_infer_fps = summary.inferred as f64 / summary.seconds.max(1e-9);
    let shown = (summary.displayed_fps * summary.seconds).max(1.0);
    let capture_ms = c.capture_cpu_ns.load(Ordering::Relaxed) as f64 / 1e6;
    summary.capture_ms_per_frame = capture_ms / shown;
    summary.capture_ms_per_captured = capture_ms / summary.captured.max(1) as f64;
    summary.infer_extra_ms_per_frame = per(c.infer_extra_ns.load(Ordering::Relaxed));
    summary.outside_ms_per_frame = summary.capture_ms_per_frame
        + summary.display_ms_per_frame
        + summary.infer_extra_ms_per_frame;
}
