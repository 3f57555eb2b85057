//! Sinks: where stylized pictures go.

pub mod image_file;
