//! `cargo run --example live -- [--source S] [--models DIR] [--device D] [--test-engine]`
//!
//! Runs the live view outside the main CLI (handy while developing the pipeline), through the
//! library's API alone. With `--test-engine`, styles are simple pixel transforms instead of ONNX
//! models, so the window, hotkeys and pipeline can be tried without ONNX Runtime.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use clap::Parser;
use stylecam::engine::DeviceChoice;
use stylecam::live::{self, LiveHooks, LiveOptions, PixelTransformEngine};
use stylecam::styles;

#[derive(Parser)]
#[command(name = "live", about = "stylecam live view (development front end)")]
struct Cli {
    /// Frame source: auto, camera[:N], testcard, FILE.mp4, or a folder of images.
    #[arg(long, default_value = "auto")]
    source: String,
    /// Folder of style models (*.onnx).
    #[arg(long, value_name = "DIR")]
    models: Option<PathBuf>,
    /// Execution provider: auto, cpu, cuda or tensorrt.
    #[arg(long, default_value = "auto", value_parser = parse_device)]
    device: DeviceChoice,
    /// Path to libonnxruntime.so (default: searched).
    #[arg(long, value_name = "PATH")]
    ort_lib: Option<PathBuf>,
    /// CPU threads for inference (default: all cores).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Use pixel transforms instead of ONNX models (no ONNX Runtime needed).
    #[arg(long)]
    test_engine: bool,
}

fn parse_device(s: &str) -> Result<DeviceChoice, String> {
    [
        DeviceChoice::Auto,
        DeviceChoice::Cpu,
        DeviceChoice::Cuda,
        DeviceChoice::TensorRt,
    ]
    .into_iter()
    .find(|d| d.to_string() == s)
    .ok_or_else(|| format!("'{s}' is not auto, cpu, cuda or tensorrt"))
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let source = match cli.source.parse() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut opts = LiveOptions {
        source,
        ..LiveOptions::default()
    };
    opts.models = cli.models;
    opts.device = cli.device;
    opts.ort_lib = cli.ort_lib;
    opts.engine.intra_threads = cli.threads;
    // No Ctrl-C handler here: Ctrl-C ends the process; Q, Esc or closing the window end the run.
    let stop = Arc::new(AtomicBool::new(false));
    let result = if cli.test_engine {
        live::engine::choose_styles(&styles::models_dir(opts.models.as_deref()), None, &[])
            .and_then(|catalog| {
                let hooks = LiveHooks {
                    loader: PixelTransformEngine::loader(&catalog.files()),
                    solo_loader: None,
                    stop,
                };
                live::run_live_with(opts, hooks)
            })
    } else {
        live::run_live(opts, stop)
    };
    match result {
        Ok(summary) => {
            tracing::info!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
