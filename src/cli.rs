//! Command-line types (clap derive). Parsing only: the work happens in the library.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use stylecam::engine::DeviceChoice;

const EXAMPLES: &str = "\
Examples:
  stylecam styles                                   list styles and the provider that would run
  stylecam stylize --style starry_night photo.jpg -o out.png
  stylecam stylize --style models/udnie.onnx photos/ --out-dir styled/ --max-side 1024
  stylecam stylize --style the_scream a.png b.jpg --out-dir out --size 640x480 --device cpu

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
    #[arg(long, global = true, value_enum, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,

    /// Path to libonnxruntime.so. Default: $ORT_DYLIB_PATH, next to the executable, the
    /// project's .venv, then the system loader.
    #[arg(long, global = true, value_name = "PATH")]
    pub ort_lib: Option<PathBuf>,

    /// Folder of style models (*.onnx). Default: $STYLECAM_MODELS, else the repository's models/.
    #[arg(long, global = true, value_name = "DIR")]
    pub models: Option<PathBuf>,

    /// CPU threads for inference (default: all cores).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Stylize image files or folders of images.
    Stylize(StylizeArgs),
    /// List the available styles and the execution provider that would run them.
    Styles(StylesArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("dest").required(true).args(["output", "out_dir"])))]
pub struct StylizeArgs {
    /// Style name (see `stylecam styles`) or path to an .onnx model.
    #[arg(short, long, value_name = "NAME|PATH.onnx")]
    pub style: String,

    /// Image files or folders (searched recursively for images).
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

    /// Stylize at exactly WIDTHxHEIGHT (default: the input's own size).
    #[arg(long, value_name = "WxH", value_parser = stylecam::batch::parse_size, conflicts_with = "max_side")]
    pub size: Option<(u32, u32)>,

    /// Scale down so the longer side is at most N pixels.
    #[arg(long, value_name = "N", value_parser = stylecam::batch::parse_max_side)]
    pub max_side: Option<u32>,
}

#[derive(Debug, Args)]
pub struct StylesArgs {
    /// Print only the style names, one per line (for scripts).
    #[arg(long)]
    pub names_only: bool,
}
