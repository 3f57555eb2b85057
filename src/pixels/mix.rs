//! Mixing the stylised frame with the original: style strength and colour preservation.

use image::RgbImage;

use crate::{Error, Result};

/// Mixes `original` and `stylized` into `out`: `out = original·(1 − strength) + stylized·strength`.
///
/// `strength` is clamped to `[0, 1]`; 0 gives the original and 1 the stylised frame exactly.
/// Weights are quantised to 1/256 steps and the result rounded. `out` is resized to the frames'
/// size if needed. Frames of different sizes → [`Error::InvalidArgument`].
pub fn blend(original: &RgbImage, stylized: &RgbImage, strength: f32, out: &mut RgbImage) -> Result<()> {
    check_same_size(original, stylized, "blend")?;
    fit(out, original);
    let s = if strength.is_nan() { 0.0 } else { strength.clamp(0.0, 1.0) };
    let w = (s * 256.0).round() as u32; // 0..=256
    let (wo, ws) = (256 - w, w);
    let out_raw: &mut [u8] = out;
    for ((d, &o), &t) in out_raw.iter_mut().zip(original.as_raw()).zip(stylized.as_raw()) {
        *d = ((o as u32 * wo + t as u32 * ws + 128) >> 8) as u8;
    }
    Ok(())
}

/// Luminance-only style transfer: keeps the original's chroma (Cb, Cr in BT.601 full-range YCbCr)
/// and takes the luma Y from the stylised frame.
///
/// YCbCr → RGB is `R = Y + 1.402·(Cr−128)`, `G = Y − 0.344·(Cb−128) − 0.714·(Cr−128)`,
/// `B = Y + 1.772·(Cb−128)`, so with the original's Cb/Cr each output channel is simply
/// `original + (Y_stylized − Y_original)`, clipped to `[0, 255]`. Luma weights are BT.601
/// (0.299, 0.587, 0.114) in 16-bit fixed point. `out` is resized if needed; frames of different
/// sizes → [`Error::InvalidArgument`].
pub fn preserve_colour(original: &RgbImage, stylized: &RgbImage, out: &mut RgbImage) -> Result<()> {
    check_same_size(original, stylized, "preserve_colour")?;
    fit(out, original);
    let out_raw: &mut [u8] = out;
    for ((d, o), t) in out_raw
        .chunks_exact_mut(3)
        .zip(original.as_raw().chunks_exact(3))
        .zip(stylized.as_raw().chunks_exact(3))
    {
        // Both lumas in 1/65536 units; the difference rounded to the nearest integer level.
        let dy = luma_fixed(t) - luma_fixed(o);
        let dy = (dy + 32768) >> 16; // arithmetic shift: floor((dy + 0.5·65536) / 65536)
        d[0] = (o[0] as i32 + dy).clamp(0, 255) as u8;
        d[1] = (o[1] as i32 + dy).clamp(0, 255) as u8;
        d[2] = (o[2] as i32 + dy).clamp(0, 255) as u8;
    }
    Ok(())
}

/// BT.601 luma of an RGB pixel in 1/65536 units (weights 19595 + 38470 + 7471 = 65536).
#[inline(always)]
fn luma_fixed(p: &[u8]) -> i32 {
    19595 * p[0] as i32 + 38470 * p[1] as i32 + 7471 * p[2] as i32
}

fn check_same_size(a: &RgbImage, b: &RgbImage, what: &str) -> Result<()> {
    if a.dimensions() != b.dimensions() {
        return Err(Error::InvalidArgument(format!(
            "{what}: the original is {}×{} but the stylised frame is {}×{}",
            a.width(),
            a.height(),
            b.width(),
            b.height()
        )));
    }
    Ok(())
}

fn fit(out: &mut RgbImage, like: &RgbImage) {
    if out.dimensions() != like.dimensions() {
        *out = RgbImage::new(like.width(), like.height());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    fn luma(p: [u8; 3]) -> f32 {
        0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32
    }

    fn chroma(p: [u8; 3]) -> (f32, f32) {
        let [r, g, b] = p.map(|v| v as f32);
        (-0.168736 * r - 0.331264 * g + 0.5 * b, 0.5 * r - 0.418688 * g - 0.081312 * b)
    }

    fn pair() -> (RgbImage, RgbImage) {
        let a = RgbImage::from_fn(6, 4, |x, y| Rgb([(x * 40) as u8, (y * 60) as u8, 90]));
        let b = RgbImage::from_fn(6, 4, |x, y| Rgb([200, (x * 30 + y) as u8, (255 - x * 40) as u8]));
        (a, b)
    }

    #[test]
    fn blend_endpoints_are_exact_and_midpoint_rounds() {
        let (a, b) = pair();
        let mut out = RgbImage::new(1, 1);
        blend(&a, &b, 0.0, &mut out).unwrap();
        assert_eq!(out, a);
        blend(&a, &b, 1.0, &mut out).unwrap();
        assert_eq!(out, b);
        blend(&a, &b, 7.0, &mut out).unwrap(); // clamped
        assert_eq!(out, b);

        let a = RgbImage::from_pixel(2, 2, Rgb([0, 10, 255]));
        let b = RgbImage::from_pixel(2, 2, Rgb([255, 11, 0]));
        blend(&a, &b, 0.5, &mut out).unwrap();
        assert_eq!(out.get_pixel(1, 1).0, [128, 11, 128]); // 127.5 → 128, 10.5 → 11
        blend(&a, &b, 0.25, &mut out).unwrap();
        assert_eq!(out.get_pixel(0, 0).0, [64, 10, 191]); // 63.75, 10.25, 191.25
    }

    #[test]
    fn preserve_colour_of_identical_frames_is_identity() {
        let (a, _) = pair();
        let mut out = RgbImage::new(1, 1);
        preserve_colour(&a, &a, &mut out).unwrap();
        assert_eq!(out, a);
    }

    #[test]
    fn preserve_colour_takes_luma_from_stylized_and_chroma_from_original() {
        let original = RgbImage::from_pixel(1, 1, Rgb([180, 60, 40])); // a red
        let stylized = RgbImage::from_pixel(1, 1, Rgb([40, 90, 200])); // a blue, darker
        let mut out = RgbImage::new(1, 1);
        preserve_colour(&original, &stylized, &mut out).unwrap();
        let (o, s, r) = (original.get_pixel(0, 0).0, stylized.get_pixel(0, 0).0, out.get_pixel(0, 0).0);
        assert!((luma(r) - luma(s)).abs() <= 1.0, "luma {} vs {}", luma(r), luma(s));
        let (co, cr) = (chroma(o), chroma(r));
        assert!((co.0 - cr.0).abs() <= 1.0 && (co.1 - cr.1).abs() <= 1.0, "{co:?} vs {cr:?}");
        // Still reddish: red stays the largest channel.
        assert!(r[0] > r[1] && r[0] > r[2], "{r:?}");
        // Hand-computed: Y_o = 0.299·180 + 0.587·60 + 0.114·40 = 93.60; Y_s = 87.59; dy = −6.01 → −6.
        assert_eq!(r, [174, 54, 34]);
    }

    #[test]
    fn preserve_colour_keeps_grey_grey() {
        let original = RgbImage::from_pixel(3, 3, Rgb([100, 100, 100]));
        let stylized = RgbImage::from_fn(3, 3, |x, y| Rgb([(x * 80) as u8, (y * 80) as u8, 30]));
        let mut out = RgbImage::new(3, 3);
        preserve_colour(&original, &stylized, &mut out).unwrap();
        for (x, y, p) in out.enumerate_pixels() {
            assert!(p[0] == p[1] && p[1] == p[2], "{p:?}");
            let want = luma(stylized.get_pixel(x, y).0);
            assert!((p[0] as f32 - want).abs() <= 0.5 + 1e-3, "{} vs {want}", p[0]);
        }
    }

    #[test]
    fn size_mismatch_is_an_error() {
        let a = RgbImage::new(4, 4);
        let b = RgbImage::new(4, 5);
        let mut out = RgbImage::new(4, 4);
        assert!(matches!(blend(&a, &b, 0.5, &mut out), Err(Error::InvalidArgument(_))));
        assert!(matches!(preserve_colour(&a, &b, &mut out), Err(Error::InvalidArgument(_))));
    }
}
