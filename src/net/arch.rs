//! ImfwNet (Johnson et al. 2016) described as data.
//!
//! One description serves the ONNX writer ([`crate::net::onnx`]), the trainer's tch network
//! (`training/src/net.rs`), the reference forward pass in the tests and the FLOP count used by
//! `stylecam bench`. Changing the network means changing [`ImfwArch::layers`] and nothing else.
//!
//! Parameter names (PyTorch `state_dict` style, shared by all implementations):
//!
//! | layer | tensors |
//! |---|---|
//! | `conv1` 9×9, 3→w, after reflection pad 4 | `conv1.weight [w,3,9,9]`, `conv1.bias [w]` |
//! | `in1` instance norm | `in1.weight [w]`, `in1.bias [w]` |
//! | `conv2` 3×3 s2 w→2w, no padding | `conv2.weight`, `conv2.bias`, then `in2.*` |
//! | `conv3` 3×3 s2 2w→4w after reflection pad 1 | `conv3.weight`, `conv3.bias`, then `in3.*` |
//! | `res{i}` for i in 1..=blocks: conv 3×3 (zero pad 1) → ReLU → conv 3×3 (zero pad 1), + input, ReLU | `res{i}.conv1.weight/bias`, `res{i}.conv2.weight/bias` |
//! | `deconv1` convT 3×3 s2 p1 op1 4w→2w | `deconv1.weight [4w,2w,3,3]`, `deconv1.bias`, then `in4.*` |
//! | `deconv2` convT 3×3 s2 p1 op1 2w→w | `deconv2.weight [2w,w,3,3]`, `deconv2.bias`, then `in5.*` |
//! | `deconv3` convT 9×9 s1 p4 w→3, no activation | `deconv3.weight [w,3,9,9]`, `deconv3.bias [3]` |
//!
//! Convolution weights are `[out, in, k, k]`; transposed-convolution weights are `[in, out, k, k]`
//! (PyTorch's layouts, which ONNX shares). Instance norm uses ε = 1e-5 and biased variance.
//! Spatial sizes: an input whose height and width are multiples of 4 (and at least 8) comes back
//! at the same size; see [`SIZE_MULTIPLE`] for how frames of other sizes are padded and cropped.

/// Width of the seed network (channels after the first convolution).
pub const SEED_WIDTH: usize = 32;
/// Residual blocks in the seed network.
pub const SEED_BLOCKS: usize = 5;
/// Instance-norm epsilon (PyTorch's default).
pub const IN_EPS: f32 = 1e-5;
/// ImageNet channel means used to normalise inputs.
pub const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet channel standard deviations.
pub const STD: [f32; 3] = [0.229, 0.224, 0.225];
/// The network's output is clamped to this range (in normalised units) before denormalising.
pub const OUTPUT_CLAMP: (f32, f32) = (-2.1, 2.7);
/// Height and width of the network's input must be multiples of this.
///
/// **Padding rule for frames of any size** (the engine, the reference forward pass in
/// `tests/common/reference.rs` and anything else that feeds the network must agree):
///
/// 1. Each side length `len` (height and width independently) is padded up to
///    [`network_size`]`(len)`: the next multiple of [`SIZE_MULTIPLE`], and at least [`MIN_SIZE`].
/// 2. The extra `extra = network_size(len) - len` pixels are split as
///    `before = extra / 2` (top / left) and `after = extra - extra / 2` (bottom / right);
///    [`size_padding`] returns that pair.
/// 3. The padding is a *reflection* about the edge pixel, which is not repeated (ONNX `Pad`
///    mode `reflect`, numpy `reflect`, PyTorch `ReflectionPad2d`): padded index `-1` reads `1`,
///    index `len` reads `len - 2`. When the padding is longer than `len - 1` the reflection keeps
///    bouncing between the edges (the source index is folded with period `2·(len − 1)`); a side
///    of length 1 is repeated.
/// 4. Padding is applied to the normalised input tensor (equivalently to the u8 image: it is a
///    pure copy), the network runs on the padded tensor, and its output is cropped back to rows
///    `before .. before + len` (and the same for columns) before clamping and denormalising.
pub const SIZE_MULTIPLE: usize = 4;
/// Smallest side the network accepts: its first reflection pad of 4 needs at least 5 pixels, so
/// the smallest multiple of [`SIZE_MULTIPLE`] that works is 8.
pub const MIN_SIZE: usize = 8;

/// The side length the network runs at for an input side of `len` pixels: the next multiple of
/// [`SIZE_MULTIPLE`], at least [`MIN_SIZE`]. See [`SIZE_MULTIPLE`] for the whole padding rule.
pub fn network_size(len: usize) -> usize {
    len.max(MIN_SIZE).div_ceil(SIZE_MULTIPLE) * SIZE_MULTIPLE
}

/// Reflection padding `(before, after)` that brings a side of `len` pixels to
/// [`network_size`]`(len)`: `before = extra / 2`, `after = extra - extra / 2`.
pub fn size_padding(len: usize) -> (usize, usize) {
    let extra = network_size(len) - len;
    (extra / 2, extra - extra / 2)
}

/// The shape of one ImfwNet: base width and number of residual blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ImfwArch {
    /// Channels after the first convolution (32 in the seed; 16 or 8 for light presets).
    pub width: usize,
    /// Number of residual blocks (5 in the seed).
    pub blocks: usize,
}

impl Default for ImfwArch {
    fn default() -> Self {
        Self::SEED
    }
}

/// One operation of the network, in execution order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layer {
    /// Reflection padding on all four sides.
    ReflectPad { pad: usize },
    /// 2-D convolution with zero padding `pad`; parameters `{name}.weight [out,in,k,k]`, `{name}.bias [out]`.
    Conv {
        name: String,
        cin: usize,
        cout: usize,
        kernel: usize,
        stride: usize,
        pad: usize,
    },
    /// Transposed convolution; parameters `{name}.weight [in,out,k,k]`, `{name}.bias [out]`.
    ConvTranspose {
        name: String,
        cin: usize,
        cout: usize,
        kernel: usize,
        stride: usize,
        pad: usize,
        output_pad: usize,
    },
    /// Instance normalisation with affine parameters `{name}.weight [c]`, `{name}.bias [c]`.
    InstanceNorm { name: String, channels: usize },
    /// ReLU.
    Relu,
    /// Remember the current activation as the residual skip input.
    SaveResidual,
    /// Add the saved residual to the current activation.
    AddResidual,
}

impl ImfwArch {
    /// The seed's network: width 32, five residual blocks.
    pub const SEED: ImfwArch = ImfwArch {
        width: SEED_WIDTH,
        blocks: SEED_BLOCKS,
    };

    pub fn new(width: usize, blocks: usize) -> Self {
        Self { width, blocks }
    }

    /// A short human-readable label, e.g. `imfwnet-w32-b5`.
    pub fn label(&self) -> String {
        format!("imfwnet-w{}-b{}", self.width, self.blocks)
    }

    /// Parse a label produced by [`ImfwArch::label`].
    pub fn from_label(label: &str) -> Option<Self> {
        let rest = label.strip_prefix("imfwnet-w")?;
        let (w, b) = rest.split_once("-b")?;
        Some(Self::new(w.parse().ok()?, b.parse().ok()?))
    }

    /// The operations in execution order.
    pub fn layers(&self) -> Vec<Layer> {
        let w = self.width;
        let conv = |name: &str, cin, cout, kernel, stride, pad| Layer::Conv {
            name: name.to_string(),
            cin,
            cout,
            kernel,
            stride,
            pad,
        };
        let norm = |name: &str, channels| Layer::InstanceNorm {
            name: name.to_string(),
            channels,
        };
        let mut l = vec![
            Layer::ReflectPad { pad: 4 },
            conv("conv1", 3, w, 9, 1, 0),
            norm("in1", w),
            Layer::Relu,
            conv("conv2", w, 2 * w, 3, 2, 0),
            norm("in2", 2 * w),
            Layer::Relu,
            Layer::ReflectPad { pad: 1 },
            conv("conv3", 2 * w, 4 * w, 3, 2, 0),
            norm("in3", 4 * w),
            Layer::Relu,
        ];
        for i in 1..=self.blocks {
            l.push(Layer::SaveResidual);
            l.push(conv(&format!("res{i}.conv1"), 4 * w, 4 * w, 3, 1, 1));
            l.push(Layer::Relu);
            l.push(conv(&format!("res{i}.conv2"), 4 * w, 4 * w, 3, 1, 1));
            l.push(Layer::AddResidual);
            l.push(Layer::Relu);
        }
        let deconv =
            |name: &str, cin, cout, kernel, stride, pad, output_pad| Layer::ConvTranspose {
                name: name.to_string(),
                cin,
                cout,
                kernel,
                stride,
                pad,
                output_pad,
            };
        l.extend([
            deconv("deconv1", 4 * w, 2 * w, 3, 2, 1, 1),
            norm("in4", 2 * w),
            Layer::Relu,
            deconv("deconv2", 2 * w, w, 3, 2, 1, 1),
            norm("in5", w),
            Layer::Relu,
            deconv("deconv3", w, 3, 9, 1, 4, 0),
        ]);
        l
    }

    /// Every parameter tensor with its shape, in a stable order.
    pub fn parameters(&self) -> Vec<(String, Vec<usize>)> {
        let mut p = Vec::new();
        for layer in self.layers() {
            match layer {
                Layer::Conv {
                    name,
                    cin,
                    cout,
                    kernel,
                    ..
                } => {
                    p.push((format!("{name}.weight"), vec![cout, cin, kernel, kernel]));
                    p.push((format!("{name}.bias"), vec![cout]));
                }
                Layer::ConvTranspose {
                    name,
                    cin,
                    cout,
                    kernel,
                    ..
                } => {
                    p.push((format!("{name}.weight"), vec![cin, cout, kernel, kernel]));
                    p.push((format!("{name}.bias"), vec![cout]));
                }
                Layer::InstanceNorm { name, channels } => {
                    p.push((format!("{name}.weight"), vec![channels]));
                    p.push((format!("{name}.bias"), vec![channels]));
                }
                _ => {}
            }
        }
        p
    }

    /// Number of scalar parameters.
    pub fn parameter_count(&self) -> usize {
        self.parameters()
            .iter()
            .map(|(_, s)| s.iter().product::<usize>())
            .sum()
    }

    /// Multiply-accumulate operations ×2 (FLOPs) of convolutions for one `height`×`width` image
    /// (both multiples of [`SIZE_MULTIPLE`]). Norms and activations are ignored (<1 %).
    pub fn flops(&self, height: usize, width: usize) -> u64 {
        let (mut h, mut w) = (height, width);
        let mut total = 0u64;
        for layer in self.layers() {
            match layer {
                Layer::ReflectPad { pad } => {
                    h += 2 * pad;
                    w += 2 * pad;
                }
                Layer::Conv {
                    cin,
                    cout,
                    kernel,
                    stride,
                    pad,
                    ..
                } => {
                    h = (h + 2 * pad - kernel) / stride + 1;
                    w = (w + 2 * pad - kernel) / stride + 1;
                    total += 2 * (h * w * cin * cout * kernel * kernel) as u64;
                }
                Layer::ConvTranspose {
                    cin,
                    cout,
                    kernel,
                    stride,
                    pad,
                    output_pad,
                    ..
                } => {
                    // Every input pixel scatters a k×k×cout patch.
                    total += 2 * (h * w * cin * cout * kernel * kernel) as u64;
                    h = (h - 1) * stride + kernel + output_pad - 2 * pad;
                    w = (w - 1) * stride + kernel + output_pad - 2 * pad;
                }
                _ => {}
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_parameter_count_matches_pytorch() {
        // Counted by hand from the layer list (checked against PyTorch in tests/).
        // 1,676,675 parameters for w32 b5.
        assert_eq!(ImfwArch::SEED.parameter_count(), 1_676_675);
    }

    #[test]
    fn padding_reaches_the_next_multiple_of_four_split_top_heavy_at_the_end() {
        assert_eq!(size_padding(640), (0, 0));
        assert_eq!(size_padding(37), (1, 2)); // 37 → 40
        assert_eq!(size_padding(38), (1, 1)); // 38 → 40
        assert_eq!(size_padding(39), (0, 1)); // 39 → 40
        assert_eq!(size_padding(23), (0, 1)); // 23 → 24
        assert_eq!(size_padding(5), (1, 2)); // 5 → 8 (MIN_SIZE)
        assert_eq!(size_padding(1), (3, 4)); // 1 → 8
        assert_eq!(network_size(4), 8);
        assert_eq!(network_size(9), 12);
        for len in 1..100 {
            let (b, a) = size_padding(len);
            assert_eq!((len + b + a) % SIZE_MULTIPLE, 0);
            assert!(len + b + a >= MIN_SIZE);
        }
    }

    #[test]
    fn label_round_trips() {
        let a = ImfwArch::new(16, 3);
        assert_eq!(ImfwArch::from_label(&a.label()), Some(a));
        assert_eq!(ImfwArch::from_label("resnet"), None);
    }

    #[test]
    fn flops_per_pixel_near_issue_estimate() {
        // Issue 6 measured ≈253 kFLOP per pixel for the seed network.
        let per_px = ImfwArch::SEED.flops(480, 640) as f64 / (480.0 * 640.0);
        assert!((240e3..270e3).contains(&per_px), "{per_px}");
    }
}
