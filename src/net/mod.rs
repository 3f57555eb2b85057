//! ImfwNet as data ([`arch`]) and the ONNX writer ([`onnx`]).

pub mod arch;
pub mod onnx;

pub use arch::{ImfwArch, Layer};
