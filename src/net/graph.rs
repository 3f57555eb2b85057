//! The ONNX graph of an ImfwNet, in its reference form or lowered for fast CPU inference.
//!
//! **Reference form** ([`Lowering::NONE`]): one ONNX node per [`Layer`], exactly what
//! [`write_model`](super::onnx::write_model) exports and any ONNX consumer expects.
//!
//! **Lowered form**: the same function, rewritten so that ONNX Runtime's CPU kernels run it
//! faster and in less memory. The full-resolution end layers have few channels (3 in, `width`
//! out, and back), which MLAS runs poorly; worse, its `ConvTranspose` materialises an
//! `out·k·k × H·W` column buffer (≈900 MB for the final 9×9 layer at 1280×720). The lowering runs
//! those layers at half resolution on *phase-split* tensors: a full-resolution tensor `Y [C, H, W]`
//! is held as `Z [4C, H/2, W/2]` with `Z[c·4 + a·2 + b, i, j] = Y[c, 2i + a, 2j + b]` (the layout
//! ONNX calls `DepthToSpace` mode CRD). Every rewrite is exact up to float rounding:
//!
//! * **tail** ([`Lowering::sub_pixel_tail`]): `deconv2` (3×3, stride 2) becomes a 2×2 `Conv`
//!   producing the four output phases (sub-pixel convolution; no zero-stuffing, no column
//!   buffer); `in5` normalises the phase-split tensor through a free reshape to
//!   `[N, C, 4·H/2·W/2]`; the final 9×9 transposed convolution becomes a 5×5 `Conv` from phases
//!   to phases (its flipped kernel regrouped by phase), and one `DepthToSpace` on the 3-channel
//!   result restores full resolution.
//! * **head** ([`Lowering::space_to_depth_head`]): after the reflection pad, `SpaceToDepth`
//!   splits the 3-channel input into phases, `conv1` (9×9) becomes a 5×5 `Conv` producing
//!   phases, `in1` is normalised as above, and `conv2` (3×3, stride 2) becomes a 2×2 `Conv` on
//!   the phases, which brings the tensor back to the ordinary layout at half resolution. This
//!   trades ≈25 % more multiply-adds in `conv1`/`conv2` for channel counts that MLAS's blocked
//!   (NCHWc) kernels handle well; it pays off only for thin networks (width ≤ 8).
//!
//! * **phase I/O** ([`Lowering::phase_io`], what the engine runs): the graph drops the
//!   full-resolution moves at its two ends — the first reflection pad and `SpaceToDepth`, the
//!   final `DepthToSpace` — and takes and returns phase-split tensors; the engine's pre- and
//!   postprocessing, which pass over every pixel anyway, do those moves in the same pass
//!   (≈10 % of the fast preset's inference time at 640×480, BENCHMARKS.md).
//!
//! The lowered graph needs H and W to be multiples of 2 (the engine always feeds multiples of
//! [`SIZE_MULTIPLE`](super::arch::SIZE_MULTIPLE)), and is meant for the process that built it:
//! exports keep the reference form.

use std::collections::HashSet;

use super::arch::{ImfwArch, Layer, IN_EPS};
use super::int8::{activation_params, quantise_bias, quantise_weight, Int8Calibration};
use super::onnx::{
    float_attr, float_initializer, image_value_info, int_attr, ints_attr, raw_initializer,
    string_attr, Tensor, Weights, INPUT_NAME, OUTPUT_NAME,
};
use super::onnx_proto::{
    AttributeProto, GraphProto, NodeProto, TensorProto, DATA_TYPE_FLOAT, DATA_TYPE_FLOAT16,
    DATA_TYPE_INT32, DATA_TYPE_INT64, DATA_TYPE_INT8, DATA_TYPE_UINT8,
};

/// Which rewrites `build_graph` applies (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Lowering {
    /// Run `conv1`…`conv2` on space-to-depth phases.
    pub space_to_depth_head: bool,
    /// Run `deconv2`…`deconv3` as sub-pixel convolutions on phases.
    pub sub_pixel_tail: bool,
    /// Leave the layout changes at the graph's ends to the caller: with the head lowered, the
    /// graph takes the input already reflect-padded by [`PHASE_INPUT_PAD`] and split into phases
    /// (`[N, 12, (H+8)/2, (W+8)/2]`, `SpaceToDepth` order) instead of starting with `Pad` and
    /// `SpaceToDepth`; with the tail lowered, it returns the phase-split output
    /// (`[N, 12, H/2, W/2]`, `DepthToSpace` CRD order) instead of ending with `DepthToSpace`. The
    /// engine's pre- and postprocessing do those moves in the pass they make anyway
    /// ([`crate::pixels::preprocess_phases`], [`crate::pixels::postprocess_phases`]), which
    /// saves two full-resolution copies per frame.
    pub phase_io: bool,
    /// Run the residual blocks' 3×3 convolutions as stylecam's Winograd operator
    /// ([`WINOGRAD_CONV_OP`] in [`STYLECAM_DOMAIN`], `crate::engine::custom_op`), with the
    /// block's ReLUs and skip add fused in. Only sessions that register the operator can run
    /// such a graph (every CPU session stylecam builds does). Float32 only: an int8 or fp16
    /// form keeps the standard convolutions.
    pub winograd_body: bool,
    /// Run each instance norm and the ReLU after it as stylecam's fused operator
    /// ([`NORM_RELU_OP`]), on phase-split tensors without the reshapes. Float32 only.
    pub fused_norm: bool,
    /// With the fused norms and phase-split output: run the last layer as stylecam's
    /// [`OUTPUT_CONV_OP`] on the full-resolution image (only its useful taps, no NCHWc
    /// reorders), instead of a phase convolution. Float32 only.
    pub output_conv: bool,
}

/// The ONNX domain of stylecam's own operators.
pub const STYLECAM_DOMAIN: &str = "ai.stylecam";
/// `ai.stylecam:WinogradConv3x3(X, W, B[, R]) → relu?(conv3x3(X, W, pad 1) + B + R)`.
pub const WINOGRAD_CONV_OP: &str = "WinogradConv3x3";
/// `ai.stylecam:InstanceNormRelu(X, scale, bias) → relu?(instance_norm(X))`, the statistics of
/// channel `c` over the `c`-th of `len(scale)` contiguous chunks of `X`; with attribute
/// `reflect_pad = p > 0` the output is the image reflection-padded by `p`; with `interleave = 1`
/// `X` holds CRD phases (`[1, 4C, h, w]`) and the output is the image (`[1, C, 2h, 2w]`).
pub const NORM_RELU_OP: &str = "InstanceNormRelu";
/// `ai.stylecam:PhaseNormRelu(P00, P01, P10, P11, scale, bias) → relu?(instance_norm(image))`
/// for an image given as its four 2×2 phases; attribute `interleave`: 1 = write the image,
/// 0 = write the phases in CRD order.
pub const PHASE_NORM_RELU_OP: &str = "PhaseNormRelu";
/// `ai.stylecam:OutputConvPhases(X, W, B) → conv(X, W, zero pad (k − 1)/2) + B` for 3 output
/// channels, written as its 2×2 phases in CRD order (`[1, 12, H/2, W/2]`).
pub const OUTPUT_CONV_OP: &str = "OutputConvPhases";
/// stylecam's reflection / edge `Pad` of image planes (used by `net::arbitrary::lowered`).
pub const PAD2D_OP: &str = "Pad2d";

impl Lowering {
    /// The reference graph: one node per layer.
    pub const NONE: Lowering = Lowering {
        space_to_depth_head: false,
        sub_pixel_tail: false,
        phase_io: false,
        winograd_body: false,
        fused_norm: false,
        output_conv: false,
    };
    /// Both rewrites, image input and output.
    pub const FULL: Lowering = Lowering {
        space_to_depth_head: true,
        sub_pixel_tail: true,
        phase_io: false,
        winograd_body: false,
        fused_norm: false,
        output_conv: false,
    };
    /// The tail rewrite only, image input and output.
    pub const TAIL: Lowering = Lowering {
        space_to_depth_head: false,
        sub_pixel_tail: true,
        phase_io: false,
        winograd_body: false,
        fused_norm: false,
        output_conv: false,
    };

    /// The fastest lowering for `arch` on ONNX Runtime's CPU provider, as measured (BENCHMARKS.md,
    /// *Graph lowering*): the tail always; the head only for thin networks; the Winograd body
    /// for networks of width ≥ [`WINOGRAD_MIN_WIDTH`] on x86 CPUs with AVX2 + FMA or AVX-512; phase-split input
    /// and output, which the engine's pre- and postprocessing handle.
    pub fn cpu_default(arch: &ImfwArch) -> Lowering {
        Lowering {
            space_to_depth_head: arch.width <= 8,
            sub_pixel_tail: true,
            phase_io: true,
            winograd_body: arch.width >= WINOGRAD_MIN_WIDTH
                && crate::engine::winograd::Conv3x3::fast_on_this_cpu(),
            fused_norm: FUSED_NORM_DEFAULT,
            output_conv: crate::engine::out_conv::OutputConv::fast_on_this_cpu(),
        }
    }

    /// The same rewrites with the residual blocks as Winograd convolutions.
    pub fn with_winograd_body(self) -> Lowering {
        Lowering {
            winograd_body: true,
            ..self
        }
    }

    /// The same rewrites with phase-split input/output (see [`Lowering::phase_io`]).
    pub fn with_phase_io(self) -> Lowering {
        Lowering {
            phase_io: true,
            ..self
        }
    }

    /// True when no rewrite is applied.
    pub fn is_none(&self) -> bool {
        !self.space_to_depth_head
            && !self.sub_pixel_tail
            && !self.winograd_body
            && !self.fused_norm
            && !self.output_conv
    }

    /// True when the graph's input is the padded, phase-split image.
    pub fn phase_input(&self) -> bool {
        self.phase_io && self.space_to_depth_head
    }

    /// True when the graph's output is the phase-split image.
    pub fn phase_output(&self) -> bool {
        self.phase_io && self.sub_pixel_tail
    }

    /// A short description for logs and benchmark tables.
    pub fn describe(&self) -> &'static str {
        match (
            self.space_to_depth_head,
            self.sub_pixel_tail,
            self.winograd_body,
        ) {
            (false, false, false) => "reference",
            (false, true, false) => "lowered tail",
            (true, false, false) => "lowered head",
            (true, true, false) => "lowered head+tail",
            (false, false, true) => "lowered winograd body",
            (false, true, true) => "lowered tail, winograd body",
            (true, false, true) => "lowered head, winograd body",
            (true, true, true) => "lowered head+tail, winograd body",
        }
    }
}

/// The narrowest network whose residual blocks [`Lowering::cpu_default`] runs as Winograd
/// convolutions (BENCHMARKS.md, *Winograd residual blocks*).
pub const WINOGRAD_MIN_WIDTH: usize = 16;

/// Output channels that ONNX Runtime's NCHWc convolutions never pad (its widest block, 16 with
/// AVX-512): narrower transposed-convolution phases are computed as one convolution instead.
const NCHWC_WIDE: usize = 16;

/// Whether [`Lowering::cpu_default`] fuses instance norm and ReLU.
const FUSED_NORM_DEFAULT: bool = true;

/// The complete form of a graph: layout rewrites and precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct GraphForm {
    pub lowering: Lowering,
    /// Convolutions, activations and the residual path in float16, instance norms in float32
    /// (their statistics over a whole image overflow or lose precision in float16); the model's
    /// input and output stay float32. For GPUs (CUDA's tensor cores); ONNX Runtime's CPU
    /// provider runs it, slowly.
    pub fp16: bool,
    /// Residual blocks in 8 bits (QDQ), for the CPU; everything else float32. Needs the model's
    /// [`Int8Calibration`] (see [`super::int8`]).
    pub int8: bool,
}

impl GraphForm {
    /// What [`write_model`](super::onnx::write_model) exports: one float32 node per layer.
    pub const REFERENCE: GraphForm = GraphForm {
        lowering: Lowering::NONE,
        fp16: false,
        int8: false,
    };

    /// Float32 with the given lowering.
    pub fn lowered(lowering: Lowering) -> GraphForm {
        GraphForm {
            lowering,
            ..GraphForm::REFERENCE
        }
    }

    /// Channels of the graph's input: 3, or 12 for a phase-split input
    /// ([`Lowering::phase_input`]).
    pub fn input_channels(&self) -> usize {
        if self.lowering.phase_input() {
            12
        } else {
            3
        }
    }

    /// Channels of the graph's output: 3, or 12 for a phase-split output
    /// ([`Lowering::phase_output`]).
    pub fn output_channels(&self) -> usize {
        if self.lowering.phase_output() {
            12
        } else {
            3
        }
    }

    /// A short description for logs and benchmark tables, e.g. `lowered tail`, `reference fp16`.
    pub fn describe(&self) -> String {
        let mut d = self.lowering.describe().to_string();
        if self.fp16 {
            d.push_str(" fp16");
        }
        if self.int8 {
            d.push_str(" int8");
        }
        d
    }
}

/// A float16 initializer (round to nearest even; values beyond ±65504 become ±inf, which trained
/// weights never reach).
fn half_initializer(name: &str, t: &Tensor) -> TensorProto {
    let raw = t
        .data
        .iter()
        .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
        .collect();
    raw_initializer(name, DATA_TYPE_FLOAT16, &t.shape, raw)
}

/// The reflection padding of the network's first layer, which a phase-split input
/// ([`Lowering::phase_input`]) already carries.
pub const PHASE_INPUT_PAD: usize = 4;

/// Output phase `(a, b)` → index `a·2 + b`.
fn phase(a: usize, b: usize) -> usize {
    a * 2 + b
}

/// Channel of `(c, phase)` in a phase-split tensor (`DepthToSpace` CRD order).
fn crd(c: usize, p: usize) -> usize {
    c * 4 + p
}

/// Channel of `(c, phase)` in `SpaceToDepth`'s output (DCR order) for `channels` channels.
fn dcr(c: usize, p: usize, channels: usize) -> usize {
    p * channels + c
}

/// Index into a row-major `[d0, d1, k, k]` tensor.
fn at4(t: &Tensor, i0: usize, i1: usize, u: usize, v: usize) -> usize {
    let s = &t.shape;
    ((i0 * s[1] + i1) * s[2] + u) * s[3] + v
}

/// A stride-1 correlation kernel `wf [cout, cin, k, k]` (zero-padded input) applied to a
/// phase-split input, giving every output phase: a `[4·cout, 4·cin, k/2+1, k/2+1]` kernel on the
/// half-resolution phases. `in_channel(c, p)` says where input phase `p` of channel `c` sits;
/// outputs are in CRD order. Output phase `(a, b)` at `(i, j)` reads full-resolution input rows
/// `2i + a + u`, i.e. phase `(a + u) % 2` of row `i + (a + u) / 2`.
fn phase_conv_kernel(wf: &Tensor, in_channel: impl Fn(usize, usize) -> usize) -> Tensor {
    let (cout, cin, k) = (wf.shape[0], wf.shape[1], wf.shape[2]);
    let kk = k / 2 + 1;
    let mut out = Tensor::zeros(&[4 * cout, 4 * cin, kk, kk]);
    for a in 0..2 {
        for b in 0..2 {
            for o in 0..cout {
                let oc = crd(o, phase(a, b));
                for u in 0..k {
                    let (dm, p) = ((a + u) / 2, (a + u) % 2);
                    for v in 0..k {
                        let (dn, q) = ((b + v) / 2, (b + v) % 2);
                        for c in 0..cin {
                            let dst = at4(&out, oc, in_channel(c, phase(p, q)), dm, dn);
                            out.data[dst] = wf.data[at4(wf, o, c, u, v)];
                        }
                    }
                }
            }
        }
    }
    out
}

/// A stride-2, unpadded correlation kernel `w [cout, cin, k, k]` applied to a phase-split (CRD)
/// input: output `(i, j)` reads full-resolution rows `2i + u` = phase `u % 2` of row `i + u / 2`,
/// so it is an ordinary stride-1 `Conv` with a `[cout, 4·cin, (k+1)/2, (k+1)/2]` kernel.
fn strided_phase_kernel(w: &Tensor) -> Tensor {
    let (cout, cin, k) = (w.shape[0], w.shape[1], w.shape[2]);
    let kk = k.div_ceil(2);
    let mut out = Tensor::zeros(&[cout, 4 * cin, kk, kk]);
    for o in 0..cout {
        for c in 0..cin {
            for u in 0..k {
                for v in 0..k {
                    let dst = at4(&out, o, crd(c, phase(u % 2, v % 2)), u / 2, v / 2);
                    out.data[dst] = w.data[at4(w, o, c, u, v)];
                }
            }
        }
    }
    out
}

/// The attributes of an [`NORM_RELU_OP`] node.
fn norm_relu_attrs(relu: bool, reflect_pad: usize, interleave: bool) -> Vec<AttributeProto> {
    vec![
        float_attr("epsilon", IN_EPS),
        int_attr("relu", i64::from(relu)),
        int_attr("reflect_pad", reflect_pad as i64),
        int_attr("interleave", i64::from(interleave)),
    ]
}

/// The sub-pixel form of a 3×3, stride-2, pad-1, output-pad-1 transposed convolution with weight
/// `w [cin, cout, 3, 3]`: output phase `(a, b)` at `(i, j)` is `Σ x[i + d] · w[kh]` with
/// `kh = a + 1 − 2d` for `d ∈ {0, 1}` (and likewise for columns), i.e. a 2×2 `Conv` on the input
/// padded by one zero row/column at the bottom/right, producing `[4·cout]` CRD channels.
fn sub_pixel_kernel(w: &Tensor) -> Tensor {
    let (cin, cout) = (w.shape[0], w.shape[1]);
    // (phase, offset d) → kernel tap, for stride 2, kernel 3, padding 1.
    let tap = |a: usize, d: usize| -> Option<usize> { (a + 1).checked_sub(2 * d) };
    let mut out = Tensor::zeros(&[4 * cout, cin, 2, 2]);
    for a in 0..2 {
        for b in 0..2 {
            for o in 0..cout {
                let oc = crd(o, phase(a, b));
                for dh in 0..2 {
                    for dw in 0..2 {
                        let (Some(kh), Some(kw)) = (tap(a, dh), tap(b, dw)) else {
                            continue;
                        };
                        for c in 0..cin {
                            let dst = at4(&out, oc, c, dh, dw);
                            out.data[dst] = w.data[at4(w, c, o, kh, kw)];
                        }
                    }
                }
            }
        }
    }
    out
}

/// The taps of one output phase `(a, b)` of a 3×3, stride-2 transposed convolution (see
/// [`sub_pixel_kernel`]) as their own `[cout, cin, 1 + a, 1 + b]` kernel, without the zero taps
/// the shared 2×2 kernel carries (7 of 16 per output channel): phase (0, 0) is a 1×1
/// convolution, (0, 1) and (1, 0) are 1×2 and 2×1, (1, 1) is 2×2, each on the input padded by
/// `(a, b)` zeros at the bottom/right.
fn exact_phase_kernel(w: &Tensor, a: usize, b: usize) -> Tensor {
    let all = sub_pixel_kernel(w);
    let (cin, cout) = (w.shape[0], w.shape[1]);
    let mut out = Tensor::zeros(&[cout, cin, 1 + a, 1 + b]);
    for o in 0..cout {
        for c in 0..cin {
            for dh in 0..=a {
                for dw in 0..=b {
                    let dst = at4(&out, o, c, dh, dw);
                    out.data[dst] = all.data[at4(&all, crd(o, phase(a, b)), c, dh, dw)];
                }
            }
        }
    }
    out
}

/// `[in, out, k, k]` transposed-convolution weight → the equivalent stride-1 correlation kernel
/// `[out, in, k, k]` (transposed and spatially flipped).
fn flipped_transpose(w: &Tensor) -> Tensor {
    let (cin, cout, k) = (w.shape[0], w.shape[1], w.shape[2]);
    let mut out = Tensor::zeros(&[cout, cin, k, k]);
    for c in 0..cin {
        for o in 0..cout {
            for u in 0..k {
                for v in 0..k {
                    let dst = at4(&out, o, c, u, v);
                    out.data[dst] = w.data[at4(w, c, o, k - 1 - u, k - 1 - v)];
                }
            }
        }
    }
    out
}

/// Each bias value repeated for the four phases of its channel (CRD order).
fn phase_bias(bias: &Tensor) -> Tensor {
    Tensor {
        shape: vec![4 * bias.data.len()],
        data: bias.data.iter().flat_map(|&v| [v; 4]).collect(),
    }
}

/// Collects nodes and initializers.
struct Builder<'a> {
    weights: &'a Weights,
    /// Convolutions and activations in float16 (instance norms stay float32).
    fp16: bool,
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    names: HashSet<String>,
}

impl<'a> Builder<'a> {
    fn weight(&self, name: &str) -> &'a Tensor {
        self.weights
            .get(name)
            .expect("weights are validated against the architecture before building")
    }

    /// Adds the convolution parameter `name` as an initializer (once, in the graph's
    /// precision) and returns its name.
    fn param(&mut self, name: &str) -> String {
        let t = self.weight(name);
        self.derived(name, t)
    }

    /// The layer's own `{name}.weight` and `{name}.bias`, added as initializers.
    fn weight_and_bias(&mut self, name: &str) -> (String, String) {
        (
            self.param(&format!("{name}.weight")),
            self.param(&format!("{name}.bias")),
        )
    }

    /// Adds a derived convolution initializer in the graph's precision.
    fn derived(&mut self, name: &str, t: &Tensor) -> String {
        if self.names.insert(name.to_string()) {
            self.initializers.push(if self.fp16 {
                half_initializer(name, t)
            } else {
                float_initializer(name, t)
            });
        }
        name.to_string()
    }

    /// Adds an instance-norm parameter: always float32.
    fn norm_param(&mut self, name: &str) -> String {
        if self.names.insert(name.to_string()) {
            self.initializers
                .push(float_initializer(name, self.weight(name)));
        }
        name.to_string()
    }

    fn cast(&mut self, x: String, to: i32, output: String) -> String {
        self.node(
            "Cast",
            format!("{output}_cast"),
            vec![x],
            vec![int_attr("to", to as i64)],
            output,
        )
    }

    fn int64s(&mut self, name: &str, values: &[i64]) -> String {
        if self.names.insert(name.to_string()) {
            self.initializers.push(TensorProto {
                name: name.to_string(),
                dims: vec![values.len() as i64],
                data_type: DATA_TYPE_INT64,
                int64_data: values.to_vec(),
                ..Default::default()
            });
        }
        name.to_string()
    }

    fn node(
        &mut self,
        op_type: &str,
        name: String,
        inputs: Vec<String>,
        attribute: Vec<super::onnx_proto::AttributeProto>,
        output: String,
    ) -> String {
        self.nodes.push(NodeProto {
            input: inputs,
            output: vec![output.clone()],
            name,
            op_type: op_type.to_string(),
            attribute,
            ..Default::default()
        });
        output
    }

    /// A raw initializer of `data_type` (no-op if the name exists).
    fn raw(&mut self, name: &str, data_type: i32, dims: &[usize], raw_data: Vec<u8>) -> String {
        if self.names.insert(name.to_string()) {
            self.initializers
                .push(raw_initializer(name, data_type, dims, raw_data));
        }
        name.to_string()
    }

    fn floats(&mut self, name: &str, dims: &[usize], values: &[f32]) -> String {
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.raw(name, DATA_TYPE_FLOAT, dims, raw)
    }

    /// `x` quantised to uint8 at (`scale`, `zero_point`) and back: the QDQ pair ONNX Runtime
    /// turns into 8-bit kernels around it. A zero point of 0 also clamps negatives (a ReLU).
    fn qdq(&mut self, x: String, scale: f32, zero_point: u8, label: &str) -> String {
        let s = self.floats(&format!("{label}.scale"), &[], &[scale]);
        let z = self.raw(
            &format!("{label}.zero_point"),
            DATA_TYPE_UINT8,
            &[],
            vec![zero_point],
        );
        let q = self.node(
            "QuantizeLinear",
            format!("{label}_quantize"),
            vec![x, s.clone(), z.clone()],
            Vec::new(),
            format!("{label}_q"),
        );
        self.node(
            "DequantizeLinear",
            format!("{label}_dequantize"),
            vec![q, s, z],
            Vec::new(),
            format!("{label}_dq"),
        )
    }

    /// Convolution `name`'s weight in int8 (per output channel) and bias in int32 at
    /// `input_scale × weight scale`, each behind a `DequantizeLinear`; returns their outputs.
    fn quantised_params(&mut self, name: &str, input_scale: f32) -> (String, String) {
        let q = quantise_weight(self.weight(&format!("{name}.weight")));
        let cout = q.shape[0];
        let w = self.raw(
            &format!("{name}.weight_int8"),
            DATA_TYPE_INT8,
            &q.shape,
            q.values.iter().map(|&v| v as u8).collect(),
        );
        let ws = self.floats(&format!("{name}.weight_scale"), &[cout], &q.scales);
        let wz = self.raw(
            &format!("{name}.weight_zero_point"),
            DATA_TYPE_INT8,
            &[cout],
            vec![0; cout],
        );
        let (bias, bias_scales) =
            quantise_bias(self.weight(&format!("{name}.bias")), input_scale, &q.scales);
        let b = self.raw(
            &format!("{name}.bias_int32"),
            DATA_TYPE_INT32,
            &[cout],
            bias.iter().flat_map(|v| v.to_le_bytes()).collect(),
        );
        let bs = self.floats(&format!("{name}.bias_scale"), &[cout], &bias_scales);
        let bz = self.raw(
            &format!("{name}.bias_zero_point"),
            DATA_TYPE_INT32,
            &[cout],
            vec![0; cout * 4],
        );
        let axis = vec![int_attr("axis", 0)];
        let wd = self.node(
            "DequantizeLinear",
            format!("{name}.weight_dequantize"),
            vec![w, ws, wz],
            axis.clone(),
            format!("{name}.weight_dq"),
        );
        let bd = self.node(
            "DequantizeLinear",
            format!("{name}.bias_dequantize"),
            vec![b, bs, bz],
            axis,
            format!("{name}.bias_dq"),
        );
        (wd, bd)
    }

    /// A `Conv` node; `inputs` = `[x, weight, bias]`.
    fn conv(
        &mut self,
        name: &str,
        inputs: [String; 3],
        kernel: usize,
        stride: usize,
        pads: [usize; 4],
        output: String,
    ) -> String {
        self.node(
            "Conv",
            name.to_string(),
            inputs.to_vec(),
            vec![
                ints_attr("kernel_shape", &[kernel, kernel]),
                ints_attr("strides", &[stride, stride]),
                ints_attr("pads", &pads),
                ints_attr("dilations", &[1, 1]),
                int_attr("group", 1),
            ],
            output,
        )
    }

    /// The 3×3, stride-2 transposed convolution `name` of `x` as one 2×2 Conv whose `4·cout`
    /// outputs are its phases in CRD order ([`sub_pixel_kernel`]), written to `out`.
    fn sub_pixel_conv(&mut self, name: &str, x: String, out: String) -> String {
        let k = sub_pixel_kernel(self.weight(&format!("{name}.weight")));
        let bias = phase_bias(self.weight(&format!("{name}.bias")));
        let (wn, bn) = (
            self.derived(&format!("{name}.phase_weight"), &k),
            self.derived(&format!("{name}.phase_bias"), &bias),
        );
        self.conv(name, [x, wn, bn], 2, 1, [0, 0, 1, 1], out)
    }

    /// The 3×3, stride-2 transposed convolution `name` of `x` as four Convs, one per output
    /// phase `(a, b)` with its exact kernel ([`exact_phase_kernel`]); their outputs in phase
    /// order 00, 01, 10, 11.
    fn exact_phase_convs(&mut self, name: &str, x: &str) -> Vec<String> {
        let w = self.weight(&format!("{name}.weight"));
        let bn = self.param(&format!("{name}.bias"));
        let mut phases = Vec::with_capacity(4);
        for a in 0..2 {
            for b in 0..2 {
                let k = exact_phase_kernel(w, a, b);
                let wn = self.derived(&format!("{name}.phase{a}{b}_weight"), &k);
                let (kh, kw) = (1 + a, 1 + b);
                phases.push(self.node(
                    "Conv",
                    format!("{name}_phase{a}{b}"),
                    vec![x.to_string(), wn, bn.clone()],
                    vec![
                        ints_attr("kernel_shape", &[kh, kw]),
                        ints_attr("strides", &[1, 1]),
                        ints_attr("pads", &[0, 0, a, b]),
                        ints_attr("dilations", &[1, 1]),
                        int_attr("group", 1),
                    ],
                    format!("{name}_phase{a}{b}_out"),
                ));
            }
        }
        phases
    }

    /// Instance norm `name` of `x`, always computed in float32. `phase_channels`: `x` is
    /// phase-split with that many channels; the statistics then cover all four phases, through a
    /// reshape to `[N, C, 4·h·w]` (free: the phases of a channel are contiguous).
    fn instance_norm(
        &mut self,
        name: &str,
        x: String,
        phase_channels: Option<usize>,
        output: String,
    ) -> String {
        let mut input = x.clone();
        if let Some(channels) = phase_channels {
            let shape = self.int64s(&format!("{name}.grouped_shape"), &[0, channels as i64, -1]);
            input = self.node(
                "Reshape",
                format!("{name}_group"),
                vec![input, shape],
                Vec::new(),
                format!("{name}_grouped"),
            );
        }
        if self.fp16 {
            input = self.cast(input, DATA_TYPE_FLOAT, format!("{name}_in_fp32"));
        }
        let (w, b) = (
            self.norm_param(&format!("{name}.weight")),
            self.norm_param(&format!("{name}.bias")),
        );
        let last = !self.fp16 && phase_channels.is_none();
        let mut y = self.node(
            "InstanceNormalization",
            name.to_string(),
            vec![input, w, b],
            vec![float_attr("epsilon", IN_EPS)],
            if last {
                output.clone()
            } else {
                format!("{name}_normed")
            },
        );
        if self.fp16 {
            let o = if phase_channels.is_none() {
                output.clone()
            } else {
                format!("{name}_fp16")
            };
            y = self.cast(y, DATA_TYPE_FLOAT16, o);
        }
        if phase_channels.is_some() {
            let split_shape = self.node(
                "Shape",
                format!("{name}_shape"),
                vec![x],
                Vec::new(),
                format!("{name}_split_shape"),
            );
            y = self.node(
                "Reshape",
                format!("{name}_ungroup"),
                vec![y, split_shape],
                Vec::new(),
                output,
            );
        }
        y
    }
}

/// Layers without a phase-split rewrite need the ordinary layout.
fn assert_not_split(split: bool, layer: &str) {
    assert!(
        !split,
        "ImfwNet lowering reached {layer} on a phase-split tensor"
    );
}

/// The graph of `arch` with parameters from `weights` (already validated), in the form
/// `lowering` asks for.
pub(crate) fn build_graph(arch: &ImfwArch, weights: &Weights, form: GraphForm) -> GraphProto {
    assert!(!form.int8, "an int8 graph needs a calibration");
    build_graph_with(arch, weights, form, None)
}

/// [`build_graph`] for any form; `calibration` must be given for an int8 form (one range set
/// per residual block).
pub(crate) fn build_graph_with(
    arch: &ImfwArch,
    weights: &Weights,
    form: GraphForm,
    calibration: Option<&Int8Calibration>,
) -> GraphProto {
    let GraphForm {
        lowering,
        fp16,
        int8,
    } = form;
    let quant = if int8 {
        let c = calibration.expect("an int8 graph needs a calibration");
        assert_eq!(
            c.blocks.len(),
            arch.blocks,
            "one calibration range per block"
        );
        assert!(!fp16, "int8 and fp16 do not mix");
        Some(c)
    } else {
        None
    };
    // Inside a quantised residual block: its number (1-based), convolutions seen, and the scale
    // of the tensor the next convolution reads.
    let mut block = 0usize;
    let mut block_convs = 0usize;
    let mut input_scale = 0.0f32;
    let layers = arch.layers();
    let mut g = Builder {
        weights,
        fp16,
        nodes: Vec::with_capacity(layers.len() + 16),
        initializers: Vec::new(),
        names: HashSet::new(),
    };
    let mut current = INPUT_NAME.to_string();
    if fp16 {
        current = g.cast(current, DATA_TYPE_FLOAT16, format!("{INPUT_NAME}_fp16"));
    }
    // The last layer writes the graph output (through a cast back to float32 for fp16).
    let final_name = if fp16 {
        format!("{OUTPUT_NAME}_fp16")
    } else {
        OUTPUT_NAME.to_string()
    };
    let mut residual: Option<String> = None;
    let mut residual_blocks_seen = 0usize;
    // The current activation is phase-split (half resolution, CRD channels).
    let mut split = false;
    let last = layers.len() - 1;
    // Winograd residual blocks: float32 only, and the layers a fused node already covers.
    let winograd = lowering.winograd_body && quant.is_none() && !fp16;
    // The last layer as stylecam's operator on the image (see `Lowering::output_conv`).
    let output_conv =
        lowering.output_conv && lowering.fused_norm && lowering.phase_output() && !fp16;
    let mut fused_away = 0usize;
    // The output of a node that ends at layer `end`: the graph's, or `{name}_out`.
    let fused_out = |end: usize, name: &str| {
        if end == last {
            final_name.clone()
        } else {
            format!("{name}_out")
        }
    };
    for (idx, layer) in layers.iter().enumerate() {
        if fused_away > 0 {
            fused_away -= 1;
            continue;
        }
        let output = if idx == last {
            final_name.clone()
        } else {
            String::new()
        };
        let out = |node_name: &str| {
            if output.is_empty() {
                format!("{node_name}_out")
            } else {
                output.clone()
            }
        };
        current = match layer {
            Layer::ReflectPad { pad } if idx == 0 && lowering.phase_input() => {
                assert_eq!(
                    *pad, PHASE_INPUT_PAD,
                    "ImfwNet starts with a reflection pad of 4"
                );
                current
            }
            Layer::ReflectPad { pad } => {
                let p = *pad as i64;
                let pads = g.int64s(&format!("pads_reflect{pad}"), &[0, 0, p, p, 0, 0, p, p]);
                let name = format!("pad{idx}");
                let o = out(&name);
                g.node(
                    "Pad",
                    name,
                    vec![current, pads],
                    vec![string_attr("mode", "reflect")],
                    o,
                )
            }
            Layer::Conv {
                name,
                kernel,
                stride: 1,
                pad: 0,
                ..
            } if lowering.space_to_depth_head && idx == 1 => {
                // Padded input → phases → every output phase with one half-resolution Conv.
                let s2d = if lowering.phase_input() {
                    current
                } else {
                    g.node(
                        "SpaceToDepth",
                        format!("{name}_space_to_depth"),
                        vec![current],
                        vec![int_attr("blocksize", 2)],
                        format!("{name}_input_phases"),
                    )
                };
                let w = g.weight(&format!("{name}.weight"));
                let k = phase_conv_kernel(w, |c, p| dcr(c, p, w.shape[1]));
                let bias = phase_bias(g.weight(&format!("{name}.bias")));
                let (wn, bn) = (
                    g.derived(&format!("{name}.phase_weight"), &k),
                    g.derived(&format!("{name}.phase_bias"), &bias),
                );
                split = true;
                g.conv(name, [s2d, wn, bn], kernel / 2 + 1, 1, [0; 4], out(name))
            }
            Layer::Conv {
                name,
                stride: 2,
                pad: 0,
                ..
            } if split => {
                let k = strided_phase_kernel(g.weight(&format!("{name}.weight")));
                let (wn, bn) = (
                    g.derived(&format!("{name}.phase_weight"), &k),
                    g.param(&format!("{name}.bias")),
                );
                split = false;
                let kk = k.shape[2];
                g.conv(name, [current, wn, bn], kk, 1, [0; 4], out(name))
            }
            Layer::Conv {
                name,
                kernel: 3,
                stride: 1,
                pad: 1,
                ..
            } if winograd && residual.is_some() => {
                assert_not_split(split, name);
                let (wn, bn) = g.weight_and_bias(name);
                let mut inputs = vec![current, wn, bn];
                // conv → ReLU, or conv → skip add → ReLU: one fused node each.
                let relu = match layers.get(idx + 1) {
                    Some(Layer::Relu) => {
                        fused_away = 1;
                        true
                    }
                    Some(Layer::AddResidual) => {
                        inputs.push(residual.take().expect("checked by the guard"));
                        let relu = matches!(layers.get(idx + 2), Some(Layer::Relu));
                        fused_away = 1 + usize::from(relu);
                        relu
                    }
                    _ => false,
                };
                let o = fused_out(idx + fused_away, name);
                g.node(
                    WINOGRAD_CONV_OP,
                    name.clone(),
                    inputs,
                    vec![int_attr("relu", i64::from(relu))],
                    o,
                );
                g.nodes.last_mut().expect("just pushed").domain = STYLECAM_DOMAIN.to_string();
                g.nodes.last().expect("just pushed").output[0].clone()
            }
            Layer::Conv {
                name,
                kernel,
                stride,
                pad,
                ..
            } if quant.is_some() && block > 0 => {
                let ranges = quant.expect("guarded").blocks[block - 1];
                let (wn, bn) = g.quantised_params(name, input_scale);
                let conv = g.conv(
                    name,
                    [current, wn, bn],
                    *kernel,
                    *stride,
                    [*pad; 4],
                    format!("{name}_out"),
                );
                block_convs += 1;
                // The first conv's ReLU is the zero point-0 quantisation itself.
                let (min, max) = if block_convs == 1 {
                    (0.0, ranges.inner_max)
                } else {
                    (ranges.output_min, ranges.output_max)
                };
                let (scale, zero_point) = activation_params(min, max);
                input_scale = scale;
                g.qdq(conv, scale, zero_point, &format!("{name}.output"))
            }
            Layer::Conv {
                name,
                kernel,
                stride,
                pad,
                ..
            } => {
                assert_not_split(split, name);
                let (wn, bn) = g.weight_and_bias(name);
                g.conv(
                    name,
                    [current, wn, bn],
                    *kernel,
                    *stride,
                    [*pad; 4],
                    out(name),
                )
            }
            Layer::ConvTranspose {
                name,
                cout,
                kernel: 3,
                stride: 2,
                pad: 1,
                output_pad: 1,
                ..
            } if lowering.sub_pixel_tail
                && lowering.fused_norm
                && !fp16
                && matches!(layers.get(idx + 1), Some(Layer::InstanceNorm { .. })) =>
            {
                // The four output phases, then the norm (and ReLU) over them in one node that
                // also writes the layout the next layer reads: the image for deconv1 (and for
                // deconv2 when the output operator follows), CRD phases for deconv2 otherwise
                // (its 9×9 successor runs on phases).
                let Some(Layer::InstanceNorm { name: norm, .. }) = layers.get(idx + 1) else {
                    unreachable!("checked by the guard")
                };
                let to_phases = !output_conv
                    && matches!(
                        layers.get(idx + 3),
                        Some(Layer::ConvTranspose { stride: 1, .. })
                    );
                let relu = matches!(layers.get(idx + 2), Some(Layer::Relu));
                fused_away = 1 + usize::from(relu);
                let o = fused_out(idx + fused_away, norm);
                let (nw, nb) = (
                    g.norm_param(&format!("{norm}.weight")),
                    g.norm_param(&format!("{norm}.bias")),
                );
                if cout % NCHWC_WIDE != 0 {
                    // Narrow: each exact phase conv's few outputs would be padded to ONNX
                    // Runtime's NCHWc block (and reordered on their own), so one 2×2 conv makes
                    // all 4·cout phase channels (CRD), and the norm reads them as they are.
                    let phases = g.sub_pixel_conv(name, current, format!("{name}_phases"));
                    let attrs = norm_relu_attrs(relu, 0, !to_phases);
                    g.node(NORM_RELU_OP, norm.clone(), vec![phases, nw, nb], attrs, o);
                } else {
                    // Each output phase from its own exact kernel (no zero taps).
                    let mut inputs = g.exact_phase_convs(name, &current);
                    inputs.extend([nw, nb]);
                    let attrs = vec![
                        float_attr("epsilon", IN_EPS),
                        int_attr("relu", i64::from(relu)),
                        int_attr("interleave", i64::from(!to_phases)),
                    ];
                    g.node(PHASE_NORM_RELU_OP, norm.clone(), inputs, attrs, o);
                }
                g.nodes.last_mut().expect("just pushed").domain = STYLECAM_DOMAIN.to_string();
                split = to_phases;
                g.nodes.last().expect("just pushed").output[0].clone()
            }
            Layer::ConvTranspose {
                name,
                kernel: 3,
                stride: 2,
                pad: 1,
                output_pad: 1,
                ..
            } if lowering.sub_pixel_tail
                && matches!(
                    layers.get(idx + 3),
                    Some(Layer::ConvTranspose { stride: 1, .. })
                ) =>
            {
                split = true;
                g.sub_pixel_conv(name, current, out(name))
            }
            Layer::ConvTranspose {
                name,
                kernel: 3,
                stride: 2,
                pad: 1,
                output_pad: 1,
                ..
            } if lowering.sub_pixel_tail && !split => {
                // deconv1: each output phase from its own exact kernel (no zero taps), then
                // the phases interleaved (DCR: the Concat puts phase-major channels).
                let phases = g.exact_phase_convs(name, &current);
                let cat = g.node(
                    "Concat",
                    format!("{name}_concat"),
                    phases,
                    vec![int_attr("axis", 1)],
                    format!("{name}_phases"),
                );
                g.node(
                    "DepthToSpace",
                    format!("{name}_depth_to_space"),
                    vec![cat],
                    vec![int_attr("blocksize", 2), string_attr("mode", "DCR")],
                    out(name),
                )
            }
            Layer::ConvTranspose {
                name,
                cout: 3,
                kernel,
                stride: 1,
                pad,
                output_pad: 0,
                ..
            } if output_conv && !split && idx == last && 2 * pad + 1 == *kernel => {
                // The image after deconv2's norm → the phase-split output in one pass.
                let wf = flipped_transpose(g.weight(&format!("{name}.weight")));
                let wn = g.derived(&format!("{name}.conv_weight"), &wf);
                let bn = g.param(&format!("{name}.bias"));
                g.node(
                    OUTPUT_CONV_OP,
                    name.clone(),
                    vec![current, wn, bn],
                    vec![],
                    out(name),
                );
                g.nodes.last_mut().expect("just pushed").domain = STYLECAM_DOMAIN.to_string();
                split = true;
                g.nodes.last().expect("just pushed").output[0].clone()
            }
            Layer::ConvTranspose {
                name,
                kernel,
                stride: 1,
                pad,
                output_pad: 0,
                ..
            } if split => {
                // Phases → phases with the flipped kernel, then one DepthToSpace of 3 channels.
                let wf = flipped_transpose(g.weight(&format!("{name}.weight")));
                let k = phase_conv_kernel(&wf, crd);
                let bias = phase_bias(g.weight(&format!("{name}.bias")));
                let (wn, bn) = (
                    g.derived(&format!("{name}.phase_weight"), &k),
                    g.derived(&format!("{name}.phase_bias"), &bias),
                );
                // Zero padding of `kernel − 1 − pad` full-resolution pixels = half as many phase rows.
                let zero_pad = kernel - 1 - pad;
                assert!(
                    zero_pad % 2 == 0,
                    "{name}: odd padding cannot be split in phases"
                );
                if lowering.phase_output() {
                    // The caller interleaves the phases (`crate::pixels::postprocess_phases`).
                    let o = out(name);
                    g.conv(name, [current, wn, bn], k.shape[2], 1, [zero_pad / 2; 4], o)
                } else {
                    let phases = g.conv(
                        name,
                        [current, wn, bn],
                        k.shape[2],
                        1,
                        [zero_pad / 2; 4],
                        format!("{name}_phases"),
                    );
                    split = false;
                    g.node(
                        "DepthToSpace",
                        format!("{name}_depth_to_space"),
                        vec![phases],
                        vec![int_attr("blocksize", 2), string_attr("mode", "CRD")],
                        out(name),
                    )
                }
            }
            Layer::ConvTranspose {
                name,
                kernel,
                stride,
                pad,
                output_pad,
                ..
            } => {
                assert_not_split(split, name);
                let (wn, bn) = g.weight_and_bias(name);
                g.node(
                    "ConvTranspose",
                    name.clone(),
                    vec![current, wn, bn],
                    vec![
                        ints_attr("kernel_shape", &[*kernel, *kernel]),
                        ints_attr("strides", &[*stride, *stride]),
                        ints_attr("pads", &[*pad, *pad, *pad, *pad]),
                        ints_attr("output_padding", &[*output_pad, *output_pad]),
                        ints_attr("dilations", &[1, 1]),
                        int_attr("group", 1),
                    ],
                    out(name),
                )
            }
            Layer::InstanceNorm { name, .. } if lowering.fused_norm && !fp16 => {
                let relu = matches!(layers.get(idx + 1), Some(Layer::Relu));
                fused_away = usize::from(relu);
                // A reflection pad that follows an image (not phases) is written by the norm.
                let reflect_pad = match layers.get(idx + 1 + fused_away) {
                    Some(Layer::ReflectPad { pad }) if !split => *pad,
                    _ => 0,
                };
                fused_away += usize::from(reflect_pad > 0);
                let o = fused_out(idx + fused_away, name);
                let (w, b) = (
                    g.norm_param(&format!("{name}.weight")),
                    g.norm_param(&format!("{name}.bias")),
                );
                g.node(
                    NORM_RELU_OP,
                    name.clone(),
                    vec![current, w, b],
                    norm_relu_attrs(relu, reflect_pad, false),
                    o,
                );
                g.nodes.last_mut().expect("just pushed").domain = STYLECAM_DOMAIN.to_string();
                g.nodes.last().expect("just pushed").output[0].clone()
            }
            Layer::InstanceNorm { name, channels } => {
                let phase_channels = split.then_some(*channels);
                g.instance_norm(name, current, phase_channels, out(name))
            }
            // Quantised: the inner ReLU is done by the uint8 quantisation after the first conv;
            // the one after the skip add by the next block's input quantisation.
            Layer::Relu
                if quant.is_some()
                    && ((block > 0 && block_convs == 1)
                        || (block == 0
                            && matches!(layers.get(idx + 1), Some(Layer::SaveResidual))
                            && matches!(layers.get(idx - 1), Some(Layer::AddResidual)))) =>
            {
                current
            }
            Layer::Relu => {
                let name = format!("relu{idx}");
                let o = out(&name);
                g.node("Relu", name, vec![current], Vec::new(), o)
            }
            Layer::SaveResidual => {
                if let Some(c) = quant {
                    // Block k's input: a ReLU output, quantised once for both its uses.
                    let number = residual_blocks_seen + 1;
                    let (scale, zero_point) =
                        activation_params(0.0, c.blocks[number - 1].input_max);
                    current = g.qdq(current, scale, zero_point, &format!("res{number}.input"));
                    (block, block_convs, input_scale) = (number, 0, scale);
                }
                residual_blocks_seen += 1;
                residual = Some(current.clone());
                current
            }
            Layer::AddResidual => {
                block = 0;
                let skip = residual
                    .take()
                    .expect("ImfwArch::layers pairs every AddResidual with a SaveResidual");
                let name = format!("add{idx}");
                let o = out(&name);
                g.node("Add", name, vec![current, skip], Vec::new(), o)
            }
        };
    }
    assert_eq!(
        split,
        lowering.phase_output(),
        "ImfwNet lowering left the output in the wrong layout"
    );
    assert_eq!(current, final_name, "ImfwArch::layers ends with a layer");
    if fp16 {
        g.cast(current, DATA_TYPE_FLOAT, OUTPUT_NAME.to_string());
    }
    let name = if form == GraphForm::REFERENCE {
        arch.label()
    } else {
        format!("{} ({})", arch.label(), form.describe())
    };
    GraphProto {
        node: g.nodes,
        name,
        initializer: g.initializers,
        input: vec![image_value_info(INPUT_NAME, form.input_channels())],
        output: vec![image_value_info(OUTPUT_NAME, form.output_channels())],
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::onnx::random_weights;

    fn ops(g: &GraphProto) -> Vec<&str> {
        g.node.iter().map(|n| n.op_type.as_str()).collect()
    }

    #[test]
    fn reference_form_has_one_node_per_layer() {
        let arch = ImfwArch::new(8, 2);
        let g = build_graph(
            &arch,
            &random_weights(&arch, 1),
            GraphForm::lowered(Lowering::NONE),
        );
        let layers = arch
            .layers()
            .into_iter()
            .filter(|l| !matches!(l, Layer::SaveResidual))
            .count();
        assert_eq!(g.node.len(), layers);
        assert_eq!(ops(&g).iter().filter(|o| **o == "ConvTranspose").count(), 3);
    }

    #[test]
    fn lowered_tail_has_no_full_resolution_transposed_convolution() {
        let arch = ImfwArch::new(8, 1);
        let g = build_graph(
            &arch,
            &random_weights(&arch, 1),
            GraphForm::lowered(Lowering::TAIL),
        );
        let o = ops(&g);
        // No transposed convolution is left: deconv1 becomes one exact Conv per output phase
        // and a DepthToSpace, deconv2 and deconv3 sub-pixel Convs on phases.
        assert_eq!(o.iter().filter(|o| **o == "ConvTranspose").count(), 0);
        let phases: Vec<_> = g
            .node
            .iter()
            .filter(|n| n.name.starts_with("deconv1_phase"))
            .map(|n| n.attribute[0].ints.clone())
            .collect();
        assert_eq!(phases, [vec![1, 1], vec![1, 2], vec![2, 1], vec![2, 2]]);
        assert_eq!(o.iter().filter(|o| **o == "DepthToSpace").count(), 2);
        assert_eq!(o.last(), Some(&"DepthToSpace"));
        assert_eq!(g.node.last().unwrap().output, vec![OUTPUT_NAME.to_string()]);
    }

    #[test]
    fn lowered_head_starts_with_space_to_depth() {
        let arch = ImfwArch::new(8, 1);
        let g = build_graph(
            &arch,
            &random_weights(&arch, 1),
            GraphForm::lowered(Lowering::FULL),
        );
        assert_eq!(&ops(&g)[..3], &["Pad", "SpaceToDepth", "Conv"]);
        // conv1's kernel: 4 phases × 8 channels out, 4 phases × 3 channels in, 5×5 taps.
        let k = g
            .initializer
            .iter()
            .find(|t| t.name == "conv1.phase_weight")
            .unwrap();
        assert_eq!(k.dims, vec![32, 12, 5, 5]);
    }

    #[test]
    fn phase_io_leaves_the_pad_and_the_layout_moves_to_the_caller() {
        let arch = ImfwArch::new(8, 1);
        let form = GraphForm::lowered(Lowering::FULL.with_phase_io());
        let g = build_graph(&arch, &random_weights(&arch, 1), form);
        let o = ops(&g);
        assert_eq!(o[0], "Conv", "starts on the padded phases");
        assert_eq!(o.last(), Some(&"Conv"), "ends on the output phases");
        assert!(!o.contains(&"SpaceToDepth"));
        // The one DepthToSpace left is deconv1's, inside the network.
        let d2s: Vec<_> = g
            .node
            .iter()
            .filter(|n| n.op_type == "DepthToSpace")
            .collect();
        assert_eq!(d2s.len(), 1);
        assert_eq!(d2s[0].name, "deconv1_depth_to_space");
        assert_eq!(
            o.iter().filter(|&&op| op == "Pad").count(),
            1,
            "only conv3's pad is left"
        );
        assert_eq!((form.input_channels(), form.output_channels()), (12, 12));
        // The tail alone keeps an image input.
        let tail = GraphForm::lowered(Lowering::TAIL.with_phase_io());
        let g = build_graph(&arch, &random_weights(&arch, 1), tail);
        assert_eq!(ops(&g)[..2], ["Pad", "Conv"]);
        assert_eq!((tail.input_channels(), tail.output_channels()), (3, 12));
    }

    #[test]
    fn int8_quantises_the_residual_blocks_only() {
        use crate::net::int8::{BlockRanges, Int8Calibration};
        let arch = ImfwArch::new(8, 2);
        let ranges = BlockRanges {
            input_max: 4.0,
            inner_max: 3.0,
            output_min: -2.0,
            output_max: 2.0,
        };
        let calibration = Int8Calibration {
            photos: 1,
            size: "t".into(),
            blocks: vec![ranges; 2],
        };
        let form = GraphForm {
            int8: true,
            ..GraphForm::lowered(Lowering::cpu_default(&arch))
        };
        let g = build_graph_with(&arch, &random_weights(&arch, 1), form, Some(&calibration));
        let dtype = |name: &str| {
            g.initializer
                .iter()
                .find(|t| t.name == name)
                .map(|t| t.data_type)
        };
        for k in 1..=2 {
            for c in 1..=2 {
                let conv = format!("res{k}.conv{c}");
                assert_eq!(dtype(&format!("{conv}.weight_int8")), Some(DATA_TYPE_INT8));
                assert_eq!(dtype(&format!("{conv}.bias_int32")), Some(DATA_TYPE_INT32));
                assert_eq!(dtype(&format!("{conv}.weight")), None, "no float copy");
                // Every quantised conv reads a dequantised activation and is quantised after.
                let node = g.node.iter().position(|n| n.name == conv).unwrap();
                let producer = g
                    .node
                    .iter()
                    .find(|n| n.output[0] == g.node[node].input[0])
                    .unwrap();
                assert_eq!(producer.op_type, "DequantizeLinear", "{conv}");
                assert_eq!(g.node[node + 1].op_type, "QuantizeLinear", "{conv}");
            }
        }
        // The end layers stay float32, and the blocks have no ReLU left (quantisation does it);
        // only the last block's output ReLU before deconv1 remains, next to the five norms'
        // (fused into the norms by the CPU default).
        assert_eq!(dtype("conv2.phase_weight"), Some(DATA_TYPE_FLOAT));
        assert_eq!(dtype("deconv1.phase11_weight"), Some(DATA_TYPE_FLOAT));
        let count = |op: &str| g.node.iter().filter(|n| n.op_type == op).count();
        assert!(form.lowering.fused_norm);
        assert_eq!(
            count(NORM_RELU_OP) + count(PHASE_NORM_RELU_OP),
            5,
            "in1 … in5, ReLUs in"
        );
        assert_eq!(count("Relu"), 1, "the last block's");
        assert_eq!(form.describe(), "lowered head+tail int8");
    }

    #[test]
    fn fused_norm_replaces_each_norm_and_its_relu() {
        // Width 32: deconv2's 32 phase outputs need no NCHWc padding, so both transposed
        // convolutions are exact phase convs; width 8: deconv2's 8 are one merged conv.
        for width in [32, 8] {
            let arch = ImfwArch::new(width, 1);
            let lowering = Lowering {
                fused_norm: true,
                ..Lowering::TAIL
            };
            let g = build_graph(
                &arch,
                &random_weights(&arch, 1),
                GraphForm::lowered(lowering),
            );
            let o = ops(&g);
            assert!(!o.contains(&"InstanceNormalization"));
            let fused = |op: &str| -> Vec<&NodeProto> {
                g.node.iter().filter(|n| n.op_type == op).collect()
            };
            let names = |nodes: &[&NodeProto]| -> Vec<String> {
                nodes.iter().map(|n| n.name.clone()).collect()
            };
            let (plain, phased) = (fused(NORM_RELU_OP), fused(PHASE_NORM_RELU_OP));
            let narrow = width < NCHWC_WIDE;
            if narrow {
                // in4 with deconv1's four exact phase Convs; in5 reads deconv2's merged one.
                assert_eq!(names(&plain), ["in1", "in2", "in3", "in5"]);
                assert_eq!(names(&phased), ["in4"]);
                let in5 = plain[3];
                let merged = g.node.iter().find(|n| n.output[0] == in5.input[0]).unwrap();
                assert_eq!(merged.op_type, "Conv");
                let k = g
                    .initializer
                    .iter()
                    .find(|t| t.name == merged.input[1])
                    .unwrap();
                assert_eq!(k.dims, [4 * width as i64, 2 * width as i64, 2, 2]);
                // Its CRD phases stay phases for the 9×9 layer.
                assert_eq!(in5.attribute[3].name, "interleave");
                assert_eq!(in5.attribute[3].i, Some(0));
            } else {
                // in1 … in3 alone; in4 and in5 with the four phase Convs of deconv1 / deconv2.
                assert_eq!(names(&plain), ["in1", "in2", "in3"]);
                assert_eq!(names(&phased), ["in4", "in5"]);
                // deconv2's phases stay phases for the 9×9 layer.
                assert_eq!(phased[1].attribute[2].i, Some(0));
            }
            for n in plain.iter().chain(&phased) {
                assert_eq!(n.domain, STYLECAM_DOMAIN);
                assert_eq!(n.attribute[1].name, "relu");
                assert_eq!(n.attribute[1].i, Some(1));
            }
            // in2 writes conv3's reflection pad; the one Pad node left is the input's.
            let pads: Vec<_> = plain[..3].iter().map(|n| n.attribute[2].i).collect();
            assert_eq!(plain[0].attribute[2].name, "reflect_pad");
            assert_eq!(pads, [Some(0), Some(1), Some(0)]);
            assert_eq!(o.iter().filter(|&&op| op == "Pad").count(), 1);
            assert_eq!(o[0], "Pad");
            // deconv1's phases come back as the image.
            assert_eq!(phased[0].attribute[2].i, Some(1));
            assert!(phased.iter().all(|n| n.input.len() == 6));
            // No reshapes, no Concat; the one DepthToSpace left is the output's.
            assert!(!o.contains(&"Reshape") && !o.contains(&"Concat"));
            assert_eq!(o.iter().filter(|&&op| op == "DepthToSpace").count(), 1);
            assert_eq!(o.last(), Some(&"DepthToSpace"));
            // The ReLUs left are the residual block's own (after its first conv and its skip add).
            assert_eq!(
                o.iter().filter(|&&op| op == "Relu").count(),
                2 * arch.blocks
            );
        }
    }

    #[test]
    fn output_conv_runs_the_last_layer_on_the_image() {
        let arch = ImfwArch::new(8, 1);
        let lowering = Lowering {
            fused_norm: true,
            output_conv: true,
            ..Lowering::TAIL.with_phase_io()
        };
        let g = build_graph(
            &arch,
            &random_weights(&arch, 2),
            GraphForm::lowered(lowering),
        );
        let last = g.node.last().unwrap();
        assert_eq!(
            (last.op_type.as_str(), last.domain.as_str()),
            (OUTPUT_CONV_OP, STYLECAM_DOMAIN)
        );
        assert_eq!(last.output[0], OUTPUT_NAME);
        let weight = g
            .initializer
            .iter()
            .find(|t| t.name == last.input[1])
            .unwrap();
        assert_eq!(
            weight.dims,
            [3, 8, 9, 9],
            "deconv3 as a plain conv's weights"
        );
        // deconv2's norm (over its merged phase conv: width 8) writes the image, not phases,
        // for it; no phase conv or DepthToSpace.
        let in5 = g.node.iter().find(|n| n.name == "in5").unwrap();
        assert_eq!(in5.op_type, NORM_RELU_OP);
        assert_eq!(in5.attribute[3].name, "interleave");
        assert_eq!(in5.attribute[3].i, Some(1));
        assert_eq!(last.input[0], in5.output[0]);
        assert!(!g.node.iter().any(|n| n.op_type == "DepthToSpace"));
        // Only with the phase-split output and the fused norms it needs.
        for other in [
            Lowering {
                phase_io: false,
                ..lowering
            },
            Lowering {
                fused_norm: false,
                ..lowering
            },
        ] {
            let g = build_graph(&arch, &random_weights(&arch, 2), GraphForm::lowered(other));
            assert!(!g.node.iter().any(|n| n.op_type == OUTPUT_CONV_OP));
        }
        let fast = crate::engine::out_conv::OutputConv::fast_on_this_cpu();
        assert_eq!(Lowering::cpu_default(&arch).output_conv, fast);
        assert_eq!(Lowering::cpu_default(&ImfwArch::SEED).output_conv, fast);
    }

    #[test]
    fn winograd_body_fuses_each_block_into_two_nodes() {
        let arch = ImfwArch::new(8, 2);
        let form = GraphForm::lowered(Lowering::TAIL.with_winograd_body());
        let g = build_graph(&arch, &random_weights(&arch, 1), form);
        let wino: Vec<&NodeProto> = g
            .node
            .iter()
            .filter(|n| n.op_type == WINOGRAD_CONV_OP)
            .collect();
        assert_eq!(wino.len(), 2 * arch.blocks);
        assert!(wino.iter().all(|n| n.domain == STYLECAM_DOMAIN));
        // First conv: x → relu; second: x + skip → relu, the skip being the block's input.
        for pair in wino.chunks(2) {
            assert_eq!(pair[0].input.len(), 3);
            assert_eq!(pair[1].input.len(), 4);
            assert_eq!(pair[1].input[3], pair[0].input[0]);
            for n in pair {
                assert_eq!(n.attribute[0].name, "relu");
                assert_eq!(n.attribute[0].i, Some(1));
            }
        }
        assert!(!ops(&g).contains(&"Add"), "the skip adds are fused");
        // int8 keeps its quantised convolutions.
        let calibration = Int8Calibration {
            photos: 1,
            size: "t".into(),
            blocks: vec![
                super::super::int8::BlockRanges {
                    input_max: 1.0,
                    inner_max: 1.0,
                    output_min: -1.0,
                    output_max: 1.0,
                };
                2
            ],
        };
        let int8 = GraphForm { int8: true, ..form };
        let g = build_graph_with(&arch, &random_weights(&arch, 1), int8, Some(&calibration));
        assert!(!ops(&g).contains(&WINOGRAD_CONV_OP));
    }

    #[test]
    fn cpu_default_uses_the_head_only_for_thin_networks() {
        assert!(Lowering::cpu_default(&ImfwArch::new(8, 1)).space_to_depth_head);
        assert!(!Lowering::cpu_default(&ImfwArch::SEED).space_to_depth_head);
        assert!(Lowering::cpu_default(&ImfwArch::SEED).sub_pixel_tail);
        let fast = crate::engine::winograd::Conv3x3::fast_on_this_cpu();
        assert_eq!(Lowering::cpu_default(&ImfwArch::SEED).winograd_body, fast);
        assert!(!Lowering::cpu_default(&ImfwArch::new(8, 1)).winograd_body);
    }

    /// Direct (slow) evaluation of one full-resolution output pixel of a stride-2 transposed
    /// convolution, to check the sub-pixel kernel tap by tap.
    #[test]
    fn sub_pixel_kernel_matches_transposed_convolution_definition() {
        let (cin, cout) = (2, 3);
        let w = Tensor {
            shape: vec![cin, cout, 3, 3],
            data: (0..cin * cout * 9)
                .map(|i| (i as f32 * 0.37).sin())
                .collect(),
        };
        let (h, wd) = (3usize, 4usize);
        let x: Vec<f32> = (0..cin * h * wd).map(|i| (i as f32 * 0.61).cos()).collect();
        let xi = |c: usize, i: isize, j: isize| -> f32 {
            if i < 0 || j < 0 || i >= h as isize || j >= wd as isize {
                0.0
            } else {
                x[(c * h + i as usize) * wd + j as usize]
            }
        };
        let k = sub_pixel_kernel(&w);
        for o in 0..cout {
            for y in 0..2 * h {
                for xx in 0..2 * wd {
                    // Definition: y = Σ x[ih,iw] w[kh,kw] with 2·ih − 1 + kh = y.
                    let mut want = 0.0f32;
                    for c in 0..cin {
                        for kh in 0..3 {
                            for kw in 0..3 {
                                let (nh, nw) = (y as isize + 1 - kh, xx as isize + 1 - kw);
                                if nh % 2 == 0 && nw % 2 == 0 {
                                    want += xi(c, nh / 2, nw / 2)
                                        * w.data[at4(&w, c, o, kh as usize, kw as usize)];
                                }
                            }
                        }
                    }
                    let (i, a, j, b) = (y / 2, y % 2, xx / 2, xx % 2);
                    let mut got = 0.0f32;
                    for c in 0..cin {
                        for dh in 0..2 {
                            for dw in 0..2 {
                                got += xi(c, (i + dh) as isize, (j + dw) as isize)
                                    * k.data[at4(&k, crd(o, phase(a, b)), c, dh, dw)];
                            }
                        }
                    }
                    assert!(
                        (got - want).abs() < 1e-5,
                        "o{o} y{y} x{xx}: {got} vs {want}"
                    );
                }
            }
        }
    }
}
