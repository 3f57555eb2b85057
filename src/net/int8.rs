//! 8-bit residual blocks for the CPU (`--int8`): the calibration they need and the maths of
//! their quantisation.
//!
//! The residual blocks hold about three quarters of ImfwNet's multiply-adds (all of them at a
//! quarter of the resolution, 4·width channels). ONNX Runtime runs them as 8-bit
//! `QLinearConv`/`QLinearAdd` when the graph carries `QuantizeLinear`/`DequantizeLinear` pairs
//! around them (the "QDQ" format), which is what [`super::graph`] writes for a form with
//! [`GraphForm::int8`](super::graph::GraphForm::int8):
//!
//! * weights: int8, symmetric, one scale per output channel (`max |w| / 127`);
//! * biases: int32 at the scale `input scale × weight scale` (what `QLinearConv` accumulates in);
//! * activations: uint8 with one scale per tensor from a [`Int8Calibration`]: the block input and
//!   the inner ReLU output are ≥ 0 (zero point 0, which also performs the ReLU), the second
//!   convolution's output is signed (asymmetric, zero point from its range).
//!
//! Everything outside the blocks — the 9×9 end layers, the strided layers and every instance
//! norm — stays float32: quantising them costs far more quality for less time (BENCHMARKS.md,
//! *int8*). Activation ranges depend on the trained weights, so each model carries its own,
//! measured on photos by `stylecam calibrate` and stored in its metadata under
//! [`METADATA_KEY`].

use serde::{Deserialize, Serialize};

use super::onnx::Tensor;

/// Metadata key holding a model's [`Int8Calibration`] as JSON.
pub const METADATA_KEY: &str = "stylecam.int8_calibration";

/// Observed value ranges of one residual block's three quantised tensors.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BlockRanges {
    /// Largest value of the block's input (a ReLU output, so ≥ 0).
    pub input_max: f32,
    /// Largest value of the ReLU between the two convolutions.
    pub inner_max: f32,
    /// Smallest and largest value of the second convolution's output (before the skip add).
    pub output_min: f32,
    pub output_max: f32,
}

/// What `--int8` needs to quantise a model's residual blocks: one [`BlockRanges`] per block,
/// measured by running the float model on photos.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Int8Calibration {
    /// How many photos the ranges were measured on, and at what size (for the record).
    pub photos: usize,
    pub size: String,
    pub blocks: Vec<BlockRanges>,
}

impl Int8Calibration {
    /// Parses the metadata value written by [`Int8Calibration::to_metadata`].
    pub fn from_metadata(value: &str) -> Result<Int8Calibration, String> {
        let c: Int8Calibration = serde_json::from_str(value)
            .map_err(|e| format!("its {METADATA_KEY} metadata is not valid ({e})"))?;
        for (i, b) in c.blocks.iter().enumerate() {
            let finite = [b.input_max, b.inner_max, b.output_min, b.output_max]
                .iter()
                .all(|v| v.is_finite());
            if !finite || b.input_max < 0.0 || b.inner_max < 0.0 || b.output_min > b.output_max {
                return Err(format!(
                    "its {METADATA_KEY} metadata has an impossible range for block {}: {b:?}",
                    i + 1
                ));
            }
        }
        Ok(c)
    }

    /// The JSON stored under [`METADATA_KEY`].
    pub fn to_metadata(&self) -> String {
        serde_json::to_string(self).expect("plain data serialises")
    }
}

/// Scale and zero point of a uint8 tensor covering `[min, max]` (widened to include 0, as
/// ONNX quantisation requires 0 to be exact).
pub fn activation_params(min: f32, max: f32) -> (f32, u8) {
    let (min, max) = (min.min(0.0), max.max(0.0));
    let range = max - min;
    if range <= f32::MIN_POSITIVE {
        return (1.0, 0);
    }
    let scale = range / 255.0;
    let zero_point = (-min / scale).round().clamp(0.0, 255.0) as u8;
    (scale, zero_point)
}

/// A convolution weight `[cout, …]` quantised to int8, symmetric per output channel.
pub struct QuantisedWeight {
    pub shape: Vec<usize>,
    pub values: Vec<i8>,
    /// One scale per output channel.
    pub scales: Vec<f32>,
}

/// Quantises `w` (`[cout, …]`) per output channel: `scale = max |w| / 127`, values rounded to
/// nearest and clamped to ±127.
pub fn quantise_weight(w: &Tensor) -> QuantisedWeight {
    let cout = w.shape[0];
    let per = w.data.len() / cout;
    let mut values = Vec::with_capacity(w.data.len());
    let mut scales = Vec::with_capacity(cout);
    for chunk in w.data.chunks_exact(per) {
        let max = chunk.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
        scales.push(scale);
        values.extend(
            chunk
                .iter()
                .map(|v| (v / scale).round().clamp(-127.0, 127.0) as i8),
        );
    }
    QuantisedWeight {
        shape: w.shape.clone(),
        values,
        scales,
    }
}

/// Bias quantised to int32 at `input_scale × weight_scale[c]`; returns the values and scales.
pub fn quantise_bias(
    bias: &Tensor,
    input_scale: f32,
    weight_scales: &[f32],
) -> (Vec<i32>, Vec<f32>) {
    let scales: Vec<f32> = weight_scales.iter().map(|s| s * input_scale).collect();
    let values = bias
        .data
        .iter()
        .zip(&scales)
        .map(|(b, s)| (b / s).round().clamp(i32::MIN as f32, i32::MAX as f32) as i32)
        .collect();
    (values, scales)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_params_keep_zero_exact_and_span_the_range() {
        assert_eq!(activation_params(0.0, 2.55), (0.01, 0));
        let (s, zp) = activation_params(-1.0, 3.0);
        assert!((s - 4.0 / 255.0).abs() < 1e-7);
        assert_eq!(zp, 64); // 1 / (4/255) = 63.75 → 64
                            // A range that does not contain 0 is widened to it.
        assert_eq!(activation_params(1.0, 2.55), (0.01, 0));
        assert_eq!(activation_params(0.0, 0.0), (1.0, 0));
    }

    #[test]
    fn weights_round_trip_within_half_a_step_per_channel() {
        let w = Tensor {
            shape: vec![2, 1, 1, 3],
            data: vec![0.5, -1.27, 0.01, 0.0, 0.0, 0.0],
        };
        let q = quantise_weight(&w);
        assert_eq!(q.scales, vec![0.01, 1.0]);
        assert_eq!(q.values, vec![50, -127, 1, 0, 0, 0]);
        let (b, s) = quantise_bias(
            &Tensor {
                shape: vec![2],
                data: vec![0.3, -0.02],
            },
            0.5,
            &q.scales,
        );
        assert_eq!(s, vec![0.005, 0.5]);
        assert_eq!(b, vec![60, 0]);
    }

    #[test]
    fn calibration_round_trips_and_rejects_impossible_ranges() {
        let c = Int8Calibration {
            photos: 3,
            size: "640x480".into(),
            blocks: vec![BlockRanges {
                input_max: 4.0,
                inner_max: 2.0,
                output_min: -3.0,
                output_max: 1.5,
            }],
        };
        assert_eq!(
            Int8Calibration::from_metadata(&c.to_metadata()),
            Ok(c.clone())
        );
        let mut bad = c.clone();
        bad.blocks[0].output_min = 2.0;
        let e = Int8Calibration::from_metadata(&bad.to_metadata()).unwrap_err();
        assert!(e.contains("block 1"), "{e}");
        assert!(Int8Calibration::from_metadata("{").is_err());
    }
}
