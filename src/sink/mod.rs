//! Sinks: where stylized pictures go.

pub mod image_file;
pub mod recorder;
pub mod screenshot;
pub mod text;
pub mod window;
