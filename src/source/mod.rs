//! Frame sources: where pictures come from.

pub mod camera;
mod frame;
pub mod image_file;
pub mod images;
pub mod testcard;
pub mod video;

pub use frame::{
    open_source, open_video, Frame, FrameSource, OpenedSource, SourceOptions, SourceSpec,
};
