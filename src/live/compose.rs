//! Builds the displayed frame from the original and the stylised frame: style cross-fade, colour
//! preservation, strength, split view, or the original alone. Buffers are reused between frames.

use image::RgbImage;

use super::control::View;
use crate::pixels::{blend, preserve_colour};
use crate::Result;

/// How the displayed frame is made.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Look {
    pub view: View,
    /// Split view: original left of this fraction of the width, stylised right.
    pub split: Option<f32>,
    /// 0 = original, 1 = fully stylised.
    pub strength: f32,
    pub preserve_colour: bool,
}

/// The column where the split view switches from original to stylised.
pub fn split_column(width: u32, at: f32) -> u32 {
    (at.clamp(0.0, 1.0) * width as f32).round() as u32
}

/// Reusable scratch frames for [`Composer::compose`].
#[derive(Default)]
pub struct Composer {
    faded: RgbImage,
    coloured: RgbImage,
}

impl Composer {
    /// Writes the displayed frame into `out`. `fade_from` is the previous style's output and the
    /// cross-fade position `t` (0 = all previous, 1 = all new); it is ignored if its size differs.
    /// `original` and `stylized` must have the same size.
    pub fn compose(
        &mut self,
        original: &RgbImage,
        stylized: &RgbImage,
        fade_from: Option<(&RgbImage, f32)>,
        look: &Look,
        out: &mut RgbImage,
    ) -> Result<()> {
        if look.view == View::Original {
            copy_into(original, out);
            return Ok(());
        }
        let mut styl = stylized;
        if let Some((previous, t)) = fade_from {
            if t < 1.0 && previous.dimensions() == stylized.dimensions() {
                blend(previous, stylized, t, &mut self.faded)?;
                styl = &self.faded;
            }
        }
        if look.preserve_colour {
            preserve_colour(original, styl, &mut self.coloured)?;
            styl = &self.coloured;
        }
        if look.strength >= 1.0 {
            copy_into(styl, out);
        } else {
            blend(original, styl, look.strength, out)?;
        }
        if let Some(at) = look.split {
            let w = original.width() as usize;
            let cols = split_column(original.width(), at) as usize * 3;
            let src = original.as_raw();
            let dst: &mut [u8] = out;
            for (d, s) in dst.chunks_exact_mut(w * 3).zip(src.chunks_exact(w * 3)) {
                d[..cols].copy_from_slice(&s[..cols]);
            }
        }
        Ok(())
    }
}

fn copy_into(src: &RgbImage, out: &mut RgbImage) {
    if out.dimensions() == src.dimensions() {
        out.copy_from_slice(src.as_raw());
    } else {
        *out = src.clone();
    }
}

/// Bilinear resize of `src` into `dst` (which keeps its size), pixel-centre aligned. Used to
/// bring frames to and from the inference resolution without allocating.
pub fn resize_into(src: &RgbImage, dst: &mut RgbImage) {
    let (sw, sh) = (src.width() as usize, src.height() as usize);
    let (dw, dh) = (dst.width() as usize, dst.height() as usize);
    if (sw, sh) == (dw, dh) {
        dst.copy_from_slice(src.as_raw());
        return;
    }
    // Source coordinate of each destination column/row in 1/256 units, plus the neighbour.
    let taps = |d: usize, s: usize| -> Vec<(usize, usize, u32)> {
        (0..d)
            .map(|i| {
                let pos = ((i as f32 + 0.5) * s as f32 / d as f32 - 0.5).clamp(0.0, (s - 1) as f32);
                let i0 = pos.floor() as usize;
                let i1 = (i0 + 1).min(s - 1);
                (i0, i1, ((pos - i0 as f32) * 256.0).round() as u32)
            })
            .collect()
    };
    let xs = taps(dw, sw);
    let ys = taps(dh, sh);
    let s = src.as_raw();
    let d: &mut [u8] = dst;
    for (row, &(y0, y1, fy)) in d.chunks_exact_mut(dw * 3).zip(ys.iter()) {
        let r0 = &s[y0 * sw * 3..(y0 + 1) * sw * 3];
        let r1 = &s[y1 * sw * 3..(y1 + 1) * sw * 3];
        for (px, &(x0, x1, fx)) in row.chunks_exact_mut(3).zip(xs.iter()) {
            for c in 0..3 {
                let top = r0[x0 * 3 + c] as u32 * (256 - fx) + r0[x1 * 3 + c] as u32 * fx;
                let bot = r1[x0 * 3 + c] as u32 * (256 - fx) + r1[x1 * 3 + c] as u32 * fx;
                px[c] = ((top * (256 - fy) + bot * fy + (1 << 15)) >> 16) as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    fn frames() -> (RgbImage, RgbImage) {
        let original = RgbImage::from_fn(10, 4, |x, y| Rgb([x as u8 * 20, y as u8 * 50, 200]));
        let stylized = RgbImage::from_fn(10, 4, |x, y| Rgb([255 - x as u8 * 20, 30, y as u8 * 60]));
        (original, stylized)
    }

    fn look() -> Look {
        Look {
            view: View::Stylized,
            split: None,
            strength: 1.0,
            preserve_colour: false,
        }
    }

    #[test]
    fn strength_zero_is_the_original_and_one_the_stylized() {
        let (o, s) = frames();
        let mut c = Composer::default();
        let mut out = RgbImage::new(1, 1);
        c.compose(&o, &s, None, &look(), &mut out).unwrap();
        assert_eq!(out, s);
        c.compose(
            &o,
            &s,
            None,
            &Look {
                strength: 0.0,
                ..look()
            },
            &mut out,
        )
        .unwrap();
        assert_eq!(out, o);
        c.compose(
            &o,
            &s,
            None,
            &Look {
                strength: 0.5,
                ..look()
            },
            &mut out,
        )
        .unwrap();
        let (a, b, m) = (
            o.get_pixel(3, 1).0,
            s.get_pixel(3, 1).0,
            out.get_pixel(3, 1).0,
        );
        for ch in 0..3 {
            let want = (a[ch] as f32 + b[ch] as f32) / 2.0;
            assert!((m[ch] as f32 - want).abs() <= 0.5, "{m:?} vs {a:?}/{b:?}");
        }
    }

    #[test]
    fn split_takes_left_from_original_right_from_stylized() {
        let (o, s) = frames();
        let mut out = RgbImage::new(1, 1);
        Composer::default()
            .compose(
                &o,
                &s,
                None,
                &Look {
                    split: Some(0.3),
                    ..look()
                },
                &mut out,
            )
            .unwrap();
        for (x, y, p) in out.enumerate_pixels() {
            let want = if x < 3 {
                o.get_pixel(x, y)
            } else {
                s.get_pixel(x, y)
            };
            assert_eq!(p, want, "at ({x},{y})");
        }
    }

    #[test]
    fn original_view_ignores_the_style_and_fade_mixes_styles() {
        let (o, s) = frames();
        let mut c = Composer::default();
        let mut out = RgbImage::new(1, 1);
        c.compose(
            &o,
            &s,
            None,
            &Look {
                view: View::Original,
                ..look()
            },
            &mut out,
        )
        .unwrap();
        assert_eq!(out, o);
        let prev = RgbImage::from_pixel(10, 4, Rgb([0, 0, 0]));
        c.compose(&o, &s, Some((&prev, 0.0)), &look(), &mut out)
            .unwrap();
        assert_eq!(out, prev, "fade start shows the previous style");
        c.compose(&o, &s, Some((&prev, 1.0)), &look(), &mut out)
            .unwrap();
        assert_eq!(out, s, "fade end shows the new style");
    }

    #[test]
    fn preserve_colour_keeps_the_original_hue() {
        let original = RgbImage::from_pixel(4, 4, Rgb([200, 40, 40]));
        let stylized = RgbImage::from_pixel(4, 4, Rgb([40, 60, 220]));
        let mut out = RgbImage::new(1, 1);
        Composer::default()
            .compose(
                &original,
                &stylized,
                None,
                &Look {
                    preserve_colour: true,
                    ..look()
                },
                &mut out,
            )
            .unwrap();
        let p = out.get_pixel(0, 0).0;
        assert!(p[0] > p[1] && p[0] > p[2], "still red: {p:?}");
        let luma = |q: [u8; 3]| 0.299 * q[0] as f32 + 0.587 * q[1] as f32 + 0.114 * q[2] as f32;
        assert!((luma(p) - luma(stylized.get_pixel(0, 0).0)).abs() <= 1.0);
    }

    #[test]
    fn resize_keeps_flat_colour_and_halves_gradients() {
        let flat = RgbImage::from_pixel(17, 9, Rgb([12, 200, 99]));
        let mut small = RgbImage::new(8, 4);
        resize_into(&flat, &mut small);
        assert!(small.pixels().all(|p| p.0 == [12, 200, 99]));
        let ramp = RgbImage::from_fn(4, 1, |x, _| Rgb([x as u8 * 80, 0, 0]));
        let mut half = RgbImage::new(2, 1);
        resize_into(&ramp, &mut half);
        assert_eq!(half.get_pixel(0, 0).0[0], 40);
        assert_eq!(half.get_pixel(1, 0).0[0], 200);
        let mut same = RgbImage::new(4, 1);
        resize_into(&ramp, &mut same);
        assert_eq!(same, ramp);
    }
}
