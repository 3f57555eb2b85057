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
        let image = decode_frame(&buffer).map_err(|e| {
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

/// A captured frame (MJPEG, YUYV, NV12, …, as the buffer says) converted to RGB.
///
/// The MJPEG decoder (mozjpeg, through nokhwa) panics on a truncated frame, which a camera can
/// deliver (a USB transfer cut short); the panic is caught here and becomes an error.
pub fn decode_frame(buffer: &nokhwa::Buffer) -> std::result::Result<RgbImage, String> {
    let res = buffer.resolution();
    let mut image = RgbImage::new(res.width(), res.height());
    let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        buffer.decode_image_to_buffer::<RgbFormat>(&mut image)
    }));
    match decoded {
        Ok(result) => result.map_err(|e| e.to_string())?,
        Err(_) => return Err("the frame is corrupt (its decoder gave up on it)".into()),
    }
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// BT.601 limited-range YCbCr → RGB, in exact arithmetic (the reference for the camera's
    /// integer conversion).
    fn bt601(y: u8, u: u8, v: u8) -> [f64; 3] {
        let (y, u, v) = (
            f64::from(y) - 16.0,
            f64::from(u) - 128.0,
            f64::from(v) - 128.0,
        );
        [
            1.164 * y + 1.596 * v,
            1.164 * y - 0.392 * u - 0.813 * v,
            1.164 * y + 2.017 * u,
        ]
        .map(|c| c.clamp(0.0, 255.0))
    }

    fn assert_near(got: &RgbImage, want: impl Fn(u32, u32) -> [f64; 3], tolerance: f64) {
        for (x, y, p) in got.enumerate_pixels() {
            let w = want(x, y);
            for c in 0..3 {
                assert!(
                    (f64::from(p[c]) - w[c]).abs() <= tolerance,
                    "pixel ({x}, {y}) channel {c}: {} vs {:.1}",
                    p[c],
                    w[c]
                );
            }
        }
    }

    /// Luma and chroma that sweep their ranges (including the clipping ends) across a frame.
    fn luma(x: u32, y: u32) -> u8 {
        (x * 37 + y * 11 % 256) as u8
    }
    fn chroma(x: u32, y: u32, k: u32) -> u8 {
        ((x / 2) * 53 + y * 29 + k * 101) as u8
    }

    fn buffer(w: u32, h: u32, bytes: &[u8], format: FrameFormat) -> nokhwa::Buffer {
        nokhwa::Buffer::new(Resolution::new(w, h), bytes, format)
    }

    #[test]
    fn yuyv_frames_convert_to_bt601_rgb() {
        let (w, h) = (16, 6);
        let mut bytes = Vec::new();
        for y in 0..h {
            for x in (0..w).step_by(2) {
                let (u, v) = (chroma(x, y, 0), chroma(x, y, 1));
                bytes.extend([luma(x, y), u, luma(x + 1, y), v]);
            }
        }
        let rgb = decode_frame(&buffer(w, h, &bytes, FrameFormat::YUYV)).unwrap();
        assert_eq!(rgb.dimensions(), (w, h));
        // Each pixel pair shares its U and V; the integer conversion is within a level.
        assert_near(
            &rgb,
            |x, y| bt601(luma(x, y), chroma(x & !1, y, 0), chroma(x & !1, y, 1)),
            1.5,
        );
    }

    #[test]
    fn nv12_frames_convert_with_chroma_shared_by_2x2_blocks() {
        let (w, h) = (16, 6);
        let mut bytes: Vec<u8> = (0..h)
            .flat_map(|y| (0..w).map(move |x| luma(x, y)))
            .collect();
        for cy in 0..h / 2 {
            for cx in (0..w).step_by(2) {
                bytes.extend([chroma(cx, cy, 0), chroma(cx, cy, 1)]);
            }
        }
        let rgb = decode_frame(&buffer(w, h, &bytes, FrameFormat::NV12)).unwrap();
        assert_eq!(rgb.dimensions(), (w, h));
        assert_near(
            &rgb,
            |x, y| {
                bt601(
                    luma(x, y),
                    chroma(x & !1, y / 2, 0),
                    chroma(x & !1, y / 2, 1),
                )
            },
            1.5,
        );
        let short = decode_frame(&buffer(w, h, &bytes[..bytes.len() - 2], FrameFormat::NV12));
        assert!(
            short.is_err(),
            "a short NV12 frame is an error, not garbage"
        );
    }

    #[test]
    fn mjpeg_frames_decode_like_the_jpeg_they_carry() {
        let (w, h) = (48, 32);
        let picture = RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 5) as u8, (y * 7) as u8, ((x + y) * 3) as u8])
        });
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95)
            .encode_image(&picture)
            .unwrap();
        let rgb = decode_frame(&buffer(w, h, &jpeg, FrameFormat::MJPEG)).unwrap();
        // Another decoder of the same JPEG (the image crate's) agrees within a few levels
        // (IDCT and chroma upsampling differ slightly between decoders).
        let reference = image::load_from_memory(&jpeg).unwrap().to_rgb8();
        assert_near(&rgb, |x, y| reference.get_pixel(x, y).0.map(f64::from), 6.0);
        // A frame cut short by the USB transfer is an error (mozjpeg panics on it), not a
        // panic of the capture thread.
        let cut = std::panic::catch_unwind(|| {
            decode_frame(&buffer(w, h, &jpeg[..jpeg.len() / 2], FrameFormat::MJPEG))
        });
        let cut = cut.expect("a truncated MJPEG frame panicked through decode_frame");
        assert!(cut.unwrap_err().contains("corrupt"));
    }

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
