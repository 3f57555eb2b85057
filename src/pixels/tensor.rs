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
        return Err(Error::InvalidArgument(
            "cannot preprocess an empty (0-pixel) frame".into(),
        ));
    }
    let (pw, ph, left, top) = (
        geometry.padded_width,
        geometry.padded_height,
        geometry.left,
        geometry.top,
    );
    let plane = pw * ph;
    let (r_plane, rest) = out.split_at_mut(plane);
    let (g_plane, b_plane) = rest.split_at_mut(plane);
    let raw: &[u8] = frame.as_raw();
    let [lut_r, lut_g, lut_b] = &NORMALISE;

    for py in 0..ph {
        let sy = reflect_index(py as isize - top as isize, h);
        let src = &raw[sy * w * 3..(sy + 1) * w * 3];
        let row = py * pw..(py + 1) * pw;
        let (r, g, b) = (
            &mut r_plane[row.clone()],
            &mut g_plane[row.clone()],
            &mut b_plane[row],
        );

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
/// Rounding is half-up (`x + 0.5` truncated), which equals `x.round()` except for values within
/// one float step below a `.5` boundary. Clamp, denormalisation and clip are fused into one
/// multiply-add and one clamp per value (exact: denormalising is monotonic).
pub fn postprocess(tensor: &[f32], geometry: &PadGeometry, out: &mut RgbImage) -> Result<()> {
    let (w, h) = (geometry.width, geometry.height);
    check_geometry(w, h, geometry, tensor.len())?;
    if out.width() as usize != w || out.height() as usize != h {
        *out = RgbImage::new(w as u32, h as u32);
    }
    let (pw, ph, left, top) = (
        geometry.padded_width,
        geometry.padded_height,
        geometry.left,
        geometry.top,
    );
    let plane = pw * ph;
    let (r_plane, g_plane, b_plane) = (
        &tensor[..plane],
        &tensor[plane..2 * plane],
        &tensor[2 * plane..],
    );
    // Denormalising is monotonic, so clamp(v)·s + o clipped to [0, 255] equals v·s + o clamped
    // once to [max(lo·s + o, 0), min(hi·s + o, 255)]: one multiply-add and one clamp per value.
    let scale: [f32; 3] = std::array::from_fn(|c| STD[c] * 255.0);
    let offset: [f32; 3] = std::array::from_fn(|c| MEAN[c] * 255.0);
    let lo: [f32; 3] = std::array::from_fn(|c| (OUTPUT_CLAMP.0 * scale[c] + offset[c]).max(0.0));
    let hi: [f32; 3] = std::array::from_fn(|c| (OUTPUT_CLAMP.1 * scale[c] + offset[c]).min(255.0));
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
            d[0] = denormalise(r, scale[0], offset[0], lo[0], hi[0]);
            d[1] = denormalise(g, scale[1], offset[1], lo[1], hi[1]);
            d[2] = denormalise(b, scale[2], offset[2], lo[2], hi[2]);
        }
    }
    Ok(())
}

/// Shape `[12, H, W]` of the phase-split input [`preprocess_phases`] writes for `geometry` and
/// `pad`: the padded tensor grown by `pad` on every side, at half resolution.
pub fn phase_input_shape(geometry: &PadGeometry, pad: usize) -> [usize; 3] {
    [
        12,
        (geometry.padded_height + 2 * pad) / 2,
        (geometry.padded_width + 2 * pad) / 2,
    ]
}

/// Shape `[12, H, W]` of the phase-split output [`postprocess_phases`] reads for `geometry`.
pub fn phase_output_shape(geometry: &PadGeometry) -> [usize; 3] {
    [12, geometry.padded_height / 2, geometry.padded_width / 2]
}

/// Checks the sizes a phase split needs: even tensor sides, and a reflection `pad` narrower than
/// the tensor (`ReflectionPad2d` cannot reflect further).
fn check_phase_geometry(g: &PadGeometry, pad: usize) -> Result<()> {
    let (pw, ph) = (g.padded_width, g.padded_height);
    if pw % 2 != 0 || ph % 2 != 0 || pad >= pw || pad >= ph {
        return Err(Error::InvalidArgument(format!(
            "a {pw}×{ph} tensor cannot be split into phases with a reflection pad of {pad}: \
             the sides must be even and larger than the pad"
        )));
    }
    Ok(())
}

/// Like [`preprocess`], for a graph that starts on phases (`Lowering::phase_input` in
/// [`crate::net::graph`]): the normalised tensor is further reflect-padded by `pad` on every side
/// (PyTorch `ReflectionPad2d` of the padded tensor, as the network's first layer does) and split
/// into its four phases in ONNX `SpaceToDepth` order, all in one pass:
/// `out[(a·2 + b)·3 + c, i, j] = padded[c, 2i + a, 2j + b]`, shape [`phase_input_shape`].
pub fn preprocess_phases(
    frame: &RgbImage,
    geometry: &PadGeometry,
    pad: usize,
    out: &mut [f32],
) -> Result<()> {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    check_phase_geometry(geometry, pad)?;
    let shape = phase_input_shape(geometry, pad);
    check_tensor(w, h, geometry, out.len(), shape)?;
    if w == 0 || h == 0 {
        return Err(Error::InvalidArgument(
            "cannot preprocess an empty (0-pixel) frame".into(),
        ));
    }
    let [_, hh, hw] = shape;
    let (pw, ph) = (geometry.padded_width, geometry.padded_height);
    // Position in the phase tensor's full-resolution grid → frame row / column: the network's
    // reflection of the padded tensor, then the padding to the network size.
    let frame_row = |y: usize| {
        let t = reflect_index(y as isize - pad as isize, ph);
        reflect_index(t as isize - geometry.top as isize, h)
    };
    let frame_col = |x: usize| {
        let t = reflect_index(x as isize - pad as isize, pw);
        reflect_index(t as isize - geometry.left as isize, w)
    };
    // Columns that are the frame's own: x in [start, start + w).
    let start = pad + geometry.left;
    let raw: &[u8] = frame.as_raw();
    let [lut_r, lut_g, lut_b] = &NORMALISE;

    // The twelve planes, (a, b, c) = (row phase, column phase, channel) at index (a·2 + b)·3 + c.
    let mut it = out.chunks_exact_mut(hh * hw);
    let mut planes: [&mut [f32]; 12] = std::array::from_fn(|_| it.next().expect("12 planes"));
    let (even_rows, odd_rows) = planes.split_at_mut(6);
    for y in 0..2 * hh {
        let (a, i) = (y % 2, y / 2);
        let sy = frame_row(y);
        let src = &raw[sy * w * 3..(sy + 1) * w * 3];
        let half = if a == 0 {
            &mut *even_rows
        } else {
            &mut *odd_rows
        };
        let [r0, g0, b0, r1, g1, b1] = half else {
            unreachable!("six planes per row phase")
        };
        let row = i * hw..(i + 1) * hw;
        let (r0, g0, b0) = (
            &mut r0[row.clone()],
            &mut g0[row.clone()],
            &mut b0[row.clone()],
        );
        let (r1, g1, b1) = (&mut r1[row.clone()], &mut g1[row.clone()], &mut b1[row]);

        // The frame's own pixels, two at a time: column phase 0 then 1 at phase column j.
        // An odd start puts the first pixel alone in phase 1; an odd remainder ends in phase 0.
        let lead = start % 2;
        let pairs = (w - lead.min(w)) / 2;
        let j0 = start.div_ceil(2);
        for ((((((px, r0), g0), b0), r1), g1), b1) in src[lead * 3..]
            .chunks_exact(6)
            .take(pairs)
            .zip(&mut r0[j0..])
            .zip(&mut g0[j0..])
            .zip(&mut b0[j0..])
            .zip(&mut r1[j0..])
            .zip(&mut g1[j0..])
            .zip(&mut b1[j0..])
        {
            *r0 = lut_r[px[0] as usize];
            *g0 = lut_g[px[1] as usize];
            *b0 = lut_b[px[2] as usize];
            *r1 = lut_r[px[3] as usize];
            *g1 = lut_g[px[4] as usize];
            *b1 = lut_b[px[5] as usize];
        }
        // Everything else: the odd ends and the reflected columns on both sides.
        let paired = start + lead..start + lead + 2 * pairs;
        for x in (0..paired.start).chain(paired.end..2 * hw) {
            let sx = frame_col(x);
            let (r, g, b) = if x % 2 == 0 {
                (&mut r0[x / 2], &mut g0[x / 2], &mut b0[x / 2])
            } else {
                (&mut r1[x / 2], &mut g1[x / 2], &mut b1[x / 2])
            };
            *r = lut_r[src[sx * 3] as usize];
            *g = lut_g[src[sx * 3 + 1] as usize];
            *b = lut_b[src[sx * 3 + 2] as usize];
        }
    }
    Ok(())
}

/// Like [`postprocess`], for a graph that ends on phases (`Lowering::phase_output` in
/// [`crate::net::graph`]): `tensor` holds the output split into its four phases in ONNX
/// `DepthToSpace` CRD order, `tensor[c·4 + a·2 + b, i, j] = output[c, 2i + a, 2j + b]`, shape
/// [`phase_output_shape`]; the phases are interleaved back while cropping, clamping,
/// denormalising and rounding, in one pass.
pub fn postprocess_phases(
    tensor: &[f32],
    geometry: &PadGeometry,
    out: &mut RgbImage,
) -> Result<()> {
    let (w, h) = (geometry.width, geometry.height);
    check_phase_geometry(geometry, 0)?;
    let shape = phase_output_shape(geometry);
    check_tensor(w, h, geometry, tensor.len(), shape)?;
    if out.width() as usize != w || out.height() as usize != h {
        *out = RgbImage::new(w as u32, h as u32);
    }
    let [_, hh, hw] = shape;
    let plane = hh * hw;
    let scale: [f32; 3] = std::array::from_fn(|c| STD[c] * 255.0);
    let offset: [f32; 3] = std::array::from_fn(|c| MEAN[c] * 255.0);
    let lo: [f32; 3] = std::array::from_fn(|c| (OUTPUT_CLAMP.0 * scale[c] + offset[c]).max(0.0));
    let hi: [f32; 3] = std::array::from_fn(|c| (OUTPUT_CLAMP.1 * scale[c] + offset[c]).min(255.0));
    let raw: &mut [u8] = out;
    let left = geometry.left;
    // Frame columns paired as (column phase 0, phase 1) at one phase column: an odd `left`
    // leaves the first pixel alone in phase 1, an odd remainder ends in phase 0.
    let lead = left % 2;
    let pairs = (w - lead.min(w)) / 2;
    let j0 = left.div_ceil(2);
    let d = |v: f32, c: usize| denormalise(v, scale[c], offset[c], lo[c], hi[c]);

    for (y, dst) in raw.chunks_exact_mut(w * 3).enumerate() {
        let ty = geometry.top + y;
        let (a, i) = (ty % 2, ty / 2);
        let row = |c: usize, b: usize| &tensor[(c * 4 + a * 2 + b) * plane + i * hw..][..hw];
        let (r0, g0, b0) = (row(0, 0), row(1, 0), row(2, 0));
        let (r1, g1, b1) = (row(0, 1), row(1, 1), row(2, 1));
        for ((((((px, &r0), &g0), &b0), &r1), &g1), &b1) in dst[lead * 3..]
            .chunks_exact_mut(6)
            .take(pairs)
            .zip(&r0[j0..])
            .zip(&g0[j0..])
            .zip(&b0[j0..])
            .zip(&r1[j0..])
            .zip(&g1[j0..])
            .zip(&b1[j0..])
        {
            px[0] = d(r0, 0);
            px[1] = d(g0, 1);
            px[2] = d(b0, 2);
            px[3] = d(r1, 0);
            px[4] = d(g1, 1);
            px[5] = d(b1, 2);
        }
        let paired = lead..lead + 2 * pairs;
        for x in (0..paired.start).chain(paired.end..w) {
            let (tx, px) = (left + x, &mut dst[x * 3..x * 3 + 3]);
            let (j, b) = (tx / 2, tx % 2);
            px[0] = d(row(0, b)[j], 0);
            px[1] = d(row(1, b)[j], 1);
            px[2] = d(row(2, b)[j], 2);
        }
    }
    Ok(())
}

/// `v·scale + offset` clamped to `[lo, hi]` (NaN → `lo`), rounded half-up to u8.
#[inline(always)]
fn denormalise(v: f32, scale: f32, offset: f32, lo: f32, hi: f32) -> u8 {
    let x = v * scale + offset;
    let x = if x >= lo { x } else { lo }; // also maps NaN to lo
    let x = if x <= hi { x } else { hi };
    // SAFETY: 0 ≤ lo ≤ x ≤ hi ≤ 255, so x + 0.5 is finite and in i32 range. The unchecked
    // conversion is what lets the loop vectorise (a saturating `as` costs 2.5× here).
    unsafe { (x + 0.5).to_int_unchecked::<i32>() as u8 }
}

fn check_geometry(w: usize, h: usize, g: &PadGeometry, len: usize) -> Result<()> {
    check_tensor(w, h, g, len, [3, g.padded_height, g.padded_width])
}

/// Checks that `g` describes a `w`×`h` frame and that a buffer of `len` values holds a tensor of
/// `shape` `[channels, height, width]`.
fn check_tensor(w: usize, h: usize, g: &PadGeometry, len: usize, shape: [usize; 3]) -> Result<()> {
    if g.width != w || g.height != h {
        return Err(Error::InvalidArgument(format!(
            "frame is {w}×{h} but the tensor geometry describes {}×{}",
            g.width, g.height
        )));
    }
    if g.padded_width < w
        || g.padded_height < h
        || g.left + w > g.padded_width
        || g.top + h > g.padded_height
    {
        return Err(Error::InvalidArgument(format!(
            "a {w}×{h} frame does not fit a {}×{} tensor at offset ({}, {})",
            g.padded_width, g.padded_height, g.left, g.top
        )));
    }
    let [c, th, tw] = shape;
    if len != c * th * tw {
        return Err(Error::InvalidArgument(format!(
            "tensor buffer holds {len} values, expected {c}×{th}×{tw} = {}",
            c * th * tw
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
                    out[(c * g.padded_height + py) * g.padded_width + px] =
                        (v as f32 / 255.0 - MEAN[c]) / STD[c];
                }
            }
        }
        (g, out)
    }

    fn patterned(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            Rgb([
                (x * 37 + y * 11) as u8,
                (x * 5 + y * 71 + 3) as u8,
                (x * y * 13 + 200) as u8,
            ])
        })
    }

    #[test]
    fn normalises_hand_made_pixels_exactly() {
        let mut frame = RgbImage::new(4, 4);
        frame.put_pixel(0, 0, Rgb([0, 128, 255]));
        frame.put_pixel(3, 3, Rgb([255, 0, 10]));
        let g = PadGeometry::with_padded(4, 4, 4, 4); // no padding: tensor index = pixel

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
        // (Rows too: 5 → 8, so row 0 of the tensor is frame row 1.)
        let frame = RgbImage::from_fn(5, 5, |x, _| Rgb([x as u8 * 50, 0, 0]));
        let g = PadGeometry::for_frame(5, 5);
        let mut t = vec![0.0; g.tensor_len()];
        preprocess(&frame, &g, &mut t).unwrap();
        let row: Vec<u8> = t[..8]
            .iter()
            .map(|&v| ((v * STD[0] + MEAN[0]) * 255.0).round() as u8)
            .collect();
        assert_eq!(row, vec![50, 0, 50, 100, 150, 200, 150, 100]);
    }

    #[test]
    fn round_trip_of_identity_returns_input_exactly() {
        for (w, h) in [(1, 1), (5, 5), (37, 23), (64, 48)] {
            let frame = RgbImage::from_fn(w, h, |x, y| {
                let i = (y * w + x) * 3;
                Rgb([
                    (i % 256) as u8,
                    ((i + 1) % 256) as u8,
                    ((i + 2) % 256) as u8,
                ])
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
        // A 1×1 frame sits at (3, 3) of an 8×8 tensor.
        let g = PadGeometry::for_frame(1, 1);
        assert_eq!((g.padded_width, g.left, g.top), (8, 3, 3));
        let mut t = vec![0.0f32; g.tensor_len()];
        let at = |c: usize| (c * 8 + 3) * 8 + 3;
        t[at(0)] = 100.0; // clamped to 2.7 → 2.7·0.229+0.485 > 1 → 255
        t[at(1)] = f32::NAN; // → -2.1 → -2.1·0.224+0.456 < 0 → 0
        t[at(2)] = 0.5; // (0.5·0.225 + 0.406)·255 = 132.21 → 132
        let mut out = RgbImage::new(7, 7);
        postprocess(&t, &g, &mut out).unwrap();
        assert_eq!(out.dimensions(), (1, 1));
        assert_eq!(out.get_pixel(0, 0).0, [255, 0, 132]);

        // Just inside the clamp: 2.0 in red → (2.0·0.229 + 0.485)·255 = 240.465 → 240.
        t[at(0)] = 2.0;
        postprocess(&t, &g, &mut out).unwrap();
        assert_eq!(out.get_pixel(0, 0)[0], 240);
        // Clamp, not clip, decides: -2.0 in green → (−0.448 + 0.456)·255 = 2.04 → 2.
        t[at(1)] = -2.0;
        postprocess(&t, &g, &mut out).unwrap();
        assert_eq!(out.get_pixel(0, 0)[1], 2);
        // Red's lower clamp is above black: -3 → -2.1 → (−0.4809 + 0.485)·255 = 1.04 → 1.
        t[at(0)] = -3.0;
        postprocess(&t, &g, &mut out).unwrap();
        assert_eq!(out.get_pixel(0, 0)[0], 1);
    }

    #[test]
    fn postprocess_crops_the_padding() {
        let g = PadGeometry::for_frame(3, 2); // 8×8 tensor
        let (pw, ph) = (g.padded_width, g.padded_height);
        let mut t = vec![-5.0f32; g.tensor_len()]; // padding → black
        for y in g.top..g.top + 2 {
            for x in g.left..g.left + 3 {
                for c in 0..3 {
                    t[(c * ph + y) * pw + x] = 5.0; // frame → white
                }
            }
        }
        let mut out = RgbImage::new(3, 2);
        postprocess(&t, &g, &mut out).unwrap();
        assert!(out.pixels().all(|p| p.0 == [255, 255, 255]));
    }

    /// `SpaceToDepth(ReflectionPad2d(pad)(t))` of a planar `[3, ph, pw]` tensor, spelled out.
    fn naive_phases_in(t: &[f32], g: &PadGeometry, pad: usize) -> Vec<f32> {
        let (pw, ph) = (g.padded_width, g.padded_height);
        let [_, hh, hw] = phase_input_shape(g, pad);
        let mut out = vec![0.0; 12 * hh * hw];
        for a in 0..2 {
            for b in 0..2 {
                for c in 0..3 {
                    for i in 0..hh {
                        for j in 0..hw {
                            let y = reflect_index((2 * i + a) as isize - pad as isize, ph);
                            let x = reflect_index((2 * j + b) as isize - pad as isize, pw);
                            out[(((a * 2 + b) * 3 + c) * hh + i) * hw + j] =
                                t[(c * ph + y) * pw + x];
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn phase_input_is_reflect_pad_then_space_to_depth() {
        for (w, h) in [(1, 1), (2, 9), (5, 5), (8, 8), (37, 23), (23, 37), (64, 48)] {
            let frame = patterned(w, h);
            let g = PadGeometry::for_frame(w as usize, h as usize);
            let mut planar = vec![0.0; g.tensor_len()];
            preprocess(&frame, &g, &mut planar).unwrap();
            for pad in [4, 1, 0] {
                let want = naive_phases_in(&planar, &g, pad);
                let mut got = vec![f32::NAN; want.len()];
                preprocess_phases(&frame, &g, pad, &mut got).unwrap();
                assert_eq!(got, want, "{w}×{h}, pad {pad}");
            }
        }
    }

    #[test]
    fn phase_output_is_depth_to_space_then_postprocess() {
        for (w, h) in [(1, 1), (2, 9), (5, 5), (37, 23), (23, 37), (64, 48)] {
            let g = PadGeometry::for_frame(w, h);
            let (pw, ph) = (g.padded_width, g.padded_height);
            let [_, hh, hw] = phase_output_shape(&g);
            // Distinct values everywhere, spanning the clamp range.
            let phases: Vec<f32> = (0..12 * hh * hw)
                .map(|k| ((k * 7919) % 1000) as f32 / 200.0 - 2.5)
                .collect();
            let mut planar = vec![0.0; g.tensor_len()];
            for c in 0..3 {
                for y in 0..ph {
                    for x in 0..pw {
                        let p = (y % 2) * 2 + x % 2;
                        planar[(c * ph + y) * pw + x] =
                            phases[((c * 4 + p) * hh + y / 2) * hw + x / 2];
                    }
                }
            }
            let mut want = RgbImage::new(1, 1);
            postprocess(&planar, &g, &mut want).unwrap();
            let mut got = RgbImage::new(1, 1);
            postprocess_phases(&phases, &g, &mut got).unwrap();
            assert_eq!(got, want, "{w}×{h}");
        }
    }

    #[test]
    fn phase_buffers_of_the_wrong_size_are_rejected() {
        let frame = RgbImage::new(5, 5);
        let g = PadGeometry::for_frame(5, 5);
        let [c, hh, hw] = phase_input_shape(&g, 4);
        let mut planar = vec![0.0; g.tensor_len()];
        let e = preprocess_phases(&frame, &g, 4, &mut planar).unwrap_err();
        assert!(
            e.to_string().contains(&format!("expected {c}×{hh}×{hw}")),
            "{e}"
        );
        let mut out = RgbImage::new(5, 5);
        let e = postprocess_phases(&planar[1..], &g, &mut out).unwrap_err();
        assert!(e.to_string().contains("expected 12×4×4"), "{e}");
        // An odd tensor side cannot be split.
        let odd = PadGeometry::with_padded(5, 5, 5, 8);
        assert!(preprocess_phases(&frame, &odd, 4, &mut planar).is_err());
    }

    #[test]
    fn mismatched_buffers_are_rejected() {
        let frame = RgbImage::new(5, 5);
        let g = PadGeometry::for_frame(5, 5);
        let mut short = vec![0.0; g.tensor_len() - 1];
        assert!(matches!(
            preprocess(&frame, &g, &mut short),
            Err(Error::InvalidArgument(_))
        ));
        let other = PadGeometry::for_frame(6, 5);
        let mut t = vec![0.0; other.tensor_len()];
        assert!(matches!(
            preprocess(&frame, &other, &mut t),
            Err(Error::InvalidArgument(_))
        ));
        let mut out = RgbImage::new(5, 5);
        assert!(matches!(
            postprocess(&short, &g, &mut out),
            Err(Error::InvalidArgument(_))
        ));
    }
}
