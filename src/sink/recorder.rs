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
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use image::RgbImage;

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

impl crate::live::FrameRecorder for Recorder {
    fn push(&mut self, frame: &RgbImage, t: Instant) -> Result<()> {
        Recorder::push(self, frame, t)
    }

    fn finish(self: Box<Self>) -> Result<PathBuf> {
        Recorder::finish(*self)
    }
}

/// The live view's recorder hook: each recording (R, `--record`) gets a [`Recorder`] with the
/// settings of `template` (its `path` is replaced by the path the live view picks).
pub fn recorder_factory(template: RecorderOptions) -> crate::live::RecorderFactory {
    Arc::new(move |path: &Path| {
        let options = RecorderOptions {
            path: path.to_path_buf(),
            ..template.clone()
        };
        Ok(Box::new(Recorder::start(options)?) as Box<dyn crate::live::FrameRecorder>)
    })
}

/// A timestamped file name in `dir`, e.g. `stylecam-20261125-093245.mp4` (UTC).
pub fn timestamped_path(dir: &Path) -> PathBuf {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    let name = format!(
        "stylecam-{y:04}{m:02}{d:02}-{:02}{:02}{:02}.mp4",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    );
    let mut path = dir.join(&name);
    let mut n = 2;
    while path.exists() {
        path = dir.join(name.replace(".mp4", &format!("-{n}.mp4")));
        n += 1;
    }
    path
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_516), (2026, 3, 4));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
