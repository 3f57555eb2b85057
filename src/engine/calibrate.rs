//! `stylecam calibrate`: measure the activation ranges `--int8` quantises with
//! ([`crate::net::int8`]) by running the float model on photos.

use std::path::Path;

use image::RgbImage;
use ort::value::TensorRef;

use super::device::{self, DeviceChoice, ModelBytes};
use super::EngineOptions;
use crate::net::int8::{BlockRanges, Int8Calibration, METADATA_KEY};
use crate::net::onnx::{calibration_model, with_metadata, INPUT_NAME};
use crate::pixels::{self, PadGeometry};
use crate::{Error, Result};

/// Runs the stylecam model in `bytes` (read from `model`) on `photos` on the CPU and returns the
/// largest and smallest values each residual block's quantised tensors take (min/max
/// calibration). `size` is recorded with the result.
pub fn calibrate(
    model: &Path,
    bytes: &[u8],
    photos: &[RgbImage],
    size: &str,
    opts: &EngineOptions,
) -> Result<Int8Calibration> {
    if photos.is_empty() {
        return Err(Error::InvalidArgument(
            "calibration needs at least one photo".into(),
        ));
    }
    let (with_taps, taps) = calibration_model(bytes).map_err(|why| Error::InvalidModel {
        path: model.to_path_buf(),
        problem: format!("cannot be calibrated for int8: {why}"),
    })?;
    let model_bytes = ModelBytes {
        stored: &with_taps,
        cpu: None,
        cuda: None,
    };
    let (mut session, _, _) = device::open_session(model, model_bytes, DeviceChoice::Cpu, opts)?;
    let mut ranges = vec![[(f32::INFINITY, f32::NEG_INFINITY); 3]; taps.len()];
    for photo in photos {
        let (w, h) = (photo.width() as usize, photo.height() as usize);
        let geometry = PadGeometry::for_frame(w, h);
        let mut data = vec![0f32; geometry.tensor_len()];
        pixels::preprocess(photo, &geometry, &mut data)?;
        let shape = [1usize, 3, geometry.padded_height, geometry.padded_width];
        let input = TensorRef::from_array_view((shape, &data[..]))?;
        let outputs = session.run(ort::inputs![INPUT_NAME => input])?;
        for (block, names) in taps.iter().enumerate() {
            for (k, name) in names.iter().enumerate() {
                let (_, values) = outputs[name.as_str()].try_extract_tensor::<f32>()?;
                let (lo, hi) = &mut ranges[block][k];
                for &v in values {
                    if v.is_finite() {
                        *lo = lo.min(v);
                        *hi = hi.max(v);
                    }
                }
            }
        }
    }
    let blocks = ranges
        .iter()
        .map(|[input, inner, output]| BlockRanges {
            input_max: input.1.max(0.0),
            inner_max: inner.1.max(0.0),
            output_min: output.0.min(0.0),
            output_max: output.1.max(0.0),
        })
        .collect();
    Ok(Int8Calibration {
        photos: photos.len(),
        size: size.to_string(),
        blocks,
    })
}

/// [`calibrate`] the model file `model` and store the result in its metadata, replacing the file
/// atomically (a temporary file in the same folder renamed over it): it holds the old model or
/// the calibrated one, never a partial file. The weights are untouched.
pub fn calibrate_file(
    model: &Path,
    photos: &[RgbImage],
    size: &str,
    opts: &EngineOptions,
) -> Result<Int8Calibration> {
    let bytes = crate::fsio::read_model(model)?;
    let calibration = calibrate(model, &bytes, photos, size, opts)?;
    let updated = with_metadata(&bytes, METADATA_KEY, &calibration.to_metadata())?;
    let dir = match model.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = crate::fsio::output_tempfile(dir).map_err(|e| Error::io(model, e))?;
    // The rewritten model keeps the original's permissions.
    if let Ok(meta) = std::fs::metadata(model) {
        let _ = tmp.as_file().set_permissions(meta.permissions());
    }
    std::io::Write::write_all(&mut tmp, &updated).map_err(|e| Error::io(model, e))?;
    tmp.persist(model).map_err(|e| Error::io(model, e.error))?;
    Ok(calibration)
}
