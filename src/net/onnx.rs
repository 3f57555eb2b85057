//! ONNX writer and reader for ImfwNet: named weights + [`ImfwArch`] + metadata → `.onnx` bytes,
//! and back.
//!
//! The written model has one float32 input `input` `[N,3,H,W]` and one output `output` of the
//! same shape, with `N`, `H`, `W` symbolic (H and W must be multiples of
//! [`SIZE_MULTIPLE`](super::arch::SIZE_MULTIPLE), see there for how frames of other sizes are
//! padded). It uses the default ONNX domain at opset [`OPSET`] only: `Pad` (reflect), `Conv`,
//! `InstanceNormalization`, `Relu`, `Add`, `ConvTranspose`. Weights are float32 initializers
//! stored as little-endian `raw_data`, named exactly as [`ImfwArch::parameters`] says.
//!
//! Metadata (`metadata_props`): `name`, `architecture` ([`ImfwArch::label`]), `width`, `blocks`,
//! `producer` (`stylecam <version>`), then the caller's free-form pairs.

use std::collections::BTreeMap;
use std::path::Path;

use prost::Message;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::arch::{ImfwArch, Layer};
use super::graph::{build_graph, build_graph_with, GraphForm, Lowering, STYLECAM_DOMAIN};
use super::int8::{self, Int8Calibration};
use super::onnx_proto::{
    attribute_type, tensor_shape_proto, type_proto, AttributeProto, ModelProto, OperatorSetIdProto,
    StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
    DATA_TYPE_FLOAT,
};
use crate::{Error, Result};

/// ONNX opset (default domain) the writer targets.
pub const OPSET: i64 = 17;
/// ONNX IR version the writer declares (IR 8 goes with opset 17).
pub const IR_VERSION: i64 = 8;
/// Name of the graph input.
pub const INPUT_NAME: &str = "input";
/// Name of the graph output.
pub const OUTPUT_NAME: &str = "output";
/// Metadata keys the writer sets itself; `ModelMetadata::extra` may not reuse them.
pub const RESERVED_METADATA_KEYS: [&str; 5] =
    ["name", "architecture", "width", "blocks", "producer"];
/// `TensorProto.DataType` code of float32, as found in [`TensorInfo::elem_type`].
pub const ELEM_FLOAT32: i32 = DATA_TYPE_FLOAT;

/// A dense row-major float32 tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Tensor {
    /// A tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Self {
            shape: shape.to_vec(),
            data: vec![0.0; shape.iter().product()],
        }
    }
}

/// Named parameter tensors, keyed as [`ImfwArch::parameters`] names them.
pub type Weights = BTreeMap<String, Tensor>;

/// What the model file says about itself beyond the architecture.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelMetadata {
    /// The style's display name (metadata key `name`).
    pub name: String,
    /// Free-form pairs, e.g. training information (`style_image`, `steps`, …), written in order.
    pub extra: Vec<(String, String)>,
}

impl ModelMetadata {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            extra: Vec::new(),
        }
    }
}

/// One dimension of a graph input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    /// A fixed size.
    Fixed(i64),
    /// A symbolic (dynamic) size, e.g. `"H"`.
    Param(String),
    /// Neither given (dynamic, unnamed).
    Unknown,
}

/// Name, element type and shape of a graph input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    /// `TensorProto.DataType` code (1 = float32, see [`ELEM_FLOAT32`]); 0 when the value is not
    /// a tensor or has no element type.
    pub elem_type: i32,
    /// `None` when the file gives no shape (rank unknown).
    pub shape: Option<Vec<Dim>>,
}

impl TensorInfo {
    /// ONNX's name of the element type, e.g. `"float32"`.
    pub fn elem_type_name(&self) -> &'static str {
        elem_type_name(self.elem_type)
    }
}

/// The interface and metadata of an ONNX model, as read by [`read_model_info`].
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    pub ir_version: i64,
    /// Version of the default (`ai.onnx`) operator set, if imported.
    pub opset: Option<i64>,
    /// `producer_name` and `producer_version` joined by a space (trimmed).
    pub producer: String,
    /// Graph inputs that are not initializers.
    pub inputs: Vec<TensorInfo>,
    pub outputs: Vec<TensorInfo>,
    /// `metadata_props`; a later duplicate key wins.
    pub metadata: BTreeMap<String, String>,
}

impl ModelInfo {
    /// The `name` metadata entry, if present and non-empty.
    pub fn name(&self) -> Option<&str> {
        self.metadata
            .get("name")
            .map(String::as_str)
            .filter(|n| !n.trim().is_empty())
    }

    /// The architecture named by the `architecture` metadata entry (or `width` + `blocks`).
    pub fn arch(&self) -> Option<ImfwArch> {
        if let Some(arch) = self
            .metadata
            .get("architecture")
            .and_then(|l| ImfwArch::from_label(l))
        {
            return Some(arch);
        }
        let width = self.metadata.get("width")?.parse().ok()?;
        let blocks = self.metadata.get("blocks")?.parse().ok()?;
        Some(ImfwArch::new(width, blocks))
    }
}

/// ONNX's name for a `TensorProto.DataType` code.
pub fn elem_type_name(code: i32) -> &'static str {
    match code {
        1 => "float32",
        2 => "uint8",
        3 => "int8",
        4 => "uint16",
        5 => "int16",
        6 => "int32",
        7 => "int64",
        8 => "string",
        9 => "bool",
        10 => "float16",
        11 => "float64",
        12 => "uint32",
        13 => "uint64",
        14 => "complex64",
        15 => "complex128",
        16 => "bfloat16",
        0 => "undefined",
        _ => "other",
    }
}

fn shape_str(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join(", "))
}

/// Check `weights` against `arch`: every parameter present with the right shape and only finite
/// values, and nothing else. The error names each offending tensor with its expected and actual
/// shape.
pub fn validate_weights(arch: &ImfwArch, weights: &Weights) -> Result<()> {
    let label = arch.label();
    let expected = arch.parameters();
    let mut problems = Vec::new();
    for (name, shape) in &expected {
        let Some(t) = weights.get(name) else {
            problems.push(format!(
                "tensor '{name}' is missing (expected shape {})",
                shape_str(shape)
            ));
            continue;
        };
        if &t.shape != shape {
            problems.push(format!(
                "tensor '{name}' has shape {} but {label} expects {}",
                shape_str(&t.shape),
                shape_str(shape)
            ));
            continue;
        }
        let n: usize = shape.iter().product();
        if t.data.len() != n {
            problems.push(format!(
                "tensor '{name}' has shape {} ({n} values) but holds {} values",
                shape_str(&t.shape),
                t.data.len()
            ));
            continue;
        }
        if let Some(i) = t.data.iter().position(|v| !v.is_finite()) {
            problems.push(format!(
                "tensor '{name}' (shape {}) holds a non-finite value ({}) at index {i}",
                shape_str(&t.shape),
                t.data[i]
            ));
        }
    }
    for (name, t) in weights {
        if !expected.iter().any(|(n, _)| n == name) {
            problems.push(format!(
                "unexpected tensor '{name}' (shape {}) is not a parameter of {label}",
                shape_str(&t.shape)
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "weights do not fit {label}: {}.\nFix: export the weights of a network built with width {} and {} residual blocks, named as ImfwArch::parameters lists them",
            problems.join("; "),
            arch.width,
            arch.blocks
        )))
    }
}

pub(super) fn ints_attr(name: &str, ints: &[usize]) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        r#type: attribute_type::INTS,
        ints: ints.iter().map(|&v| v as i64).collect(),
        ..Default::default()
    }
}

pub(super) fn int_attr(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        r#type: attribute_type::INT,
        i: Some(i),
        ..Default::default()
    }
}

pub(super) fn float_attr(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        r#type: attribute_type::FLOAT,
        f: Some(f),
        ..Default::default()
    }
}

pub(super) fn string_attr(name: &str, s: &str) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        r#type: attribute_type::STRING,
        s: Some(s.as_bytes().to_vec()),
        ..Default::default()
    }
}

pub(super) fn float_initializer(name: &str, t: &Tensor) -> TensorProto {
    let raw = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
    raw_initializer(name, DATA_TYPE_FLOAT, &t.shape, raw)
}

/// An initializer of any element type from its little-endian bytes.
pub(super) fn raw_initializer(
    name: &str,
    data_type: i32,
    dims: &[usize],
    raw_data: Vec<u8>,
) -> TensorProto {
    TensorProto {
        name: name.to_string(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type,
        raw_data,
        ..Default::default()
    }
}

/// `[N, channels, H, W]` float32 (3 channels: an image; 12: a phase-split one, whose height
/// and width get their own symbols because they are not the image's).
pub(super) fn image_value_info(name: &str, channels: usize) -> ValueInfoProto {
    let (h, w) = if channels == 3 {
        ("H".to_string(), "W".to_string())
    } else {
        (format!("H_{name}_phases"), format!("W_{name}_phases"))
    };
    use tensor_shape_proto::dimension::Value as D;
    let dim = |v: D| tensor_shape_proto::Dimension {
        value: Some(v),
        ..Default::default()
    };
    ValueInfoProto {
        name: name.to_string(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: DATA_TYPE_FLOAT,
                shape: Some(TensorShapeProto {
                    dim: vec![
                        dim(D::DimParam("N".into())),
                        dim(D::DimValue(channels as i64)),
                        dim(D::DimParam(h)),
                        dim(D::DimParam(w)),
                    ],
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn metadata_props(arch: &ImfwArch, meta: &ModelMetadata) -> Result<Vec<StringStringEntryProto>> {
    if meta.name.trim().is_empty() {
        return Err(Error::InvalidArgument(
            "the model needs a non-empty name (metadata `name`); give the style a name".into(),
        ));
    }
    let mut pairs: Vec<(String, String)> = vec![
        ("name".into(), meta.name.clone()),
        ("architecture".into(), arch.label()),
        ("width".into(), arch.width.to_string()),
        ("blocks".into(), arch.blocks.to_string()),
        (
            "producer".into(),
            format!("stylecam {}", env!("CARGO_PKG_VERSION")),
        ),
    ];
    for (key, value) in &meta.extra {
        if key.trim().is_empty() {
            return Err(Error::InvalidArgument(format!(
                "metadata entry with value '{value}' has an empty key; give it a name"
            )));
        }
        if pairs.iter().any(|(k, _)| k == key) {
            return Err(Error::InvalidArgument(format!(
                "metadata key '{key}' is given twice (the writer itself sets {}); rename it",
                RESERVED_METADATA_KEYS.join(", ")
            )));
        }
        pairs.push((key.clone(), value.clone()));
    }
    Ok(pairs
        .into_iter()
        .map(|(key, value)| StringStringEntryProto { key, value })
        .collect())
}

/// Serialise an ImfwNet with the given weights as an ONNX model (see the module docs for what
/// the file contains). Fails with [`Error::InvalidArgument`] when the weights do not fit `arch`
/// ([`validate_weights`]), the name is empty or a metadata key repeats.
pub fn write_model(arch: &ImfwArch, weights: &Weights, meta: &ModelMetadata) -> Result<Vec<u8>> {
    write_model_as(arch, weights, meta, GraphForm::REFERENCE)
}

/// [`write_model`] with the graph in another [`GraphForm`] (see [`super::graph`]): the same
/// function, lowered for ONNX Runtime's CPU kernels and/or in float16 for GPUs. CPU-lowered
/// models are meant for the engine of the process that wrote them; the float16 form is a
/// portable export for GPU inference.
pub fn write_model_as(
    arch: &ImfwArch,
    weights: &Weights,
    meta: &ModelMetadata,
    form: GraphForm,
) -> Result<Vec<u8>> {
    if arch.width == 0 || arch.blocks == 0 {
        return Err(Error::InvalidArgument(format!(
            "architecture {} is empty: width and blocks must both be at least 1",
            arch.label()
        )));
    }
    validate_weights(arch, weights)?;
    if form.lowering.winograd_body || form.lowering.output_conv {
        return Err(Error::InvalidArgument(
            "a Winograd residual body or output convolution needs stylecam's own ONNX \
             operators, which other runtimes lack: write the model without them (stylecam \
             applies them when it loads the model)"
                .into(),
        ));
    }
    if form.int8 {
        return Err(Error::InvalidArgument(
            "an int8 model is built from a calibrated float32 model when it is loaded \
             (stylecam calibrate, then --int8); write the float32 model"
                .into(),
        ));
    }
    let metadata_props = metadata_props(arch, meta)?;
    let model = ModelProto {
        ir_version: IR_VERSION,
        producer_name: "stylecam".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: format!(
            "ImfwNet fast style transfer network ({}), Johnson et al. 2016. Input and output: ImageNet-normalised RGB, NCHW float32, H and W multiples of 4.",
            arch.label()
        ),
        graph: Some(build_graph(arch, weights, form)),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        metadata_props,
        ..Default::default()
    };
    Ok(model.encode_to_vec())
}

/// Weights as a freshly constructed PyTorch ImfwNet would have them, deterministic for `seed`.
///
/// Convolution and transposed-convolution weights and biases are uniform in ±1/√fan_in, where
/// fan_in is PyTorch's (`in·k·k` for Conv2d, `out·k·k` for ConvTranspose2d, whose weight is
/// `[in,out,k,k]`), i.e. what `kaiming_uniform_(a=√5)` gives. Instance-norm weights are drawn from
/// U(0.5, 1.5) and biases from U(−0.5, 0.5) instead of PyTorch's 1 and 0, so that tests exercise
/// the affine part.
pub fn random_weights(arch: &ImfwArch, seed: u64) -> Weights {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut weights = Weights::new();
    let uniform = |shape: &[usize], lo: f32, hi: f32, rng: &mut StdRng| Tensor {
        shape: shape.to_vec(),
        data: (0..shape.iter().product::<usize>())
            .map(|_| rng.random_range(lo..hi))
            .collect(),
    };
    for layer in arch.layers() {
        match layer {
            Layer::Conv {
                name,
                cin,
                cout,
                kernel,
                ..
            } => {
                let b = 1.0 / ((cin * kernel * kernel) as f32).sqrt();
                let w = uniform(&[cout, cin, kernel, kernel], -b, b, &mut rng);
                let bias = uniform(&[cout], -b, b, &mut rng);
                weights.insert(format!("{name}.weight"), w);
                weights.insert(format!("{name}.bias"), bias);
            }
            Layer::ConvTranspose {
                name,
                cin,
                cout,
                kernel,
                ..
            } => {
                let b = 1.0 / ((cout * kernel * kernel) as f32).sqrt();
                let w = uniform(&[cin, cout, kernel, kernel], -b, b, &mut rng);
                let bias = uniform(&[cout], -b, b, &mut rng);
                weights.insert(format!("{name}.weight"), w);
                weights.insert(format!("{name}.bias"), bias);
            }
            Layer::InstanceNorm { name, channels } => {
                let w = uniform(&[channels], 0.5, 1.5, &mut rng);
                let bias = uniform(&[channels], -0.5, 0.5, &mut rng);
                weights.insert(format!("{name}.weight"), w);
                weights.insert(format!("{name}.bias"), bias);
            }
            Layer::ReflectPad { .. } | Layer::Relu | Layer::SaveResidual | Layer::AddResidual => {}
        }
    }
    weights
}

fn decode_model(bytes: &[u8]) -> Result<ModelProto> {
    let invalid =
        |problem: String| Error::InvalidArgument(format!("not a usable ONNX model: {problem}"));
    if bytes.is_empty() {
        return Err(invalid("the file is empty".into()));
    }
    let model = ModelProto::decode(bytes)
        .map_err(|e| invalid(format!("protobuf decoding failed ({e})")))?;
    if model.ir_version <= 0 {
        return Err(invalid("it declares no IR version".into()));
    }
    if model.graph.is_none() {
        return Err(invalid("it holds no graph".into()));
    }
    Ok(model)
}

fn tensor_info(v: &ValueInfoProto) -> TensorInfo {
    use tensor_shape_proto::dimension::Value as D;
    let tensor = v
        .r#type
        .as_ref()
        .and_then(|t| t.value.as_ref().map(|type_proto::Value::TensorType(t)| t));
    TensorInfo {
        name: v.name.clone(),
        elem_type: tensor.map_or(0, |t| t.elem_type),
        shape: tensor.and_then(|t| t.shape.as_ref()).map(|s| {
            s.dim
                .iter()
                .map(|d| match &d.value {
                    Some(D::DimValue(v)) => Dim::Fixed(*v),
                    Some(D::DimParam(p)) => Dim::Param(p.clone()),
                    None => Dim::Unknown,
                })
                .collect()
        }),
    }
}

/// Decode an ONNX model's interface (inputs, outputs, opset) and metadata. Works for any ONNX
/// file, not only ours; bytes that are not an ONNX model give [`Error::InvalidArgument`].
pub fn read_model_info(bytes: &[u8]) -> Result<ModelInfo> {
    Ok(model_info(&decode_model(bytes)?))
}

/// The interface and metadata of a decoded model.
fn model_info(model: &ModelProto) -> ModelInfo {
    let graph = model.graph.as_ref().expect("decode_model checks the graph");
    let is_initializer = |name: &str| graph.initializer.iter().any(|t| t.name == name);
    ModelInfo {
        ir_version: model.ir_version,
        opset: model
            .opset_import
            .iter()
            .filter(|o| o.domain.is_empty() || o.domain == "ai.onnx")
            .map(|o| o.version)
            .max(),
        producer: format!("{} {}", model.producer_name, model.producer_version)
            .trim()
            .to_string(),
        inputs: graph
            .input
            .iter()
            .filter(|v| !is_initializer(&v.name))
            .map(tensor_info)
            .collect(),
        outputs: graph.output.iter().map(tensor_info).collect(),
        metadata: model
            .metadata_props
            .iter()
            .map(|e| (e.key.clone(), e.value.clone()))
            .collect(),
    }
}

/// [`read_model_info`] on a file; errors name the file.
pub fn read_model_info_file(path: &Path) -> Result<ModelInfo> {
    let bytes = crate::fsio::read_model(path)?;
    read_model_info(&bytes).map_err(|e| Error::InvalidModel {
        path: path.to_path_buf(),
        problem: match e {
            Error::InvalidArgument(problem) => problem,
            other => other.to_string(),
        },
    })
}

fn float_tensor(t: &TensorProto) -> Result<Tensor> {
    let bad =
        |problem: String| Error::InvalidArgument(format!("initializer '{}': {problem}", t.name));
    if !t.external_data.is_empty() || t.data_location == Some(1) {
        return Err(bad(
            "its data lives in an external file, which stylecam does not read".into(),
        ));
    }
    let shape: Vec<usize> = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| bad(format!("negative dimension {d}"))))
        .collect::<Result<_>>()?;
    let n: usize = shape.iter().product();
    let data: Vec<f32> = if !t.raw_data.is_empty() {
        if t.raw_data.len() != 4 * n {
            return Err(bad(format!(
                "shape {} needs {} bytes of float32 but raw_data holds {}",
                shape_str(&shape),
                4 * n,
                t.raw_data.len()
            )));
        }
        t.raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    } else {
        if t.float_data.len() != n {
            return Err(bad(format!(
                "shape {} needs {n} values but float_data holds {}",
                shape_str(&shape),
                t.float_data.len()
            )));
        }
        t.float_data.clone()
    };
    Ok(Tensor { shape, data })
}

/// Read back the architecture (from metadata) and the float32 initializers of a model written by
/// [`write_model`]; the weights are validated against the architecture.
pub fn load_weights(bytes: &[u8]) -> Result<(ImfwArch, Weights)> {
    arch_and_weights(&decode_model(bytes)?)
}

/// [`load_weights`] of a decoded model.
fn arch_and_weights(model: &ModelProto) -> Result<(ImfwArch, Weights)> {
    let arch = model_info(model).arch().ok_or_else(|| {
        Error::InvalidArgument(
            "the model's metadata names no ImfwNet architecture (`architecture` or `width` + `blocks`); only models written by stylecam can be read back".into(),
        )
    })?;
    let graph = model.graph.as_ref().expect("decode_model checks the graph");
    let mut weights = Weights::new();
    for t in &graph.initializer {
        if t.data_type == DATA_TYPE_FLOAT {
            weights.insert(t.name.clone(), float_tensor(t)?);
        }
    }
    validate_weights(&arch, &weights)?;
    Ok((arch, weights))
}

/// A model rewritten by [`lower_model`] / [`rewrite_model`].
#[derive(Debug, Clone)]
pub struct LoweredModel {
    pub arch: ImfwArch,
    pub form: GraphForm,
    /// The complete ONNX model (metadata kept) with the lowered graph.
    pub bytes: Vec<u8>,
}

/// If `bytes` hold an ImfwNet in exactly the reference form [`write_model`] produces (same
/// nodes, same attributes, weights that fit its architecture), the same model with its graph
/// rewritten by `lowering` (`None`: [`Lowering::cpu_default`] for its architecture). Any other
/// model — a PyTorch export, a hand-edited graph — gives `Err` with the reason it was left alone;
/// callers then run it unchanged.
pub fn lower_model(
    bytes: &[u8],
    lowering: Option<Lowering>,
) -> std::result::Result<LoweredModel, String> {
    rewrite_model(bytes, |arch| {
        GraphForm::lowered(lowering.unwrap_or_else(|| Lowering::cpu_default(arch)))
    })
}

/// Like [`lower_model`], with the target form chosen from the model's architecture.
pub fn rewrite_model(
    bytes: &[u8],
    form_for: impl FnOnce(&ImfwArch) -> GraphForm,
) -> std::result::Result<LoweredModel, String> {
    let (mut model, arch, weights) = reference_model(bytes)?;
    let form = form_for(&arch);
    let calibration = if form.int8 {
        Some(calibration(&model, &arch)?)
    } else {
        None
    };
    let graph = build_graph_with(&arch, &weights, form, calibration.as_ref());
    if graph.node.iter().any(|n| n.domain == STYLECAM_DOMAIN) {
        model.opset_import.push(OperatorSetIdProto {
            domain: STYLECAM_DOMAIN.to_string(),
            version: 1,
        });
    }
    model.graph = Some(graph);
    Ok(LoweredModel {
        arch,
        form,
        bytes: model.encode_to_vec(),
    })
}

/// The decoded model in `bytes`, its architecture and weights, if its graph is exactly the
/// reference graph stylecam writes; otherwise why not.
fn reference_model(bytes: &[u8]) -> std::result::Result<(ModelProto, ImfwArch, Weights), String> {
    let model = decode_model(bytes).map_err(|e| e.to_string())?;
    let (arch, weights) = arch_and_weights(&model).map_err(|e| e.to_string())?;
    let graph = model.graph.as_ref().expect("decode_model checks the graph");
    let reference = build_graph(&arch, &weights, GraphForm::REFERENCE);
    if graph.node != reference.node {
        return Err(format!(
            "its graph differs from the reference {} graph stylecam writes",
            arch.label()
        ));
    }
    Ok((model, arch, weights))
}

/// The model's int8 calibration ([`int8::METADATA_KEY`]), checked against its architecture.
fn calibration(
    model: &ModelProto,
    arch: &ImfwArch,
) -> std::result::Result<Int8Calibration, String> {
    let value = model
        .metadata_props
        .iter()
        .rev()
        .find(|e| e.key == int8::METADATA_KEY)
        .map(|e| e.value.as_str())
        .ok_or_else(|| {
            "it has no int8 calibration: run `stylecam calibrate MODEL --photos DIR` once to \
             measure it on a few photos"
                .to_string()
        })?;
    let c = Int8Calibration::from_metadata(value)?;
    if c.blocks.len() != arch.blocks {
        return Err(format!(
            "its int8 calibration covers {} residual blocks but the network has {}: run \
             `stylecam calibrate` again",
            c.blocks.len(),
            arch.blocks
        ));
    }
    Ok(c)
}

/// Graph outputs the calibration reads for each residual block: its input, the inner ReLU's
/// output and the second convolution's output (see [`Int8Calibration`]).
pub type CalibrationTaps = Vec<[String; 3]>;

/// The model in `bytes` (a stylecam ImfwNet in reference form) with every residual block's
/// calibration tensors added as graph outputs, after the image output.
pub fn calibration_model(bytes: &[u8]) -> std::result::Result<(Vec<u8>, CalibrationTaps), String> {
    let (mut model, arch, _) = reference_model(bytes)?;
    let graph = model.graph.as_mut().expect("decode_model checks the graph");
    let node = |name: &str| {
        graph
            .node
            .iter()
            .find(|n| n.name == name)
            .expect("the reference graph names every convolution")
    };
    let taps: CalibrationTaps = (1..=arch.blocks)
        .map(|k| {
            let (c1, c2) = (
                node(&format!("res{k}.conv1")),
                node(&format!("res{k}.conv2")),
            );
            [
                c1.input[0].clone(),
                c2.input[0].clone(),
                c2.output[0].clone(),
            ]
        })
        .collect();
    for name in taps.iter().flatten() {
        graph.output.push(ValueInfoProto {
            name: name.clone(),
            r#type: Some(TypeProto {
                value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                    elem_type: DATA_TYPE_FLOAT,
                    shape: None,
                })),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    Ok((model.encode_to_vec(), taps))
}

/// `bytes` with metadata entry `key` set to `value` (replacing any entry of that key); the
/// graph and weights are untouched.
pub fn with_metadata(bytes: &[u8], key: &str, value: &str) -> Result<Vec<u8>> {
    let mut model = decode_model(bytes)?;
    model.metadata_props.retain(|e| e.key != key);
    model.metadata_props.push(StringStringEntryProto {
        key: key.to_string(),
        value: value.to_string(),
    });
    Ok(model.encode_to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> ImfwArch {
        ImfwArch::new(4, 1)
    }

    fn message(e: Error) -> String {
        match e {
            Error::InvalidArgument(m) => m,
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
    }

    #[test]
    fn round_trip_keeps_weights_bitwise_and_metadata() {
        let arch = ImfwArch::new(8, 2);
        let weights = random_weights(&arch, 7);
        let meta = ModelMetadata {
            name: "Starry test".into(),
            extra: vec![
                ("style_image".into(), "starry.jpg".into()),
                ("steps".into(), "40000".into()),
            ],
        };
        let bytes = write_model(&arch, &weights, &meta).unwrap();
        let (arch2, weights2) = load_weights(&bytes).unwrap();
        assert_eq!(arch2, arch);
        assert_eq!(weights2.len(), arch.parameters().len());
        for (name, t) in &weights {
            let t2 = &weights2[name];
            assert_eq!(t2.shape, t.shape, "{name}");
            let bits = |t: &Tensor| t.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(t2), bits(t), "{name}");
        }
        let info = read_model_info(&bytes).unwrap();
        assert_eq!(info.name(), Some("Starry test"));
        assert_eq!(info.arch(), Some(arch));
        assert_eq!(info.metadata["architecture"], "imfwnet-w8-b2");
        assert_eq!(info.metadata["width"], "8");
        assert_eq!(info.metadata["blocks"], "2");
        assert_eq!(info.metadata["style_image"], "starry.jpg");
        assert_eq!(info.metadata["steps"], "40000");
        assert_eq!(
            info.metadata["producer"],
            format!("stylecam {}", env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(info.opset, Some(OPSET));
        assert_eq!(info.ir_version, IR_VERSION);
    }

    #[test]
    fn interface_is_one_dynamic_float_image_in_and_out() {
        let arch = tiny();
        let bytes =
            write_model(&arch, &random_weights(&arch, 1), &ModelMetadata::new("t")).unwrap();
        let info = read_model_info(&bytes).unwrap();
        let expected_shape = Some(vec![
            Dim::Param("N".into()),
            Dim::Fixed(3),
            Dim::Param("H".into()),
            Dim::Param("W".into()),
        ]);
        assert_eq!(info.inputs.len(), 1);
        assert_eq!(info.outputs.len(), 1);
        for (io, name) in [
            (&info.inputs[0], INPUT_NAME),
            (&info.outputs[0], OUTPUT_NAME),
        ] {
            assert_eq!(io.name, name);
            assert_eq!(io.elem_type, ELEM_FLOAT32);
            assert_eq!(io.elem_type_name(), "float32");
            assert_eq!(io.shape, expected_shape);
        }
    }

    #[test]
    fn graph_has_the_expected_operators_in_order() {
        let arch = ImfwArch::new(4, 2);
        let bytes =
            write_model(&arch, &random_weights(&arch, 1), &ModelMetadata::new("t")).unwrap();
        let model = ModelProto::decode(bytes.as_slice()).unwrap();
        let graph = model.graph.unwrap();
        let ops: Vec<&str> = graph.node.iter().map(|n| n.op_type.as_str()).collect();
        let mut expected = vec![
            "Pad",
            "Conv",
            "InstanceNormalization",
            "Relu",
            "Conv",
            "InstanceNormalization",
            "Relu",
            "Pad",
            "Conv",
            "InstanceNormalization",
            "Relu",
        ];
        for _ in 0..2 {
            expected.extend(["Conv", "Relu", "Conv", "Add", "Relu"]);
        }
        expected.extend([
            "ConvTranspose",
            "InstanceNormalization",
            "Relu",
            "ConvTranspose",
            "InstanceNormalization",
            "Relu",
            "ConvTranspose",
        ]);
        assert_eq!(ops, expected);
        // The residual Add takes the block's input: the ReLU output before res1.conv1.
        let add = graph.node.iter().find(|n| n.op_type == "Add").unwrap();
        let res1 = graph.node.iter().find(|n| n.name == "res1.conv1").unwrap();
        assert_eq!(add.input[1], res1.input[0]);
        let pad = &graph.node[0];
        assert_eq!(pad.attribute[0].s.as_deref(), Some(&b"reflect"[..]));
        let pads = graph
            .initializer
            .iter()
            .find(|t| t.name == pad.input[1])
            .unwrap();
        assert_eq!(pads.int64_data, vec![0, 0, 4, 4, 0, 0, 4, 4]);
        let deconv1 = graph.node.iter().find(|n| n.name == "deconv1").unwrap();
        let attr = |name: &str| {
            deconv1
                .attribute
                .iter()
                .find(|a| a.name == name)
                .unwrap()
                .ints
                .clone()
        };
        assert_eq!(attr("strides"), vec![2, 2]);
        assert_eq!(attr("pads"), vec![1, 1, 1, 1]);
        assert_eq!(attr("output_padding"), vec![1, 1]);
        assert_eq!(graph.node.last().unwrap().output, vec![OUTPUT_NAME]);
    }

    #[test]
    fn random_weights_are_deterministic_and_pytorch_scaled() {
        let arch = ImfwArch::new(8, 2);
        let a = random_weights(&arch, 3);
        assert_eq!(a, random_weights(&arch, 3));
        assert_ne!(a, random_weights(&arch, 4));
        validate_weights(&arch, &a).unwrap();
        // conv1: fan_in 3·9·9 = 243 → bound 1/√243 ≈ 0.064; deconv1 [32,16,3,3]: fan_in 16·9.
        let max_abs = |n: &str| a[n].data.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(max_abs("conv1.weight") <= 1.0 / 243f32.sqrt());
        assert!(max_abs("conv1.weight") > 0.9 / 243f32.sqrt());
        assert!(max_abs("deconv1.weight") <= 1.0 / 144f32.sqrt());
        assert!(a["in1.weight"].data.iter().all(|v| (0.5..1.5).contains(v)));
        assert!(a["in1.bias"].data.iter().all(|v| (-0.5..0.5).contains(v)));
    }

    #[test]
    fn missing_tensor_is_named_with_its_shape() {
        let arch = tiny();
        let mut w = random_weights(&arch, 1);
        w.remove("in2.bias");
        let m = message(write_model(&arch, &w, &ModelMetadata::new("t")).unwrap_err());
        assert!(m.contains("'in2.bias' is missing"), "{m}");
        assert!(m.contains("[8]"), "{m}");
    }

    #[test]
    fn wrong_shape_names_tensor_expected_and_actual() {
        let arch = tiny();
        let mut w = random_weights(&arch, 1);
        w.insert("conv1.weight".into(), Tensor::zeros(&[4, 3, 3, 3]));
        let m = message(write_model(&arch, &w, &ModelMetadata::new("t")).unwrap_err());
        assert!(m.contains("'conv1.weight'"), "{m}");
        assert!(m.contains("[4, 3, 3, 3]"), "{m}");
        assert!(m.contains("[4, 3, 9, 9]"), "{m}");
    }

    #[test]
    fn extra_and_non_finite_tensors_are_rejected() {
        let arch = tiny();
        let mut w = random_weights(&arch, 1);
        w.insert("fc.weight".into(), Tensor::zeros(&[2, 2]));
        let m = message(write_model(&arch, &w, &ModelMetadata::new("t")).unwrap_err());
        assert!(
            m.contains("unexpected tensor 'fc.weight' (shape [2, 2])"),
            "{m}"
        );

        let mut w = random_weights(&arch, 1);
        w.get_mut("res1.conv2.bias").unwrap().data[5] = f32::NAN;
        let m = message(write_model(&arch, &w, &ModelMetadata::new("t")).unwrap_err());
        assert!(m.contains("'res1.conv2.bias'"), "{m}");
        assert!(m.contains("NaN"), "{m}");
        assert!(m.contains("index 5"), "{m}");

        let mut w = random_weights(&arch, 1);
        w.get_mut("in1.weight").unwrap().data.pop();
        let m = message(write_model(&arch, &w, &ModelMetadata::new("t")).unwrap_err());
        assert!(
            m.contains("'in1.weight' has shape [4] (4 values) but holds 3"),
            "{m}"
        );
    }

    #[test]
    fn metadata_problems_are_rejected() {
        let arch = tiny();
        let w = random_weights(&arch, 1);
        let m = message(write_model(&arch, &w, &ModelMetadata::new("  ")).unwrap_err());
        assert!(m.contains("name"), "{m}");
        let meta = ModelMetadata {
            name: "x".into(),
            extra: vec![("width".into(), "99".into())],
        };
        let m = message(write_model(&arch, &w, &meta).unwrap_err());
        assert!(m.contains("'width'"), "{m}");
    }

    #[test]
    fn garbage_is_not_a_model() {
        for bytes in [&b""[..], b"hello, this is a text file\n", &[0xff; 64]] {
            let m = message(read_model_info(bytes).unwrap_err());
            assert!(m.contains("not a usable ONNX model"), "{m}");
        }
    }

    #[test]
    fn load_weights_rejects_foreign_models() {
        // A model without our metadata: strip it.
        let arch = tiny();
        let bytes =
            write_model(&arch, &random_weights(&arch, 1), &ModelMetadata::new("t")).unwrap();
        let mut model = ModelProto::decode(bytes.as_slice()).unwrap();
        model.metadata_props.clear();
        let m = message(load_weights(&model.encode_to_vec()).unwrap_err());
        assert!(m.contains("architecture"), "{m}");
    }
}
