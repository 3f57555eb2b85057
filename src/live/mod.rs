//! The live view: a source (camera, video, images, test card) stylised in a window, with hotkeys.
//!
//! Threads: capture → newest-frame slot → inference → newest-result slot → display (this
//! thread). The display never waits for inference: it redraws whatever is newest, so a slow style
//! lowers the stylised frame rate but never freezes the window or its keys. See [`pipeline`].

pub mod cli_args;
pub mod compose;
pub mod control;
pub mod engine;
pub mod overlay;
pub mod pictures;
pub mod pipeline;
pub mod record;
pub mod slot;
pub mod stats;
pub mod style_list;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use image::RgbImage;

pub use cli_args::LiveArgs;
use compose::{Composer, Look};
use control::{Action, Controls, VariantPick, View};
pub use engine::{Catalog, PixelTransformEngine, StyleChoice};
use overlay::OverlayContent;
use pictures::PictureStyles;
pub use pipeline::WorkerPlan;
use pipeline::{InferSettings, Shared, Stylized};
pub use record::{FrameRecorder, RecorderFactory};
use stats::{median_p95, RateMeter};

use crate::sink::screenshot;
use crate::sink::window::LiveWindow;
pub use crate::source::camera::CameraInfo;
use crate::source::{SourceOptions, SourceSpec};
use crate::styles::Preset;
use crate::{Error, Result};

pub use crate::engine::arbitrary::ArbitraryOptions;
pub use crate::engine::{DeviceChoice, EngineOptions};
use crate::engine::{ModelFactory, ModelLoader, Provider};

/// Cross-fade length when the style changes.
pub const CROSSFADE: Duration = Duration::from_millis(300);
const MESSAGE_TIME: Duration = Duration::from_millis(2500);
const OVERLAY_REFRESH: Duration = Duration::from_millis(250);

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

/// What the live view plugs in: how styles are loaded, and (optionally) how recordings are made.
#[derive(Clone)]
pub struct LiveHooks {
    /// Loads a style's engine (for workers that share the CPU: `cores / workers` threads).
    pub loader: ModelLoader,
    /// Loads a style's engine for a worker that runs alone under `--workers auto` (a heavy
    /// style, or a GPU); `None`: `loader`.
    pub solo_loader: Option<ModelLoader>,
    pub recorder: Option<RecorderFactory>,
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
        )
    }
}

/// Every camera with its capture modes (for `stylecam cameras`).
pub fn list_cameras() -> Result<Vec<CameraInfo>> {
    crate::source::camera::list_cameras()
}

/// `stylecam live`: runs until the window is closed, Q/Esc, or Ctrl-C.
pub fn run_live(opts: LiveOptions) -> Result<()> {
    let (loader, solo_loader) = default_loaders(&opts)?;
    let hooks = LiveHooks {
        loader,
        solo_loader: Some(solo_loader),
        recorder: Some(crate::sink::recorder::recorder_factory(
            crate::sink::recorder::RecorderOptions::new(""),
        )),
    };
    let summary = run_live_with(opts, hooks)?;
    tracing::info!("{summary}");
    Ok(())
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

static CTRL_C: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// The process-wide Ctrl-C flag (the handler can be installed only once per process).
fn ctrl_c_flag() -> Arc<AtomicBool> {
    CTRL_C
        .get_or_init(|| {
            let flag = Arc::new(AtomicBool::new(false));
            let f = flag.clone();
            if let Err(e) = ctrlc::set_handler(move || f.store(true, Ordering::SeqCst)) {
                tracing::warn!("Ctrl-C handler not installed: {e}");
            }
            flag
        })
        .clone()
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

struct Recording {
    recorder: Box<dyn FrameRecorder>,
    path: PathBuf,
    started: Instant,
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

/// Runs the live view with the given engine loader and recorder.
pub fn run_live_with(opts: LiveOptions, hooks: LiveHooks) -> Result<LiveSummary> {
    if opts.workers.is_some_and(|n| n > 1) && opts.smooth > 0.0 {
        return Err(Error::InvalidArgument(
            "--smooth needs every frame through one inference worker; drop --smooth or use \
             --workers 1 (or auto)"
                .into(),
        ));
    }
    let dir = crate::styles::models_dir(opts.models.as_deref());
    let pictures = if opts.style_images.is_empty() {
        Vec::new()
    } else {
        crate::batch::find_images(&opts.style_images)?
    };
    let mut catalog = engine::choose_styles(&dir, opts.style.as_deref(), &pictures)?;
    let files = catalog.files();
    let preset = opts.preset.unwrap_or(Preset::Auto);
    if let (Some(p), None) = (opts.preset, catalog.start_variant) {
        crate::styles::note_single_variant(&catalog.styles[catalog.start], p);
    }
    // `None`: auto on `--device auto`, settled by the first loaded model's provider.
    let settled = preset.for_device(opts.device);
    let pick = match settled {
        Some(Preset::Full) | Some(Preset::Auto) => VariantPick::Full,
        Some(Preset::Fast) | None => VariantPick::Fast,
    };
    let start_variant = catalog
        .start_variant
        .unwrap_or_else(|| pick.index(catalog.styles[catalog.start].variants.len()));
    let first_style = catalog.file_index(catalog.start, start_variant);
    {
        let style = &catalog.styles[catalog.start];
        tracing::info!(
            "style '{}' {} ({}), --preset {preset}{}",
            style.name,
            style.variant_label(start_variant),
            style.variants[start_variant].path.display(),
            if settled.is_none() {
                " (settled by the first model's provider)"
            } else {
                ""
            }
        );
    }

    let shutdown = Arc::new(AtomicBool::new(false));
    let ctrl_c = ctrl_c_flag();
    ctrl_c.store(false, Ordering::SeqCst);
    let settings = InferSettings {
        style: first_style,
        base_size: opts.size,
        scale: opts.scale,
        paused: false,
        smooth: opts.smooth,
    };
    let shared = Arc::new(Shared::new(shutdown.clone(), settings));
    let source_opts = SourceOptions {
        resolution: opts.camera_res,
        fps: opts.source_fps,
    };

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
    let alone_loader = loaders.for_worker(plan, 0, pipeline::shares_the_cpu(&files[first_style]));
    // Benchmark: inference alone, before anything else runs (and again afterwards, see below).
    let bench_frame = opts.camera_res.unwrap_or((640, 480));
    let bench_infer = control::inference_size(bench_frame, opts.size, opts.scale);
    let alone_before = match opts.benchmark {
        Some(d) => Some(measure_inference_alone(
            alone_loader,
            &files[first_style],
            bench_frame,
            bench_infer,
            d / 4,
        )?),
        None => None,
    };

    let (capture, ready) =
        pipeline::spawn_capture(shared.clone(), opts.source.clone(), source_opts);
    let ready = match ready.recv_timeout(Duration::from_secs(20)) {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            shared.stop();
            join_bounded(capture, Instant::now() + Duration::from_secs(2), "capture");
            return Err(e);
        }
        Err(_) => {
            shared.stop();
            return Err(Error::Camera(format!(
                "{} delivered no frame within 20 s. Try another --source (e.g. --source testcard)",
                opts.source
            )));
        }
    };
    tracing::info!("source: {}", ready.description);

    let inference =
        pipeline::spawn_inference_workers(shared.clone(), files.clone(), loaders.clone(), plan);
    let controls = Controls::new(catalog.start, catalog.styles.len(), opts.scale)
        .with_variants(catalog.variant_counts(), pick);
    let controls = Controls {
        variant: start_variant,
        ..controls
    };
    let result = display_loop(
        &opts,
        &hooks,
        &mut catalog,
        &shared,
        &ready,
        &ctrl_c,
        controls,
        settled.is_none(),
    );

    // Shutdown: stop the workers, finish a recording, join with a bound.
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
        let after = measure_inference_alone(
            alone_loader,
            &files[first_style],
            bench_frame,
            bench_infer,
            d / 4,
        )?;
        summary.standalone_infer_fps = Some((before + after) / 2.0);
    }
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
    if opts.benchmark.is_some() {
        crate::outln!("{summary}")?;
    }
    Ok(summary)
}

#[allow(clippy::too_many_arguments)]
fn display_loop(
    opts: &LiveOptions,
    hooks: &LiveHooks,
    catalog: &mut Catalog,
    shared: &Shared,
    ready: &pipeline::SourceReady,
    ctrl_c: &AtomicBool,
    mut controls: Controls,
    mut auto_pending: bool,
) -> Result<LiveSummary> {
    let frame_size = ready.frame_size;
    let (ww, wh) = window_size(frame_size);
    let mut window = LiveWindow::open("stylecam", ww, wh, opts.fullscreen)?;
    controls.overlay = opts.overlay;
    controls.strength = opts.strength;
    let mut pictures = PictureStyles::default();
    pictures.follow(catalog, &mut controls);

    let mut composer = Composer::default();
    let mut composed = RgbImage::new(frame_size.0, frame_size.1);
    let mut current: Option<Stylized> = None;
    let mut fade: Option<(RgbImage, Instant)> = None;
    let mut shown_original: Option<u64> = None;
    let mut messages: VecDeque<(String, Instant)> = VecDeque::new();
    let mut recording: Option<Recording> = None;
    let mut next_overlay = Instant::now();
    let mut display_meter = RateMeter::default();
    let mut stylized_meter = RateMeter::default();
    let mut latencies: Vec<f64> = Vec::new();
    let mut screenshot_jobs: Vec<std::thread::JoinHandle<Result<PathBuf>>> = Vec::new();
    let started = Instant::now();
    let cpu_start = pipeline::thread_cpu_time();
    let mut infer_size = control::inference_size(frame_size, opts.size, opts.scale);
    let say = |messages: &mut VecDeque<(String, Instant)>, m: String| {
        tracing::info!("{m}");
        messages.push_back((m, Instant::now()));
        while messages.len() > 4 {
            messages.pop_front();
        }
    };
    if let Some(reason) = &ready.no_camera {
        say(&mut messages, format!("no camera: {reason}"));
    }
    if let Some(path) = &opts.record {
        match &hooks.recorder {
            Some(factory) => {
                recording = Some(Recording {
                    recorder: factory(path)?,
                    path: path.clone(),
                    started: Instant::now(),
                })
            }
            None => {
                return Err(Error::InvalidArgument(
                    "--record: this build has no video recorder".into(),
                ))
            }
        }
    }

    loop {
        let now = Instant::now();
        let mut dirty = false;
        let mut quit = false;
        for key in window.take_keys() {
            match controls.on_key(key) {
                None => {}
                Some(Action::Quit) => quit = true,
                Some(Action::Changed) => dirty = true,
                Some(Action::StyleChanged) => {
                    pictures.follow(catalog, &mut controls);
                    dirty = true;
                }
                Some(a @ (Action::GrabStyle | Action::Morph | Action::MorphStep { .. })) => {
                    let m = pictures.on_action(a, &mut controls, catalog, shared, &opts.out_dir);
                    say(&mut messages, m);
                    dirty = true;
                }
                Some(Action::VariantChanged) => {
                    // A variant chosen with L settles `--preset auto`.
                    auto_pending = false;
                    let style = &catalog.styles[controls.style];
                    let label = style.variant_label(controls.variant);
                    say(&mut messages, format!("{}  {label}", style.name));
                    dirty = true;
                }
                Some(Action::NoOtherVariant) => {
                    let style = &catalog.styles[controls.style];
                    say(
                        &mut messages,
                        format!(
                            "{} has one variant ({})",
                            style.name,
                            style.variants[0].short_arch()
                        ),
                    );
                    dirty = true;
                }
                Some(Action::ToggleFullscreen) => {
                    let on = !window.is_fullscreen();
                    if let Err(e) = window.set_fullscreen(on) {
                        say(&mut messages, format!("fullscreen: {e}"));
                    }
                    dirty = true;
                }
                Some(Action::Screenshot) => {
                    let frame = composed.clone();
                    let dir = opts.out_dir.clone();
                    screenshot_jobs.push(std::thread::spawn(move || {
                        screenshot::save_png(&frame, &dir)
                    }));
                }
                Some(Action::ToggleRecording) => match recording.take() {
                    Some(rec) => {
                        let msg = match rec.recorder.finish() {
                            Ok(p) => format!("recording saved: {}", p.display()),
                            Err(e) => format!("recording failed: {e}"),
                        };
                        say(&mut messages, msg);
                    }
                    None => match &hooks.recorder {
                        None => say(&mut messages, "recording unavailable in this build".into()),
                        Some(factory) => {
                            let path =
                                screenshot::timestamped_path(&opts.out_dir, "stylecam", "mp4");
                            let made = std::fs::create_dir_all(&opts.out_dir)
                                .map_err(|e| Error::io(&opts.out_dir, e))
                                .and_then(|()| factory(&path));
                            match made {
                                Ok(recorder) => {
                                    say(&mut messages, format!("recording to {}", path.display()));
                                    recording = Some(Recording {
                                        recorder,
                                        path,
                                        started: Instant::now(),
                                    });
                                }
                                Err(e) => say(&mut messages, format!("cannot record: {e}")),
                            }
                        }
                    },
                },
            }
        }
        if controls.split {
            if let Some(f) = window.mouse_drag_fraction() {
                if (f - controls.split_at).abs() > 1e-4 {
                    controls.split_at = f;
                    dirty = true;
                }
            }
        }
        if auto_pending {
            if let Some(provider) = shared.engine_status().provider {
                auto_pending = false;
                if provider != Provider::Cpu {
                    // --preset auto: not on the CPU, so the full variants.
                    controls.set_pick(VariantPick::Full);
                    tracing::info!("--preset auto: running on {provider}, full variants");
                }
            }
        }
        let want = InferSettings {
            style: catalog.file_index(controls.style, controls.variant),
            base_size: opts.size,
            scale: controls.scale,
            paused: controls.paused,
            smooth: opts.smooth,
        };
        if shared.settings() != want {
            shared.set_settings(want);
        }
        if quit || !window.is_open() || ctrl_c.load(Ordering::SeqCst) || shared.is_shutdown() {
            break;
        }
        if opts.benchmark.is_some_and(|d| started.elapsed() >= d / 2) {
            break;
        }

        for m in shared.take_messages() {
            say(&mut messages, m);
        }
        let mut i = 0;
        while i < screenshot_jobs.len() {
            if screenshot_jobs[i].is_finished() {
                let job = screenshot_jobs.swap_remove(i);
                let msg = match job.join() {
                    Ok(Ok(p)) => format!("screenshot saved: {}", p.display()),
                    Ok(Err(e)) => format!("screenshot failed: {e}"),
                    Err(_) => "screenshot failed".into(),
                };
                say(&mut messages, msg);
            } else {
                i += 1;
            }
        }
        while messages
            .front()
            .is_some_and(|(_, t)| now.duration_since(*t) > MESSAGE_TIME)
        {
            messages.pop_front();
            dirty = true;
        }

        let mut new_stylized = false;
        if let Some(r) = shared.results.take() {
            if let Some(old) = current.take() {
                if old.style != r.style && old.output.dimensions() == r.output.dimensions() {
                    fade = Some((old.output, now));
                } else {
                    shared.recycle(old.output);
                }
            }
            infer_size = r.infer_size;
            current = Some(r);
            new_stylized = true;
            dirty = true;
        }
        let fade_t = fade
            .as_ref()
            .map(|(_, t0)| now.duration_since(*t0).as_secs_f32() / CROSSFADE.as_secs_f32());
        if let Some(t) = fade_t {
            if t >= 1.0 {
                if let Some((img, _)) = fade.take() {
                    shared.recycle(img);
                }
            }
            dirty = true;
        }
        let show_original = controls.view == View::Original || current.is_none();
        let latest = if show_original {
            shared.latest_frame()
        } else {
            None
        };
        if let Some(f) = &latest {
            if shown_original != Some(f.index) {
                shown_original = Some(f.index);
                dirty = true;
            }
        }
        if controls.overlay && now >= next_overlay {
            next_overlay = now + OVERLAY_REFRESH;
            dirty = true;
        }

        if dirty {
            let look = Look {
                view: if current.is_none() {
                    View::Original
                } else {
                    controls.view
                },
                split: controls.split.then_some(controls.split_at),
                strength: controls.strength,
                preserve_colour: controls.preserve_colour,
            };
            match (&current, &latest) {
                (Some(cur), _) if look.view == View::Stylized => {
                    let fading = fade
                        .as_ref()
                        .zip(fade_t)
                        .map(|((img, _), t)| (img, t.min(1.0)));
                    composer.compose(
                        &cur.frame.image,
                        &cur.output,
                        fading,
                        &look,
                        &mut composed,
                    )?;
                }
                (_, Some(f)) => composer.compose(&f.image, &f.image, None, &look, &mut composed)?,
                (Some(cur), None) => {
                    composer.compose(&cur.frame.image, &cur.output, None, &look, &mut composed)?
                }
                (None, None) => {}
            }
            if new_stylized {
                if let Some(cur) = &current {
                    latencies.push(cur.frame.captured.elapsed().as_secs_f64() * 1e3);
                    if latencies.len() > 100_000 {
                        latencies.drain(..50_000);
                    }
                    stylized_meter.tick(now);
                    if let Some(rec) = &mut recording {
                        if let Err(e) = rec.recorder.push(&composed, cur.frame.captured) {
                            say(&mut messages, format!("recording stopped: {e}"));
                            if let Some(rec) = recording.take() {
                                let _ = rec.recorder.finish();
                            }
                        }
                    }
                }
            }
            display_meter.tick(now);
            let status = status_lines(
                &controls,
                catalog,
                shared,
                &ready.description,
                frame_size,
                infer_size,
                stylized_meter.rate(now),
                display_meter.rate(now),
                recording.is_none() && hooks.recorder.is_none(),
            );
            let content = OverlayContent {
                status,
                messages: messages.iter().map(|(m, _)| m.clone()).collect(),
                help: controls.help,
                no_camera: ready.no_camera.is_some(),
                recording: recording.as_ref().map(|r| r.started.elapsed()),
                split_at: controls.split.then_some(controls.split_at),
                overlay_on: controls.overlay,
            };
            window.present(&composed, |canvas, vp| overlay::draw(canvas, vp, &content))?;
        } else {
            window.pump();
        }
        // Sleep until a new stylised frame arrives, or briefly (keys, original view, fades).
        shared.results.wait_ready(Duration::from_millis(10));
    }

    if let Some(rec) = recording.take() {
        let path = rec.path.clone();
        match rec.recorder.finish() {
            Ok(p) => tracing::info!("recording saved: {}", p.display()),
            Err(e) => tracing::error!("recording {} could not be finalised: {e}", path.display()),
        }
    }
    for job in screenshot_jobs {
        match job.join() {
            Ok(Ok(p)) => tracing::info!("screenshot saved: {}", p.display()),
            Ok(Err(e)) => tracing::error!("screenshot failed: {e}"),
            Err(_) => tracing::error!("screenshot failed"),
        }
    }

    let seconds = started.elapsed().as_secs_f64();
    let display_cpu = match (cpu_start, pipeline::thread_cpu_time()) {
        (Some(a), Some(b)) => b.saturating_sub(a).as_secs_f64() * 1e3,
        _ => 0.0,
    };
    let shown = stylized_meter.total();
    Ok(LiveSummary {
        seconds,
        frame_size,
        inference_size: infer_size,
        displayed_fps: shown as f64 / seconds.max(1e-9),
        latency_ms: median_p95(&latencies),
        display_ms_per_frame: display_cpu / shown.max(1) as f64,
        display_cpu_percent: display_cpu / 10.0 / seconds.max(1e-9),
        ..LiveSummary::default()
    })
}

/// The window size for a frame: the frame's own size, scaled to stay between 320 and 1280 wide.
fn window_size(frame: (u32, u32)) -> (usize, usize) {
    let (w, h) = (frame.0.max(1) as f64, frame.1.max(1) as f64);
    let k = if w < 320.0 {
        320.0 / w
    } else if w > 1280.0 {
        1280.0 / w
    } else {
        1.0
    };
    ((w * k).round() as usize, (h * k).round() as usize)
}

#[allow(clippy::too_many_arguments)]
fn status_lines(
    c: &Controls,
    catalog: &Catalog,
    shared: &Shared,
    source: &str,
    frame: (u32, u32),
    infer: (u32, u32),
    stylized_fps: f64,
    display_fps: f64,
    no_recorder: bool,
) -> Vec<(String, u32)> {
    let status = shared.engine_status();
    let current = &catalog.styles[c.style];
    let mut style = format!(
        "style {}/{}: {}  {}",
        c.style + 1,
        catalog.styles.len(),
        current.name,
        current.variant_label(c.variant)
    );
    let file = catalog.file_index(c.style, c.variant);
    if status.loading_style == Some(file) {
        style.push_str(" (loading...)");
    } else if status.running_style.is_some_and(|r| r != file) {
        style.push_str(" (unavailable)");
    }
    let provider = match (
        status.provider,
        shared.counters.active_workers.load(Ordering::Relaxed),
    ) {
        (None, _) => "starting".to_string(),
        (Some(p), n) if n > 1 => format!("{p}, {n} workers"),
        (Some(p), _) => p.to_string(),
    };
    let view = match (c.view, c.split) {
        (View::Original, _) => "original",
        (View::Stylized, true) => "split",
        (View::Stylized, false) => "stylized",
    };
    let mut lines = vec![
        (style, overlay::WHITE),
        (source.to_string(), overlay::GREY),
        (
            format!(
                "camera {}x{}  inference {}x{} ({:.2}x)  {provider}",
                frame.0, frame.1, infer.0, infer.1, c.scale
            ),
            overlay::GREY,
        ),
        (
            format!(
                "stylized {stylized_fps:.1} fps  display {display_fps:.1} fps  dropped {}",
                shared.frames.dropped() + shared.counters.skipped.load(Ordering::Relaxed)
            ),
            overlay::WHITE,
        ),
        (
            format!(
                "strength {:.0}%  colours {}  view {view}{}",
                c.strength * 100.0,
                if c.preserve_colour {
                    "original"
                } else {
                    "style"
                },
                if c.paused { "  PAUSED" } else { "" }
            ),
            overlay::GREY,
        ),
    ];
    if no_recorder {
        lines.push((
            "R: recording unavailable in this build".into(),
            overlay::GREY,
        ));
    }
    lines.push(("H: hotkeys  L: variant  Tab: hide".into(), overlay::GREY));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_size_follows_the_frame_within_limits() {
        assert_eq!(window_size((640, 480)), (640, 480));
        assert_eq!(window_size((160, 120)), (320, 240));
        assert_eq!(window_size((1920, 1080)), (1280, 720));
    }
}
