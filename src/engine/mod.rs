//! ONNX Runtime: find and load the library ([`runtime`]), pick the execution provider
//! ([`device`]) and run style models on frames: the [`model::StyleModel`] seam, with one module
//! per family ([`stylizer`]: ImfwNet files; [`arbitrary`]: any picture as the style).

pub mod arbitrary;
pub mod calibrate;
pub mod custom_op;
pub mod device;
pub mod model;
pub mod norm;
pub mod out_conv;
pub mod pad;
pub mod profile;
pub mod runtime;
pub mod simd;
pub mod stylizer;
pub mod winograd;

pub use device::{DeviceChoice, Provider};
pub use model::{Family, ModelFactory, ModelLoader, StyleModel};
pub use stylizer::{CpuGraph, EngineOptions, GraphOptimisation, StageTimings, Stylizer};

/// An output buffer's raw pointer, shared by the parallel tasks of stylecam's CPU kernels
/// ([`winograd`], [`norm`], [`out_conv`]), each of which writes a disjoint part of it.
#[derive(Clone, Copy)]
pub(crate) struct OutPtr(pub(crate) *mut f32);
// SAFETY: the kernels hand each task a disjoint region (rows, blocks or channels) of the
// buffer, documented at each use.
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}
