//! The seed's perceptual loss (Johnson et al. 2016), term by term.
//!
//! Both the network output and the content batch are in ImageNet-normalised space and go into VGG
//! as they are. With F the `[c, h·w]` activations of one image:
//! - Gram(F) = F·Fᵀ / (c·h·w);
//! - style = Σ over relu1_2, relu2_2, relu3_3, relu4_3 of MSE(Gram(output), Gram(style image)), the
//!   style Gram broadcast over the batch;
//! - content = MSE(relu3_3(output), relu3_3(content));
//! - TV = Σ|x[:,:,1:,:] − x[:,:,:-1,:]| + Σ|x[:,:,:,1:] − x[:,:,:,:-1]| (a sum, not a mean);
//! - total = w_content·content + w_style·style + w_tv·TV.

use serde::{Deserialize, Serialize};
use tch::{Reduction, Tensor};

use crate::vgg::{Vgg16, VggFeatures};
use crate::{Error, Result};

/// Index of relu3_3 in [`crate::vgg::VggFeatures::relu`].
pub const CONTENT_LAYER: usize = 2;

/// Weights of the three terms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LossWeights {
    pub content: f64,
    pub style: f64,
    pub tv: f64,
    /// Distillation: distance to the teacher ([`crate::distill::teacher_loss`]).
    #[serde(default)]
    pub teacher: f64,
    /// Distillation: temporal stability ([`crate::distill::stability_loss`]).
    #[serde(default)]
    pub stability: f64,
}

impl LossWeights {
    /// Every weight must be finite and non-negative.
    pub fn validate(&self) -> Result<()> {
        if [
            self.content,
            self.style,
            self.tv,
            self.teacher,
            self.stability,
        ]
        .iter()
        .any(|v| !v.is_finite() || *v < 0.0)
        {
            return Err(Error::InvalidArgument(
                "loss weights (--content-weight, --style-weight, --tv-weight, --teacher-weight, --stability-weight) must be finite and non-negative".into(),
            ));
        }
        Ok(())
    }
}

impl Default for LossWeights {
    /// The seed's weights (tuned for pretrained VGG16).
    fn default() -> Self {
        Self {
            content: 1.0,
            style: 1e5,
            tv: 1e-5,
            teacher: 0.0,
            stability: 0.0,
        }
    }
}

/// The unweighted terms and the weighted total.
#[derive(Debug)]
pub struct LossTerms {
    pub content: Tensor,
    pub style: Tensor,
    pub tv: Tensor,
    pub teacher: Tensor,
    pub stability: Tensor,
    pub total: Tensor,
}

/// The same as plain numbers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LossValues {
    pub content: f64,
    pub style: f64,
    pub tv: f64,
    #[serde(default)]
    pub teacher: f64,
    #[serde(default)]
    pub stability: f64,
    pub total: f64,
}

impl LossTerms {
    pub fn values(&self) -> LossValues {
        LossValues {
            content: self.content.double_value(&[]),
            style: self.style.double_value(&[]),
            tv: self.tv.double_value(&[]),
            teacher: self.teacher.double_value(&[]),
            stability: self.stability.double_value(&[]),
            total: self.total.double_value(&[]),
        }
    }
}

impl LossValues {
    /// The first term that is NaN or infinite, if any.
    pub fn non_finite(&self) -> Option<(&'static str, f64)> {
        [
            ("total", self.total),
            ("content", self.content),
            ("style", self.style),
            ("TV", self.tv),
            ("teacher", self.teacher),
            ("stability", self.stability),
        ]
        .into_iter()
        .find(|(_, v)| !v.is_finite())
    }
}

/// Gram matrices `[N, c, c]` of activations `[N, c, h, w]`, divided by c·h·w.
pub fn gram(features: &Tensor) -> Tensor {
    let (n, c, h, w) = features.size4().expect("VGG features are 4-D");
    let f = features.view([n, c, h * w]);
    f.bmm(&f.transpose(1, 2)) / ((c * h * w) as f64)
}

/// Total variation: the sum of absolute differences between vertical and horizontal neighbours.
pub fn total_variation(x: &Tensor) -> Tensor {
    let (_, _, h, w) = x.size4().expect("images are 4-D");
    let dy = x.narrow(2, 1, h - 1) - x.narrow(2, 0, h - 1);
    let dx = x.narrow(3, 1, w - 1) - x.narrow(3, 0, w - 1);
    dy.abs().sum(tch::Kind::Float) + dx.abs().sum(tch::Kind::Float)
}

/// What the loss needs from the style image: its Gram matrices `[1, c, c]` at the four layers.
pub struct StyleTarget {
    pub grams: Vec<Tensor>,
}

impl StyleTarget {
    /// `style` is one ImageNet-normalised image `[1,3,H,W]`.
    pub fn new(vgg: &Vgg16, style: &Tensor) -> Self {
        tch::no_grad(|| Self {
            grams: vgg.forward(style).relu.iter().map(gram).collect(),
        })
    }
}

/// All loss terms for a content batch and the network's output on it.
pub fn perceptual_loss(
    vgg: &Vgg16,
    style: &StyleTarget,
    weights: &LossWeights,
    content_batch: &Tensor,
    output: &Tensor,
) -> LossTerms {
    let target = tch::no_grad(|| vgg.forward(content_batch));
    perceptual_loss_against(vgg, style, weights, &target, output)
}

/// [`perceptual_loss`] with the content batch's VGG features already computed (so several
/// networks can be scored on one batch without running VGG on it again).
pub fn perceptual_loss_against(
    vgg: &Vgg16,
    style: &StyleTarget,
    weights: &LossWeights,
    target: &VggFeatures,
    output: &Tensor,
) -> LossTerms {
    let features = vgg.forward(output);
    let content =
        features.relu[CONTENT_LAYER].mse_loss(&target.relu[CONTENT_LAYER], Reduction::Mean);
    let style_loss = features
        .relu
        .iter()
        .zip(&style.grams)
        .map(|(f, g_style)| {
            let g = gram(f);
            g.mse_loss(&g_style.expand_as(&g), Reduction::Mean)
        })
        .reduce(|a, b| a + b)
        .expect("four style layers");
    let tv = total_variation(output);
    let total = &content * weights.content + &style_loss * weights.style + &tv * weights.tv;
    let zero = Tensor::zeros([], (tch::Kind::Float, output.device()));
    LossTerms {
        content,
        style: style_loss,
        tv,
        teacher: zero.shallow_clone(),
        stability: zero,
        total,
    }
}

impl LossTerms {
    /// Every term zero (a run without VGG adds only the distillation terms).
    pub fn zeros(device: tch::Device) -> Self {
        let z = || Tensor::zeros([], (tch::Kind::Float, device));
        Self {
            content: z(),
            style: z(),
            tv: z(),
            teacher: z(),
            stability: z(),
            total: z(),
        }
    }
}
