//! Frame sources: where pictures come from.

pub mod image_file;
