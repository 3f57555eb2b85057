//! Frame ⇄ tensor conversion: normalise + reflect-pad, and crop + clamp + denormalise + round.

use image::RgbImage;

use super::{reflect_index, PadGeometry, MEAN, OUTPUT_CLAMP, STD};
use crate::{Error, Result};

/// `NORMALISE[c][v] = (v / 255 - MEAN[c]) / STD[c]`, computed at compile time with the same `f32`
/// operations a per-pixel loop would do, so the table is exact, not an approximation.
static NORMALISE: [[f32; 256]; 3] = normalise_table();

const fn normalise_table() -> [[f32; 256]; 3] {
    let mut table = [[0.0f32; 256]; 3];
    let mut c = 0;
    while c < 3 {
        let mut v = 0;
        while v < 256 {
            table[c][v] = (v as f32 / 255.0 - MEAN[c]) / STD[c];
            v += 1;
        }
        c += 1;
    }
    table
}

/// Normalised value of one 8-bit channel value (`(v / 255 - mean) / std`), as [`preprocess`]
/// writes it.
#[inline]
pub fn normalise(channel: usize, value: u8) -> f32 {
    NORMALISE[channel][value as usize]
}

/// Converts an RGB frame into a `[1, 3, H', W']` ImageNet-normalised `f32` tensor (planar, row
/// major) in `out`, reflect-padding it to `geometry`'s padded size in the same pass.
///
/// `geometry` must describe `frame` (`PadGeometry::for_frame(w, h)`, or `with_padded` for an
/// explicit tensor size) and `out` must hold exactly `geometry.tensor_len()` values; otherwise
/// [`Error::InvalidArgument`] and `out` is left untouched. Padding follows [`reflect_index`]
/// (PyTorch `ReflectionPad2d`; edge replication for 1-pixel-wide or -high frames).
pub fn preprocess(frame: &RgbImage, geometry: &PadGeometry, out: &mut [f32]) -> Result<()> {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    check_geometry(w, h, geometry, out.len())?;
    if w == 0 || h == 0 {
        return Err(Error::InvalidArgument("cannot preprocess an empty (0-pixel) frame".into()));
    }
    let (pw, ph, left, top) = (geometry.padded_width, geometry.padded_height, geometry.left, geometry.top);
    let plane = pw * ph;
    let (r_plane, rest) = out.split_at_mut(plane);
    let (g_plane, b_plane) = rest.split_at_mut(plane);
    let raw: &[u8] = frame.as_raw();
    let [lut_r, lut_g, lut_b] = &NORMALISE;

    for py in 0..ph {
        let sy = reflect_index(py as isize - top as isize, h);
        let src = &raw[sy * w * 3..(sy + 1) * w * 3];
        let row = py * pw..(py + 1) * pw;
        let (r, g, b) = (&mut r_plane[row.clone()], &mut g_plane[row.clone()], &mut b_plane[row]);

        // The frame's own pixels: one read of the interleaved row, three planar writes.
        for (((px, r), g), b) in src
            .chunks_exact(3)
            .zip(&mut r[left..left + w])
            .zip(&mut g[left..left + w])
            .zip(&mut b[left..left + w])
        {
            *r = lut_r[px[0] as usize];
            *g = lut_g[px[1] as usize];
            *b = lut_b[px[2] as usize];
        }
        // Left/right padding (at most a few columns): mirror values already written in this row.
        for px in (0..left).chain(left + w..pw) {
            let sx = left + reflect_index(px as isize - left as isize, w);
            r[px] = r[sx];
            g[px] = g[sx];
            b[px] = b[sx];
        }
    }
    Ok(())
}

/// Converts the network's `[1, 3, H', W']` output back into a frame: crops `geometry`'s padding,
/// clamps to [`OUTPUT_CLAMP`], denormalises (`x * std + mean`), clips to `[0, 1]`, scales by 255
/// and rounds to u8 — one pass, writing `out` directly.
///
/// `out` is resized to the frame size first if it differs (the only allocation, and only on a
/// size change). NaN outputs become the clamp's lower bound.
///
/// Rounding is half-up via `(x + 0.5) as u8`, which equals `x.round()` except for values within
/// one float step below a `.5` boundary; the denormalisation is fused into one multiply-add per
/// value (`x * 255·std + 255·mean`).
pub fn postprocess(tensor: &[f32], geometry: &PadGeometry, out: &mut RgbImage) -> Result<()> {
    let (w, h) = (geometry.width, geometry.height);
    check_geometry(w, h, geometry, tensor.len())?;
    if out.width() as usize != w || out.height() as usize != h {
        *out = RgbImage::new(w as u32, h as u32);
    }
    let (pw, ph, left, top) = (geometry.padded_width, geometry.padded_height, geometry.left, geometry.top);
    let plane = pw * ph;
    let (r_plane, g_plane, b_plane) = (&tensor[..plane], &tensor[plane..2 * plane], &tensor[2 * plane..]);
    let scale = [STD[0] * 255.0, STD[1] * 255.0, STD[2] * 255.0];
    let offset = [MEAN[0] * 255.0, MEAN[1] * 255.0, MEAN[2] * 255.0];
    let raw: &mut [u8] = out;

    for (y, dst) in raw.chunks_exact_mut(w * 3).enumerate() {
        let start = (top + y) * pw + left;
        let row = start..start + w;
        for (((d, &r), &g), &b) in dst
            .chunks_exact_mut(3)
            .zip(&r_plane[row.clone()])
            .zip(&g_plane[row.clone()])
            .zip(&b_plane[row])
        {
            d[0] = denormalise(r, scale[0], offset[0]);
            d[1] = denormalise(g, scale[1], offset[1]);
            d[2] = denormalise(b, scale[2], offset[2]);
        }
    }
    Ok(())
}

#[inline(always)]
fn denormalise(v: f32, scale: f32, offset: f32) -> u8 {
    let v = v.max(OUTPUT_CLAMP.0).min(OUTPUT_CLAMP.1);
    let x = (v * scale + offset).max(0.0).min(255.0);
    (x + 0.5) as u8
}

fn check_geometry(w: usize, h: usize, g: &PadGeometry, len: usize) -> Result<()> {
    if g.width != w || g.height != h {
        return Err(Error::InvalidArgument(format!(
            "frame is {w}×{h} but the tensor geometry describes {}×{}",
            g.width, g.height
        )));
    }
    if g.padded_width < w || g.padded_height < h || g.left + w > g.padded_width || g.top + h > g.padded_height {
        return Err(Error::InvalidArgument(format!(
            "a {w}×{h} frame does not fit a {}×{} tensor at offset ({}, {})",
            g.padded_width, g.padded_height, g.left, g.top
        )));
    }
    if len != g.tensor_len() {
        return Err(Error::InvalidArgument(format!(
            "tensor buffer holds {len} values, expected 3×{}×{} = {}",
            g.padded_height,
            g.padded_width,
            g.tensor_len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    /// Straightforward reference: allocate, pad with an explicit index map, normalise per pixel.
    fn naive_preprocess(frame: &RgbImage) -> (PadGeometry, Vec<f32>) {
        let (w, h) = (frame.width() as usize, frame.height() as usize);
        let g = PadGeometry::for_frame(w, h);
        let mut out = vec![0.0; g.tensor_len()];
        for c in 0..3 {
            for py in 0..g.padded_height {
                for px in 0..g.padded_width {
                    let sy = reflect_index(py as isize - g.top as isize, h);
                    let sx = reflect_index(px as isize - g.left as isize, w);
                    let v = frame.get_pixel(sx as u32, sy as u32)[c];
                    out[(c * g.padded_height + py) * g.padded_width + px] = (v as f32 / 255.0 - MEAN[c]) / STD[c];
                }
            }
        }
        (g, out)
    }

    fn patterned(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            Rgb([(x * 37 + y * 11) as u8, (x * 5 + y * 71 + 3) as u8, (x * y * 13 + 200) as u8])
        })
    }

    #[test]
    fn normalises_hand_made_pixels_exactly() {
        let mut frame = RgbImage::new(4, 4);
        frame.put_pixel(0, 0, Rgb([0, 128, 255]));
        frame.put_pixel(3, 3, Rgb([255, 0, 10]));
        let g = PadGeometry::for_frame(4, 4);
        let mut t = vec![f32::NAN; g.tensor_len()];
        preprocess(&frame, &g, &mut t).unwrap();
        let at = |c: usize, y: usize, x: usize| t[(c * 4 + y) * 4 + x];
        assert_eq!(at(0, 0, 0), (0.0 - 0.485) / 0.229);
        assert_eq!(at(1, 0, 0), (128.0 / 255.0 - 0.456) / 0.224);
        assert_eq!(at(2, 0, 0), (1.0 - 0.406) / 0.225);
        assert_eq!(at(0, 3, 3), (1.0 - 0.485) / 0.229);
        assert_eq!(at(2, 3, 3), (10.0 / 255.0 - 0.406) / 0.225);
        // A black pixel in the red channel elsewhere.
        assert_eq!(at(0, 1, 1), -0.485 / 0.229);
    }

    #[test]
    fn padding_matches_naive_reflection_for_all_small_sizes() {
        for w in 1..=9 {
            for h in 1..=9 {
                let frame = patterned(w, h);
                let (g, expected) = naive_preprocess(&frame);
                let mut got = vec![f32::NAN; g.tensor_len()];
                preprocess(&frame, &g, &mut got).unwrap();
                assert_eq!(got, expected, "{w}×{h}");
            }
        }
    }

    #[test]
    fn padding_matches_naive_reflection_for_odd_sizes() {
        for (w, h) in [(5, 5), (1, 1), (37, 23), (23, 37), (2, 1), (1, 6)] {
            let frame = patterned(w, h);
            let (g, expected) = naive_preprocess(&frame);
            assert_eq!(g.padded_width % 4, 0);
            assert_eq!(g.padded_height % 4, 0);
            let mut got = vec![0.0; g.tensor_len()];
            preprocess(&frame, &g, &mut got).unwrap();
            assert_eq!(got, expected, "{w}×{h}");
        }
    }

    #[test]
    fn five_by_five_pads_like_reflection_pad_2d() {
        // 5 → 8: one column left, two right; reflected without repeating the edge.
        let frame = RgbImage::from_fn(5, 5, |x, _| Rgb([x as u8 * 50, 0, 0]));
        let g = PadGeometry::for_frame(5, 5);
        let mut t = vec![0.0; g.tensor_len()];
        preprocess(&frame, &g, &mut t).unwrap();
        let row: Vec<u8> = t[..8].iter().map(|&v| ((v * STD[0] + MEAN[0]) * 255.0).round() as u8).collect();
        assert_eq!(row, vec![50, 0, 50, 100, 150, 200, 150, 100]);
    }

    #[test]
    fn round_trip_of_identity_returns_input_exactly() {
        for (w, h) in [(1, 1), (5, 5), (37, 23), (64, 48)] {
            let frame = RgbImage::from_fn(w, h, |x, y| {
                let i = (y * w + x) * 3;
                Rgb([(i % 256) as u8, ((i + 1) % 256) as u8, ((i + 2) % 256) as u8])
            });
            let g = PadGeometry::for_frame(w as usize, h as usize);
            let mut t = vec![0.0; g.tensor_len()];
            preprocess(&frame, &g, &mut t).unwrap();
            let mut back = RgbImage::new(1, 1);
            postprocess(&t, &g, &mut back).unwrap();
            assert_eq!(back.dimensions(), (w, h));
            // Exact, except where the product's output clamp bites: red 0 normalises to
            // -0.485/0.229 = -2.118, below the clamp's -2.1, and comes back as round(1.04) = 1.
            // Every other value of every channel survives the round trip unchanged.
            let mut expected = frame.clone();
            for p in expected.pixels_mut() {
                p[0] = p[0].max(1);
            }
            assert_eq!(back, expected, "{w}×{h}");
        }
    }

    #[test]
    fn round_trip_covers_every_channel_value() {
        let frame = RgbImage::from_fn(256, 1, |x, _| Rgb([x as u8, x as u8, x as u8]));
        let g = PadGeometry::for_frame(256, 1);
        let mut t = vec![0.0; g.tensor_len()];
        preprocess(&frame, &g, &mut t).unwrap();
        let mut back = RgbImage::new(256, 1);
        postprocess(&t, &g, &mut back).unwrap();
        for (x, p) in back.pixels().enumerate() {
            let want_red = if x == 0 { 1 } else { x as u8 };
            assert_eq!(p.0, [want_red, x as u8, x as u8], "value {x}");
        }
    }

    #[test]
    fn postprocess_clamps_clips_and_rounds() {
        // 4×4 tensor, 1×1 frame at (1, 1).
        let g = PadGeometry::for_frame(1, 1);
        assert_eq!((g.left, g.top), (1, 1));
        let mut t = vec![0.0f32; g.tensor_len()];
        let at = |c: usize| (c * 4 + 1) * 4 + 1;
        t[at(0)] = 100.0; // clamped to 2.7 → 2.7·0.229+0.485 > 1 → 255
        t[at(1)] = f32::NAN; // → -2.1 → -2.1·0.224+0.456 < 0 → 0
        t[at(2)] = (0.5 - MEAN[2]) / STD[2]; // exactly mid-grey → 127.5 → 128
        let mut out = RgbImage::new(7, 7);
        postprocess(&t, &g, &mut out).unwrap();
        assert_eq!(out.dimensions(), (1, 1));
        assert_eq!(out.get_pixel(0, 0).0, [255, 0, 128]);

        // Just inside the clamp: 2.0 in red → (2.0·0.229 + 0.485)·255 = 240.465 → 240.
        t[at(0)] = 2.0;
        postprocess(&t, &g, &mut out).unwrap();
        assert_eq!(out.get_pixel(0, 0)[0], 240);
        // Clamp, not clip, decides: -2.0 in green → (−0.448 + 0.456)·255 = 2.04 → 2.
        t[at(1)] = -2.0;
        postprocess(&t, &g, &mut out).unwrap();
        assert_eq!(out.get_pixel(0, 0)[1], 2);
    }

    #[test]
    fn postprocess_crops_the_padding() {
        let g = PadGeometry::for_frame(3, 2); // 4×4 tensor, left 0, top 1
        assert_eq!((g.left, g.top), (0, 1));
        let mut t = vec![-5.0f32; g.tensor_len()]; // padding → black
        for y in 1..3 {
            for x in 0..3 {
                for c in 0..3 {
                    t[(c * 4 + y) * 4 + x] = 5.0; // frame → white
                }
            }
        }
        let mut out = RgbImage::new(3, 2);
        postprocess(&t, &g, &mut out).unwrap();
        assert!(out.pixels().all(|p| p.0 == [255, 255, 255]));
    }

    #[test]
    fn mismatched_buffers_are_rejected() {
        let frame = RgbImage::new(5, 5);
        let g = PadGeometry::for_frame(5, 5);
        let mut short = vec![0.0; g.tensor_len() - 1];
        assert!(matches!(preprocess(&frame, &g, &mut short), Err(Error::InvalidArgument(_))));
        let other = PadGeometry::for_frame(6, 5);
        let mut t = vec![0.0; other.tensor_len()];
        assert!(matches!(preprocess(&frame, &other, &mut t), Err(Error::InvalidArgument(_))));
        let mut out = RgbImage::new(5, 5);
        assert!(matches!(postprocess(&short, &g, &mut out), Err(Error::InvalidArgument(_))));
    }
}
