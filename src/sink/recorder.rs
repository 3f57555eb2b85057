//! Recorder sink: frames → H.264 fragmented MP4 on its own thread.
//!
//! [`Recorder::push`] never blocks: frames go into a bounded queue, and when the encoder lags
//! behind the newest frames are dropped and counted. Timestamps come from the capture `Instant`s,
//! so the file has the real (variable) frame rate and duration. The file is fragmented MP4 with a
//! fragment per ≤ 1 s: if the process dies, everything up to the last fragment stays playable.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use image::RgbImage;

use super::{Sink, SinkReport};
use crate::video::check_output_container;
use crate::video::h264::EncoderSettings;
use crate::video::writer::{VideoWriter, VideoWriterOptions};
use crate::{Error, Result};

/// Options for [`Recorder::start`].
#[derive(Debug, Clone)]
pub struct RecorderOptions {
    /// Output file (`.mp4`).
    pub path: PathBuf,
    /// Bit rate, quality floor (`max_qp`) and expected frame rate (`fps`, for rate control
    /// only: timestamps are the capture times).
    pub encoder: EncoderSettings,
    /// Frames that may wait for the encoder before new ones are dropped.
    pub queue_len: usize,
}

impl RecorderOptions {
    /// Defaults for recording to `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            encoder: EncoderSettings::default(),
            queue_len: 8,
        }
    }

    /// The same, for a stream of nominally `fps` frames per second (the encoder's rate control).
    pub fn with_fps(mut self, fps: f64) -> Self {
        self.encoder.fps = fps.clamp(1.0, 240.0) as f32;
        self
    }
}

/// What a finished recording holds.
#[derive(Debug, Clone)]
pub struct RecordingSummary {
    pub path: PathBuf,
    pub frames_written: u64,
    pub frames_dropped: u64,
    pub duration_secs: f64,
}

struct Shared {
    dropped: AtomicU64,
    error: Mutex<Option<String>>,
}

/// Records frames to an MP4 file on a background thread.
pub struct Recorder {
    path: PathBuf,
    tx: Option<SyncSender<(RgbImage, Duration)>>,
    recycled: Receiver<RgbImage>,
    thread: Option<JoinHandle<Result<RecordingSummary>>>,
    shared: Arc<Shared>,
    start: Option<Instant>,
    pushed: u64,
}

impl Recorder {
    /// Starts a recorder writing to `options.path` (the file is created with the first frame).
    pub fn start(options: RecorderOptions) -> Result<Self> {
        let path = options.path.clone();
        check_output_container(&path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.is_dir() {
                return Err(Error::Output {
                    path: path.clone(),
                    reason: format!("the folder {} does not exist", dir.display()),
                });
            }
        }
        // Create the file now so an unwritable location fails here, not on the thread.
        std::fs::File::create(&path).map_err(|e| Error::Output {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let (tx, rx) = mpsc::sync_channel::<(RgbImage, Duration)>(options.queue_len.max(1));
        let (recycle_tx, recycled) = mpsc::channel::<RgbImage>();
        let shared = Arc::new(Shared {
            dropped: AtomicU64::new(0),
            error: Mutex::new(None),
        });
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("stylecam-recorder".into())
            .spawn(move || {
                let result = encode_loop(&options, &rx, &recycle_tx);
                if let Err(e) = &result {
                    *thread_shared.error.lock().expect("recorder lock") = Some(e.to_string());
                }
                result
            })
            .map_err(|e| Error::Video(format!("could not start the recorder thread: {e}")))?;
        tracing::info!("recording to {}", path.display());
        Ok(Self {
            path,
            tx: Some(tx),
            recycled,
            thread: Some(thread),
            shared,
            start: None,
            pushed: 0,
        })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Frames dropped so far because the encoder was behind.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Frames accepted so far (queued for encoding).
    pub fn frames_queued(&self) -> u64 {
        self.pushed
    }

    /// Queues `frame`, captured at `t`. Never blocks: if the encoder is behind, the frame is
    /// dropped and counted. Fails only when the recorder has stopped on an error.
    pub fn push(&mut self, frame: &RgbImage, t: Instant) -> Result<()> {
        if let Some(e) = self.shared.error.lock().expect("recorder lock").clone() {
            return Err(Error::Video(format!(
                "recording to {} stopped: {e}",
                self.path.display()
            )));
        }
        let Some(tx) = &self.tx else {
            return Err(Error::Video("the recorder is already finished".into()));
        };
        let start = *self.start.get_or_insert(t);
        let pts = t.saturating_duration_since(start);
        let mut buf = match self.recycled.try_recv() {
            Ok(b) if b.dimensions() == frame.dimensions() => b,
            _ => RgbImage::new(frame.width(), frame.height()),
        };
        buf.copy_from_slice(frame);
        match tx.try_send((buf, pts)) {
            Ok(()) => {
                self.pushed += 1;
                Ok(())
            }
            Err(TrySendError::Full(_)) => {
                let n = self.shared.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if n == 1 {
                    tracing::warn!("recorder is behind: dropping frames (encoder too slow)");
                }
                Ok(())
            }
            Err(TrySendError::Disconnected(_)) => {
                let reason = self
                    .shared
                    .error
                    .lock()
                    .expect("recorder lock")
                    .clone()
                    .unwrap_or_else(|| "the encoder thread ended".into());
                Err(Error::Video(format!(
                    "recording to {} stopped: {reason}",
                    self.path.display()
                )))
            }
        }
    }

    /// Stops, encodes what is queued, finalizes the file and returns its path.
    pub fn finish(self) -> Result<PathBuf> {
        self.finish_with_summary().map(|s| s.path)
    }

    /// Like [`finish`](Self::finish), with frame counts and duration.
    pub fn finish_with_summary(mut self) -> Result<RecordingSummary> {
        self.stop()
    }

    fn stop(&mut self) -> Result<RecordingSummary> {
        self.tx.take();
        let Some(thread) = self.thread.take() else {
            return Err(Error::Video("the recorder is already finished".into()));
        };
        let mut summary = thread
            .join()
            .map_err(|_| Error::Video("the recorder thread panicked".into()))??;
        summary.frames_dropped = self.dropped();
        if summary.frames_dropped > 0 {
            tracing::warn!(
                "{}: {} frames were dropped because the encoder could not keep up",
                summary.path.display(),
                summary.frames_dropped
            );
        }
        tracing::info!(
            "recorded {} frames ({:.1} s) to {}",
            summary.frames_written,
            summary.duration_secs,
            summary.path.display()
        );
        Ok(summary)
    }
}

impl Drop for Recorder {
    /// A recorder dropped without `finish` still finalizes its file.
    fn drop(&mut self) {
        if self.thread.is_some() {
            if let Err(e) = self.stop() {
                tracing::warn!("finishing the recording failed: {e}");
            }
        }
    }
}

fn encode_loop(
    options: &RecorderOptions,
    rx: &Receiver<(RgbImage, Duration)>,
    recycle: &mpsc::Sender<RgbImage>,
) -> Result<RecordingSummary> {
    let writer_options = VideoWriterOptions {
        encoder: options.encoder,
        ..VideoWriterOptions::default()
    };
    let mut writer: Option<VideoWriter> = None;
    let mut last_pts = Duration::ZERO;
    let mut frames = 0u64;
    while let Ok((frame, pts)) = rx.recv() {
        let w = match &mut writer {
            Some(w) => w,
            None => writer.insert(VideoWriter::create(
                &options.path,
                frame.width(),
                frame.height(),
                &writer_options,
                None,
            )?),
        };
        w.write(&frame, pts)?;
        frames += 1;
        last_pts = pts;
        let _ = recycle.send(frame);
    }
    match writer {
        Some(w) => {
            let last = if frames > 1 {
                Some(last_pts / (frames - 1) as u32)
            } else {
                Some(Duration::from_secs_f32(1.0 / options.encoder.fps.max(1.0)))
            };
            let summary = w.finish(last.filter(|d| !d.is_zero()))?;
            Ok(RecordingSummary {
                path: summary.path,
                frames_written: summary.video_samples,
                frames_dropped: 0,
                duration_secs: summary.duration_secs,
            })
        }
        None => {
            let _ = std::fs::remove_file(&options.path);
            Err(Error::Video(format!(
                "no frames were recorded, so {} was not written",
                options.path.display()
            )))
        }
    }
}

/// The recorder is a sink that queues by itself (its encoder thread drops frames when behind).
impl Sink for Recorder {
    fn push(&mut self, frame: &RgbImage, t: Instant) -> Result<()> {
        Recorder::push(self, frame, t)
    }

    fn finish(self: Box<Self>) -> Result<SinkReport> {
        let s = Recorder::finish_with_summary(*self)?;
        Ok(SinkReport {
            what: "recording".into(),
            path: Some(s.path),
            frames: s.frames_written,
            dropped: s.frames_dropped,
        })
    }
}
