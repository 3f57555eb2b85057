//! Magenta's transformer lowered for the CPU, as ImfwNet is in [`crate::net::graph`].
//!
//! The file spells every conditional instance norm out as twelve elementwise nodes, pads every
//! convolution with a separate full-size `Pad`, and upsamples with `Resize` before padding and
//! convolving at the larger size; ONNX Runtime then spends about a third of a 640×480 frame in
//! its 9×9 output convolution on an 8-channel full-resolution tensor (NCHWc reorders included)
//! and another fifth in pads, norms and resizes (BENCHMARKS.md). [`lower`] rebuilds the same
//! function from the file's float weights (after [`super::dequantize`]):
//!
//! * **norms**: each norm (and the ReLU after it) is stylecam's `InstanceNormRelu`, its scale and
//!   bias the style's 1×1 convolutions of the embedding as in the file, read on every run (they
//!   change with the style); in the residual blocks the norm also writes the reflection pad the
//!   next convolution needs.
//! * **upsampling**: nearest ×2, reflection pad 1 and a 3×3 convolution are one 3×3
//!   convolution at the *low* resolution producing the four output phases (sub-pixel), on the
//!   input padded by repeating its edge: the upsampled image's reflected border row is its first
//!   row, which is the low-resolution edge row ([`upsample_conv_kernel`]). The norm interleaves
//!   the phases back into the image as it normalises them.
//! * **output layer**: with `output_conv`, the 9×9 convolution to RGB is stylecam's
//!   `OutputConvPhases` on the reflection-padded input (its zero padding then only touches the
//!   border it computes and the graph slices off), and the last norm interleaves its phases.
//! * **pads**: the remaining reflection and edge pads are stylecam's `Pad2d` (whole rows,
//!   planes in parallel; ONNX Runtime's `Pad` does these modes element by element on one
//!   thread).
//!
//! Everything else (the contracting convolutions, the residual convolutions and their skip
//! sums) stays ONNX Runtime's. Every rewrite is exact up to float rounding; the session only
//! runs where stylecam's operators are registered (every CPU session stylecam builds).

use std::collections::HashMap;

use prost::Message;

use super::super::graph::{NORM_RELU_OP, OUTPUT_CONV_OP, PAD2D_OP, STYLECAM_DOMAIN};
use super::super::onnx::{float_attr, int_attr, ints_attr, raw_initializer, string_attr, OPSET};
use super::super::onnx_proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    DATA_TYPE_FLOAT, DATA_TYPE_INT64,
};
use super::{decode_with_graph, floats, CONTENT_INPUT, EMBEDDING, EMBEDDING_LEN};
use crate::{Error, Result};

/// The residual blocks.
const BLOCKS: usize = 5;

/// A convolution's stored weights and bias, with the weights' shape `[cout, cin, k, k]`.
struct Conv {
    weight: Vec<f32>,
    shape: Vec<usize>,
    bias: Vec<f32>,
}

/// The float weights of a dequantized transformer, by the tensors' names in the file.
struct Stored<'a> {
    initializers: HashMap<&'a str, &'a TensorProto>,
    /// Each node's output → the node.
    producers: HashMap<&'a str, &'a NodeProto>,
}

impl<'a> Stored<'a> {
    fn new(graph: &'a GraphProto) -> Stored<'a> {
        Stored {
            initializers: graph
                .initializer
                .iter()
                .map(|t| (t.name.as_str(), t))
                .collect(),
            producers: graph
                .node
                .iter()
                .flat_map(|n| n.output.iter().map(move |o| (o.as_str(), n)))
                .collect(),
        }
    }

    /// The `Conv` node producing `output`, with its weights read back.
    fn conv(&self, output: &str) -> std::result::Result<Conv, String> {
        let node = self
            .producers
            .get(output)
            .filter(|n| n.op_type == "Conv" && n.input.len() == 3)
            .ok_or_else(|| format!("no convolution {output}"))?;
        let tensor = |i: usize| {
            self.initializers
                .get(node.input[i].as_str())
                .ok_or_else(|| format!("{output}: input {i} is not a stored tensor"))
        };
        let (w, b) = (tensor(1)?, tensor(2)?);
        let shape: Vec<usize> = w.dims.iter().map(|&d| d as usize).collect();
        let conv = Conv {
            weight: floats(w)?,
            bias: floats(b)?,
            shape,
        };
        let [cout, cin, k, k2] = conv.shape[..] else {
            return Err(format!("{output}: weights are not [cout, cin, k, k]"));
        };
        if k != k2 || conv.weight.len() != cout * cin * k * k || conv.bias.len() != cout {
            return Err(format!("{output}: weights and bias do not match"));
        }
        Ok(conv)
    }
}

/// The conditional norm after the convolution named `prefix` in the file: its scale and bias
/// are 1×1 convolutions of the embedding.
fn style_norm(stored: &Stored<'_>, prefix: &str) -> std::result::Result<(Conv, Conv), String> {
    let scale = stored.conv(&format!(
        "style_params/{prefix}/StyleNorm/Conv_1/BiasAdd_prequant"
    ))?;
    let bias = stored.conv(&format!(
        "style_params/{prefix}/StyleNorm/Conv/BiasAdd_prequant"
    ))?;
    for c in [&scale, &bias] {
        if c.shape[1..] != [EMBEDDING_LEN, 1, 1] {
            return Err(format!(
                "{prefix}: the style's norm parameters are not 1×1 convolutions of the embedding"
            ));
        }
    }
    Ok((scale, bias))
}

/// Writes the lowered graph's nodes and initializers.
#[derive(Default)]
struct Builder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    count: usize,
}

impl Builder {
    fn fresh(&mut self, what: &str) -> String {
        self.count += 1;
        format!("lowered/{what}_{}", self.count)
    }

    fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        let out = self.fresh(op);
        self.node_to(op, inputs, attrs, &out);
        out
    }

    fn node_to(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>, out: &str) {
        let custom = [NORM_RELU_OP, OUTPUT_CONV_OP, PAD2D_OP].contains(&op);
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![out.to_string()],
            name: out.to_string(),
            op_type: op.to_string(),
            domain: if custom {
                STYLECAM_DOMAIN.into()
            } else {
                String::new()
            },
            attribute: attrs,
            ..Default::default()
        });
    }

    fn floats(&mut self, what: &str, dims: &[usize], data: &[f32]) -> String {
        let name = self.fresh(what);
        let raw = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers
            .push(raw_initializer(&name, DATA_TYPE_FLOAT, dims, raw));
        name
    }

    fn ints(&mut self, what: &str, data: &[i64]) -> String {
        let name = self.fresh(what);
        let raw = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers
            .push(raw_initializer(&name, DATA_TYPE_INT64, &[data.len()], raw));
        name
    }

    /// stylecam's `Pad2d` of an NCHW tensor by `p` on each side of H and W (ONNX Runtime's
    /// `Pad` is single-threaded and element by element in these modes; `engine::pad`).
    fn pad(&mut self, x: &str, p: usize, mode: &str) -> String {
        self.pad_sides(x, [p, p, p, p], mode)
    }

    /// `Pad2d` by `[top, left, bottom, right]`.
    fn pad_sides(&mut self, x: &str, sides: [usize; 4], mode: &str) -> String {
        let attrs = vec![ints_attr("pads", &sides), string_attr("mode", mode)];
        self.node(PAD2D_OP, &[x], attrs)
    }

    fn conv(&mut self, x: &str, c: &Conv, stride: usize) -> String {
        let w = self.floats("w", &c.shape, &c.weight);
        let b = self.floats("b", &[c.bias.len()], &c.bias);
        self.node(
            "Conv",
            &[x, &w, &b],
            vec![ints_attr("strides", &[stride, stride])],
        )
    }

    /// Contracting convolution: reflection pad, convolution, ReLU.
    fn contract(&mut self, x: &str, c: &Conv, stride: usize) -> String {
        let p = self.pad(x, c.shape[2] / 2, "reflect");
        let y = self.conv(&p, c, stride);
        self.node("Relu", &[&y], vec![])
    }

    /// The conditional norm of `x`; `params` are its scale and bias (computed from the embedding).
    fn norm(&mut self, x: &str, params: &(String, String), attrs: Vec<AttributeProto>) -> String {
        self.node(NORM_RELU_OP, &[x, &params.0, &params.1], attrs)
    }
}

fn norm_attrs(epsilon: f32, relu: bool, reflect_pad: i64, interleave: bool) -> Vec<AttributeProto> {
    vec![
        float_attr("epsilon", epsilon),
        int_attr("relu", relu as i64),
        int_attr("reflect_pad", reflect_pad),
        int_attr("interleave", interleave as i64),
    ]
}

/// A bias for each of a channel's four CRD phases.
fn per_phase(bias: &[f32]) -> Vec<f32> {
    bias.iter().flat_map(|&v| [v; 4]).collect()
}

/// Which 3×3 tap of the sub-pixel kernel each original tap lands on, by output phase: phase 0
/// reads the low-resolution rows `i − 1, i, i` for taps 0, 1, 2, phase 1 rows `i, i, i + 1`.
const PHASE_TAP: [[usize; 3]; 2] = [[0, 1, 1], [1, 1, 2]];

/// Nearest ×2 upsampling, reflection pad 1 and the 3×3 convolution `w` `[cout, cin, 3, 3]` as one
/// 3×3 convolution of the edge-padded low-resolution input producing `4·cout` phase channels in
/// `DepthToSpace` CRD order (`c·4 + a·2 + b` holds output pixel `(2i + a, 2j + b)`). Biases
/// repeat per phase.
pub fn upsample_conv_kernel(w: &[f32], cout: usize, cin: usize) -> (Vec<f32>, Vec<usize>) {
    assert_eq!(w.len(), cout * cin * 9, "weights are [cout, cin, 3, 3]");
    let mut out = vec![0.0; 4 * cout * cin * 9];
    for c in 0..cout {
        for (a, b) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            let oc = c * 4 + a * 2 + b;
            for ci in 0..cin {
                for s in 0..3 {
                    for t in 0..3 {
                        let (u, v) = (PHASE_TAP[a][s], PHASE_TAP[b][t]);
                        out[((oc * cin + ci) * 3 + u) * 3 + v] +=
                            w[((c * cin + ci) * 3 + s) * 3 + t];
                    }
                }
            }
        }
    }
    (out, vec![4 * cout, cin, 3, 3])
}

/// The first layer, a K×K convolution (stride 1, reflection pad K/2), as a convolution from the
/// padded input's 2×2 phases (`SpaceToDepth` order: `(α·2 + β)·cin + ci`) to the output's
/// phases (CRD order: `c·4 + a·2 + b`), `(K + 1)/2` taps square: output pixel `(2i + a, 2j + b)`
/// reads input phase `(α, β)` at `(i + u, j + v)` through tap `(2u + α − a, 2v + β − b)`.
pub fn phase_head_kernel(w: &[f32], cout: usize, cin: usize, k: usize) -> (Vec<f32>, Vec<usize>) {
    assert_eq!(w.len(), cout * cin * k * k, "weights are [cout, cin, k, k]");
    let taps = k.div_ceil(2);
    let (oc_n, ic_n) = (4 * cout, 4 * cin);
    let mut out = vec![0.0; oc_n * ic_n * taps * taps];
    for c in 0..cout {
        for (a, b) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            let oc = c * 4 + a * 2 + b;
            for (alpha, beta) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                for ci in 0..cin {
                    let ic = (alpha * 2 + beta) * cin + ci;
                    for u in 0..taps {
                        for v in 0..taps {
                            let (s, t) = (2 * u + alpha, 2 * v + beta);
                            if s < a || t < b || s - a >= k || t - b >= k {
                                continue;
                            }
                            out[((oc * ic_n + ic) * taps + u) * taps + v] =
                                w[((c * cin + ci) * k + s - a) * k + t - b];
                        }
                    }
                }
            }
        }
    }
    (out, vec![oc_n, ic_n, taps, taps])
}

/// Which (phase, 2×2 tap) each tap of a stride-2 3×3 convolution reads, on phases padded by one
/// repeated row and column at the top and left: taps 0, 1, 2 read rows `2i − 1, 2i, 2i + 1`,
/// i.e. odd phase row `i − 1`, even phase row `i`, odd phase row `i`. Reflection makes row −1 row
/// 1, the odd phase's row 0: the repeated edge.
const STRIDED_TAP: [(usize, usize); 3] = [(1, 0), (0, 1), (1, 1)];

/// A stride-2 3×3 convolution with reflection pad 1, `[cout, cin, 3, 3]`, as a 2×2 convolution
/// of the input's CRD phases (`ci·4 + a·2 + b`) padded at the top and left by their edge.
pub fn strided_phase_kernel(w: &[f32], cout: usize, cin: usize) -> (Vec<f32>, Vec<usize>) {
    assert_eq!(w.len(), cout * cin * 9, "weights are [cout, cin, 3, 3]");
    let mut out = vec![0.0; cout * 4 * cin * 4];
    for c in 0..cout {
        for ci in 0..cin {
            for (s, &(a, u)) in STRIDED_TAP.iter().enumerate() {
                for (t, &(b, v)) in STRIDED_TAP.iter().enumerate() {
                    let ic = ci * 4 + a * 2 + b;
                    out[((c * 4 * cin + ic) * 2 + u) * 2 + v] = w[((c * cin + ci) * 3 + s) * 3 + t];
                }
            }
        }
    }
    (out, vec![cout, 4 * cin, 2, 2])
}

/// The first two contracting layers on phases (see [`phase_head_kernel`] and
/// [`strided_phase_kernel`]): the full-resolution 9×9 convolution from 3 channels is where
/// ONNX Runtime is slowest, and 12 phase channels in, 32 out suit its blocked kernels.
fn head(b: &mut Builder, x: &str, c1: &Conv, c2: &Conv) -> std::result::Result<String, String> {
    let (&[c1o, c1i, k, _], &[c2o, c2i, 3, 3]) = (&c1.shape[..], &c2.shape[..]) else {
        return Err("the contracting convolutions are not K×K then 3×3".into());
    };
    if k % 2 == 0 || (k / 2) % 2 != 0 || c2i != c1o {
        return Err("the first convolution's kernel does not split into phases".into());
    }
    let p = b.pad(x, k / 2, "reflect");
    let z = b.node("SpaceToDepth", &[&p], vec![int_attr("blocksize", 2)]);
    let (weight, shape) = phase_head_kernel(&c1.weight, c1o, c1i, k);
    let bias = per_phase(&c1.bias);
    let y = b.conv(
        &z,
        &Conv {
            weight,
            shape,
            bias,
        },
        1,
    );
    let y = b.node("Relu", &[&y], vec![]);
    let yp = b.pad_sides(&y, [1, 1, 0, 0], "edge");
    let (weight, shape) = strided_phase_kernel(&c2.weight, c2o, c2i);
    let y = b.conv(
        &yp,
        &Conv {
            weight,
            shape,
            bias: c2.bias.clone(),
        },
        1,
    );
    Ok(b.node("Relu", &[&y], vec![]))
}

/// Upsampling convolution + norm + ReLU (see the module docs).
fn expand(
    b: &mut Builder,
    x: &str,
    c: &Conv,
    params: &(String, String),
    epsilon: f32,
) -> std::result::Result<String, String> {
    let [cout, cin, 3, 3] = c.shape[..] else {
        return Err("an upsampling convolution is not 3×3".into());
    };
    let (weight, shape) = upsample_conv_kernel(&c.weight, cout, cin);
    let bias = per_phase(&c.bias);
    let phased = Conv {
        weight,
        shape,
        bias,
    };
    let p = b.pad(x, 1, "edge");
    let y = b.conv(&p, &phased, 1);
    Ok(b.norm(&y, params, norm_attrs(epsilon, true, 0, true)))
}

/// The lowered transformer, or `None` when `bytes` is not Magenta's transformer as the pinned
/// file holds it (other networks with the same interface run as they are). `bytes` must be the
/// float form ([`super::dequantize`]); `output_conv` runs the last layer as stylecam's operator.
pub fn lower(bytes: &[u8], output_conv: bool) -> Result<Option<Vec<u8>>> {
    let model = decode_with_graph(bytes)
        .map_err(|m| Error::InvalidArgument(format!("arbitrary-style transformer: {m}")))?;
    let graph = model.graph.as_ref().expect("checked by decode_with_graph");
    match build(graph, output_conv) {
        Ok(lowered) => {
            let model = ModelProto {
                graph: Some(lowered),
                opset_import: vec![
                    OperatorSetIdProto {
                        domain: String::new(),
                        version: OPSET,
                    },
                    OperatorSetIdProto {
                        domain: STYLECAM_DOMAIN.into(),
                        version: 1,
                    },
                ],
                ..model
            };
            Ok(Some(model.encode_to_vec()))
        }
        Err(why) => {
            tracing::debug!("the arbitrary-style transformer runs unlowered: {why}");
            Ok(None)
        }
    }
}

/// The lowered graph (see the module docs); `Err` names what does not match.
fn build(graph: &GraphProto, output_conv: bool) -> std::result::Result<GraphProto, String> {
    const EPSILON: f32 = 1e-5;
    let stored = Stored::new(graph);
    let output = graph.output.first().ok_or("no output")?.name.clone();
    let mut b = Builder::default();
    let emb = {
        let shape = b.ints("shape", &[1, EMBEDDING_LEN as i64, 1, 1]);
        b.node("Reshape", &[EMBEDDING, &shape], vec![])
    };
    let norm_params = |b: &mut Builder, prefix: &str| -> std::result::Result<_, String> {
        let (scale, bias) = style_norm(&stored, prefix)?;
        let s = b.conv(&emb, &scale, 1);
        let t = b.conv(&emb, &bias, 1);
        Ok((s, t))
    };

    let nchw = b.node(
        "Transpose",
        &[CONTENT_INPUT],
        vec![ints_attr("perm", &[0, 3, 1, 2])],
    );
    let contract = |i: usize| stored.conv(&format!("transformer/contract/conv{i}/Relu_prequant"));
    let mut x = head(&mut b, &nchw, &contract(1)?, &contract(2)?)?;
    x = b.contract(&x, &contract(3)?, 2);
    for i in 1..=BLOCKS {
        let block = format!("transformer/residual/residual{i}");
        let c1 = stored.conv(&format!("{block}/conv1/Conv2D_prequant"))?;
        let c2 = stored.conv(&format!("{block}/conv2/Conv2D_prequant"))?;
        let n1 = norm_params(&mut b, &format!("{block}/conv1"))?;
        let n2 = norm_params(&mut b, &format!("{block}/conv2"))?;
        let p = b.pad(&x, 1, "reflect");
        let y = b.conv(&p, &c1, 1);
        let y = b.norm(&y, &n1, norm_attrs(EPSILON, true, 1, false));
        let y = b.conv(&y, &c2, 1);
        let y = b.norm(&y, &n2, norm_attrs(EPSILON, false, 0, false));
        x = b.node("Add", &[&x, &y], vec![]);
    }
    for i in 1..=2 {
        let prefix = format!("transformer/expand/conv{i}/conv");
        let c = stored.conv(&format!("{prefix}/Conv2D_prequant"))?;
        let n = norm_params(&mut b, &prefix)?;
        x = expand(&mut b, &x, &c, &n, EPSILON)?;
    }
    let prefix = "transformer/expand/conv3/conv";
    let c = stored.conv(&format!("{prefix}/Conv2D_prequant"))?;
    let n = norm_params(&mut b, prefix)?;
    let half = c.shape[2] / 2;
    let p = b.pad(&x, half, "reflect");
    let y = if output_conv && c.shape[0] == 3 && c.shape[2] % 2 == 1 && half % 2 == 0 {
        let w = b.floats("w", &c.shape, &c.weight);
        let bias = b.floats("b", &[3], &c.bias);
        let phases = b.node(OUTPUT_CONV_OP, &[&p, &w, &bias], vec![]);
        // Drop the phases of the padded border: `half` pixels, `half / 2` phase rows.
        let phase_rows = (half / 2) as i64;
        let starts = b.ints("starts", &[phase_rows, phase_rows]);
        let ends = b.ints("ends", &[-phase_rows, -phase_rows]);
        let axes = b.ints("axes", &[2, 3]);
        let inner = b.node("Slice", &[&phases, &starts, &ends, &axes], vec![]);
        b.norm(&inner, &n, norm_attrs(EPSILON, false, 0, true))
    } else {
        let y = b.conv(&p, &c, 1);
        b.norm(&y, &n, norm_attrs(EPSILON, false, 0, false))
    };
    let s = b.node("Sigmoid", &[&y], vec![]);
    b.node_to(
        "Transpose",
        &[&s],
        vec![ints_attr("perm", &[0, 2, 3, 1])],
        &output,
    );
    Ok(GraphProto {
        node: b.nodes,
        name: "arbitrary_transform_lowered".into(),
        initializer: b.initializers,
        input: graph.input.clone(),
        output: graph.output.clone(),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nearest ×2 upsampling, reflection pad 1 and a 3×3 convolution, written out.
    fn reference(x: &[f32], cin: usize, h: usize, w: usize, k: &[f32], cout: usize) -> Vec<f32> {
        let (uh, uw) = (2 * h, 2 * w);
        let reflect = |i: isize, n: usize| -> usize {
            if i < 0 {
                (-i) as usize
            } else if i as usize >= n {
                2 * n - 2 - i as usize
            } else {
                i as usize
            }
        };
        let mut y = vec![0.0; cout * uh * uw];
        for c in 0..cout {
            for i in 0..uh {
                for j in 0..uw {
                    let mut acc = 0.0;
                    for ci in 0..cin {
                        for s in 0..3 {
                            for t in 0..3 {
                                let ui = reflect(i as isize + s as isize - 1, uh);
                                let uj = reflect(j as isize + t as isize - 1, uw);
                                acc += k[((c * cin + ci) * 3 + s) * 3 + t]
                                    * x[(ci * h + ui / 2) * w + uj / 2];
                            }
                        }
                    }
                    y[(c * uh + i) * uw + j] = acc;
                }
            }
        }
        y
    }

    /// The sub-pixel form: edge pad 1, 3×3 convolution to phases, phases interleaved.
    fn sub_pixel(x: &[f32], cin: usize, h: usize, w: usize, k: &[f32], cout: usize) -> Vec<f32> {
        let (pk, _) = upsample_conv_kernel(k, cout, cin);
        let clamp = |i: isize, n: usize| i.clamp(0, n as isize - 1) as usize;
        let mut y = vec![0.0; cout * 4 * h * w];
        for oc in 0..4 * cout {
            let (c, a, b) = (oc / 4, (oc / 2) % 2, oc % 2);
            for i in 0..h {
                for j in 0..w {
                    let mut acc = 0.0;
                    for ci in 0..cin {
                        for u in 0..3 {
                            for v in 0..3 {
                                let xi = clamp(i as isize + u as isize - 1, h);
                                let xj = clamp(j as isize + v as isize - 1, w);
                                acc += pk[((oc * cin + ci) * 3 + u) * 3 + v]
                                    * x[(ci * h + xi) * w + xj];
                            }
                        }
                    }
                    y[(c * 2 * h + 2 * i + a) * 2 * w + 2 * j + b] = acc;
                }
            }
        }
        y
    }

    #[test]
    fn the_sub_pixel_kernel_is_upsampling_padding_and_convolving() {
        let (cin, cout, h, w) = (3, 2, 5, 4);
        let x: Vec<f32> = (0..cin * h * w)
            .map(|i| ((i * 37 % 11) as f32) - 5.0)
            .collect();
        let k: Vec<f32> = (0..cout * cin * 9)
            .map(|i| ((i * 13 % 7) as f32) * 0.25 - 0.7)
            .collect();
        let want = reference(&x, cin, h, w, &k, cout);
        let got = sub_pixel(&x, cin, h, w, &k, cout);
        let worst = want
            .iter()
            .zip(&got)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-4, "max |diff| {worst}");
    }

    #[test]
    fn a_network_that_is_not_the_transformer_is_left_alone() {
        let graph = GraphProto {
            name: "other".into(),
            ..Default::default()
        };
        assert!(build(&graph, true).is_err());
    }
}
