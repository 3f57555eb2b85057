//! Helpers shared by the integration tests (`mod common;`).
//!
//! - [`fixtures`]: tiny hand-built ONNX models with wrong interfaces (as on main);
//! - [`reference`]: an independent f64 reference of the whole stylize pipeline;
//! - [`torch`]: the PyTorch / onnxruntime reference script and its file exchange.

// Each test binary uses a different part of these helpers.
#![allow(dead_code)]

pub mod fixtures;
pub mod reference;
pub mod torch;
