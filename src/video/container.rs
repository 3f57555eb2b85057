//! Picks the container by file extension (like rav1e's muxer selection) and rejects what
//! stylecam cannot read or write, saying what is supported.

use std::path::Path;

use crate::video::mp4_read::SUPPORTED;
use crate::{Error, Result};

/// Extensions read and written as MP4.
const MP4_EXTENSIONS: &[&str] = &["mp4", "m4v", "mov"];

fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Fails for containers known not to be MP4 (by extension). Files with an MP4 extension, or an
/// unknown one, are checked by content when they are opened.
pub fn check_input_container(path: &Path) -> Result<()> {
    let ext = extension(path);
    let known_other = match ext.as_str() {
        "mkv" | "webm" => Some("Matroska/WebM"),
        "avi" => Some("AVI"),
        "flv" => Some("FLV"),
        "ts" | "m2ts" | "mts" => Some("MPEG transport stream"),
        "ogv" | "ogg" => Some("Ogg"),
        "wmv" | "asf" => Some("ASF/WMV"),
        "gif" => Some("GIF"),
        _ => None,
    };
    match known_other {
        Some(name) => Err(Error::Input {
            path: path.to_path_buf(),
            reason: format!(
                "the {name} container (.{ext}) is not supported. {SUPPORTED}. Convert it first, e.g. \
                 `ffmpeg -i {} -c:v libx264 -c:a aac OUT.mp4` (or `-c copy` when the video is already H.264)",
                path.display()
            ),
        }),
        None => Ok(()),
    }
}

/// The output must be an MP4 file: stylecam writes H.264 in fragmented MP4.
pub fn check_output_container(path: &Path) -> Result<()> {
    let ext = extension(path);
    if MP4_EXTENSIONS.contains(&ext.as_str()) {
        Ok(())
    } else {
        Err(Error::Output {
            path: path.to_path_buf(),
            reason: format!(
                "cannot write '.{ext}' video: stylecam writes MP4 files with H.264 video; \
                 name the output *.mp4"
            ),
        })
    }
}
