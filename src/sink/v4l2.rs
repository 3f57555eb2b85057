//! The virtual webcam (`stylecam live --virtual-cam [/dev/videoN]`): frames written to a
//! v4l2loopback device, which video-call apps, OBS and browsers then list as a camera.
//!
//! Uses the `v4l` crate (0.14), already in the build for the camera: `Device::query_caps`
//! (VIDIOC_QUERYCAP, checked for V4L2_CAP_VIDEO_OUTPUT), the `Output` trait's `set_format` /
//! `set_params` (VIDIOC_S_FMT / VIDIOC_S_PARM with V4L2_BUF_TYPE_VIDEO_OUTPUT), and its
//! `io::Write` (plain write(2) of whole frames, the way v4l2loopback takes them).
//! The format is YUYV at the stream's size (what every consumer of a webcam reads), I420 when the
//! device refuses YUYV.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use image::RgbImage;
use v4l::capability::Flags;
use v4l::video::Output;
use v4l::{Device, Format, FourCC, Fraction};

use super::{Sink, SinkReport, StreamInfo};
use crate::pixels::yuv;
use crate::{Error, Result};

/// The line that creates a loopback device stylecam finds by itself.
pub const MODPROBE: &str =
    "sudo modprobe v4l2loopback devices=1 video_nr=10 card_label=stylecam exclusive_caps=1";

/// The pixel layouts stylecam writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    Yuyv,
    I420,
}

impl PixelFormat {
    fn fourcc(self) -> FourCC {
        FourCC::new(match self {
            PixelFormat::Yuyv => b"YUYV",
            PixelFormat::I420 => b"YU12",
        })
    }

    /// Converts `frame` into `out`.
    pub fn convert(self, frame: &RgbImage, out: &mut Vec<u8>) {
        match self {
            PixelFormat::Yuyv => yuv::rgb_to_yuyv(frame, out),
            PixelFormat::I420 => yuv::rgb_to_i420(frame, out),
        }
    }
}

/// An open, configured v4l2loopback output.
pub struct VirtualCam {
    device: Device,
    path: PathBuf,
    format: PixelFormat,
    stream: StreamInfo,
    buf: Vec<u8>,
    written: u64,
}

fn no_device(what: &str) -> Error {
    Error::Sink(format!(
        "{what}. The virtual camera needs the v4l2loopback module: \
         sudo apt install v4l2loopback-dkms, then {MODPROBE}, then run \
         stylecam live --virtual-cam /dev/video10 (see the README)"
    ))
}

/// Is the device at `path` a video output (a loopback device's writing end)?
fn is_output(path: &Path) -> Result<bool> {
    let dev = Device::with_path(path).map_err(|e| Error::io(path, e))?;
    let caps = dev.query_caps().map_err(|e| Error::io(path, e))?;
    Ok(caps.capabilities.contains(Flags::VIDEO_OUTPUT))
}

/// The first `/dev/videoN` that is a video output.
pub fn find_output() -> Result<PathBuf> {
    let mut nodes: Vec<(u32, PathBuf)> = std::fs::read_dir("/dev")
        .map_err(|e| Error::io("/dev", e))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let n = name.strip_prefix("video")?.parse().ok()?;
            Some((n, e.path()))
        })
        .collect();
    nodes.sort();
    nodes
        .into_iter()
        .map(|(_, p)| p)
        .find(|p| is_output(p).unwrap_or(false))
        .ok_or_else(|| no_device("no v4l2loopback device found (no /dev/videoN takes output)"))
}

impl VirtualCam {
    /// Opens `path` (`None`: the first loopback device), checks it takes output and sets the
    /// format to the stream's size and rate.
    pub fn open(path: Option<&Path>, stream: StreamInfo) -> Result<VirtualCam> {
        let path = match path {
            Some(p) if !p.exists() => {
                return Err(no_device(&format!("{} does not exist", p.display())))
            }
            Some(p) => p.to_path_buf(),
            None => find_output()?,
        };
        if !is_output(&path)? {
            return Err(no_device(&format!(
                "{} is not a video output device (a camera, not a v4l2loopback device?)",
                path.display()
            )));
        }
        let device = Device::with_path(&path).map_err(|e| Error::io(&path, e))?;
        let format = negotiate(&device, &path, stream)?;
        let (num, den) = super::y4m::rate_fraction(stream.fps);
        // The frame interval is advisory for loopback devices; readers see it as the camera's rate.
        if let Err(e) = device.set_params(&v4l::video::output::Parameters::new(Fraction::new(
            den as u32, num as u32,
        ))) {
            tracing::debug!("{}: frame rate not set: {e}", path.display());
        }
        tracing::info!(
            "virtual camera {}: {}x{} {:?} at {:.2} fps",
            path.display(),
            stream.width,
            stream.height,
            format,
            stream.fps
        );
        Ok(VirtualCam {
            device,
            path,
            format,
            stream,
            buf: Vec::new(),
            written: 0,
        })
    }

    /// The pixel format agreed with the device.
    pub fn format(&self) -> PixelFormat {
        self.format
    }
}

/// Sets the output format: YUYV at the stream size, else I420; the device must take the size.
fn negotiate(device: &Device, path: &Path, stream: StreamInfo) -> Result<PixelFormat> {
    let mut last = String::new();
    for pf in [PixelFormat::Yuyv, PixelFormat::I420] {
        let want = Format::new(stream.width, stream.height, pf.fourcc());
        match device.set_format(&want) {
            Ok(got)
                if got.fourcc == want.fourcc
                    && (got.width, got.height) == (stream.width, stream.height) =>
            {
                return Ok(pf)
            }
            Ok(got) => {
                last = format!(
                    "the device chose {}x{} {}",
                    got.width, got.height, got.fourcc
                )
            }
            Err(e) => last = e.to_string(),
        }
    }
    Err(Error::Sink(format!(
        "{}: cannot set the output format to {}x{} YUYV or I420 ({last}). Is another program \
         writing to it? With exclusive_caps=1 the format is fixed while a reader is open",
        path.display(),
        stream.width,
        stream.height
    )))
}

impl Sink for VirtualCam {
    fn push(&mut self, frame: &RgbImage, _t: Instant) -> Result<()> {
        if frame.dimensions() != (self.stream.width, self.stream.height) {
            return Err(Error::Sink(format!(
                "virtual camera {}: frame size changed",
                self.path.display()
            )));
        }
        self.format.convert(frame, &mut self.buf);
        match self.device.write(&self.buf) {
            Ok(_) => {
                self.written += 1;
                Ok(())
            }
            // No room in the loopback queue right now: this frame is dropped, the next one goes.
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(Error::Sink(format!(
                "virtual camera {} stopped: {e}",
                self.path.display()
            ))),
        }
    }

    fn finish(self: Box<Self>) -> Result<SinkReport> {
        Ok(SinkReport {
            what: "virtual camera".into(),
            path: Some(self.path),
            frames: self.written,
            dropped: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Format negotiation against a real loopback device; skipped (with a message) without one.
    #[test]
    fn negotiates_a_format_with_a_loopback_device_when_there_is_one() {
        let path = match find_output() {
            Ok(p) => p,
            Err(e) => {
                eprintln!("skipped: no v4l2loopback device here ({e})");
                return;
            }
        };
        let stream = StreamInfo {
            width: 320,
            height: 240,
            fps: 30.0,
        };
        let mut cam = VirtualCam::open(Some(&path), stream).unwrap();
        let got = cam.device.format().unwrap();
        assert_eq!((got.width, got.height), (320, 240));
        assert_eq!(got.fourcc, cam.format().fourcc());
        cam.push(&RgbImage::new(320, 240), Instant::now()).unwrap();
    }

    #[test]
    fn a_missing_device_names_the_modprobe_line() {
        let err = VirtualCam::open(
            Some(Path::new("/dev/video-stylecam-missing")),
            StreamInfo {
                width: 64,
                height: 48,
                fps: 30.0,
            },
        )
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains(MODPROBE), "{err}");
        assert!(err.contains("does not exist"), "{err}");
    }
}
