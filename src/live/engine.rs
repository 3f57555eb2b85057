//! What the live pipeline needs from a style model, so the pipeline can be driven by the ONNX
//! `Stylizer` or, in tests, by a simple pixel transform — and the style list it picks from.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::RgbImage;

use crate::{Error, Result};

/// A loaded style: turns a frame into a stylised frame of the same size.
pub trait StyleEngine: Send {
    /// Stylises `input` into `output` (resized to the input's size if needed).
    fn stylize_into(&mut self, input: &RgbImage, output: &mut RgbImage) -> Result<()>;
    /// The execution provider that runs it, for the overlay ("CPU", "CUDA", "TensorRT").
    fn provider(&self) -> String;
    /// The style's display name.
    fn name(&self) -> &str;
}

/// Loads the style model at a path. Called on a background thread, so the display never waits.
pub type EngineLoader = Arc<dyn Fn(&Path) -> Result<Box<dyn StyleEngine>> + Send + Sync>;

/// One selectable style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StyleChoice {
    pub name: String,
    pub path: PathBuf,
}

/// Every `*.onnx` in `dir`, sorted by file name, named by file stem.
pub fn list_styles(dir: &Path) -> Result<Vec<StyleChoice>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::Input {
        path: dir.to_path_buf(),
        reason: format!("cannot read the models folder: {e}. Pass --models DIR or set STYLECAM_MODELS"),
    })?;
    let mut styles: Vec<StyleChoice> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("onnx")))
        .map(|path| StyleChoice {
            name: path.file_stem().unwrap_or_default().to_string_lossy().into_owned(),
            path,
        })
        .collect();
    styles.sort_by(|a, b| a.path.file_name().cmp(&b.path.file_name()));
    Ok(styles)
}

/// The index of `--style` in `styles`: a name (case-insensitive) or a path to one of the files.
pub fn find_style(styles: &[StyleChoice], wanted: &str) -> Result<usize> {
    let by_name = styles.iter().position(|s| s.name.eq_ignore_ascii_case(wanted));
    let by_path = || {
        let p = Path::new(wanted);
        styles.iter().position(|s| {
            s.path == p || (p.exists() && s.path.canonicalize().ok() == p.canonicalize().ok())
        })
    };
    by_name.or_else(by_path).ok_or_else(|| Error::UnknownStyle {
        name: wanted.to_string(),
        known: styles.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", "),
    })
}

/// A stand-in engine for tests and demos without ONNX Runtime: a fixed, clearly visible pixel
/// transform per style (so "stylised differs from original" and "a style key changes the
/// picture" are observable), chosen by the style's position.
pub struct PixelTransformEngine {
    name: String,
    kind: usize,
}

impl PixelTransformEngine {
    /// Engine number `kind` (0: invert, 1: channel rotation + posterise, 2: sepia-like, …cycling).
    pub fn new(name: &str, kind: usize) -> Self {
        PixelTransformEngine {
            name: name.to_string(),
            kind: kind % 3,
        }
    }

    /// A loader that gives the n-th style in `styles` transform n.
    pub fn loader(styles: &[StyleChoice]) -> EngineLoader {
        let styles = styles.to_vec();
        Arc::new(move |path: &Path| {
            let i = styles.iter().position(|s| s.path == path).unwrap_or(0);
            let name = styles.get(i).map(|s| s.name.clone()).unwrap_or_default();
            Ok(Box::new(PixelTransformEngine::new(&name, i)) as Box<dyn StyleEngine>)
        })
    }
}

impl StyleEngine for PixelTransformEngine {
    fn stylize_into(&mut self, input: &RgbImage, output: &mut RgbImage) -> Result<()> {
        if output.dimensions() != input.dimensions() {
            *output = RgbImage::new(input.width(), input.height());
        }
        let out: &mut [u8] = output;
        for (d, s) in out.chunks_exact_mut(3).zip(input.as_raw().chunks_exact(3)) {
            let [r, g, b] = [s[0], s[1], s[2]];
            let px = match self.kind {
                0 => [255 - r, 255 - g, 255 - b],
                1 => [b & 0xc0, r & 0xc0, g & 0xc0],
                _ => {
                    let y = (r as u32 * 77 + g as u32 * 150 + b as u32 * 29) >> 8;
                    [(y + 40).min(255) as u8, (y + 10).min(255) as u8, (y / 2) as u8]
                }
            };
            d.copy_from_slice(&px);
        }
        Ok(())
    }

    fn provider(&self) -> String {
        "CPU (test transform)".into()
    }

    fn name(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_onnx_files_in_name_order_and_finds_by_name() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["b_style.onnx", "a_style.ONNX", "notes.txt"] {
            std::fs::write(dir.path().join(f), b"x").unwrap();
        }
        let styles = list_styles(dir.path()).unwrap();
        let names: Vec<&str> = styles.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a_style", "b_style"]);
        assert_eq!(find_style(&styles, "B_STYLE").unwrap(), 1);
        let err = find_style(&styles, "nope").unwrap_err().to_string();
        assert!(err.contains("a_style, b_style"), "{err}");
    }

    #[test]
    fn test_engines_change_the_picture_differently() {
        let img = RgbImage::from_fn(8, 8, |x, y| image::Rgb([x as u8 * 30, y as u8 * 30, 100]));
        let mut outs = Vec::new();
        for k in 0..3 {
            let mut out = RgbImage::new(1, 1);
            PixelTransformEngine::new("t", k).stylize_into(&img, &mut out).unwrap();
            assert_ne!(out, img);
            outs.push(out);
        }
        assert_ne!(outs[0], outs[1]);
        assert_ne!(outs[1], outs[2]);
    }
}
