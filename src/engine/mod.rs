//! ONNX Runtime: find and load the library ([`runtime`]), pick the execution provider
//! ([`device`]) and run style models on frames ([`stylizer`]).

pub mod calibrate;
pub mod device;
pub mod runtime;
pub mod stylizer;

pub use device::{DeviceChoice, Provider};
pub use stylizer::{CpuGraph, EngineOptions, GraphOptimisation, StageTimings, Stylizer};
