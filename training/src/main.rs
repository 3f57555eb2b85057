//! `stylecam-train`: train a style, export an untrained network, or export a checkpoint.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use stylecam::net::ImfwArch;
use stylecam_train::device::DeviceChoice;
use stylecam_train::eval::{self, EvalConfig};
use stylecam_train::loss::LossWeights;
use stylecam_train::net::ImfwNet;
use stylecam_train::train::{self, TrainConfig};
use stylecam_train::{checkpoint, export};

#[derive(Parser)]
#[command(
    name = "stylecam-train",
    version,
    about = "Train stylecam styles (fast neural style transfer, Johnson et al. 2016) and export them to ONNX",
    after_help = "Examples:
  stylecam-train train --style starry.jpg --data photos/ --vgg vgg16.safetensors --out models/starry.onnx
  stylecam-train train --style starry.jpg --data photos/ --vgg vgg16.safetensors --out models/starry.onnx --resume
  stylecam-train init --out untrained.onnx --width 16
  stylecam-train export --checkpoint runs/starry --out models/starry.onnx
  stylecam-train eval --model models/starry.onnx models/starry-w8.onnx --style starry.jpg --data held-out/ --vgg vgg16.safetensors

Progress, losses.csv, loss.png and samples-<step>.png go to the checkpoint folder (runs/<name> by default)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Train a style on a folder of photos and export it.
    Train(TrainArgs),
    /// Export a randomly initialised (untrained) network, for tests and benchmarks.
    Init(InitArgs),
    /// Export a checkpoint (file, or folder: its newest checkpoint) to ONNX.
    Export(ExportArgs),
    /// Score models on held-out photos with the training loss (content, style, TV; means).
    Eval(EvalArgs),
}

/// What the loss is computed from: style image, photos, VGG16 and their sizes (`train` and
/// `eval` take the same, so `eval` can repeat a training run's settings).
#[derive(Args)]
struct LossInputArgs {
    /// The style image.
    #[arg(long)]
    style: PathBuf,
    /// Folder of photos (searched recursively; jpg, png, webp, …).
    #[arg(long)]
    data: PathBuf,
    /// VGG16 weights: a .safetensors file with torchvision's names (see training/README.md for
    /// converting vgg16-397923af.pth), or `random:SEED` for a randomly initialised VGG16
    /// (torchvision's init). Styles trained with a random VGG are much weaker: they pick up the
    /// style's palette and rough strokes, not its texture; use rebalanced weights, e.g.
    /// --content-weight 5e3 --style-weight 1e9 --tv-weight 1e-5.
    #[arg(long)]
    vgg: String,
    /// Photos are resized (shorter side) and centre-cropped to this size in pixels (multiple of 4).
    #[arg(long, default_value_t = 256)]
    size: u32,
    /// Shorter side of the style image in pixels (default: the style image's own size).
    #[arg(long)]
    style_size: Option<u32>,
}

#[derive(Args)]
struct TrainArgs {
    #[command(flatten)]
    input: LossInputArgs,
    /// Where to write the trained model.
    #[arg(long)]
    out: PathBuf,
    /// Style name stored in the model (default: the output file's stem).
    #[arg(long)]
    name: Option<String>,
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// Passes over the data set (ignored when --steps is given).
    #[arg(long, default_value_t = 4)]
    epochs: u64,
    /// Total optimisation steps (overrides --epochs).
    #[arg(long)]
    steps: Option<u64>,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    #[command(flatten)]
    loss: LossWeightArgs,
    /// Network width (32 as in the seed; 16 or 8 for light styles).
    #[arg(long, default_value_t = stylecam::net::arch::SEED_WIDTH)]
    width: usize,
    /// Residual blocks.
    #[arg(long, default_value_t = stylecam::net::arch::SEED_BLOCKS)]
    blocks: usize,
    /// Folder for checkpoints, losses.csv, loss.png and sample grids [default: runs/<name>].
    #[arg(long)]
    checkpoint_dir: Option<PathBuf>,
    /// Checkpoint every N steps (and at the end).
    #[arg(long, default_value_t = 200)]
    checkpoint_every: u64,
    /// Write the loss plot and a sample grid every N steps.
    #[arg(long, default_value_t = 200)]
    sample_every: u64,
    /// Content images in each sample grid.
    #[arg(long, default_value_t = 4)]
    samples: usize,
    /// Seed for the network's initialisation and the data order.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    compute: ComputeArgs,
    /// Continue from the newest checkpoint in the checkpoint folder.
    #[arg(long)]
    resume: bool,
    /// Image-decoding threads.
    #[arg(long, default_value_t = 2)]
    workers: usize,
}

/// Loss weights (defaults: the seed's, tuned for pretrained VGG16).
#[derive(Args)]
struct LossWeightArgs {
    #[arg(long, default_value_t = LossWeights::default().content)]
    content_weight: f64,
    #[arg(long, default_value_t = LossWeights::default().style)]
    style_weight: f64,
    #[arg(long, default_value_t = LossWeights::default().tv)]
    tv_weight: f64,
}

impl LossWeightArgs {
    fn weights(&self) -> LossWeights {
        LossWeights {
            content: self.content_weight,
            style: self.style_weight,
            tv: self.tv_weight,
        }
    }
}

/// Where libtorch runs.
#[derive(Args)]
struct ComputeArgs {
    /// auto (CUDA when available), cpu or cuda.
    #[arg(long, default_value = "auto")]
    device: DeviceChoice,
    /// libtorch CPU threads (default: libtorch's choice).
    #[arg(long)]
    threads: Option<i32>,
}

impl ComputeArgs {
    /// Applies --threads and resolves --device.
    fn device(&self) -> Result<tch::Device> {
        if let Some(n) = self.threads {
            tch::set_num_threads(n);
        }
        Ok(self.device.resolve()?)
    }
}

#[derive(Args)]
struct EvalArgs {
    /// Model(s) to score (.onnx written by stylecam-train); repeat the flag or list several files.
    #[arg(long = "model", required = true, num_args = 1..)]
    models: Vec<PathBuf>,
    // The style image the models were trained on, held-out photos, VGG16 and sizes: the training
    // run's values give comparable numbers.
    #[command(flatten)]
    input: LossInputArgs,
    #[command(flatten)]
    loss: LossWeightArgs,
    #[command(flatten)]
    compute: ComputeArgs,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct InitArgs {
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = stylecam::net::arch::SEED_WIDTH)]
    width: usize,
    #[arg(long, default_value_t = stylecam::net::arch::SEED_BLOCKS)]
    blocks: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Style name stored in the model (default: the output file's stem).
    #[arg(long)]
    name: Option<String>,
    /// Write float16 weights and activations (instance norm stays float32), for GPUs.
    #[arg(long)]
    fp16: bool,
}

#[derive(Args)]
struct ExportArgs {
    /// A checkpoint file, or a checkpoint folder (its newest checkpoint is used).
    #[arg(long)]
    checkpoint: PathBuf,
    #[arg(long)]
    out: PathBuf,
    /// Style name stored in the model (default: the name the run was trained with).
    #[arg(long)]
    name: Option<String>,
    /// Write float16 weights and activations (instance norm stays float32) for GPU inference
    /// (`stylecam --fp16` builds the same form in memory from a float32 model).
    #[arg(long)]
    fp16: bool,
}

fn stem(path: &std::path::Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "style".into())
}

fn training_info(cfg: &TrainConfig, steps: u64, losses: Option<String>) -> Vec<(String, String)> {
    let mut info = vec![
        (
            "trainer".to_string(),
            format!("stylecam-train {}", env!("CARGO_PKG_VERSION")),
        ),
        (
            "style_image".to_string(),
            cfg.style
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ),
        ("steps".to_string(), steps.to_string()),
        ("image_size".to_string(), cfg.image_size.to_string()),
        ("batch".to_string(), cfg.batch.to_string()),
        ("lr".to_string(), cfg.lr.to_string()),
        (
            "content_weight".to_string(),
            cfg.weights.content.to_string(),
        ),
        ("style_weight".to_string(), cfg.weights.style.to_string()),
        ("tv_weight".to_string(), cfg.weights.tv.to_string()),
        ("vgg".to_string(), cfg.vgg.clone()),
        ("seed".to_string(), cfg.seed.to_string()),
    ];
    if let Some(l) = losses {
        info.push(("final_losses".to_string(), l));
    }
    info
}

fn cmd_train(a: TrainArgs) -> Result<()> {
    let device = a.compute.device()?;
    let name = a.name.clone().unwrap_or_else(|| stem(&a.out));
    let cfg = TrainConfig {
        checkpoint_dir: a
            .checkpoint_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("runs").join(&name)),
        name,
        style: a.input.style,
        data: a.input.data,
        vgg: a.input.vgg,
        width: a.width,
        blocks: a.blocks,
        image_size: a.input.size,
        style_size: a.input.style_size,
        batch: a.batch,
        epochs: a.epochs,
        steps: a.steps,
        lr: a.lr,
        weights: a.loss.weights(),
        seed: a.seed,
        checkpoint_every: a.checkpoint_every,
        sample_every: a.sample_every,
        samples: a.samples,
        workers: a.workers,
    };
    let outcome = train::run(&cfg, device, a.resume)?;
    let losses = outcome
        .last_losses
        .map(|l| train::describe_losses(&l, &cfg.weights));
    eprintln!(
        "trained {} steps in {:.0} s total; this session: {:.2} img/s, waited for data {:.1} s of {:.1} s ({:.1} %)",
        outcome.steps,
        outcome.elapsed_s,
        outcome.images_per_s,
        outcome.data_wait_s,
        outcome.loop_s,
        100.0 * outcome.data_wait_s / outcome.loop_s.max(1e-9)
    );
    if let Some(l) = &losses {
        eprintln!("final losses: {l}");
    }
    if !outcome.skipped_files.is_empty() {
        eprintln!(
            "skipped {} unreadable image file(s), e.g. {}",
            outcome.skipped_files.len(),
            outcome.skipped_files[0].display()
        );
    }
    let info = training_info(&cfg, outcome.steps, losses);
    let diff = export::export(&outcome.net, &cfg.name, &info, &a.out)?;
    println!(
        "wrote {} (ONNX Runtime vs tch: max |diff| {diff:.2e})",
        a.out.display()
    );
    // The model is complete without it: a failed calibration only costs `--int8`.
    match export::calibrate(&a.out, &cfg.data) {
        Ok(n) => println!("int8 calibration: measured on {n} training photos (stylecam --int8)"),
        Err(e) => eprintln!(
            "warning: int8 calibration failed ({e}); `stylecam calibrate {} --photos DIR` can redo it",
            a.out.display()
        ),
    }
    Ok(())
}

fn cmd_init(a: InitArgs) -> Result<()> {
    let net = ImfwNet::new(
        ImfwArch::new(a.width, a.blocks),
        tch::Device::Cpu,
        a.seed as i64,
    )?;
    let name = a.name.unwrap_or_else(|| stem(&a.out));
    let info = vec![
        (
            "trainer".to_string(),
            format!("stylecam-train {}", env!("CARGO_PKG_VERSION")),
        ),
        ("steps".to_string(), "0".to_string()),
        ("seed".to_string(), a.seed.to_string()),
        (
            "note".to_string(),
            "untrained (random initialisation)".to_string(),
        ),
    ];
    let diff = export::export_as(&net, &name, &info, &a.out, a.fp16)?;
    println!(
        "wrote {} ({}, untrained; ONNX Runtime vs tch: max |diff| {diff:.2e})",
        a.out.display(),
        net.arch.label()
    );
    Ok(())
}

fn cmd_export(a: ExportArgs) -> Result<()> {
    let ck = checkpoint::resolve(&a.checkpoint)?;
    let cfg = &ck.meta.config;
    let mut net = ImfwNet::new(cfg.arch(), tch::Device::Cpu, 0)?;
    net.load(&ck.net)
        .with_context(|| format!("loading {}", ck.path.display()))?;
    let losses = ck
        .meta
        .last_losses
        .map(|l| train::describe_losses(&l, &cfg.weights));
    let info = training_info(cfg, ck.meta.step, losses);
    let name = a.name.unwrap_or_else(|| cfg.name.clone());
    let diff = export::export_as(&net, &name, &info, &a.out, a.fp16)?;
    println!(
        "wrote {} from {} (step {}; ONNX Runtime vs tch: max |diff| {diff:.2e})",
        a.out.display(),
        ck.path.display(),
        ck.meta.step
    );
    Ok(())
}

fn cmd_eval(a: EvalArgs) -> Result<()> {
    let device = a.compute.device()?;
    let cfg = EvalConfig {
        models: a.models,
        style: a.input.style,
        data: a.input.data,
        vgg: a.input.vgg,
        image_size: a.input.size,
        style_size: a.input.style_size,
        weights: a.loss.weights(),
    };
    let report = eval::run(&cfg, device)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", eval::format_table(&report));
    }
    if let Some(first) = report.skipped.first() {
        eprintln!(
            "skipped {} unreadable image file(s), e.g. {}",
            report.skipped.len(),
            first.display()
        );
    }
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(a) => cmd_train(a),
        Command::Init(a) => cmd_init(a),
        Command::Export(a) => cmd_export(a),
        Command::Eval(a) => cmd_eval(a),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
