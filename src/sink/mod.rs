//! Sinks: where stylized pictures go.

pub mod screenshot;
pub mod text;
pub mod window;
