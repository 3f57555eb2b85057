//! stylecam: real-time neural style transfer (Johnson et al. 2016).
//!
//! The data path, one module each:
//! [`source`] (frames) → [`pixels`] (preprocess) → [`engine`] (ONNX Runtime) →
//! [`pixels`] (postprocess) → [`sink`] (window, recorder, files).
//! [`net`] describes the network and writes ONNX files; [`styles`] finds models;
//! [`batch`] drives offline stylization of files; [`gallery`] draws contact sheets of styles.

pub mod batch;
pub mod bench;
pub mod engine;
pub mod error;
pub mod fsio;
pub mod gallery;
#[cfg(feature = "window")]
pub mod live;
pub mod net;
pub mod output;
pub mod pixels;
pub mod sink;
pub mod source;
pub mod styles;
pub mod video;

pub use error::{Error, Result};
