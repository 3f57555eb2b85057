//! The hook through which the live view records what it displays (the H.264 recorder plugs in
//! here; the live view only starts, feeds and finishes it).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use image::RgbImage;

use crate::Result;

/// A running recording. `push` must not block the display for long (encode on another thread).
pub trait FrameRecorder: Send {
    /// Adds a displayed frame, stamped with the time its picture was captured.
    fn push(&mut self, frame: &RgbImage, t: Instant) -> Result<()>;
    /// Finalises the file and returns its path.
    fn finish(self: Box<Self>) -> Result<PathBuf>;
}

/// Starts a recording into the given file.
pub type RecorderFactory = Arc<dyn Fn(&Path) -> Result<Box<dyn FrameRecorder>> + Send + Sync>;
