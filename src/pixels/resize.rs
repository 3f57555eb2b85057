//! Rescaling frames on the frame path (a model's fixed input size, the arbitrary family's
//! capped content size) with `fast_image_resize`: its SIMD convolution kernels scale a
//! 1280×720 frame to 853×480 and back with Lanczos3 in ≈5 ms on this project's 2-core CPU,
//! where `image::imageops::resize` takes ≈60 ms (≈45 ms with its bilinear filter), more than
//! the network itself at that size (BENCHMARKS.md).

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::RgbImage;

/// The filter a [`Rescaler`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Bilinear: for scaling into a network's input.
    Bilinear,
    /// Lanczos3: sharp, for pictures people look at.
    Lanczos3,
}

/// Rescales RGB frames, reusing its scratch buffers from frame to frame.
pub struct Rescaler {
    resizer: Resizer,
    options: ResizeOptions,
}

impl std::fmt::Debug for Rescaler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rescaler").finish_non_exhaustive()
    }
}

impl Rescaler {
    pub fn new(filter: Filter) -> Rescaler {
        let filter = match filter {
            Filter::Bilinear => FilterType::Bilinear,
            Filter::Lanczos3 => FilterType::Lanczos3,
        };
        Rescaler {
            resizer: Resizer::new(),
            options: ResizeOptions::new().resize_alg(ResizeAlg::Convolution(filter)),
        }
    }

    /// `src` scaled to `w`×`h` into `dst` (reallocated only when its size differs).
    pub fn resize_into(&mut self, src: &RgbImage, w: u32, h: u32, dst: &mut RgbImage) {
        if dst.dimensions() != (w, h) {
            *dst = RgbImage::new(w, h);
        }
        if src.dimensions() == (w, h) {
            dst.copy_from_slice(src);
            return;
        }
        let (sw, sh) = src.dimensions();
        // Both views are u8 RGB buffers of exactly their stated sizes (RgbImage guarantees it),
        // so neither constructor nor the resize can fail.
        let from = ImageRef::new(sw, sh, src.as_raw(), PixelType::U8x3).expect("RGB buffer size");
        let mut to = Image::from_slice_u8(w, h, dst, PixelType::U8x3).expect("RGB buffer size");
        self.resizer
            .resize(&from, &mut to, &self.options)
            .expect("same pixel type, non-empty sizes");
    }

    /// `src` scaled to `w`×`h`.
    pub fn resize(&mut self, src: &RgbImage, w: u32, h: u32) -> RgbImage {
        let mut out = RgbImage::new(0, 0);
        self.resize_into(src, w, h, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_keeps_flat_colour_and_ramps() {
        let src = RgbImage::from_fn(64, 48, |x, _| image::Rgb([(x * 4) as u8, 100, 200]));
        for filter in [Filter::Bilinear, Filter::Lanczos3] {
            let mut r = Rescaler::new(filter);
            let small = r.resize(&src, 32, 24);
            assert_eq!(small.dimensions(), (32, 24));
            for p in small.pixels() {
                assert_eq!(&p.0[1..], &[100, 200]);
            }
            // A horizontal ramp stays a ramp, left to right.
            let row: Vec<u8> = (0..32).map(|x| small.get_pixel(x, 10).0[0]).collect();
            assert!(row.windows(2).all(|w| w[0] <= w[1]), "{row:?}");
            assert!(row[0] < 10 && row[31] > 240, "{row:?}");
            let back = r.resize(&small, 64, 48);
            assert_eq!(back.dimensions(), (64, 48));
        }
    }
}
