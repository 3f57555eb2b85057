//! stylecam: real-time neural style transfer (Johnson et al. 2016).
//!
//! The data path, one module each:
//! `source` (frames) → `pixels` (preprocess) → `engine` (ONNX Runtime) → `pixels` (postprocess) → `sink`.

pub mod error;
pub mod live;
pub mod net;
pub mod pixels;
pub mod sink;
pub mod source;

pub use error::{Error, Result};
