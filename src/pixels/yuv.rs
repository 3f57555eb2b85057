//! RGB → Y′CbCr for the raw video outputs (the YUV4MPEG2 pipe and the virtual camera).
//!
//! BT.601 coefficients in limited ("studio") range: Y′ 16…235, Cb/Cr 16…240, what players and
//! video-call apps assume of an untagged webcam stream. Chroma is the mean of the RGB pixels it
//! covers, converted once: 2×2 blocks for I420 (centred siting, the y4m `C420jpeg` layout), 2×1
//! pairs for YUYV. Odd widths and heights repeat the last column/row.

use image::RgbImage;

/// Fixed-point BT.601 limited range: coefficients × 2^16.
const SHIFT: i32 = 16;
const HALF: i32 = 1 << (SHIFT - 1);

fn luma(r: i32, g: i32, b: i32) -> u8 {
    // 219/255 · (0.299 R + 0.587 G + 0.114 B) + 16
    ((16_829 * r + 33_039 * g + 6_416 * b + HALF) >> SHIFT).clamp(0, 219) as u8 + 16
}

fn chroma(r: i32, g: i32, b: i32) -> (u8, u8) {
    // 224/255 · (B − Y)/1.772 + 128 and 224/255 · (R − Y)/1.402 + 128
    let cb = (-9_714 * r - 19_070 * g + 28_784 * b + HALF) >> SHIFT;
    let cr = (28_784 * r - 24_103 * g - 4_681 * b + HALF) >> SHIFT;
    (
        (cb + 128).clamp(16, 240) as u8,
        (cr + 128).clamp(16, 240) as u8,
    )
}

fn rgb(img: &RgbImage, x: u32, y: u32) -> (i32, i32, i32) {
    let x = x.min(img.width() - 1);
    let y = y.min(img.height() - 1);
    let p = img.get_pixel(x, y).0;
    (i32::from(p[0]), i32::from(p[1]), i32::from(p[2]))
}

/// Bytes of an I420 frame of this size: the Y plane, then U and V at half size (rounded up).
pub fn i420_len(width: u32, height: u32) -> usize {
    let (w, h) = (width as usize, height as usize);
    w * h + 2 * w.div_ceil(2) * h.div_ceil(2)
}

/// Bytes of a YUYV (YUY2) frame of this size: 2 bytes a pixel, the width rounded up to even.
pub fn yuyv_len(width: u32, height: u32) -> usize {
    2 * width.div_ceil(2) as usize * 2 * height as usize
}

/// `img` as planar I420 (Y, then U, then V) into `out` (resized to [`i420_len`]).
pub fn rgb_to_i420(img: &RgbImage, out: &mut Vec<u8>) {
    let (w, h) = img.dimensions();
    out.clear();
    out.resize(i420_len(w, h), 0);
    if w == 0 || h == 0 {
        return;
    }
    let (y_plane, uv) = out.split_at_mut((w * h) as usize);
    for (i, p) in img.pixels().enumerate() {
        let [r, g, b] = p.0.map(i32::from);
        y_plane[i] = luma(r, g, b);
    }
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let (u_plane, v_plane) = uv.split_at_mut((cw * ch) as usize);
    for cy in 0..ch {
        for cx in 0..cw {
            let (mut r, mut g, mut b) = (0, 0, 0);
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let p = rgb(img, 2 * cx + dx, 2 * cy + dy);
                r += p.0;
                g += p.1;
                b += p.2;
            }
            let (u, v) = chroma((r + 2) / 4, (g + 2) / 4, (b + 2) / 4);
            let i = (cy * cw + cx) as usize;
            u_plane[i] = u;
            v_plane[i] = v;
        }
    }
}

/// `img` as packed YUYV (Y0 U Y1 V per pixel pair) into `out` (resized to [`yuyv_len`]).
pub fn rgb_to_yuyv(img: &RgbImage, out: &mut Vec<u8>) {
    let (w, h) = img.dimensions();
    out.clear();
    out.resize(yuyv_len(w, h), 0);
    let pairs = w.div_ceil(2);
    for y in 0..h {
        for px in 0..pairs {
            let a = rgb(img, 2 * px, y);
            let b = rgb(img, 2 * px + 1, y);
            let (u, v) = chroma(
                (a.0 + b.0 + 1) / 2,
                (a.1 + b.1 + 1) / 2,
                (a.2 + b.2 + 1) / 2,
            );
            let i = 4 * (y * pairs + px) as usize;
            out[i..i + 4].copy_from_slice(&[luma(a.0, a.1, a.2), u, luma(b.0, b.1, b.2), v]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The BT.601 limited-range formulas in floating point (ITU-R BT.601, the reference).
    fn reference(r: f64, g: f64, b: f64) -> (f64, f64, f64) {
        let y = 0.299 * r + 0.587 * g + 0.114 * b;
        (
            16.0 + 219.0 / 255.0 * y,
            128.0 + 224.0 / 255.0 * (b - y) / 1.772,
            128.0 + 224.0 / 255.0 * (r - y) / 1.402,
        )
    }

    #[test]
    fn known_colours_match_the_standard() {
        // White, black and the primaries: the textbook limited-range values.
        let cases = [
            ([255, 255, 255], (235, 128, 128)),
            ([0, 0, 0], (16, 128, 128)),
            ([255, 0, 0], (81, 90, 240)),
            ([0, 255, 0], (145, 54, 34)),
            ([0, 0, 255], (41, 240, 110)),
        ];
        for (px, (y, u, v)) in cases {
            let img = RgbImage::from_pixel(2, 2, image::Rgb(px));
            let mut out = Vec::new();
            rgb_to_i420(&img, &mut out);
            assert_eq!(out, vec![y, y, y, y, u, v], "{px:?}");
            rgb_to_yuyv(&img, &mut out);
            assert_eq!(out, vec![y, u, y, v, y, u, y, v], "{px:?}");
        }
    }

    #[test]
    fn every_pixel_is_within_one_of_the_float_reference() {
        let img = RgbImage::from_fn(7, 5, |x, y| {
            image::Rgb([
                (x * 37 + y * 11) as u8,
                (x * 5 + y * 53) as u8,
                (x * y * 29) as u8,
            ])
        });
        let mut i420 = Vec::new();
        rgb_to_i420(&img, &mut i420);
        assert_eq!(i420.len(), 7 * 5 + 2 * 4 * 3);
        for (x, y, p) in img.enumerate_pixels() {
            let [r, g, b] = p.0.map(f64::from);
            let want = reference(r, g, b).0;
            let got = f64::from(i420[(y * 7 + x) as usize]);
            assert!((got - want).abs() <= 1.0, "Y at {x},{y}: {got} vs {want}");
        }
        // Chroma of the 2×2 block at (2, 2)…(3, 3): the reference of the block's mean colour.
        let mean = |c: usize| {
            [(4, 2), (5, 2), (4, 3), (5, 3)]
                .iter()
                .map(|&(x, y)| f64::from(img.get_pixel(x, y).0[c]))
                .sum::<f64>()
                / 4.0
        };
        let (_, u, v) = reference(mean(0), mean(1), mean(2));
        let (cw, ch) = (4, 3);
        let at = 35 + cw + 2; // U plane, block row 1, column 2
        assert!((f64::from(i420[at]) - u).abs() <= 1.0);
        assert!((f64::from(i420[at + cw * ch]) - v).abs() <= 1.0);
        // Odd width in YUYV: the last pair repeats the last pixel.
        let mut yuyv = Vec::new();
        rgb_to_yuyv(&img, &mut yuyv);
        assert_eq!(yuyv.len(), 8 * 2 * 5);
        assert_eq!(yuyv[4 * 3], yuyv[4 * 3 + 2], "column 6 stands in for 7");
    }
}
