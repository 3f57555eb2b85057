//! Still images from disk: decode any format the `image` crate reads into an [`RgbImage`],
//! with limits so that a file declaring absurd dimensions is refused before it is allocated.

use std::io::BufReader;
use std::path::Path;

use image::{ImageReader, Limits, RgbImage};

use crate::{Error, Result};

/// Largest width or height accepted for an input image.
pub const MAX_SIDE: u32 = 16_384;
/// Largest decoder allocation accepted for an input image (bytes).
pub const MAX_ALLOC: u64 = 1 << 30;

/// File extensions (lower case) of the still-image formats stylecam reads and writes.
pub const IMAGE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff", "tga", "ppm", "pgm", "pnm", "qoi",
    "hdr", "ico", "ff", "farbfeld",
];

/// True when `path` has the extension of a still-image format.
pub fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        .unwrap_or(false)
}

/// Read an image file and convert it to 8-bit RGB (alpha is dropped, greyscale expanded).
///
/// The format is detected from the file's content, not its name, so a JPEG called `.png`
/// still loads and a text file called `.png` gets a clear error.
pub fn read_rgb(path: &Path) -> Result<RgbImage> {
    let err = |reason: String| Error::Input {
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => err("no such file".into()),
        _ => err(e.to_string()),
    })?;
    if meta.is_dir() {
        return Err(err("is a folder, expected an image file".into()));
    }
    if meta.len() == 0 {
        return Err(err("the file is empty (0 bytes)".into()));
    }
    let file = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
    let mut reader = ImageReader::new(BufReader::new(file))
        .with_guessed_format()
        .map_err(|e| err(e.to_string()))?;
    if reader.format().is_none() {
        return Err(err(format!(
            "not a recognised image format (supported: {})",
            IMAGE_EXTENSIONS.join(", ")
        )));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let image = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => err(format!(
            "image is too large to decode (limit {MAX_SIDE}×{MAX_SIDE} pixels, {} MiB); \
             downscale it first",
            MAX_ALLOC >> 20
        )),
        other => err(format!("could not decode the image: {other} (is the file complete?)")),
    })?;
    Ok(image.to_rgb8())
}
