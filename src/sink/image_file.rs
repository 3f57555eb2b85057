//! Still images to disk, written atomically: a temporary file in the destination folder is
//! renamed into place, so a failure never leaves a half-written or empty output behind.

use std::io::{BufWriter, Write};
use std::path::Path;

use image::{ImageFormat, RgbImage};

use crate::{Error, Result};

/// JPEG quality used for `.jpg` outputs.
pub const JPEG_QUALITY: u8 = 92;

/// The output format chosen by the file's extension.
pub fn format_for(path: &Path) -> Result<ImageFormat> {
    let fmt = ImageFormat::from_path(path).ok().filter(|f| f.can_write());
    fmt.ok_or_else(|| Error::Output {
        path: path.to_path_buf(),
        reason:
            "unsupported output extension; use .png, .jpg, .webp, .bmp, .tif, .tga, .ppm or .qoi"
                .into(),
    })
}

/// Encode `image` in the format named by `path`'s extension and write it atomically.
pub fn write_rgb(image: &RgbImage, path: &Path) -> Result<()> {
    let format = format_for(path)?;
    let err = |reason: String| Error::Output {
        path: path.to_path_buf(),
        reason,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(err(format!(
            "the folder {} does not exist; create it or choose another output",
            dir.display()
        )));
    }
    let tmp = crate::fsio::output_tempfile(dir)
        .map_err(|e| err(format!("cannot create a file in {}: {e}", dir.display())))?;
    {
        let mut w = BufWriter::new(tmp.as_file());
        match format {
            ImageFormat::Jpeg => {
                let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut w, JPEG_QUALITY);
                image.write_with_encoder(enc)
            }
            other => {
                // Formats needing Seek (e.g. TIFF) get an in-memory buffer first.
                let mut buf = std::io::Cursor::new(Vec::new());
                image.write_to(&mut buf, other).and_then(|_| {
                    w.write_all(buf.get_ref())
                        .map_err(image::ImageError::IoError)
                })
            }
        }
        .map_err(|e| err(format!("encoding failed: {e}")))?;
        w.flush().map_err(|e| err(e.to_string()))?;
    }
    tmp.as_file().sync_all().map_err(|e| err(e.to_string()))?;
    tmp.persist(path).map_err(|e| err(e.error.to_string()))?;
    Ok(())
}
