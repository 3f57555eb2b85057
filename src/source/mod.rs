//! Frame sources: where frames come from.

pub mod video;
