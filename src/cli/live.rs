//! `stylecam live` flags (clap derive), embedded by the CLI as the `live` subcommand's arguments.
//! `--device`, `--models` (and the other engine flags) are the CLI's global flags, passed to
//! [`LiveArgs::into_options`].

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::{parse_in, parse_size, parse_unit};
use stylecam::live::LiveOptions;
use stylecam::sink::SinkKind;
use stylecam::source::SourceSpec;

/// `--camera-res` / `--size`: [`parse_size`], 16..=8192 on each side (the network's minimum, and
/// more than any camera delivers).
fn parse_frame_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = parse_size(s)?;
    if !(16..=8192).contains(&w) || !(16..=8192).contains(&h) {
        return Err(format!(
            "size {w}x{h} is out of range (16…8192 on each side)"
        ));
    }
    Ok((w, h))
}

fn parse_scale(s: &str) -> Result<f32, String> {
    parse_in(s, 0.125..=2.0)
}

fn parse_fps(s: &str) -> Result<f64, String> {
    let v = parse_in(s, 0.0..=1000.0)?;
    if v > 0.0 {
        Ok(v)
    } else {
        Err(format!("frame rate {v} must be above 0"))
    }
}

/// `--workers`: `auto` (`None` inside) or a count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workers(pub Option<usize>);

fn parse_workers(s: &str) -> Result<Workers, String> {
    if s.trim().eq_ignore_ascii_case("auto") {
        return Ok(Workers(None));
    }
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=8).contains(&n) => Ok(Workers(Some(n))),
        Ok(n) => Err(format!("{n} workers is out of range (1…8, or auto)")),
        Err(_) => Err(format!("'{s}' is not a worker count; write auto or 1…8")),
    }
}

fn parse_source(s: &str) -> Result<SourceSpec, String> {
    s.parse().map_err(|e: stylecam::Error| e.to_string())
}

/// Hotkeys, printed under `stylecam live --help`.
pub const LIVE_HELP: &str = "\
Hotkeys: 1-9 style, Left/Right (N/B) cycle, L full/light variant, Space pause, O original, S split ([ ] or drag),
+/- strength, C preserve colours, Up/Down inference scale, F fullscreen, P screenshot,
G grab the camera's frame as a style, M morph between the two latest picture styles (+/- move
along), R record, Tab overlay, H help, Q/Esc quit.

Sources: 'auto' (default) opens camera 0 ('auto:N': camera N) and, when there is none, shows the
test card with a NO CAMERA banner; 'camera' / 'camera:N' insist on a camera (an error without one); 'testcard';
a folder of images or an image file (looped at --source-fps); a video file.";

/// The formats `--pipe` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PipeFormat {
    /// YUV4MPEG2: I420, BT.601 limited range (ffmpeg, ffplay, GStreamer, mpv read it).
    Y4m,
}

/// `stylecam live`: the webcam (or another source) stylised in a window.
#[derive(Debug, Clone, Args)]
#[command(after_help = LIVE_HELP)]
pub struct LiveArgs {
    /// Frame source: auto, camera[:N], testcard, FILE.mp4, or a folder of images.
    #[arg(long, default_value = "auto", value_name = "SOURCE", value_parser = parse_source)]
    pub source: SourceSpec,

    /// Capture resolution asked of the camera (best frame rate at it); also the test card's size.
    #[arg(long, value_name = "WxH", value_parser = parse_frame_size)]
    pub camera_res: Option<(u32, u32)>,

    /// Inference resolution (independent of the window); default: the camera's.
    #[arg(long, value_name = "WxH", value_parser = parse_frame_size, conflicts_with = "scale")]
    pub size: Option<(u32, u32)>,

    /// Inference resolution as a factor of the camera resolution (0.125…2).
    #[arg(long, value_name = "F", value_parser = parse_scale)]
    pub scale: Option<f32>,

    /// Style to start with (name or .onnx path); default: the first in the models folder.
    #[arg(short, long, value_name = "NAME")]
    pub style: Option<String>,

    /// A picture as a style (any image: a painting, a photo, a postcard), run by Magenta's
    /// arbitrary-style networks; it joins the style list and the view starts on it. Repeat the
    /// flag for more. G grabs the camera's frame as a style too.
    #[arg(long, value_name = "PICTURE")]
    pub style_image: Vec<PathBuf>,

    /// A folder of pictures as styles (searched recursively, in name order).
    #[arg(long, value_name = "DIR")]
    pub style_images: Vec<PathBuf>,

    /// Picture styles: the picture's shorter side in pixels as the style network sees it
    /// (64..=2048; larger makes finer strokes).
    #[arg(long, value_name = "PX", default_value_t = stylecam::engine::arbitrary::DEFAULT_STYLE_SIZE,
          value_parser = clap::value_parser!(u32).range(64..=2048))]
    pub style_size: u32,

    /// Which variant of each style: full (most expensive), fast (lightest), or auto (default:
    /// fast on the CPU, full on CUDA/TensorRT, so the view stays live). L switches while running.
    #[arg(long, value_enum, value_name = "PRESET")]
    pub preset: Option<super::values::PresetArg>,

    /// Start fullscreen (F toggles).
    #[arg(long)]
    pub fullscreen: bool,

    /// Folder for screenshots (P) and recordings (R).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out_dir: PathBuf,

    /// Record from the start into this MP4 file.
    #[arg(long, value_name = "FILE.mp4")]
    pub record: Option<PathBuf>,

    /// Temporal smoothing of the stylised frames, 0 (off) … 1.
    #[arg(long, value_name = "0..1", default_value_t = 0.0, value_parser = parse_unit)]
    pub smooth: f32,

    /// Inference workers: auto, or N model sessions on alternate frames, each with
    /// cores/N threads. auto (default): on a CPU with at least 2 cores, light styles (the w8
    /// presets) run on 2 single-threaded workers and full styles on 1 with every thread; 1 on
    /// a GPU or with --smooth. Two workers show ≈20 % more frames of the fast preset (640×480,
    /// 2 cores: ≈31 instead of ≈26 FPS on AVX-512) for 10–25 ms more latency and twice the
    /// model's memory. An explicit N > 1 cannot be combined with --smooth (smoothing needs
    /// every frame through one worker).
    #[arg(long, value_name = "auto|N", default_value = "auto", value_parser = parse_workers)]
    pub workers: Workers,

    /// Frame rate of the test card and of image folders.
    #[arg(long, value_name = "FPS", default_value_t = 30.0, value_parser = parse_fps, alias = "testcard-fps")]
    pub source_fps: f64,

    /// Start with the overlay hidden (Tab toggles).
    #[arg(long)]
    pub no_overlay: bool,

    /// Start with the style strength at this value (0…1; +/- change it).
    #[arg(long, value_name = "0..1", default_value_t = 1.0, value_parser = parse_unit)]
    pub strength: f32,

    /// No window: run headless, the frames going only to --pipe, --virtual-cam or --record
    /// (works without a display).
    #[arg(long)]
    pub no_window: bool,

    /// Write the stylized stream to standard output: y4m (YUV4MPEG2, constant rate at
    /// --source-fps, the last frame repeated when stylizing is slower). Logs stay on stderr.
    /// E.g. `stylecam live --no-window --pipe y4m | ffplay -`.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub pipe: Option<PipeFormat>,

    /// Also send the stylized stream to a v4l2loopback device (Linux), which video-call apps,
    /// OBS and browsers then list as a camera. Without a value: the first loopback device.
    /// Setup: sudo modprobe v4l2loopback devices=1 video_nr=10 card_label=stylecam exclusive_caps=1
    #[arg(long, value_name = "/dev/videoN", num_args = 0..=1, default_missing_value = "auto")]
    pub virtual_cam: Option<PathBuf>,

    /// Stop after this many new frames (shown, piped or recorded).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub frames: Option<u64>,

    /// Benchmark: measure inference alone, run the live view this many seconds, print a summary, exit.
    #[arg(long, value_name = "SECONDS", hide = true)]
    pub benchmark: Option<f64>,
}

impl LiveArgs {
    /// Where the frames go besides the window.
    fn outputs(&self) -> Vec<SinkKind> {
        let pipe = self.pipe.map(|PipeFormat::Y4m| SinkKind::Y4mStdout);
        let cam = self
            .virtual_cam
            .as_ref()
            .map(|p| SinkKind::VirtualCam(Some(p.clone()).filter(|p| p.as_os_str() != "auto")));
        pipe.into_iter().chain(cam).collect()
    }

    /// The options for [`stylecam::live::run_live`]. The engine fields (`models`, `device`, `ort_lib`,
    /// `engine`) keep their defaults: the CLI sets them from its global flags.
    pub fn into_options(self) -> LiveOptions {
        LiveOptions {
            outputs: self.outputs(),
            window: !self.no_window,
            frames: self.frames,
            source: self.source,
            camera_res: self.camera_res,
            size: self.size,
            scale: self.scale.unwrap_or(1.0),
            style: self.style,
            preset: self.preset.map(Into::into),
            fullscreen: self.fullscreen,
            out_dir: self.out_dir,
            record: self.record,
            smooth: self.smooth,
            workers: self.workers.0,
            source_fps: self.source_fps,
            overlay: !self.no_overlay,
            strength: self.strength,
            benchmark: self.benchmark.map(Duration::from_secs_f64),
            style_images: self
                .style_image
                .into_iter()
                .chain(self.style_images)
                .collect(),
            arbitrary: stylecam::engine::arbitrary::ArbitraryOptions {
                style_size: self.style_size,
                ..Default::default()
            },
            ..LiveOptions::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        live: LiveArgs,
    }

    #[test]
    fn parses_flags() {
        let cli = Cli::try_parse_from([
            "x",
            "--source",
            "testcard",
            "--camera-res",
            "320x240",
            "--scale",
            "0.5",
            "--style",
            "mosaic",
            "--testcard-fps",
            "12",
        ])
        .unwrap();
        let o = cli.live.into_options();
        assert_eq!(o.source, SourceSpec::TestCard);
        assert_eq!(o.camera_res, Some((320, 240)));
        assert_eq!(o.scale, 0.5);
        assert_eq!(o.source_fps, 12.0);
        assert_eq!(o.style.as_deref(), Some("mosaic"));
        assert!(o.window && o.outputs.is_empty());
    }

    #[test]
    fn outputs_from_flags() {
        let outputs = |args: &[&str]| {
            let argv = std::iter::once("x").chain(args.iter().copied());
            Cli::try_parse_from(argv).unwrap().live.into_options()
        };
        let o = outputs(&["--no-window", "--pipe", "y4m", "--frames", "5"]);
        assert!(!o.window);
        assert_eq!(o.outputs, [SinkKind::Y4mStdout]);
        assert_eq!(o.frames, Some(5));
        let o = outputs(&["--virtual-cam"]);
        assert_eq!(o.outputs, [SinkKind::VirtualCam(None)]);
        let o = outputs(&["--virtual-cam", "/dev/video10"]);
        assert_eq!(
            o.outputs,
            [SinkKind::VirtualCam(Some("/dev/video10".into()))]
        );
        assert!(Cli::try_parse_from(["x", "--pipe", "mjpeg"]).is_err());
        assert!(Cli::try_parse_from(["x", "--frames", "0"]).is_err());
    }

    #[test]
    fn rejects_bad_values() {
        assert!(Cli::try_parse_from(["x", "--size", "640"]).is_err());
        assert!(Cli::try_parse_from(["x", "--size", "640x480", "--scale", "0.5"]).is_err());
        assert!(Cli::try_parse_from(["x", "--smooth", "2"]).is_err());
        assert!(Cli::try_parse_from(["x", "--workers", "0"]).is_err());
        assert!(Cli::try_parse_from(["x", "--workers", "9"]).is_err());
        assert!(Cli::try_parse_from(["x", "--workers", "two"]).is_err());
        let workers = |args: &[&str]| {
            let argv = std::iter::once("x").chain(args.iter().copied());
            Cli::try_parse_from(argv)
                .unwrap()
                .live
                .into_options()
                .workers
        };
        assert_eq!(workers(&[]), None, "auto by default");
        assert_eq!(workers(&["--workers", "AUTO"]), None);
        assert_eq!(workers(&["--workers", "2"]), Some(2));
        assert_eq!(workers(&["--workers", "1", "--smooth", "0.5"]), Some(1));
        assert!(Cli::try_parse_from(["x", "--source", "camera:x"]).is_err());
        assert_eq!(parse_frame_size("1280X720"), Ok((1280, 720)));
        assert!(parse_frame_size("8x8").unwrap_err().contains("16…8192"));
        assert!(parse_frame_size("0x0").is_err());
    }
}
