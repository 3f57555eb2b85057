//! The one interface every frame source implements, and how a `--source` argument picks one.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use image::RgbImage;

use super::{images, testcard};
use crate::{Error, Result};

/// One captured picture.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The pixels, packed RGB8.
    pub image: RgbImage,
    /// When the source delivered it (capture-to-display latency is measured from here).
    pub captured: Instant,
    /// Position in the source's sequence, starting at 0.
    pub index: u64,
}

/// Something that produces frames: a camera, a video file, a folder of images, the test card.
/// Not `Send`: some cameras must be used on the thread that opened them, so the live view opens
/// its source on the capture thread.
pub trait FrameSource {
    /// The next frame, waiting until it is due (sources pace themselves to their frame rate).
    /// `Ok(None)` means the source has ended and will produce no more frames.
    fn next_frame(&mut self) -> Result<Option<Frame>>;
    /// A short human description for the overlay and logs, e.g. "test card 640×480 @ 30 fps".
    fn describe(&self) -> String;
}

/// What `--source` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// The default: camera 0; if it cannot be opened, the test card with a NO CAMERA banner.
    Auto,
    /// `auto:N`: like [`SourceSpec::Auto`] with camera N (a number no machine has shows the
    /// fallback anywhere, which is how the tests see it on machines with a camera).
    AutoCamera(u32),
    /// An explicit camera (`camera` = `camera:0`, `camera:N`); failing to open it is an error.
    Camera(u32),
    /// The built-in animated test card.
    TestCard,
    /// A video file, a folder of images, or a single image (looped).
    File(PathBuf),
}

impl FromStr for SourceSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "" => Err(Error::InvalidArgument(
                "--source is empty; use camera[:N], testcard, a video file or a folder of images"
                    .into(),
            )),
            "auto" => Ok(SourceSpec::Auto),
            "camera" | "cam" => Ok(SourceSpec::Camera(0)),
            "testcard" | "test-card" | "test" => Ok(SourceSpec::TestCard),
            _ => {
                if let Some(n) = lower
                    .strip_prefix("camera:")
                    .or_else(|| lower.strip_prefix("cam:"))
                {
                    return n.parse::<u32>().map(SourceSpec::Camera).map_err(|_| {
                        Error::InvalidArgument(format!(
                            "--source {s}: the camera number must be a whole number, e.g. camera:1 (see `stylecam cameras`)"
                        ))
                    });
                }
                if let Some(n) = lower.strip_prefix("auto:") {
                    return n.parse::<u32>().map(SourceSpec::AutoCamera).map_err(|_| {
                        Error::InvalidArgument(format!(
                            "--source {s}: the camera number must be a whole number, e.g. auto:1"
                        ))
                    });
                }
                Ok(SourceSpec::File(PathBuf::from(s)))
            }
        }
    }
}

impl std::fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceSpec::Auto => write!(f, "auto"),
            SourceSpec::AutoCamera(n) => write!(f, "auto:{n}"),
            SourceSpec::Camera(n) => write!(f, "camera:{n}"),
            SourceSpec::TestCard => write!(f, "testcard"),
            SourceSpec::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Options that shape how a source is opened.
#[derive(Debug, Clone)]
pub struct SourceOptions {
    /// Requested capture resolution (camera), or the size the test card / images are drawn at.
    pub resolution: Option<(u32, u32)>,
    /// Frame rate of the test card and of image folders.
    pub fps: f64,
}

impl Default for SourceOptions {
    fn default() -> Self {
        SourceOptions {
            resolution: None,
            fps: 30.0,
        }
    }
}

/// An opened source, plus the reason the camera was skipped when `auto` fell back to the test card.
pub struct OpenedSource {
    pub source: Box<dyn FrameSource>,
    /// `Some(reason)` when `--source auto` found no usable camera and shows the test card instead.
    pub no_camera: Option<String>,
}

/// Open the source `spec` names.
pub fn open_source(spec: &SourceSpec, opts: &SourceOptions) -> Result<OpenedSource> {
    let testcard_size = opts.resolution.unwrap_or((640, 480));
    match spec {
        SourceSpec::Auto | SourceSpec::AutoCamera(_) => match open_camera(
            match spec {
                SourceSpec::AutoCamera(n) => *n,
                _ => 0,
            },
            opts.resolution,
        ) {
            Ok(cam) => Ok(OpenedSource {
                source: cam,
                no_camera: None,
            }),
            Err(e) => {
                tracing::warn!("no usable camera ({e}); showing the test card");
                Ok(OpenedSource {
                    source: Box::new(testcard::TestCard::new(
                        testcard_size.0,
                        testcard_size.1,
                        opts.fps,
                    )?),
                    no_camera: Some(e.to_string()),
                })
            }
        },
        SourceSpec::Camera(n) => Ok(OpenedSource {
            source: open_camera(*n, opts.resolution)?,
            no_camera: None,
        }),
        SourceSpec::TestCard => Ok(OpenedSource {
            source: Box::new(testcard::TestCard::new(
                testcard_size.0,
                testcard_size.1,
                opts.fps,
            )?),
            no_camera: None,
        }),
        SourceSpec::File(path) => {
            let source: Box<dyn FrameSource> = if path.is_dir() || images::is_image_path(path) {
                Box::new(images::ImageFolder::open(path, opts.resolution, opts.fps)?)
            } else {
                open_video(path)?
            };
            Ok(OpenedSource {
                source,
                no_camera: None,
            })
        }
    }
}

/// Camera `n` (the `camera` feature).
fn open_camera(n: u32, resolution: Option<(u32, u32)>) -> Result<Box<dyn FrameSource>> {
    #[cfg(feature = "camera")]
    return Ok(Box::new(super::camera::CameraSource::open(n, resolution)?));
    #[cfg(not(feature = "camera"))]
    {
        let _ = (n, resolution);
        Err(Error::Camera(
            "this build has no camera support (the camera feature)".into(),
        ))
    }
}

/// The video-file source: a looping, frame-rate-paced decoder of `path` (MP4 with H.264;
/// see [`crate::source::video::VideoFileSource`]).
pub fn open_video(path: &Path) -> Result<Box<dyn FrameSource>> {
    if !path.exists() {
        return Err(Error::Input {
            path: path.to_path_buf(),
            reason: "no such file or folder. --source takes camera[:N], testcard, a video file or a folder of images"
                .into(),
        });
    }
    #[cfg(feature = "video")]
    return Ok(Box::new(crate::source::video::VideoFileSource::open(
        path, true,
    )?));
    #[cfg(not(feature = "video"))]
    Err(Error::Input {
        path: path.to_path_buf(),
        reason: "this build reads no video files (the video feature)".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_source_names() {
        assert_eq!(
            "testcard".parse::<SourceSpec>().unwrap(),
            SourceSpec::TestCard
        );
        assert_eq!(
            "camera".parse::<SourceSpec>().unwrap(),
            SourceSpec::Camera(0)
        );
        assert_eq!(
            "camera:2".parse::<SourceSpec>().unwrap(),
            SourceSpec::Camera(2)
        );
        assert_eq!("auto".parse::<SourceSpec>().unwrap(), SourceSpec::Auto);
        assert_eq!(
            "auto:7".parse::<SourceSpec>().unwrap(),
            SourceSpec::AutoCamera(7)
        );
        assert!("auto:x".parse::<SourceSpec>().is_err());
        assert_eq!(
            "clip.mp4".parse::<SourceSpec>().unwrap(),
            SourceSpec::File(PathBuf::from("clip.mp4"))
        );
        let err = "camera:x".parse::<SourceSpec>().unwrap_err().to_string();
        assert!(err.contains("camera:1"), "{err}");
    }

    #[test]
    fn missing_file_source_is_a_clear_error() {
        let err = match open_source(
            &SourceSpec::File("/nonexistent/clip.mp4".into()),
            &SourceOptions::default(),
        ) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("opened a missing file"),
        };
        assert!(
            err.contains("no such file") && err.contains("testcard"),
            "{err}"
        );
    }
}
