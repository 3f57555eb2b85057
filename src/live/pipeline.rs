//! The live pipeline's worker threads and what they share.
//!
//! ```text
//! capture thread ──Arc<Frame>──▶ frames slot (newest wins; stale frames dropped and counted)
//!        └──────────────────────▶ latest frame (the original view reads it)
//! inference thread: takes the newest frame, resizes to the inference size, runs the style,
//!        resizes back ──Stylized──▶ results slot (newest wins)
//! main thread (display): never waits for either; composes and draws whatever is newest.
//! ```
//! Style models are loaded on short-lived loader threads, so switching style never stalls
//! inference or display: the old style keeps running until the new one is ready.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use image::RgbImage;

use super::compose::resize_into;
use super::control::inference_size;
use super::engine::StyleChoice;
use super::slot::NewestSlot;
use super::style_list::StyleList;
use crate::engine::DeviceChoice;
use crate::engine::{ModelLoader, Provider, StyleModel};
use crate::source::{open_source, Frame, SourceOptions, SourceSpec};
use crate::video::smooth::TemporalSmoother;
use crate::Result;

/// A stylised frame and where it came from.
pub struct Stylized {
    /// The captured frame it was made from (the "original" of split view and blending).
    pub frame: Arc<Frame>,
    /// The stylised picture at the frame's size.
    pub output: RgbImage,
    /// Index of the style that made it.
    pub style: usize,
    /// The resolution the network ran at.
    pub infer_size: (u32, u32),
}

/// What the display asks of the inference thread.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InferSettings {
    pub style: usize,
    pub base_size: Option<(u32, u32)>,
    pub scale: f32,
    pub paused: bool,
    /// Temporal smoothing 0…1: output = smooth·previous + (1 − smooth)·new (0 = off).
    pub smooth: f32,
}

/// Counters the workers update and the overlay/benchmark read.
#[derive(Default)]
pub struct Counters {
    pub captured: AtomicU64,
    pub inferred: AtomicU64,
    /// Total time inside the engine's `stylize_into`.
    pub infer_ns: AtomicU64,
    /// Total time in the inference thread outside the engine (resizing, smoothing, copies).
    pub infer_extra_ns: AtomicU64,
    /// Frames the inference thread took but replaced by a newer one before it could run them
    /// (e.g. while the first style was loading).
    pub skipped: AtomicU64,
    /// Stylised frames not shown because another inference worker had already published a newer
    /// frame (several workers only).
    pub stale: AtomicU64,
    /// CPU time of the capture thread (set when it ends).
    pub capture_cpu_ns: AtomicU64,
    /// Inference workers that took part (under [`WorkerPlan::auto`] the second one only does
    /// once a light style runs on the CPU).
    pub workers: AtomicU64,
    /// Inference workers taking part now (the overlay shows `CPU, 2 workers`).
    pub active_workers: AtomicU64,
}

/// Which engine is running, for the overlay.
#[derive(Debug, Clone, Default)]
pub struct EngineStatus {
    /// The running model's provider; `None` until one is loaded.
    pub provider: Option<Provider>,
    pub running_style: Option<usize>,
    pub loading_style: Option<usize>,
}

/// State shared by the capture, inference and display threads.
pub struct Shared {
    pub shutdown: Arc<AtomicBool>,
    pub paused: AtomicBool,
    pub frames: NewestSlot<Arc<Frame>>,
    pub latest: Mutex<Option<Arc<Frame>>>,
    pub results: NewestSlot<Stylized>,
    pub settings: Mutex<InferSettings>,
    pub counters: Counters,
    pub engine: Mutex<EngineStatus>,
    /// Messages for the overlay from worker threads (errors, "style loaded").
    pub messages: Mutex<Vec<String>>,
    /// Output buffers handed back by the display for reuse.
    pub recycled: Mutex<Vec<RgbImage>>,
    /// The styles the workers load, by index (grows and is revised while the view runs).
    pub styles: StyleList,
    /// Index + 1 of the newest frame any inference worker has published: with several workers
    /// on alternate frames, a result older than that is dropped instead of shown out of order.
    pub published: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    pub fn new(shutdown: Arc<AtomicBool>, settings: InferSettings) -> Self {
        Shared {
            shutdown,
            paused: AtomicBool::new(settings.paused),
            frames: NewestSlot::new(),
            latest: Mutex::new(None),
            results: NewestSlot::new(),
            settings: Mutex::new(settings),
            counters: Counters::default(),
            engine: Mutex::new(EngineStatus::default()),
            messages: Mutex::new(Vec::new()),
            recycled: Mutex::new(Vec::new()),
            styles: StyleList::default(),
            published: AtomicU64::new(0),
        }
    }

    pub fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }

    /// Stops every worker: sets the flag and wakes anything waiting.
    pub fn stop(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
        self.frames.close();
        self.results.close();
    }

    pub fn set_settings(&self, s: InferSettings) {
        self.paused.store(s.paused, Ordering::SeqCst);
        *lock(&self.settings) = s;
    }

    pub fn settings(&self) -> InferSettings {
        *lock(&self.settings)
    }

    pub fn latest_frame(&self) -> Option<Arc<Frame>> {
        lock(&self.latest).clone()
    }

    pub fn engine_status(&self) -> EngineStatus {
        lock(&self.engine).clone()
    }

    pub fn post(&self, message: impl Into<String>) {
        let m = message.into();
        tracing::info!("{m}");
        lock(&self.messages).push(m);
    }

    pub fn take_messages(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.messages))
    }

    /// Gives an output buffer back for reuse by the inference thread.
    pub fn recycle(&self, img: RgbImage) {
        let mut pool = lock(&self.recycled);
        if pool.len() < 4 {
            pool.push(img);
        }
    }

    fn buffer(&self, w: u32, h: u32) -> RgbImage {
        let mut pool = lock(&self.recycled);
        match pool.iter().position(|b| b.dimensions() == (w, h)) {
            Some(i) => pool.swap_remove(i),
            None => RgbImage::new(w, h),
        }
    }
}

/// What the capture thread reports once its source is open.
pub struct SourceReady {
    pub description: String,
    pub no_camera: Option<String>,
    pub frame_size: (u32, u32),
}

/// Starts the capture thread. The source is opened on that thread (some cameras must be used
/// where they were opened); the receiver gets the outcome and the first frame's size.
pub fn spawn_capture(
    shared: Arc<Shared>,
    spec: SourceSpec,
    opts: SourceOptions,
) -> (JoinHandle<()>, Receiver<Result<SourceReady>>) {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name("stylecam-capture".into())
        .spawn(move || {
            let opened = match open_source(&spec, &opts) {
                Ok(o) => o,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            let mut source = opened.source;
            let mut ready = Some(SourceReady {
                description: source.describe(),
                no_camera: opened.no_camera,
                frame_size: (0, 0),
            });
            while !shared.is_shutdown() {
                match source.next_frame() {
                    Ok(Some(frame)) => {
                        if let Some(mut r) = ready.take() {
                            r.frame_size = frame.image.dimensions();
                            let _ = tx.send(Ok(r));
                        }
                        shared.counters.captured.fetch_add(1, Ordering::Relaxed);
                        if shared.paused.load(Ordering::SeqCst) {
                            continue; // keep the device drained, publish nothing
                        }
                        let frame = Arc::new(frame);
                        *lock(&shared.latest) = Some(frame.clone());
                        shared.frames.put(frame);
                    }
                    Ok(None) => {
                        shared.post(format!("{} ended", source.describe()));
                        break;
                    }
                    Err(e) => {
                        if let Some(_r) = ready.take() {
                            let _ = tx.send(Err(e));
                            return;
                        }
                        shared.post(format!("capture stopped: {e}"));
                        break;
                    }
                }
            }
            if let Some(cpu) = thread_cpu_time() {
                shared
                    .counters
                    .capture_cpu_ns
                    .store(cpu.as_nanos() as u64, Ordering::Relaxed);
            }
            // `source` drops here, on its own thread: the camera is released.
        })
        .expect("spawning a thread");
    (handle, rx)
}

/// A style (index and revision, see [`StyleList`]).
type StyleKey = (usize, u64);

struct Loading {
    style: StyleKey,
    rx: Receiver<Result<Box<dyn StyleModel>>>,
}

fn start_loading(loader: &ModelLoader, entry: StyleChoice, style: StyleKey) -> Loading {
    let (tx, rx) = mpsc::channel();
    let loader = loader.clone();
    std::thread::Builder::new()
        .name("stylecam-load".into())
        .spawn(move || {
            let _ = tx.send(loader(&entry));
        })
        .expect("spawning a thread");
    Loading { style, rx }
}

/// Starts the inference thread.
pub fn spawn_inference(
    shared: Arc<Shared>,
    styles: Vec<StyleChoice>,
    loader: ModelLoader,
) -> JoinHandle<()> {
    let loaders = WorkerLoaders::same(loader);
    spawn_inference_workers(shared, styles, loaders, WorkerPlan::fixed(1))
        .pop()
        .expect("one worker")
}

/// Convolution FLOPs per 640×480 frame ([`StyleChoice::flops`]) up to which `--workers auto`
/// lets a second worker share the CPU: the w8 light presets (w8-b1: 3.8 GFLOP) show ≈ 20 % more
/// frames with two single-threaded sessions for 10–25 ms more latency; a w16-b3 (16 GFLOP) shows
/// 11–17 % more for 80 ms more; the full seed (77 GFLOP) shows none, and two of it double the
/// latency and the memory (BENCHMARKS.md, S4). Unknown architectures count as heavy.
pub const AUTO_SHARED_MAX_FLOPS: u64 = 8_000_000_000;

/// True when `--workers auto` runs `style` on two workers (on the CPU).
pub fn shares_the_cpu(style: &StyleChoice) -> bool {
    style.flops().is_some_and(|f| f <= AUTO_SHARED_MAX_FLOPS)
}

/// How many inference workers run, and when the extra ones take part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerPlan {
    /// Inference threads started (at least 1).
    pub count: usize,
    /// `--workers auto`: the workers after the first take part only while the first runs a light
    /// style ([`shares_the_cpu`]) on the CPU; a heavy style or a GPU runs on the first alone,
    /// with all the threads ([`WorkerLoaders::solo`]), and the others drop their sessions.
    pub auto: bool,
}

impl WorkerPlan {
    /// Exactly `count` workers, all working on every style.
    pub fn fixed(count: usize) -> Self {
        WorkerPlan {
            count: count.max(1),
            auto: false,
        }
    }

    /// `--workers`: `Some(n)` is n workers; `None` (auto) is two on a CPU with at least two
    /// physical cores, sharing light styles (see [`WorkerPlan::auto`]), and one otherwise: on
    /// CUDA/TensorRT, with `--smooth` (every frame goes through one worker), or on one core.
    pub fn resolve(
        requested: Option<usize>,
        device: DeviceChoice,
        smooth: f32,
        cores: usize,
    ) -> Self {
        if let Some(n) = requested {
            return WorkerPlan::fixed(n);
        }
        let gpu_only = matches!(device, DeviceChoice::Cuda | DeviceChoice::TensorRt);
        if smooth > 0.0 || cores < 2 || gpu_only {
            return WorkerPlan::fixed(1);
        }
        WorkerPlan {
            count: 2,
            auto: true,
        }
    }
}

/// How the workers load their sessions.
#[derive(Clone)]
pub struct WorkerLoaders {
    /// Sessions for workers that share the CPU (each `cores / workers` threads).
    pub shared: ModelLoader,
    /// Sessions for the first worker when it runs alone under `--workers auto` (a heavy style,
    /// or a GPU): all the threads.
    pub solo: ModelLoader,
}

impl WorkerLoaders {
    /// One loader for both.
    pub fn same(loader: ModelLoader) -> Self {
        WorkerLoaders {
            shared: loader.clone(),
            solo: loader,
        }
    }

    /// The loader worker `worker` uses for a style under `plan`: the first worker runs a style
    /// that does not share the CPU ([`shares_the_cpu`]) alone under auto.
    pub fn for_worker(&self, plan: WorkerPlan, worker: usize, shares_cpu: bool) -> &ModelLoader {
        if plan.auto && worker == 0 && !shares_cpu {
            &self.solo
        } else {
            &self.shared
        }
    }
}

/// `plan.count` inference threads, each with its own engine, each taking the newest captured
/// frame when it is free (so they work on alternate frames); results older than one already
/// published are dropped, so the display never goes back in time.
pub fn spawn_inference_workers(
    shared: Arc<Shared>,
    styles: Vec<StyleChoice>,
    loaders: WorkerLoaders,
    plan: WorkerPlan,
) -> Vec<JoinHandle<()>> {
    shared.styles.set(styles);
    (0..plan.count.max(1))
        .map(|worker| {
            let (shared, loaders) = (shared.clone(), loaders.clone());
            let role = WorkerRole {
                index: worker,
                plan,
            };
            std::thread::Builder::new()
                .name(format!("stylecam-infer{worker}"))
                .spawn(move || inference_loop(&shared, &loaders, role))
                .expect("spawning a thread")
        })
        .collect()
}

/// Which worker a thread is, under which plan.
struct WorkerRole {
    index: usize,
    plan: WorkerPlan,
}

/// Whether style `i` of the list shares the CPU ([`shares_the_cpu`]).
fn is_light(shared: &Shared, i: usize) -> bool {
    shared
        .styles
        .get(i)
        .is_some_and(|(s, _)| shares_the_cpu(&s))
}

impl WorkerRole {
    /// Under `--workers auto`, whether this worker works on `style` now. The first always
    /// does; the others only on a light style while the first runs on the CPU.
    fn takes_part(&self, shared: &Shared, style: usize) -> bool {
        if !self.plan.auto || self.index == 0 {
            return true;
        }
        is_light(shared, style) && lock(&shared.engine).provider == Some(Provider::Cpu)
    }

    fn loader<'a>(
        &self,
        loaders: &'a WorkerLoaders,
        shared: &Shared,
        style: usize,
    ) -> &'a ModelLoader {
        loaders.for_worker(self.plan, self.index, is_light(shared, style))
    }
}

/// One inference worker taking part, counted in [`Counters::active_workers`] while it lives.
struct Participation<'a>(&'a Counters);

impl<'a> Participation<'a> {
    fn start(counters: &'a Counters) -> Self {
        counters.active_workers.fetch_add(1, Ordering::Relaxed);
        Participation(counters)
    }
}

impl Drop for Participation<'_> {
    fn drop(&mut self) {
        self.0.active_workers.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A worker's engine: the one running, the one loading in the background, the last that failed.
#[derive(Default)]
struct EngineSlot {
    engine: Option<(StyleKey, Box<dyn StyleModel>)>,
    loading: Option<Loading>,
    failed: Option<StyleKey>,
}

impl EngineSlot {
    /// Starts loading `style` (its current revision) when it is neither running, loading nor
    /// failed, and takes a finished load; the running engine keeps going meanwhile.
    fn update(
        &mut self,
        shared: &Shared,
        loaders: &WorkerLoaders,
        role: &WorkerRole,
        speaks: bool,
        style: usize,
    ) {
        let Some((entry, rev)) = shared.styles.get(style) else {
            return;
        };
        let want = (style, rev);
        if self.failed.is_some_and(|f| f != want) {
            self.failed = None;
        }
        let running = self.engine.as_ref().map(|e| e.0);
        let loading = self.loading.as_ref().map(|l| l.style);
        if running != Some(want) && loading != Some(want) && self.failed != Some(want) {
            let loader = role.loader(loaders, shared, style);
            self.loading = Some(start_loading(loader, entry, want));
            lock(&shared.engine).loading_style = Some(style);
        }
        let Some(l) = &self.loading else {
            return;
        };
        let outcome = match l.rx.try_recv() {
            Ok(Ok(e)) => Ok(e),
            Ok(Err(e)) => Err(format!(
                "cannot load style {}: {e}",
                shared.styles.name(l.style.0)
            )),
            Err(TryRecvError::Empty) => return,
            Err(TryRecvError::Disconnected) => Err(format!(
                "loading style {} failed",
                shared.styles.name(l.style.0)
            )),
        };
        let key = l.style;
        self.loading = None;
        let mut status = lock(&shared.engine);
        status.loading_style = None;
        match outcome {
            Ok(e) => {
                status.provider = Some(e.provider());
                status.running_style = Some(key.0);
                self.engine = Some((key, e));
            }
            Err(message) => {
                drop(status);
                if speaks {
                    shared.post(message);
                }
                self.failed = Some(key);
            }
        }
    }
}

fn inference_loop(shared: &Shared, loaders: &WorkerLoaders, role: WorkerRole) {
    // Worker 0 speaks for all: the others load the same styles and would repeat its messages.
    let speaks = role.index == 0;
    let mut counted = false;
    let mut participation: Option<Participation> = None;
    let mut slot = EngineSlot::default();
    let mut last: Option<Arc<Frame>> = None;
    let mut last_done: Option<(u64, StyleKey, (u32, u32))> = None;
    let mut scaler = Scaler::default();
    // Smoothing restarts when the style or the frame size changes.
    let mut smoother: Option<TemporalSmoother> = None;
    let mut smoothed_style = None;

    while !shared.is_shutdown() {
        let s = shared.settings();
        if !role.takes_part(shared, s.style) {
            // Sitting out (auto: a heavy style or a GPU): free the session and wait.
            participation = None;
            slot = EngineSlot::default();
            last = None;
            last_done = None;
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        if participation.is_none() {
            participation = Some(Participation::start(&shared.counters));
            if !counted {
                counted = true;
                shared.counters.workers.fetch_add(1, Ordering::Relaxed);
            }
        }
        slot.update(shared, loaders, &role, speaks, s.style);
        // The newest frame; when paused, keep working on the frozen one.
        let fresh = if s.paused && last.is_some() {
            shared.frames.take()
        } else {
            shared.frames.take_timeout(Duration::from_millis(20))
        };
        let had_fresh = fresh.is_some();
        if let Some(f) = fresh {
            if let Some(old) = &last {
                if last_done.map(|d| d.0) != Some(old.index) {
                    shared.counters.skipped.fetch_add(1, Ordering::Relaxed);
                }
            }
            last = Some(f);
        }
        let (Some(frame), Some(((style, rev), eng))) = (last.clone(), slot.engine.as_mut()) else {
            if !had_fresh {
                std::thread::sleep(Duration::from_millis(5));
            }
            continue;
        };
        let frame_size = frame.image.dimensions();
        let size = inference_size(frame_size, s.base_size, s.scale);
        let key = (frame.index, (*style, *rev), size);
        if last_done == Some(key) {
            if s.paused {
                std::thread::sleep(Duration::from_millis(10));
            }
            continue;
        }

        let t0 = Instant::now();
        let mut output = shared.buffer(frame_size.0, frame_size.1);
        let (result, engine_ns) = scaler.stylize(eng.as_mut(), &frame.image, size, &mut output);
        if let Err(e) = result {
            shared.post(format!(
                "style {} failed on a frame: {e}",
                shared.styles.name(*style)
            ));
            slot.failed = slot.engine.take().map(|(k, _)| k);
            continue;
        }
        if s.smooth > 0.0 && !s.paused {
            let smoother = smoother.get_or_insert_with(|| {
                TemporalSmoother::new(s.smooth.clamp(0.0, 0.99)).expect("in 0..1")
            });
            if smoothed_style.replace(*style) != Some(*style) {
                smoother.reset(); // (a new frame size restarts it by itself)
            }
            smoother.apply(&mut output);
        }
        let total = t0.elapsed().as_nanos() as u64;
        let c = &shared.counters;
        c.inferred.fetch_add(1, Ordering::Relaxed);
        c.infer_ns.fetch_add(engine_ns, Ordering::Relaxed);
        // Everything in this pass that was not the engine itself.
        c.infer_extra_ns
            .fetch_add(total.saturating_sub(engine_ns), Ordering::Relaxed);
        last_done = Some(key);
        publish(
            shared,
            Stylized {
                frame,
                output,
                style: *style,
                infer_size: size,
            },
        );
    }
}

/// Hands a stylized frame to the display, unless another worker already published a newer frame
/// (the same frame again, e.g. restyled while paused, is fine): then it is counted as stale.
fn publish(shared: &Shared, stylized: Stylized) {
    let index = stylized.frame.index;
    let newest = shared.published.fetch_max(index + 1, Ordering::SeqCst);
    if newest > index + 1 {
        shared.counters.stale.fetch_add(1, Ordering::Relaxed);
        shared.recycle(stylized.output);
        return;
    }
    shared.results.put(stylized);
}

/// Runs a model at the inference size: the frame as it is, or scaled to the size and the result
/// scaled back (buffers kept between frames).
#[derive(Default)]
struct Scaler {
    small_in: RgbImage,
    small_out: RgbImage,
}

impl Scaler {
    /// Stylizes `frame` at `size` into `output` (the frame's size); returns the outcome and the
    /// model's own time in nanoseconds.
    fn stylize(
        &mut self,
        model: &mut dyn StyleModel,
        frame: &RgbImage,
        size: (u32, u32),
        output: &mut RgbImage,
    ) -> (Result<()>, u64) {
        if size == frame.dimensions() {
            let t = Instant::now();
            let r = model.stylize_into(frame, output);
            return (r, t.elapsed().as_nanos() as u64);
        }
        if self.small_in.dimensions() != size {
            self.small_in = RgbImage::new(size.0, size.1);
        }
        resize_into(frame, &mut self.small_in);
        let t = Instant::now();
        let r = model.stylize_into(&self.small_in, &mut self.small_out);
        let ns = t.elapsed().as_nanos() as u64;
        if r.is_ok() {
            resize_into(&self.small_out, output);
        }
        (r, ns)
    }
}

/// CPU time consumed so far by the calling thread (Linux: /proc/thread-self/stat; else None).
pub fn thread_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the command name: state is field 3, utime 14 and stime 15 (1-based) → indices 11, 12.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10)) // USER_HZ is 100 on Linux
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::engine::PixelTransformEngine;

    /// A style that takes 25 ms per frame (a slow network).
    struct Slow(PixelTransformEngine);

    impl StyleModel for Slow {
        fn stylize_into(&mut self, input: &RgbImage, output: &mut RgbImage) -> Result<()> {
            std::thread::sleep(Duration::from_millis(25));
            self.0.stylize_into(input, output)
        }
        fn provider(&self) -> Provider {
            Provider::Cpu
        }
        fn name(&self) -> &str {
            "slow"
        }
        fn family(&self) -> crate::engine::Family {
            crate::engine::Family::Imfw
        }
    }

    fn styles() -> Vec<StyleChoice> {
        ["a", "b"]
            .iter()
            .map(|n| StyleChoice {
                name: n.to_string(),
                path: format!("/nonexistent/{n}.onnx").into(),
                architecture: None,
                metadata: Default::default(),
                family: crate::engine::Family::Imfw,
                blend: None,
                strength: None,
            })
            .collect()
    }

    /// Shared state with a 64×48 test card captured at 400 fps (faster than any test style).
    fn test_card_at_400_fps() -> (Arc<Shared>, JoinHandle<()>) {
        let settings = InferSettings {
            style: 0,
            base_size: None,
            scale: 1.0,
            paused: false,
            smooth: 0.0,
        };
        let shared = Arc::new(Shared::new(Arc::new(AtomicBool::new(false)), settings));
        let opts = SourceOptions {
            resolution: Some((64, 48)),
            fps: 400.0,
        };
        let (capture, ready) = spawn_capture(shared.clone(), SourceSpec::TestCard, opts);
        assert_eq!(ready.recv().unwrap().unwrap().frame_size, (64, 48));
        (shared, capture)
    }

    /// A generous bound for what normally takes well under a second (a hang, not slowness).
    const HANG_BOUND: Duration = Duration::from_secs(60);

    /// A style slower than the capture whatever the machine's load: each frame waits until
    /// the capture has produced three more, so newer frames always exist when it finishes.
    struct SlowerThanCapture(PixelTransformEngine, Arc<Shared>);

    impl StyleModel for SlowerThanCapture {
        fn stylize_into(&mut self, input: &RgbImage, output: &mut RgbImage) -> Result<()> {
            let captured = || self.1.counters.captured.load(Ordering::SeqCst);
            let (start, t) = (captured(), Instant::now());
            while captured() < start + 3 && !self.1.is_shutdown() && t.elapsed() < HANG_BOUND {
                std::thread::sleep(Duration::from_millis(1));
            }
            self.0.stylize_into(input, output)
        }
        fn provider(&self) -> Provider {
            Provider::Cpu
        }
        fn name(&self) -> &str {
            "slower"
        }
        fn family(&self) -> crate::engine::Family {
            crate::engine::Family::Imfw
        }
    }

    #[test]
    fn inference_takes_the_newest_frame_and_counts_the_stale_ones() {
        let (shared, capture) = test_card_at_400_fps();
        let for_engine = shared.clone();
        let loader: ModelLoader = Arc::new(move |_: &StyleChoice| {
            Ok(Box::new(SlowerThanCapture(
                PixelTransformEngine::new("slow", 0),
                for_engine.clone(),
            )) as Box<dyn StyleModel>)
        });
        let inference = spawn_inference(shared.clone(), styles(), loader);

        // A display that takes whatever is newest until it has 12 results.
        let mut seen = Vec::new();
        let t = Instant::now();
        while seen.len() < 12 && t.elapsed() < HANG_BOUND {
            if let Some(r) = shared.results.take_timeout(Duration::from_millis(50)) {
                assert_eq!(r.output.dimensions(), (64, 48));
                let mut want = RgbImage::new(1, 1);
                PixelTransformEngine::new("x", 0)
                    .stylize_into(&r.frame.image, &mut want)
                    .unwrap();
                assert_eq!(
                    r.output, want,
                    "the output is the style applied to the frame it carries"
                );
                seen.push(r.frame.index);
            }
        }
        shared.stop();
        capture.join().unwrap();
        inference.join().unwrap();

        assert!(
            seen.len() >= 12,
            "only {} results in {HANG_BOUND:?}",
            seen.len()
        );
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "never an older frame after a newer one"
        );
        // Three frames arrive while each is stylised: the next one taken is the newest, never
        // the next in line.
        assert!(
            seen.windows(2).all(|w| w[1] > w[0] + 1),
            "frames captured faster than the style runs are skipped: {seen:?}"
        );
        let c = &shared.counters;
        let (captured, inferred) = (
            c.captured.load(Ordering::Relaxed),
            c.inferred.load(Ordering::Relaxed),
        );
        let dropped = shared.frames.dropped() + c.skipped.load(Ordering::Relaxed);
        assert!(dropped > 0);
        assert!(
            inferred + dropped <= captured,
            "{inferred} + {dropped} > {captured}"
        );
        // At most one frame waits in the slot and one in the inference thread when it stops.
        assert!(
            captured - inferred - dropped <= 2,
            "every captured frame is stylised or counted as dropped: {captured} vs {inferred} + {dropped}"
        );
    }

    /// Like [`Slow`] on the provider it names, noting which thread ran each frame.
    struct SlowNoting(Slow, Noted, Provider);

    impl StyleModel for SlowNoting {
        fn stylize_into(&mut self, input: &RgbImage, output: &mut RgbImage) -> Result<()> {
            let me = std::thread::current().name().unwrap_or("?").to_string();
            lock(&self.1).insert(me);
            self.0.stylize_into(input, output)
        }
        fn provider(&self) -> Provider {
            self.2
        }
        fn name(&self) -> &str {
            "slow"
        }
        fn family(&self) -> crate::engine::Family {
            crate::engine::Family::Imfw
        }
    }

    /// Threads that ran a frame, as [`SlowNoting`] notes them.
    type Noted = Arc<Mutex<std::collections::HashSet<String>>>;

    /// A loader of [`SlowNoting`] engines on `provider`, and the set they note threads in.
    fn noting_loader(provider: Provider) -> (ModelLoader, Noted) {
        let threads: Noted = Default::default();
        let noted = threads.clone();
        let loader: ModelLoader = Arc::new(move |_: &StyleChoice| {
            Ok(Box::new(SlowNoting(
                Slow(PixelTransformEngine::new("slow", 0)),
                noted.clone(),
                provider,
            )) as Box<dyn StyleModel>)
        });
        (loader, threads)
    }

    #[test]
    fn two_workers_share_the_frames_and_results_never_go_back_in_time() {
        let (shared, capture) = test_card_at_400_fps();
        let (loader, threads) = noting_loader(Provider::Cpu);
        let workers = spawn_inference_workers(
            shared.clone(),
            styles(),
            WorkerLoaders::same(loader),
            WorkerPlan::fixed(2),
        );
        assert_eq!(workers.len(), 2);

        let mut seen = Vec::new();
        let t = Instant::now();
        while (seen.len() < 10 || lock(&threads).len() < 2) && t.elapsed() < HANG_BOUND {
            if let Some(r) = shared.results.take_timeout(Duration::from_millis(50)) {
                seen.push(r.frame.index);
            }
        }
        shared.stop();
        capture.join().unwrap();
        for w in workers {
            w.join().unwrap();
        }
        assert!(seen.len() >= 10, "got {} results", seen.len());
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "never an older frame after a newer one: {seen:?}"
        );
        let names = lock(&threads).clone();
        assert_eq!(names.len(), 2, "both workers stylised frames: {names:?}");
        let c = &shared.counters;
        let inferred = c.inferred.load(Ordering::Relaxed);
        let stale = c.stale.load(Ordering::Relaxed);
        assert!(stale <= inferred);
        assert!(
            shared.results.put_count() + stale == inferred,
            "every stylised frame is published or counted as stale"
        );
    }

    /// `--workers auto`: the second worker joins a light style on the CPU, and stays out of a
    /// GPU session and of a heavy style (which the first runs alone, on the solo loader).
    #[test]
    fn auto_second_worker_joins_only_light_styles_on_the_cpu() {
        let light = Some("imfwnet-w8-b1".to_string());
        let heavy = Some("imfwnet-w32-b5".to_string());
        for (provider, arch, want) in [
            (Provider::Cpu, light.clone(), 2),
            (Provider::Cuda, light, 1),
            (Provider::Cpu, heavy, 1),
            (Provider::Cpu, None, 1),
        ] {
            let (shared, capture) = test_card_at_400_fps();
            let (loader, threads) = noting_loader(provider);
            // The solo loader notes that it was used.
            let solo_used = Arc::new(AtomicBool::new(false));
            let flag = solo_used.clone();
            let inner = loader.clone();
            let solo: ModelLoader = Arc::new(move |p: &StyleChoice| {
                flag.store(true, Ordering::SeqCst);
                inner(p)
            });
            let mut styles = styles();
            styles[0].architecture = arch.clone();
            let plan = WorkerPlan::resolve(None, DeviceChoice::Auto, 0.0, 2);
            assert_eq!(
                plan,
                WorkerPlan {
                    count: 2,
                    auto: true
                }
            );
            let loaders = WorkerLoaders {
                shared: loader,
                solo,
            };
            let workers = spawn_inference_workers(shared.clone(), styles, loaders, plan);
            let t = Instant::now();
            let mut results = 0;
            // Enough results that a second worker that should stay out would have run some.
            while (results < 10 || lock(&threads).len() < want) && t.elapsed() < HANG_BOUND {
                if shared
                    .results
                    .take_timeout(Duration::from_millis(50))
                    .is_some()
                {
                    results += 1;
                }
            }
            let active = shared.counters.active_workers.load(Ordering::Relaxed);
            shared.stop();
            capture.join().unwrap();
            for w in workers {
                w.join().unwrap();
            }
            let case = format!("{provider} {arch:?}");
            assert!(results >= 10, "{case}: {results} results");
            let names = lock(&threads).clone();
            assert_eq!(
                names.len(),
                want,
                "{case}: threads that stylised: {names:?}"
            );
            assert_eq!(
                shared.counters.workers.load(Ordering::Relaxed),
                want as u64,
                "{case}: workers counted as taking part"
            );
            assert_eq!(
                active, want as u64,
                "{case}: workers taking part at the end"
            );
            let light = arch.as_deref() == Some("imfwnet-w8-b1");
            assert_eq!(
                solo_used.load(Ordering::SeqCst),
                !light,
                "{case}: the solo loader (all the threads) serves heavy and unknown styles only"
            );
        }
    }

    #[test]
    fn worker_plan_auto_is_two_sharing_workers_on_a_cpu_with_two_cores_else_one() {
        let r = WorkerPlan::resolve;
        let fixed = WorkerPlan::fixed;
        assert_eq!(r(None, DeviceChoice::Cpu, 0.0, 16).count, 2);
        assert_eq!(r(None, DeviceChoice::Cpu, 0.0, 1), fixed(1), "one core");
        assert_eq!(r(None, DeviceChoice::Cpu, 0.5, 8), fixed(1), "--smooth");
        assert_eq!(r(None, DeviceChoice::Cuda, 0.0, 8), fixed(1));
        assert_eq!(r(None, DeviceChoice::TensorRt, 0.0, 8), fixed(1));
        let auto = WorkerPlan {
            count: 2,
            auto: true,
        };
        assert_eq!(r(None, DeviceChoice::Auto, 0.0, 8), auto);
        assert_eq!(r(None, DeviceChoice::Cpu, 0.0, 2), auto);
        assert_eq!(
            r(Some(3), DeviceChoice::Cuda, 0.0, 1),
            fixed(3),
            "asked for"
        );
        assert_eq!(r(Some(1), DeviceChoice::Cpu, 0.0, 8), fixed(1));
    }
}
