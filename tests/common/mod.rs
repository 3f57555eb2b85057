//! Helpers shared by the integration tests (`mod common;`).
//!
//! - [`arbitrary`]: tiny stand-ins for Magenta's arbitrary-style networks (the trainer's tests use it too);
//! - [`cli`]: the binary's output as text, and what a clean failure is;
//! - [`fixtures`]: tiny hand-built ONNX models with wrong interfaces (as on main);
//! - [`reference`]: an independent f64 reference of the whole stylize pipeline;
//! - [`torch`]: the PyTorch / onnxruntime reference script and its file exchange.

// Each test binary uses a different part of these helpers.
#![allow(dead_code)]

pub mod arbitrary;
pub mod cli;
pub mod fixtures;
pub mod reference;
pub mod torch;
