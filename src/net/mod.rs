//! ImfwNet as data ([`arch`]) and the ONNX writer ([`onnx`]).

pub mod arbitrary;
pub mod arch;
pub mod graph;
pub mod int8;
pub mod onnx;
pub mod onnx_proto;

pub use arch::{ImfwArch, Layer};
pub use onnx::{ModelMetadata, Tensor, Weights};
