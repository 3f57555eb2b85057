//! Webcams through nokhwa (V4L2 on Linux, AVFoundation, Media Foundation): listing, choosing the
//! best frame rate at the requested resolution, and decoding MJPEG/YUYV frames to RGB.

use std::time::Instant;

use image::RgbImage;
use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
    Resolution,
};
use nokhwa::Camera;

use super::{Frame, FrameSource};
use crate::{Error, Result};

/// Capture resolution asked for when `--camera-res` is not given.
pub const DEFAULT_RESOLUTION: (u32, u32) = (640, 480);

/// One capture mode a camera offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraMode {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Pixel format, e.g. "MJPEG", "YUYV".
    pub format: String,
}

impl std::fmt::Display for CameraMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}x{} @ {} fps {}",
            self.width, self.height, self.fps, self.format
        )
    }
}

/// A camera and the modes it offers (empty when it could not be opened to ask).
#[derive(Debug, Clone)]
pub struct CameraInfo {
    /// The number `--source camera:N` takes.
    pub index: u32,
    pub name: String,
    pub description: String,
    pub modes: Vec<CameraMode>,
    /// Why `modes` is empty, if it is.
    pub problem: Option<String>,
}

fn no_camera_help() -> &'static str {
    "Run without a camera: stylecam live --source testcard (or a video file / folder of images: --source PATH)"
}

fn native_backend() -> Result<ApiBackend> {
    nokhwa::native_api_backend().ok_or_else(|| {
        Error::Camera(format!(
            "cameras are not supported on this platform. {}",
            no_camera_help()
        ))
    })
}

/// Every camera the system reports, with its modes.
pub fn list_cameras() -> Result<Vec<CameraInfo>> {
    let backend = native_backend()?;
    let found = nokhwa::query(backend)
        .map_err(|e| Error::Camera(format!("could not list cameras: {e}. {}", no_camera_help())))?;
    let mut out = Vec::new();
    for info in found {
        let index = match info.index() {
            CameraIndex::Index(i) => *i,
            CameraIndex::String(s) => s.parse().unwrap_or(out.len() as u32),
        };
        let (modes, problem) = match camera_modes(index) {
            Ok(m) => (m, None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        out.push(CameraInfo {
            index,
            name: info.human_name(),
            description: info.description().to_string(),
            modes,
            problem,
        });
    }
    Ok(out)
}

fn open_raw(index: u32) -> Result<Camera> {
    let request = RequestedFormat::new::<RgbFormat>(RequestedFormatType::AbsoluteHighestFrameRate);
    Camera::new(CameraIndex::Index(index), request).map_err(|e| {
        Error::Camera(format!(
            "cannot open camera {index}: {e}. Check `stylecam cameras` for the cameras present. {}",
            no_camera_help()
        ))
    })
}

fn camera_modes(index: u32) -> Result<Vec<CameraMode>> {
    let mut cam = open_raw(index)?;
    let formats = cam
        .compatible_camera_formats()
        .map_err(|e| Error::Camera(format!("camera {index}: cannot list its formats: {e}")))?;
    let mut modes: Vec<CameraMode> = formats.iter().map(mode_of).collect();
    modes.sort_by(|a, b| {
        (b.width * b.height, b.fps, &a.format).cmp(&(a.width * a.height, a.fps, &b.format))
    });
    modes.dedup();
    Ok(modes)
}

fn mode_of(f: &CameraFormat) -> CameraMode {
    CameraMode {
        width: f.width(),
        height: f.height(),
        fps: f.frame_rate(),
        format: f.format().to_string(),
    }
}

/// The mode to capture in: among the formats we can decode, the requested resolution (or the
/// nearest one by pixel distance) at its highest frame rate; YUYV wins a tie (cheaper to decode).
pub fn pick_mode(modes: &[CameraMode], want: (u32, u32)) -> Option<CameraMode> {
    let decodable = |m: &&CameraMode| {
        matches!(
            m.format.as_str(),
            "MJPEG" | "YUYV" | "NV12" | "GRAY" | "RAWRGB" | "RAWBGR"
        )
    };
    let distance = |m: &CameraMode| {
        let dx = m.width as i64 - want.0 as i64;
        let dy = m.height as i64 - want.1 as i64;
        dx * dx + dy * dy
    };
    let best_distance = modes.iter().filter(decodable).map(distance).min()?;
    modes
        .iter()
        .filter(decodable)
        .filter(|m| distance(m) == best_distance)
        .max_by_key(|m| (m.fps, m.format == "YUYV", m.format == "MJPEG"))
        .cloned()
}

fn frame_format(name: &str) -> FrameFormat {
    match name {
        "MJPEG" => FrameFormat::MJPEG,
        "NV12" => FrameFormat::NV12,
        "GRAY" => FrameFormat::GRAY,
        "RAWRGB" => FrameFormat::RAWRGB,
        "RAWBGR" => FrameFormat::RAWBGR,
        _ => FrameFormat::YUYV,
    }
}

/// An open, streaming camera. Dropping it stops the stream and releases the device.
pub struct CameraSource {
    camera: Camera,
    index: u32,
    mode: CameraMode,
    next_index: u64,
}

impl CameraSource {
    /// Opens camera `index` at (or near) `resolution`, at the best frame rate it offers there.
    pub fn open(index: u32, resolution: Option<(u32, u32)>) -> Result<Self> {
        let want = resolution.unwrap_or(DEFAULT_RESOLUTION);
        let mut camera = open_raw(index)?;
        let formats = camera
            .compatible_camera_formats()
            .map_err(|e| Error::Camera(format!("camera {index}: cannot list its formats: {e}")))?;
        let modes: Vec<CameraMode> = formats.iter().map(mode_of).collect();
        let mode = pick_mode(&modes, want).ok_or_else(|| {
            Error::Camera(format!(
                "camera {index} offers no format stylecam can decode (it offers: {}). {}",
                modes
                    .iter()
                    .map(|m| m.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                no_camera_help()
            ))
        })?;
        if (mode.width, mode.height) != want {
            tracing::info!(
                "camera {index}: {}x{} is not offered; using {mode}",
                want.0,
                want.1
            );
        }
        let exact = CameraFormat::new(
            Resolution::new(mode.width, mode.height),
            frame_format(&mode.format),
            mode.fps,
        );
        camera
            .set_camera_requset(RequestedFormat::new::<RgbFormat>(
                RequestedFormatType::Exact(exact),
            ))
            .map_err(|e| Error::Camera(format!("camera {index}: cannot select {mode}: {e}")))?;
        camera.open_stream().map_err(|e| {
            Error::Camera(format!(
                "camera {index}: cannot start streaming: {e}. {}",
                no_camera_help()
            ))
        })?;
        tracing::info!("camera {index}: streaming {mode}");
        Ok(CameraSource {
            camera,
            index,
            mode,
            next_index: 0,
        })
    }
}

impl FrameSource for CameraSource {
    fn next_frame(&mut self) -> Result<Option<Frame>> {
        let buffer = self
            .camera
            .frame()
            .map_err(|e| Error::Camera(format!("camera {}: capture failed: {e}", self.index)))?;
        let captured = Instant::now();
        let res = buffer.resolution();
        let mut image = RgbImage::new(res.width(), res.height());
        buffer
            .decode_image_to_buffer::<RgbFormat>(&mut image)
            .map_err(|e| {
                Error::Camera(format!(
                    "camera {}: cannot decode a {} frame: {e}",
                    self.index, self.mode.format
                ))
            })?;
        let frame = Frame {
            image,
            captured,
            index: self.next_index,
        };
        self.next_index += 1;
        Ok(Some(frame))
    }

    fn describe(&self) -> String {
        format!("camera {} {}", self.index, self.mode)
    }
}

impl Drop for CameraSource {
    fn drop(&mut self) {
        if let Err(e) = self.camera.stop_stream() {
            tracing::debug!("camera {}: stop_stream: {e}", self.index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(width: u32, height: u32, fps: u32, format: &str) -> CameraMode {
        CameraMode {
            width,
            height,
            fps,
            format: format.into(),
        }
    }

    #[test]
    fn picks_best_frame_rate_at_requested_resolution() {
        let modes = vec![
            m(640, 480, 30, "YUYV"),
            m(640, 480, 60, "MJPEG"),
            m(1280, 720, 30, "MJPEG"),
            m(1280, 720, 10, "YUYV"),
            m(1920, 1080, 120, "H264"),
        ];
        assert_eq!(
            pick_mode(&modes, (640, 480)),
            Some(m(640, 480, 60, "MJPEG"))
        );
        assert_eq!(
            pick_mode(&modes, (1280, 720)),
            Some(m(1280, 720, 30, "MJPEG"))
        );
        // 1080p exists only as H.264, which we do not decode: nearest decodable is 720p.
        assert_eq!(
            pick_mode(&modes, (1920, 1080)),
            Some(m(1280, 720, 30, "MJPEG"))
        );
        let tie = vec![m(640, 480, 30, "MJPEG"), m(640, 480, 30, "YUYV")];
        assert_eq!(pick_mode(&tie, (640, 480)), Some(m(640, 480, 30, "YUYV")));
        assert_eq!(pick_mode(&[], (640, 480)), None);
    }
}
