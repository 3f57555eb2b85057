//! Frame sources: where pictures come from.

#[cfg(feature = "camera")]
pub mod camera;
mod frame;
pub mod image_file;
pub mod images;
pub mod testcard;
#[cfg(feature = "video")]
pub mod video;

pub use frame::{
    open_source, open_video, Frame, FrameSource, OpenedSource, SourceOptions, SourceSpec,
};
