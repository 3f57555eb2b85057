//! Offline video stylization: decode every frame, stylize it, encode at the source's timestamps
//! and size, and copy the audio track when possible.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use image::RgbImage;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::video::container::check_output_container;
use crate::video::h264::EncoderSettings;
use crate::video::reader::VideoReader;
use crate::video::smooth::{mean_abs_diff, TemporalSmoother};
use crate::video::writer::{VideoWriter, VideoWriterOptions};
use crate::{Error, Result};

/// Options for [`stylize_video`].
#[derive(Debug, Clone, Default)]
pub struct VideoStylizeOptions {
    /// Output (and inference) size; `None` keeps the source size.
    pub size: Option<(u32, u32)>,
    /// Temporal smoothing strength 0..1 (0 = off).
    pub smooth: f32,
    /// Bit rate (`None`: from size and frame rate); the frame rate is taken from the source.
    pub bitrate_bps: Option<u32>,
    /// Quality floor, the largest H.264 quantizer allowed (`None`: the default, 28).
    pub max_qp: Option<u8>,
    /// Show an indicatif progress bar on stderr.
    pub progress: bool,
    /// When set to true (e.g. by a Ctrl-C handler) the run stops after the current frame and the
    /// output is finalized as a valid, shorter file.
    pub interrupt: Option<Arc<AtomicBool>>,
}

/// What happened to the input's audio.
#[derive(Debug, Clone, PartialEq)]
pub enum AudioOutcome {
    /// The input has no audio track.
    None,
    /// The audio track was copied unchanged.
    Copied { codec: String, samples: usize },
    /// The audio track could not be copied.
    Dropped { reason: String },
}

/// Result of [`stylize_video`].
#[derive(Debug, Clone)]
pub struct VideoReport {
    pub input: PathBuf,
    pub output: PathBuf,
    /// Frames in the input.
    pub frames_total: usize,
    /// Frames stylized and written.
    pub frames_written: u64,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    /// Duration of the output in seconds.
    pub duration_secs: f64,
    pub audio: AudioOutcome,
    /// Stopped early by the interrupt flag (the output is valid but shorter).
    pub interrupted: bool,
    pub elapsed: Duration,
    pub decode_time: Duration,
    pub stylize_time: Duration,
    pub encode_time: Duration,
    /// Mean |Δ| between consecutive output frames divided by the same for the input frames
    /// (after resizing to the output size). `None` with fewer than two frames.
    pub flicker_ratio: Option<f64>,
}

impl VideoReport {
    /// Frames per second of the whole run.
    pub fn frames_per_sec(&self) -> f64 {
        self.frames_written as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Stylizes every frame of `input` into `output` (MP4, H.264) with `stylizer`
/// (`input frame → output frame of the same size`).
///
/// Bad input fails before `output` is created. A failure part-way removes the output; an
/// interrupt keeps it, finalized and playable.
pub fn stylize_video(
    input: &Path,
    output: &Path,
    opts: VideoStylizeOptions,
    stylizer: &mut dyn FnMut(&RgbImage, &mut RgbImage) -> Result<()>,
) -> Result<VideoReport> {
    let start = Instant::now();
    check_output_container(output)?;
    if let (Ok(a), Ok(b)) = (input.canonicalize(), output.canonicalize()) {
        if a == b {
            return Err(Error::InvalidArgument(format!(
                "the output {} is the input file; choose another output name",
                output.display()
            )));
        }
    }
    let smoother = TemporalSmoother::new(opts.smooth)?;
    if let Some((w, h)) = opts.size {
        if w == 0 || h == 0 {
            return Err(Error::InvalidArgument(format!(
                "--size {w}x{h} must be positive"
            )));
        }
    }
    let mut reader = VideoReader::open(input)?;
    let info = reader.info();
    // Decode the first frame before creating the output, so undecodable input leaves nothing.
    let t = Instant::now();
    let Some(first) = reader.next_frame()? else {
        return Err(Error::Input {
            path: input.to_path_buf(),
            reason: "the video has no decodable frames".into(),
        });
    };
    let first_decode = t.elapsed();
    let (width, height) = opts.size.unwrap_or(first.image.dimensions());

    let (audio, audio_outcome) = match reader.audio_passthrough() {
        Ok(Some(a)) => {
            let n = a.samples.len();
            (
                Some(a),
                AudioOutcome::Copied {
                    codec: "aac (mp4a)".into(),
                    samples: n,
                },
            )
        }
        Ok(None) => (None, AudioOutcome::None),
        Err(reason) => {
            tracing::warn!("audio dropped: {reason}");
            (None, AudioOutcome::Dropped { reason })
        }
    };
    let fps = if info.fps > 0.0 { info.fps } else { 30.0 };
    let writer_opts = VideoWriterOptions {
        encoder: EncoderSettings {
            bitrate_bps: opts.bitrate_bps,
            fps: fps as f32,
            max_qp: opts.max_qp.unwrap_or(EncoderSettings::default().max_qp),
        },
        timescale: info.timescale,
        keyframe_interval: Duration::from_secs(1),
    };
    let writer = VideoWriter::create(output, width, height, &writer_opts, audio)?;

    let bar = if opts.progress {
        let bar = ProgressBar::new(info.frame_count as u64);
        bar.set_draw_target(ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} frames {per_sec} ETA {eta}",
            )
            .expect("valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };

    let mut run = Run {
        reader,
        writer: Some(writer),
        smoother,
        size: (width, height),
        interrupt: opts.interrupt,
        bar,
        decode_time: first_decode,
        stylize_time: Duration::ZERO,
        encode_time: Duration::ZERO,
        frames_written: 0,
        interrupted: false,
        flicker: FlickerMeter::default(),
    };
    let result = run.process(first, stylizer);
    run.bar.finish_and_clear();
    let writer = run.writer.take().expect("writer present until finish");
    if let Err(e) = result {
        drop(writer);
        let _ = std::fs::remove_file(output);
        return Err(e);
    }
    let t = Instant::now();
    let summary = match writer.finish(Some(Duration::from_secs_f64(1.0 / fps))) {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_file(output);
            return Err(e);
        }
    };
    run.encode_time += t.elapsed();
    let audio = match audio_outcome {
        AudioOutcome::Copied { codec, .. } => AudioOutcome::Copied {
            codec,
            samples: summary.audio_samples,
        },
        other => other,
    };
    Ok(VideoReport {
        input: input.to_path_buf(),
        output: output.to_path_buf(),
        frames_total: info.frame_count,
        frames_written: run.frames_written,
        width,
        height,
        fps,
        duration_secs: summary.duration_secs,
        audio,
        interrupted: run.interrupted,
        elapsed: start.elapsed(),
        decode_time: run.decode_time,
        stylize_time: run.stylize_time,
        encode_time: run.encode_time,
        flicker_ratio: run.flicker.ratio(),
    })
}

struct Run {
    reader: VideoReader,
    writer: Option<VideoWriter>,
    smoother: TemporalSmoother,
    size: (u32, u32),
    interrupt: Option<Arc<AtomicBool>>,
    bar: ProgressBar,
    decode_time: Duration,
    stylize_time: Duration,
    encode_time: Duration,
    frames_written: u64,
    interrupted: bool,
    flicker: FlickerMeter,
}

impl Run {
    fn process(
        &mut self,
        first: crate::video::DecodedFrame,
        stylizer: &mut dyn FnMut(&RgbImage, &mut RgbImage) -> Result<()>,
    ) -> Result<()> {
        let (w, h) = self.size;
        let mut out = RgbImage::new(w, h);
        let mut frame = Some(first);
        while let Some(f) = frame {
            if self
                .interrupt
                .as_ref()
                .is_some_and(|flag| flag.load(Ordering::SeqCst))
            {
                self.interrupted = true;
                tracing::warn!(
                    "interrupted: keeping the {} frames stylized so far",
                    self.frames_written
                );
                break;
            }
            let input = if f.image.dimensions() == (w, h) {
                f.image
            } else {
                image::imageops::resize(&f.image, w, h, image::imageops::FilterType::Triangle)
            };
            let t = Instant::now();
            stylizer(&input, &mut out)?;
            if out.dimensions() != (w, h) {
                return Err(Error::Video(format!(
                    "the stylizer returned a {}x{} frame for a {w}x{h} input",
                    out.width(),
                    out.height()
                )));
            }
            self.smoother.apply(&mut out);
            self.stylize_time += t.elapsed();
            self.flicker.add(&input, &out);
            let t = Instant::now();
            self.writer
                .as_mut()
                .expect("writer present")
                .write(&out, f.pts)?;
            self.encode_time += t.elapsed();
            self.frames_written += 1;
            self.bar.inc(1);
            let t = Instant::now();
            frame = self.reader.next_frame()?;
            self.decode_time += t.elapsed();
        }
        Ok(())
    }
}

/// Accumulates mean |Δ| between consecutive frames, for input and output.
#[derive(Default)]
struct FlickerMeter {
    prev_in: Option<RgbImage>,
    prev_out: Option<RgbImage>,
    sum_in: f64,
    sum_out: f64,
}

impl FlickerMeter {
    fn add(&mut self, input: &RgbImage, output: &RgbImage) {
        if let (Some(pi), Some(po)) = (&self.prev_in, &self.prev_out) {
            self.sum_in += mean_abs_diff(pi, input);
            self.sum_out += mean_abs_diff(po, output);
        }
        match &mut self.prev_in {
            Some(p) => p.copy_from_slice(input),
            None => self.prev_in = Some(input.clone()),
        }
        match &mut self.prev_out {
            Some(p) => p.copy_from_slice(output),
            None => self.prev_out = Some(output.clone()),
        }
    }

    fn ratio(&self) -> Option<f64> {
        (self.sum_in > 0.0).then(|| self.sum_out / self.sum_in)
    }
}
