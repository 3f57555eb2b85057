//! `stylecam-train eval`: the training loss of finished models on held-out photos, to document
//! what the light presets (width 16/8, fewer residual blocks) give up against the full network.
//!
//! Each model file is read with the app's ONNX reader ([`onnx::load_weights`]) into the tch
//! [`ImfwNet`]. Every photo gets the training transform ([`data::load_training_image`]: shorter
//! side to `--size`, centre crop) and is scored with the trainer's own loss
//! ([`crate::loss::perceptual_loss_against`], the same VGG16, the style Gram from the style image at
//! `--style-size`). A model's score is the mean of each term over the photos; TV, a sum over
//! pixels, is per photo. total = w_content·content + w_style·style + w_tv·TV of those means.

use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};
use stylecam::net::onnx;
use tch::Device;

use crate::data;
use crate::loss::{perceptual_loss_against, LossValues, LossWeights, StyleTarget};
use crate::net::ImfwNet;
use crate::vgg::{Vgg16, VggSource};
use crate::{Error, Result};

/// What to evaluate and how.
#[derive(Debug, Clone)]
pub struct EvalConfig {
    pub models: Vec<PathBuf>,
    pub style: PathBuf,
    /// Folder of held-out photos (searched recursively).
    pub data: PathBuf,
    /// `--vgg` as given: a path or `random:SEED`.
    pub vgg: String,
    /// Photos are scored as `image_size`×`image_size` crops.
    pub image_size: u32,
    /// Shorter side of the style image (its own size when absent).
    pub style_size: Option<u32>,
    pub weights: LossWeights,
}

/// The weighted terms (weight × mean term).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WeightedTerms {
    pub content: f64,
    pub style: f64,
    pub tv: f64,
}

/// One model's score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelScore {
    /// The model file as given.
    pub path: PathBuf,
    /// The style name stored in the model, if any.
    pub name: Option<String>,
    /// e.g. `imfwnet-w32-b5`.
    pub architecture: String,
    pub width: usize,
    pub blocks: usize,
    /// Number of scalar parameters.
    pub parameters: usize,
    /// Mean unweighted terms over the photos; `total` is their weighted sum.
    pub losses: LossValues,
    pub weighted: WeightedTerms,
    /// This model's total divided by the first model's.
    pub total_vs_first: f64,
}

/// Everything `eval` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub style: PathBuf,
    pub style_size: Option<u32>,
    pub data: PathBuf,
    pub image_size: u32,
    pub vgg: String,
    pub weights: LossWeights,
    /// Photos scored.
    pub photos: usize,
    /// Image files that could not be decoded (not scored).
    pub skipped: Vec<PathBuf>,
    /// In `--model` order.
    pub models: Vec<ModelScore>,
}

/// A model file read back into a tch network.
pub struct LoadedModel {
    pub net: ImfwNet,
    /// The style name stored in the model, if any.
    pub name: Option<String>,
}

/// Reads a stylecam model (architecture from its metadata, weights from its initializers) onto
/// `device`. Unreadable files and ONNX files that are not stylecam ImfwNets give [`Error::Model`].
pub fn load_model(path: &Path, device: Device) -> Result<LoadedModel> {
    let fail = |problem: String| Error::Model {
        path: path.to_path_buf(),
        problem,
    };
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read it ({e})")))?;
    // The app's messages carry their own "Fix:" lines written for its contexts; ours replaces them.
    let app_problem = |e: stylecam::Error| {
        let text = match e {
            stylecam::Error::InvalidArgument(p) => p,
            other => other.to_string(),
        };
        fail(text.split("\nFix:").next().unwrap_or_default().to_string())
    };
    let info = onnx::read_model_info(&bytes).map_err(app_problem)?;
    let (arch, weights) = onnx::load_weights(&bytes).map_err(app_problem)?;
    let net = ImfwNet::from_weights(arch, &weights, device).map_err(|e| fail(e.to_string()))?;
    Ok(LoadedModel {
        net,
        name: info.name().map(str::to_string),
    })
}

impl EvalConfig {
    fn validate(&self) -> Result<()> {
        if self.models.is_empty() {
            return Err(Error::InvalidArgument(
                "no model to evaluate: pass --model FILE.onnx (repeatable)".into(),
            ));
        }
        data::check_crop_size(self.image_size)?;
        self.weights.validate()
    }
}

/// Scores every model on every readable photo in `cfg.data`. Nothing is printed to stdout; a
/// progress bar goes to stderr when it is a terminal.
pub fn run(cfg: &EvalConfig, device: Device) -> Result<EvalReport> {
    cfg.validate()?;
    let files = data::list_images(&cfg.data)?;
    let style_img = data::load_style_image(&cfg.style, cfg.style_size)?;
    let models = cfg
        .models
        .iter()
        .map(|p| load_model(p, device))
        .collect::<Result<Vec<_>>>()?;
    let vgg_source: VggSource = cfg.vgg.parse()?;
    let vgg = Vgg16::load(&vgg_source, device)?;
    let style_target = StyleTarget::new(&vgg, &data::image_to_tensor(&style_img).to_device(device));

    let pb = ProgressBar::with_draw_target(Some(files.len() as u64), ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} photos")
            .expect("valid template"),
    );
    // Per model: sums of the unweighted content, style and TV terms.
    let mut sums = vec![[0.0f64; 3]; models.len()];
    let mut photos = 0usize;
    let mut skipped = Vec::new();
    for path in &files {
        pb.inc(1);
        let Ok(img) = data::load_training_image(path, cfg.image_size) else {
            skipped.push(path.clone());
            continue;
        };
        let x = data::image_to_tensor(&img).to_device(device);
        tch::no_grad(|| -> Result<()> {
            let target = vgg.forward(&x);
            for (i, (model, sum)) in models.iter().zip(sums.iter_mut()).enumerate() {
                let y = model.net.forward(&x);
                let v = perceptual_loss_against(&vgg, &style_target, &cfg.weights, &target, &y)
                    .values();
                if let Some((term, value)) = v.non_finite() {
                    return Err(Error::Model {
                        path: cfg.models[i].clone(),
                        problem: format!(
                            "its {term} loss on {} is {value}; the network's weights are broken (retrain or re-export it)",
                            path.display()
                        ),
                    });
                }
                sum[0] += v.content;
                sum[1] += v.style;
                sum[2] += v.tv;
            }
            Ok(())
        })?;
        photos += 1;
    }
    pb.finish_and_clear();
    if photos == 0 {
        return Err(Error::NoImages {
            dir: cfg.data.clone(),
            detail: format!("all {} image files are unreadable", files.len()),
        });
    }

    let w = cfg.weights;
    let mut scores: Vec<ModelScore> = models
        .iter()
        .zip(&cfg.models)
        .zip(&sums)
        .map(|((model, path), sum)| {
            let n = photos as f64;
            let (content, style, tv) = (sum[0] / n, sum[1] / n, sum[2] / n);
            let weighted = WeightedTerms {
                content: w.content * content,
                style: w.style * style,
                tv: w.tv * tv,
            };
            let arch = model.net.arch;
            ModelScore {
                path: path.clone(),
                name: model.name.clone(),
                architecture: arch.label(),
                width: arch.width,
                blocks: arch.blocks,
                parameters: arch.parameter_count(),
                losses: LossValues {
                    content,
                    style,
                    tv,
                    teacher: 0.0,
                    stability: 0.0,
                    total: weighted.content + weighted.style + weighted.tv,
                },
                weighted,
                total_vs_first: f64::NAN,
            }
        })
        .collect();
    let first_total = scores[0].losses.total;
    for s in &mut scores {
        s.total_vs_first = s.losses.total / first_total;
    }
    Ok(EvalReport {
        style: cfg.style.clone(),
        style_size: cfg.style_size,
        data: cfg.data.clone(),
        image_size: cfg.image_size,
        vgg: cfg.vgg.clone(),
        weights: w,
        photos,
        skipped,
        models: scores,
    })
}

/// The report as a plain-text table, one row per model.
pub fn format_table(r: &EvalReport) -> String {
    let mut out = format!(
        "{} photo(s) from {} at {} px{}; style {}{}; VGG {}\nloss weights: content {:e}, style {:e}, TV {:e}; losses are means over the photos\n\n",
        r.photos,
        r.data.display(),
        r.image_size,
        if r.skipped.is_empty() {
            String::new()
        } else {
            format!(" ({} unreadable file(s) skipped)", r.skipped.len())
        },
        r.style.display(),
        r.style_size
            .map(|s| format!(" at {s} px"))
            .unwrap_or_default(),
        r.vgg,
        r.weights.content,
        r.weights.style,
        r.weights.tv,
    );
    let header = [
        "model",
        "architecture",
        "params",
        "content",
        "style",
        "TV",
        "w·content",
        "w·style",
        "w·TV",
        "total",
        "vs first",
    ];
    let rows: Vec<Vec<String>> = r
        .models
        .iter()
        .map(|m| {
            vec![
                m.path.display().to_string(),
                m.architecture.clone(),
                m.parameters.to_string(),
                format!("{:.4e}", m.losses.content),
                format!("{:.4e}", m.losses.style),
                format!("{:.4e}", m.losses.tv),
                format!("{:.4e}", m.weighted.content),
                format!("{:.4e}", m.weighted.style),
                format!("{:.4e}", m.weighted.tv),
                format!("{:.4e}", m.losses.total),
                format!("{:.3}", m.total_vs_first),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|row| row[c].chars().count())
                .chain([header[c].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                let pad = widths[c] - cell.chars().count();
                if c == 0 {
                    format!("{cell}{}", " ".repeat(pad))
                } else {
                    format!("{}{cell}", " ".repeat(pad))
                }
            })
            .collect();
        padded.join("  ").trim_end().to_string() + "\n"
    };
    out += &line(header.iter().map(|s| s.to_string()).collect());
    for row in rows {
        out += &line(row);
    }
    out
}
