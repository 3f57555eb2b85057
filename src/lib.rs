//! stylecam: real-time neural style transfer (Johnson et al. 2016).
//!
//! The data path, one module each:
//! [`source`] (frames) → [`pixels`] (preprocess) → [`engine`] (ONNX Runtime) →
//! [`pixels`] (postprocess) → [`sink`] (window, recorder, files).
//! [`net`] describes the network and writes ONNX files; [`styles`] finds models;
//! [`batch`] drives offline stylization of files.

pub mod batch;
pub mod engine;
pub mod error;
pub mod net;
pub mod pixels;
pub mod sink;
pub mod source;
pub mod styles;

pub use error::{Error, Result};
