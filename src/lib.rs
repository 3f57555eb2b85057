//! stylecam: real-time neural style transfer (Johnson et al. 2016).
//!
//! The data path, one module each:
//! `source` (frames) → `pixels` (preprocess) → `engine` (ONNX Runtime) → `pixels` (postprocess) → `sink`.

pub mod error;
pub mod net;
pub mod sink;
pub mod source;
pub mod video;

pub use error::{Error, Result};
