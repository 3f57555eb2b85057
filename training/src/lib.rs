//! stylecam-train: trains ImfwNet styles (Johnson et al. 2016) with tch/libtorch and exports them
//! through the app crate's ONNX writer.
//!
//! Data path: photos ([`data`]) + style image → [`net`] (ImfwNet in tch) → [`vgg`] features →
//! [`loss`] → [`adam`] → [`checkpoint`] / [`report`] → [`export`] (ONNX, verified with ONNX Runtime).
//! [`train`] ties them together; [`eval`] scores finished models with the same loss.
//! Distillation: [`teacher`] (Magenta's networks in ONNX Runtime) → [`distill`] (cached targets,
//! teacher and stability terms) → the same loop, checkpoints and export.

pub mod adam;
pub mod checkpoint;
pub mod data;
pub mod device;
pub mod distill;
pub mod error;
pub mod eval;
pub mod export;
pub mod flicker;
pub mod grow;
pub mod loss;
pub mod net;
pub mod report;
pub mod teacher;
pub mod train;
pub mod vgg;

pub use error::{Error, Result};
