//! ONNX Runtime: find and load the library ([`runtime`]), pick the execution provider
//! ([`device`]) and run style models on frames ([`stylizer`]).

pub mod calibrate;
pub mod custom_op;
pub mod device;
pub mod norm;
pub mod out_conv;
pub mod profile;
pub mod runtime;
pub mod stylizer;
pub mod winograd;

pub use device::{DeviceChoice, Provider};
pub use stylizer::{CpuGraph, EngineOptions, GraphOptimisation, StageTimings, Stylizer};
