//! The display side of the live view, on the caller's thread: one [`Display`] per run, with one
//! method per concern — keys → actions ([`Display::on_keys`]), new results
//! ([`Display::take_result`]), compose ([`Display::compose`]), present to the screen and the sinks
//! ([`Display::present`]).
//!
//! The display never waits for inference: it redraws whatever is newest, so a slow style lowers
//! the stylised frame rate but never freezes the window or its keys. Sinks are queued (see
//! [`crate::sink`]), so a slow output drops frames rather than stalls it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use image::RgbImage;

use super::compose::{Composer, Look};
use super::control::{self, Action, Controls, VariantPick, View};
use super::overlay::{self, OverlayContent};
use super::pictures::PictureStyles;
use super::pipeline::{InferSettings, Shared, SourceReady, Stylized};
use super::screen::{Headless, Screen};
use super::stats::{median_p95, RateMeter};
use super::{Catalog, LiveOptions, LiveSummary, CROSSFADE};
use crate::engine::Family;
use crate::sink::window::LiveWindow;
use crate::sink::{self, Sink, SinkKind, SinkReport, StreamInfo};
use crate::source::Frame;
use crate::styles::Preset;
use crate::{Error, Result};

const MESSAGE_TIME: Duration = Duration::from_millis(2500);
const OVERLAY_REFRESH: Duration = Duration::from_millis(250);

/// The last few messages shown in the overlay (also logged).
#[derive(Default)]
struct Messages(VecDeque<(String, Instant)>);

impl Messages {
    fn say(&mut self, m: String) {
        tracing::info!("{m}");
        self.0.push_back((m, Instant::now()));
        while self.0.len() > 4 {
            self.0.pop_front();
        }
    }

    /// Forgets old messages; true when one went.
    fn expire(&mut self, now: Instant) -> bool {
        let before = self.0.len();
        while self
            .0
            .front()
            .is_some_and(|(_, t)| now.duration_since(*t) > MESSAGE_TIME)
        {
            self.0.pop_front();
        }
        self.0.len() != before
    }

    fn texts(&self) -> Vec<String> {
        self.0.iter().map(|(m, _)| m.clone()).collect()
    }
}

/// A recording started with R or `--record`.
struct Recording {
    sink: Box<dyn Sink>,
    started: Instant,
}

/// What the live view shows this frame, and what is new in it.
struct Shown {
    /// The newest captured frame, when the original is on screen.
    latest: Option<Arc<Frame>>,
    /// A picture the outputs have not had yet, captured at this time.
    new_picture: Option<Instant>,
}

/// The live view's display loop, split by concern.
pub(super) struct Display<'a> {
    opts: &'a LiveOptions,
    catalog: &'a mut Catalog,
    /// Styles made while running: grabbed frames (G) and the morph (M).
    picture_styles: PictureStyles,
    shared: &'a Shared,
    ready: &'a SourceReady,
    stop: &'a AtomicBool,
    screen: Box<dyn Screen>,
    controls: Controls,
    /// `--preset auto` with `--device auto`: waiting for the first model's provider.
    auto_pending: bool,
    composer: Composer,
    composed: RgbImage,
    current: Option<Stylized>,
    fade: Option<(RgbImage, Instant)>,
    shown_original: Option<u64>,
    messages: Messages,
    /// `--pipe`, `--virtual-cam`: every new picture goes to each.
    outputs: Vec<Box<dyn Sink>>,
    recording: Option<Recording>,
    /// Made with the first P.
    screenshots: Option<Box<dyn Sink>>,
    stream: StreamInfo,
    next_overlay: Instant,
    display_meter: RateMeter,
    stylized_meter: RateMeter,
    latencies: Vec<f64>,
    /// New pictures handed to the outputs (`--frames` counts these).
    pictures: u64,
    started: Instant,
    cpu_start: Option<Duration>,
    infer_size: (u32, u32),
    reports: Vec<SinkReport>,
}

/// Everything [`Display::open`] needs besides the controls.
pub(super) struct DisplayParts<'a> {
    pub opts: &'a LiveOptions,
    pub catalog: &'a mut Catalog,
    pub shared: &'a Shared,
    pub ready: &'a SourceReady,
    pub stop: &'a AtomicBool,
    pub auto_pending: bool,
}

impl<'a> Display<'a> {
    /// Opens the screen (a window unless `--no-window`) and the outputs.
    pub fn open(parts: DisplayParts<'a>, mut controls: Controls) -> Result<Self> {
        let DisplayParts {
            opts,
            catalog,
            shared,
            ready,
            stop,
            auto_pending,
        } = parts;
        let frame_size = ready.frame_size;
        let stream = StreamInfo {
            width: frame_size.0,
            height: frame_size.1,
            fps: opts.source_fps,
        };
        let outputs = opts
            .outputs
            .iter()
            .map(|kind| sink::create(kind, stream))
            .collect::<Result<Vec<_>>>()?;
        let screen: Box<dyn Screen> = if opts.window {
            let (ww, wh) = window_size(frame_size);
            Box::new(LiveWindow::open("stylecam", ww, wh, opts.fullscreen)?)
        } else {
            Box::new(Headless)
        };
        controls.overlay = opts.overlay;
        controls.strength = opts.strength;
        let mut picture_styles = PictureStyles::default();
        picture_styles.follow(catalog, &mut controls);
        picture_styles.apply_strength(catalog, &controls, &shared.styles);
        let mut display = Display {
            opts,
            catalog,
            picture_styles,
            shared,
            ready,
            stop,
            screen,
            controls,
            auto_pending,
            composer: Composer::default(),
            composed: RgbImage::new(frame_size.0, frame_size.1),
            current: None,
            fade: None,
            shown_original: None,
            messages: Messages::default(),
            outputs,
            recording: None,
            screenshots: None,
            stream,
            next_overlay: Instant::now(),
            display_meter: RateMeter::default(),
            stylized_meter: RateMeter::default(),
            latencies: Vec::new(),
            pictures: 0,
            started: Instant::now(),
            cpu_start: super::pipeline::thread_cpu_time(),
            infer_size: control::inference_size(frame_size, opts.size, opts.scale),
            reports: Vec::new(),
        };
        if let Some(reason) = &ready.no_camera {
            display.messages.say(format!("no camera: {reason}"));
        }
        if let Some(path) = &opts.record {
            display.recording = Some(Recording {
                sink: sink::create(&SinkKind::Recorder(path.clone()), stream)?,
                started: Instant::now(),
            });
        }
        Ok(display)
    }

    /// Runs until a quit key, the window closing, the stop flag, the source ending, or a limit.
    pub fn run(mut self) -> Result<LiveSummary> {
        loop {
            let now = Instant::now();
            let (quit, mut dirty) = self.on_keys();
            self.follow_provider();
            self.send_settings();
            if quit || self.should_stop() {
                break;
            }
            dirty |= self.collect_messages(now);
            let new_stylized = self.take_result(now);
            dirty |= new_stylized | self.tick(now);
            let shown = self.what_is_shown(new_stylized);
            dirty |= shown.new_picture.is_some();
            if dirty {
                self.compose(now, shown.latest.as_deref())?;
                self.present(now, new_stylized, shown.new_picture)?;
            } else {
                self.screen.pump();
            }
            // Sleep until a new stylised frame arrives, or briefly (keys, original view, fades).
            self.shared.results.wait_ready(Duration::from_millis(10));
        }
        Ok(self.finish())
    }

    /// Keys → actions. Returns (quit, redraw).
    fn on_keys(&mut self) -> (bool, bool) {
        let mut dirty = false;
        for key in self.screen.take_keys() {
            match self.controls.on_key(key) {
                None => {}
                Some(Action::Quit) => return (true, dirty),
                Some(action) => {
                    self.act(action);
                    dirty = true;
                }
            }
        }
        if self.controls.split {
            if let Some(f) = self.screen.drag_fraction() {
                if (f - self.controls.split_at).abs() > 1e-4 {
                    self.controls.split_at = f;
                    dirty = true;
                }
            }
        }
        (false, dirty)
    }

    /// What an action (other than quitting) does beyond changing the controls.
    fn act(&mut self, action: Action) {
        let style = &self.catalog.styles[self.controls.style];
        match action {
            Action::Quit => {}
            Action::Changed => {
                self.picture_styles.apply_strength(
                    self.catalog,
                    &self.controls,
                    &self.shared.styles,
                );
            }
            Action::StyleChanged => {
                self.picture_styles.follow(self.catalog, &mut self.controls);
                self.picture_styles.apply_strength(
                    self.catalog,
                    &self.controls,
                    &self.shared.styles,
                );
            }
            Action::GrabStyle | Action::Morph | Action::MorphStep { .. } => {
                let said = self.picture_styles.on_action(
                    action,
                    &mut self.controls,
                    self.catalog,
                    self.shared,
                    &self.opts.out_dir,
                );
                self.messages.say(said);
            }
            Action::VariantChanged => {
                // A variant chosen with L settles `--preset auto`.
                self.auto_pending = false;
                let label = style.variant_label(self.controls.variant);
                self.messages.say(format!("{}  {label}", style.name));
            }
            Action::NoOtherVariant => {
                let arch = style.variants[0].short_arch();
                self.messages
                    .say(format!("{} has one variant ({arch})", style.name));
            }
            Action::ToggleFullscreen => {
                if let Err(e) = self.screen.toggle_fullscreen() {
                    self.messages.say(format!("fullscreen: {e}"));
                }
            }
            Action::Screenshot => self.screenshot(),
            Action::ToggleRecording => self.toggle_recording(),
        }
    }

    fn screenshot(&mut self) {
        let shots = match self.screenshots.take() {
            Some(s) => Ok(s),
            None => sink::create(
                &SinkKind::Screenshot(self.opts.out_dir.clone()),
                self.stream,
            ),
        };
        match shots {
            Ok(mut s) => match s.push(&self.composed, Instant::now()) {
                Ok(()) => self.screenshots = Some(s),
                Err(e) => self.messages.say(format!("screenshot failed: {e}")),
            },
            Err(e) => self.messages.say(format!("screenshot failed: {e}")),
        }
    }

    fn toggle_recording(&mut self) {
        if let Some(rec) = self.recording.take() {
            let msg = match rec.sink.finish() {
                Ok(r) => format!("recording saved: {}", display_path(&r)),
                Err(e) => format!("recording failed: {e}"),
            };
            self.messages.say(msg);
            return;
        }
        let out_dir = &self.opts.out_dir;
        let path = sink::screenshot::timestamped_path(out_dir, "stylecam", "mp4");
        let made = std::fs::create_dir_all(out_dir)
            .map_err(|e| Error::io(out_dir, e))
            .and_then(|()| sink::create(&SinkKind::Recorder(path.clone()), self.stream));
        match made {
            Ok(sink) => {
                self.messages
                    .say(format!("recording to {}", path.display()));
                self.recording = Some(Recording {
                    sink,
                    started: Instant::now(),
                });
            }
            Err(e) => self.messages.say(format!("cannot record: {e}")),
        }
    }

    /// `--preset auto` on `--device auto`: full variants once the first model runs off the CPU.
    fn follow_provider(&mut self) {
        if !self.auto_pending {
            return;
        }
        if let Some(provider) = self.shared.engine_status().provider {
            self.auto_pending = false;
            if Preset::Auto.settled_by(provider) == Preset::Full {
                self.controls.set_pick(VariantPick::Full);
                tracing::info!("--preset auto: running on {provider}, full variants");
            }
        }
    }

    /// Tells the inference workers what the controls now ask for.
    fn send_settings(&self) {
        let c = &self.controls;
        let want = InferSettings {
            style: self.catalog.file_index(c.style, c.variant),
            base_size: self.opts.size,
            scale: c.scale,
            paused: c.paused,
            smooth: self.opts.smooth,
        };
        if self.shared.settings() != want {
            self.shared.set_settings(want);
        }
    }

    fn should_stop(&self) -> bool {
        let headless_done =
            !self.opts.window && self.outputs.is_empty() && self.recording.is_none();
        !self.screen.is_open()
            || headless_done
            || self.stop.load(Ordering::SeqCst)
            || self.shared.is_shutdown()
            || self.opts.frames.is_some_and(|n| self.pictures >= n)
            || (self.opts.benchmark).is_some_and(|d| self.started.elapsed() >= d / 2)
    }

    /// Messages from the pipeline and the sinks; expires old ones. True when the overlay changed.
    fn collect_messages(&mut self, now: Instant) -> bool {
        let mut notes = self.shared.take_messages();
        for s in self.outputs.iter_mut().chain(self.screenshots.as_mut()) {
            notes.extend(s.notes());
        }
        let changed = !notes.is_empty();
        for m in notes {
            self.messages.say(m);
        }
        self.messages.expire(now) || changed
    }

    /// Takes a new stylised frame, starting a cross-fade when the style changed. True if one came.
    fn take_result(&mut self, now: Instant) -> bool {
        let Some(r) = self.shared.results.take() else {
            return false;
        };
        if let Some(old) = self.current.take() {
            if old.style != r.style && old.output.dimensions() == r.output.dimensions() {
                self.fade = Some((old.output, now));
            } else {
                self.shared.recycle(old.output);
            }
        }
        self.infer_size = r.infer_size;
        self.current = Some(r);
        true
    }

    /// Timers: the cross-fade and the overlay's refresh. True when a redraw is due.
    fn tick(&mut self, now: Instant) -> bool {
        let mut dirty = false;
        if let Some(t) = self.fade_progress(now) {
            if t >= 1.0 {
                if let Some((img, _)) = self.fade.take() {
                    self.shared.recycle(img);
                }
            }
            dirty = true;
        }
        if self.controls.overlay && now >= self.next_overlay {
            self.next_overlay = now + OVERLAY_REFRESH;
            dirty = true;
        }
        dirty
    }

    fn fade_progress(&self, now: Instant) -> Option<f32> {
        self.fade
            .as_ref()
            .map(|(_, t0)| now.duration_since(*t0).as_secs_f32() / CROSSFADE.as_secs_f32())
    }

    /// The original frame when it is on screen, and whether the picture is new.
    fn what_is_shown(&mut self, new_stylized: bool) -> Shown {
        let show_original = self.controls.view == View::Original || self.current.is_none();
        let latest = show_original.then(|| self.shared.latest_frame()).flatten();
        let mut new_picture = None;
        if let Some(f) = &latest {
            if self.shown_original != Some(f.index) {
                self.shown_original = Some(f.index);
                new_picture = Some(f.captured);
            }
        } else if new_stylized {
            new_picture = self.current.as_ref().map(|c| c.frame.captured);
        }
        Shown {
            latest,
            new_picture,
        }
    }

    /// Draws the picture (stylised, original, split, fading) into `composed`.
    fn compose(&mut self, now: Instant, latest: Option<&Frame>) -> Result<()> {
        let c = &self.controls;
        let look = Look {
            view: if self.current.is_none() {
                View::Original
            } else {
                c.view
            },
            split: c.split.then_some(c.split_at),
            // A picture style's strength is its embedding blend (PictureStyles::apply_strength).
            strength: if self.catalog.styles[c.style].variants[0].family == Family::Arbitrary {
                1.0
            } else {
                c.strength
            },
            preserve_colour: c.preserve_colour,
        };
        let fade_t = self.fade_progress(now);
        let out = &mut self.composed;
        match (&self.current, latest) {
            (Some(cur), _) if look.view == View::Stylized => {
                let fading = (self.fade.as_ref())
                    .zip(fade_t)
                    .map(|((img, _), t)| (img, t.min(1.0)));
                self.composer
                    .compose(&cur.frame.image, &cur.output, fading, &look, out)
            }
            (_, Some(f)) => self.composer.compose(&f.image, &f.image, None, &look, out),
            (Some(cur), None) => {
                self.composer
                    .compose(&cur.frame.image, &cur.output, None, &look, out)
            }
            (None, None) => Ok(()),
        }
    }

    /// Shows the composed picture on the screen; a new one also goes to every sink.
    fn present(
        &mut self,
        now: Instant,
        new_stylized: bool,
        new_picture: Option<Instant>,
    ) -> Result<()> {
        if new_stylized {
            if let Some(cur) = &self.current {
                self.latencies
                    .push(cur.frame.captured.elapsed().as_secs_f64() * 1e3);
                if self.latencies.len() > 100_000 {
                    self.latencies.drain(..50_000);
                }
                self.stylized_meter.tick(now);
            }
        }
        if let Some(t) = new_picture {
            self.pictures += 1;
            self.push_to_sinks(t);
        }
        self.display_meter.tick(now);
        let content = self.overlay_content(now);
        self.screen.present(&self.composed, &content)
    }

    /// Hands the composed picture to the outputs and the recording; a failed one is closed.
    fn push_to_sinks(&mut self, t: Instant) {
        let mut i = 0;
        while i < self.outputs.len() {
            match self.outputs[i].push(&self.composed, t) {
                Ok(()) => i += 1,
                Err(e) => {
                    self.messages.say(format!("output stopped: {e}"));
                    let failed = self.outputs.remove(i);
                    self.close(failed);
                }
            }
        }
        if let Some(rec) = &mut self.recording {
            if let Err(e) = rec.sink.push(&self.composed, t) {
                self.messages.say(format!("recording stopped: {e}"));
                if let Some(rec) = self.recording.take() {
                    self.close(rec.sink);
                }
            }
        }
    }

    /// Finishes a sink and keeps its report.
    fn close(&mut self, sink: Box<dyn Sink>) {
        match sink.finish() {
            Ok(r) => {
                tracing::info!("{r}");
                self.reports.push(r);
            }
            Err(e) => tracing::error!("{e}"),
        }
    }

    fn overlay_content(&self, now: Instant) -> OverlayContent {
        let status = self.status_lines(now);
        OverlayContent {
            status,
            messages: self.messages.texts(),
            help: self.controls.help,
            no_camera: self.ready.no_camera.is_some(),
            recording: self.recording.as_ref().map(|r| r.started.elapsed()),
            split_at: self.controls.split.then_some(self.controls.split_at),
            overlay_on: self.controls.overlay,
        }
    }

    /// Finishes every sink and measures the run.
    fn finish(mut self) -> LiveSummary {
        let sinks: Vec<Box<dyn Sink>> = (self.recording.take().map(|r| r.sink))
            .into_iter()
            .chain(self.screenshots.take())
            .chain(std::mem::take(&mut self.outputs))
            .collect();
        for s in sinks {
            self.close(s);
        }
        let seconds = self.started.elapsed().as_secs_f64();
        let display_cpu = match (self.cpu_start, super::pipeline::thread_cpu_time()) {
            (Some(a), Some(b)) => b.saturating_sub(a).as_secs_f64() * 1e3,
            _ => 0.0,
        };
        let shown = self.stylized_meter.total();
        LiveSummary {
            seconds,
            frame_size: self.ready.frame_size,
            inference_size: self.infer_size,
            displayed_fps: shown as f64 / seconds.max(1e-9),
            latency_ms: median_p95(&self.latencies),
            display_ms_per_frame: display_cpu / shown.max(1) as f64,
            display_cpu_percent: display_cpu / 10.0 / seconds.max(1e-9),
            outputs: self.reports,
            ..LiveSummary::default()
        }
    }

    fn status_lines(&self, now: Instant) -> Vec<(String, u32)> {
        let (c, shared) = (&self.controls, self.shared);
        let status = shared.engine_status();
        let current = &self.catalog.styles[c.style];
        let mut style = format!(
            "style {}/{}: {}  {}",
            c.style + 1,
            self.catalog.styles.len(),
            current.name,
            current.variant_label(c.variant)
        );
        let file = self.catalog.file_index(c.style, c.variant);
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
        let (frame, infer) = (self.ready.frame_size, self.infer_size);
        let dropped = shared.frames.dropped() + shared.counters.skipped.load(Ordering::Relaxed);
        vec![
            (style, overlay::WHITE),
            (self.ready.description.clone(), overlay::GREY),
            (
                format!(
                    "camera {}x{}  inference {}x{} ({:.2}x)  {provider}",
                    frame.0, frame.1, infer.0, infer.1, c.scale
                ),
                overlay::GREY,
            ),
            (
                format!(
                    "stylized {:.1} fps  display {:.1} fps  dropped {dropped}",
                    self.stylized_meter.rate(now),
                    self.display_meter.rate(now)
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
            ("H: hotkeys  L: variant  Tab: hide".into(), overlay::GREY),
        ]
    }
}

fn display_path(r: &SinkReport) -> String {
    r.path
        .as_ref()
        .map_or_else(|| r.what.clone(), |p| p.display().to_string())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_size_follows_the_frame_within_limits() {
        assert_eq!(window_size((640, 480)), (640, 480));
        assert_eq!(window_size((160, 120)), (320, 240));
        assert_eq!(window_size((1920, 1080)), (1280, 720));
    }

    #[test]
    fn messages_keep_the_last_four_and_expire() {
        let mut m = Messages::default();
        for i in 0..6 {
            m.say(format!("m{i}"));
        }
        assert_eq!(m.texts(), ["m2", "m3", "m4", "m5"]);
        assert!(!m.expire(Instant::now()));
        assert!(m.expire(Instant::now() + MESSAGE_TIME * 2));
        assert!(m.texts().is_empty());
    }
}
