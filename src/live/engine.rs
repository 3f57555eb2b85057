//! The style list the live view picks from ([`Catalog`]), and a stand-in model for tests and
//! demos without ONNX Runtime ([`PixelTransformEngine`]). Models themselves are
//! [`crate::engine::StyleModel`]s, loaded by a [`crate::engine::ModelLoader`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::RgbImage;

use crate::engine::{Family, ModelLoader, Provider, StyleModel};
use crate::styles::Style;
use crate::{Error, Result};

/// One loadable model file (one variant of a style).
pub use crate::styles::StyleEntry as StyleChoice;

/// The styles the live view cycles through (distinct names, each with its variants from full to
/// lightest), where to start, and the flat list of files the pipeline loads by index.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub styles: Vec<Style>,
    /// The style to start with.
    pub start: usize,
    /// The variant to start with when a file was named (`--style PATH.onnx`); else the preset
    /// decides.
    pub start_variant: Option<usize>,
}

impl Catalog {
    /// Every variant of every style, style by style (the pipeline's style indices).
    pub fn files(&self) -> Vec<StyleChoice> {
        self.styles
            .iter()
            .flat_map(|s| s.variants.iter().cloned())
            .collect()
    }

    /// The position of variant `variant` of style `style` in [`Catalog::files`].
    pub fn file_index(&self, style: usize, variant: usize) -> usize {
        self.styles[..style]
            .iter()
            .map(|s| s.variants.len())
            .sum::<usize>()
            + variant
    }

    /// How many variants each style has.
    pub fn variant_counts(&self) -> Vec<usize> {
        self.styles.iter().map(|s| s.variants.len()).collect()
    }
}

/// The styles of `dir` (in `stylecam styles` order), then `pictures` as styles of the
/// arbitrary family; `wanted` picks the one to start with by name or path, else the first
/// picture, else the first style. A path names exactly that file: when it is one of the
/// folder's, its style starts on that variant; a file from elsewhere is added in front as a
/// style of its own. With pictures, a models folder that cannot be listed is only a warning.
pub fn choose_styles(dir: &Path, wanted: Option<&str>, pictures: &[PathBuf]) -> Result<Catalog> {
    let mut styles = match crate::styles::discover_styles(dir) {
        Err(e) if !pictures.is_empty() => {
            tracing::warn!("{e}");
            Vec::new()
        }
        other => other?,
    };
    let first_picture = styles.len();
    styles.extend(
        pictures
            .iter()
            .map(|p| Style::single(crate::styles::StyleEntry::picture(p))),
    );
    let (mut start, mut start_variant) = (0, None);
    if wanted.is_none() && !pictures.is_empty() {
        start = first_picture;
    }
    if let Some(w) = wanted {
        let found = crate::styles::find_style(w, dir)?;
        let named_one_file = found.variants.len() == 1;
        let position = styles.iter().enumerate().find_map(|(i, s)| {
            if named_one_file {
                let v = s
                    .variants
                    .iter()
                    .position(|v| crate::fsio::same_file(&v.path, &found.variants[0].path))?;
                Some((i, Some(v)))
            } else {
                (s.name == found.name).then_some((i, None))
            }
        });
        match position {
            Some((i, v)) => {
                start = i;
                // A style picked by name with one variant needs no fixed variant either.
                start_variant = v.filter(|_| styles[i].variants.len() > 1);
            }
            None => styles.insert(0, found),
        }
    }
    if styles.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "no styles (*.onnx) in {}. Put style models there, pass --models DIR, --style PATH.onnx, or a picture as the style with --style-image PICTURE",
            dir.display()
        )));
    }
    Ok(Catalog {
        styles,
        start,
        start_variant,
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
    pub fn loader(styles: &[StyleChoice]) -> ModelLoader {
        let styles = styles.to_vec();
        Arc::new(move |entry: &StyleChoice| {
            let i = styles
                .iter()
                .position(|s| s.path == entry.path)
                .unwrap_or(0);
            let name = styles.get(i).map(|s| s.name.clone()).unwrap_or_default();
            Ok(Box::new(PixelTransformEngine::new(&name, i)) as Box<dyn StyleModel>)
        })
    }
}

impl StyleModel for PixelTransformEngine {
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
                    [
                        (y + 40).min(255) as u8,
                        (y + 10).min(255) as u8,
                        (y / 2) as u8,
                    ]
                }
            };
            d.copy_from_slice(&px);
        }
        Ok(())
    }

    fn provider(&self) -> Provider {
        Provider::Cpu
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn family(&self) -> Family {
        Family::Imfw
    }

    fn describe(&self) -> String {
        "test transform".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::onnx::{random_weights, write_model, ModelMetadata};
    use crate::net::ImfwArch;

    fn models() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (file, name, width) in [
            ("a.onnx", "one", 4),
            ("b.onnx", "two", 8),
            ("c.onnx", "two", 4),
        ] {
            let arch = ImfwArch::new(width, 1);
            let bytes =
                write_model(&arch, &random_weights(&arch, 1), &ModelMetadata::new(name)).unwrap();
            std::fs::write(d.path().join(file), bytes).unwrap();
        }
        d
    }

    #[test]
    fn the_catalog_flattens_variants_style_by_style() {
        let d = models();
        let c = choose_styles(d.path(), None, &[]).unwrap();
        assert_eq!(c.variant_counts(), [1, 2]);
        let files: Vec<_> = c.files().iter().map(|f| f.path.clone()).collect();
        let want = ["a.onnx", "b.onnx", "c.onnx"].map(|f| d.path().join(f));
        assert_eq!(files, want);
        assert_eq!(c.file_index(1, 1), 2);
        assert_eq!((c.start, c.start_variant), (0, None));

        // By name: the style, the preset decides the variant.
        let c = choose_styles(d.path(), Some("TWO"), &[]).unwrap();
        assert_eq!((c.start, c.start_variant), (1, None));
        // By path: exactly that file.
        let light = d.path().join("c.onnx");
        let c = choose_styles(d.path(), Some(light.to_str().unwrap()), &[]).unwrap();
        assert_eq!((c.start, c.start_variant), (1, Some(1)));
        assert_eq!(c.styles.len(), 2, "a file of the folder adds no style");
        // A file from elsewhere comes first, as a style of its own.
        let other = tempfile::tempdir().unwrap();
        let outside = other.path().join("x.onnx");
        std::fs::copy(&light, &outside).unwrap();
        let c = choose_styles(d.path(), Some(outside.to_str().unwrap()), &[]).unwrap();
        assert_eq!((c.start, c.styles.len()), (0, 3));
        assert_eq!(c.files()[0].path, outside);

        // Pictures join after the trained styles, and the view starts on the first.
        let pictures = [PathBuf::from("p.jpg"), PathBuf::from("q.png")];
        let c = choose_styles(d.path(), None, &pictures).unwrap();
        assert_eq!((c.styles.len(), c.start), (4, 2));
        assert_eq!(c.styles[3].name, "q");
        assert_eq!(c.styles[2].variants[0].family, Family::Arbitrary);
        // Pictures alone, without a models folder.
        let c = choose_styles(&d.path().join("none"), None, &pictures).unwrap();
        assert_eq!((c.styles.len(), c.start), (2, 0));
    }

    #[test]
    fn test_engines_change_the_picture_differently() {
        let img = RgbImage::from_fn(8, 8, |x, y| image::Rgb([x as u8 * 30, y as u8 * 30, 100]));
        let mut outs = Vec::new();
        for k in 0..3 {
            let mut out = RgbImage::new(1, 1);
            PixelTransformEngine::new("t", k)
                .stylize_into(&img, &mut out)
                .unwrap();
            assert_ne!(out, img);
            outs.push(out);
        }
        assert_ne!(outs[0], outs[1]);
        assert_ne!(outs[1], outs[2]);
    }
}
