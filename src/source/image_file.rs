//! Still images from disk: decode any format the `image` crate reads into an [`RgbImage`],
//! with limits so that a file declaring absurd dimensions is refused before it is allocated.

use std::io::Cursor;
use std::path::Path;

use image::{ImageFormat, ImageReader, Limits, RgbImage};

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
    let bytes = crate::fsio::read_file(path, crate::fsio::Kind::Image)?;
    let mut reader = ImageReader::new(Cursor::new(bytes.as_slice()))
        .with_guessed_format()
        .map_err(|e| err(e.to_string()))?;
    match reader.format() {
        None => {
            return Err(err(format!(
                "not a recognised image format (supported: {})",
                IMAGE_EXTENSIONS.join(", ")
            )))
        }
        // JPEG decoders fill a cut-off scan with grey instead of failing: check the end marker.
        Some(ImageFormat::Jpeg) if !jpeg_is_complete(&bytes) => {
            return Err(err(
                "the JPEG is truncated (no end-of-image marker after the last scan); \
                 the file is incomplete, copy or download it again"
                    .into(),
            ))
        }
        _ => {}
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let image = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => err(limit_reason(header_dimensions(&bytes))),
        other => err(format!(
            "could not decode the image: {other} (is the file complete?)"
        )),
    })?;
    Ok(image.to_rgb8())
}

/// The dimensions an image's header declares (nothing is decoded).
fn header_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()?;
    reader.no_limits();
    reader.into_dimensions().ok()
}

/// Which of the decoder's limits an image of `dims` (read from its header) broke, in words.
fn limit_reason(dims: Option<(u32, u32)>) -> String {
    match dims {
        Some((w, h)) if w > MAX_SIDE || h > MAX_SIDE => format!(
            "the image is {w}×{h} pixels; each side may be at most {MAX_SIDE}. \
             Crop or scale it so both sides are ≤ {MAX_SIDE} first"
        ),
        Some((w, h)) => format!(
            "the image is {w}×{h} pixels ({:.1} megapixels) and would need more than \
             {} MiB to decode; scale it down first",
            w as f64 * h as f64 / 1e6,
            MAX_ALLOC >> 20
        ),
        None => format!(
            "the image needs more than the decoder's limits ({MAX_SIDE} pixels a side, {} MiB); \
             scale it down first",
            MAX_ALLOC >> 20
        ),
    }
}

/// True when the last scan (SOS, `FF DA`) of a JPEG is followed by an end-of-image marker
/// (`FF D9`). Inside entropy-coded data `FF` is always followed by `00` or a restart marker,
/// so an `FF D9` after the last SOS can only be the real end. Embedded thumbnails (EXIF) have
/// their own SOS/EOI earlier in the file and do not fool this.
pub fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let last_sos = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    match last_sos {
        Some(i) => bytes[i..].windows(2).any(|w| w == [0xFF, 0xD9]),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_completeness_needs_an_end_marker_after_the_last_scan() {
        let img = RgbImage::from_fn(32, 32, |x, y| {
            image::Rgb([(x * 8) as u8, (y * 8) as u8, 99])
        });
        let mut buf = Cursor::new(Vec::new());
        img.write_to(&mut buf, ImageFormat::Jpeg).unwrap();
        let full = buf.into_inner();
        assert!(jpeg_is_complete(&full));
        assert!(!jpeg_is_complete(&full[..full.len() - 40]));
        assert!(!jpeg_is_complete(b"not a jpeg"));
    }
}
