//! Sinks: where stylized pictures go.
//!
//! One seam, on the pattern of rav1e's `Muxer`: a sink is made by kind ([`create`]), takes
//! frames with their capture times ([`Sink::push`]) and ends with a report ([`Sink::finish`]).
//! The live view holds a list of them and hands each the frame it shows.
//!
//! [`create`] runs every sink that may be slow (an encoder, a pipe whose reader dawdles, a
//! device) behind a [`queued::Queued`]: a bounded queue and a thread of its own, so a slow sink
//! drops frames (counted in its report) instead of stalling the display. Adding a sink is one
//! file with a type that implements [`Sink`], plus one arm in [`create`].
//!
//! The window ([`window`]) is not a [`Sink`]: it is the live view's interactive surface (keys,
//! mouse, the overlay drawn at window resolution), bound to the thread that opened it.

pub mod image_file;
pub mod queued;
#[cfg(feature = "video")]
pub mod recorder;
pub mod screenshot;
#[cfg(all(target_os = "linux", feature = "camera"))]
pub mod v4l2;
#[cfg(feature = "window")]
pub mod window;
pub mod y4m;

use std::path::PathBuf;
use std::time::Instant;

use image::RgbImage;

use crate::Result;

/// Frames a queued sink may hold before new ones are dropped.
pub const QUEUE_LEN: usize = 4;

/// Something that consumes stylized frames.
pub trait Sink: Send {
    /// Takes `frame`, whose picture was captured at `t` (each sink measures time from its first
    /// frame). A queued sink copies the frame and returns at once, dropping it when full.
    /// An error means the sink has stopped (e.g. the pipe's reader went away).
    fn push(&mut self, frame: &RgbImage, t: Instant) -> Result<()>;

    /// Things worth telling the user since the last call (a screenshot saved, …).
    fn notes(&mut self) -> Vec<String> {
        Vec::new()
    }

    /// Flushes and closes the output; reports what was written.
    fn finish(self: Box<Self>) -> Result<SinkReport>;
}

/// What a sink wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkReport {
    /// What the sink is, for messages: "recording", "y4m pipe", "virtual camera /dev/video10".
    pub what: String,
    /// The file written, for sinks that write one.
    pub path: Option<PathBuf>,
    /// Frames written to the output (repeats included, for constant-rate outputs).
    pub frames: u64,
    /// Frames dropped because the sink was behind.
    pub dropped: u64,
}

impl std::fmt::Display for SinkReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.what)?;
        if let Some(p) = &self.path {
            write!(f, " {}", p.display())?;
        }
        write!(
            f,
            ": {} frames written, {} dropped",
            self.frames, self.dropped
        )
    }
}

/// The stream the sinks receive: the live view's frame size and the source's frame rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamInfo {
    pub width: u32,
    pub height: u32,
    /// Nominal frames per second (constant-rate outputs write at this rate).
    pub fps: f64,
}

/// The kinds of sink [`create`] makes.
#[derive(Debug, Clone, PartialEq)]
pub enum SinkKind {
    /// H.264 MP4 recording into this file.
    Recorder(PathBuf),
    /// A PNG per frame pushed, under a timestamped name in this folder.
    Screenshot(PathBuf),
    /// YUV4MPEG2 on standard output.
    Y4mStdout,
    /// A v4l2loopback device (`None`: the first one found).
    VirtualCam(Option<PathBuf>),
}

/// Makes a sink of `kind` for `stream` (slow ones behind a queue and a thread).
pub fn create(kind: &SinkKind, stream: StreamInfo) -> Result<Box<dyn Sink>> {
    Ok(match kind {
        #[cfg(feature = "video")]
        SinkKind::Recorder(path) => Box::new(recorder::Recorder::start(
            recorder::RecorderOptions::new(path).with_fps(stream.fps),
        )?),
        SinkKind::Screenshot(dir) => queued::spawn(Box::new(screenshot::Screenshots::new(dir)))?,
        SinkKind::Y4mStdout => queued::spawn(Box::new(y4m::Y4mSink::stdout(stream)))?,
        #[cfg(all(target_os = "linux", feature = "camera"))]
        SinkKind::VirtualCam(dev) => {
            queued::spawn(Box::new(v4l2::VirtualCam::open(dev.as_deref(), stream)?))?
        }
        #[cfg(not(all(target_os = "linux", feature = "camera")))]
        SinkKind::VirtualCam(_) => {
            return Err(unavailable(
                "--virtual-cam needs Linux, v4l2loopback and the camera feature",
            ))
        }
        #[cfg(not(feature = "video"))]
        SinkKind::Recorder(_) => return Err(unavailable("recording needs the video feature")),
    })
}

#[allow(dead_code)] // used only in builds without some features
fn unavailable(what: &str) -> crate::Error {
    crate::Error::InvalidArgument(format!("{what} (this build has it off)"))
}
