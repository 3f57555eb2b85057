//! Pixel kernels around the network: frames (`RgbImage`) ⇄ NCHW `f32` tensors, plus the two
//! mixing effects of the live view.
//!
//! * [`preprocess`]: u8 RGB → ImageNet-normalised planar `f32`, reflect-padded to a multiple of
//!   [`SIZE_MULTIPLE`] in the same pass.
//! * [`postprocess`]: planar `f32` → crop the padding away → clamp → denormalise → clip → round to
//!   u8, in one pass.
//! * [`blend`]: mix the stylised frame with the original (style strength).
//! * [`preserve_colour`]: keep the original's colours, take only the luminance from the stylised
//!   frame.
//!
//! Everything here is pure and allocation-free: callers own the buffers and reuse them from frame
//! to frame.

pub mod blit;
mod mix;
pub mod resize;
mod tensor;
pub mod text;
pub mod yuv;

pub use crate::net::arch::{network_size, MEAN, MIN_SIZE, OUTPUT_CLAMP, SIZE_MULTIPLE, STD};
pub use mix::{blend, preserve_colour};
pub use tensor::{
    normalise, phase_input_shape, phase_output_shape, postprocess, postprocess_phases, preprocess,
    preprocess_phases,
};

/// Where a frame sits inside the padded tensor: padded size and the padding on each side.
///
/// Padding is split as evenly as possible, the extra pixel going to the bottom/right:
/// `top = extra / 2`, `bottom = extra - extra / 2` (same for left/right).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PadGeometry {
    /// Frame width.
    pub width: usize,
    /// Frame height.
    pub height: usize,
    /// Tensor width (a multiple of [`SIZE_MULTIPLE`]).
    pub padded_width: usize,
    /// Tensor height (a multiple of [`SIZE_MULTIPLE`]).
    pub padded_height: usize,
    /// Rows added above the frame.
    pub top: usize,
    /// Columns added left of the frame.
    pub left: usize,
}

impl PadGeometry {
    /// Geometry for a `width`×`height` frame at the size the network runs at: each side padded
    /// to the next multiple of [`SIZE_MULTIPLE`], and to at least [`MIN_SIZE`]
    /// ([`network_size`], the rule in [`crate::net::arch`]).
    pub fn for_frame(width: usize, height: usize) -> Self {
        Self::with_padded(width, height, network_size(width), network_size(height))
    }

    /// Geometry for a frame placed in a tensor of an explicit size (each at least the frame's).
    pub fn with_padded(
        width: usize,
        height: usize,
        padded_width: usize,
        padded_height: usize,
    ) -> Self {
        debug_assert!(padded_width >= width && padded_height >= height);
        PadGeometry {
            width,
            height,
            padded_width,
            padded_height,
            top: (padded_height - height) / 2,
            left: (padded_width - width) / 2,
        }
    }

    /// Rows added below the frame.
    pub fn bottom(&self) -> usize {
        self.padded_height - self.height - self.top
    }

    /// Columns added right of the frame.
    pub fn right(&self) -> usize {
        self.padded_width - self.width - self.left
    }

    /// Number of `f32`s in the `[1, 3, padded_height, padded_width]` tensor.
    pub fn tensor_len(&self) -> usize {
        3 * self.padded_height * self.padded_width
    }
}

/// Source index for padded position `i` (which may lie before 0 or past `n - 1`) under reflection
/// padding, PyTorch `ReflectionPad2d` style: the edge is not repeated (`-1 → 1`, `n → n - 2`).
///
/// Reflection needs at least 2 pixels, and one reflection covers at most `n - 1` pixels. Tiny
/// sides (padded up to [`MIN_SIZE`]) are handled instead of failing:
/// * `n == 1`: every position maps to 0 (edge replication; there is nothing to reflect).
/// * padding wider than `n - 1` (e.g. 2 → 8 pads 3 on each side): the reflection keeps bouncing
///   between the edges (the index is folded with period `2(n - 1)`), as the padding rule in
///   [`crate::net::arch`] specifies.
#[inline]
pub fn reflect_index(i: isize, n: usize) -> usize {
    debug_assert!(n > 0);
    if n == 1 {
        return 0;
    }
    let n = n as isize;
    if (0..n).contains(&i) {
        return i as usize;
    }
    let period = 2 * (n - 1);
    let m = i.rem_euclid(period);
    (if m < n { m } else { period - m }) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_splits_padding_top_small() {
        let g = PadGeometry::for_frame(37, 23);
        assert_eq!((g.padded_width, g.padded_height), (40, 24));
        assert_eq!((g.left, g.right()), (1, 2));
        assert_eq!((g.top, g.bottom()), (0, 1));
        let g = PadGeometry::for_frame(64, 48);
        assert_eq!(
            (g.padded_width, g.padded_height, g.top, g.left),
            (64, 48, 0, 0)
        );
        // Below MIN_SIZE: 1 → 8 (3 before, 4 after), 5 → 8 (1, 2).
        let g = PadGeometry::for_frame(1, 5);
        assert_eq!((g.padded_width, g.padded_height), (8, 8));
        assert_eq!((g.left, g.right(), g.top, g.bottom()), (3, 4, 1, 2));
        // Agrees with the network's padding rule for every side length.
        for len in 1..200 {
            let g = PadGeometry::for_frame(len, len);
            assert_eq!(
                (g.left, g.right()),
                crate::net::arch::size_padding(len),
                "{len}"
            );
        }
    }

    #[test]
    fn reflect_index_matches_reflection_pad_2d() {
        // n = 5, pad 2: [2 1 | 0 1 2 3 4 | 3 2]
        let got: Vec<usize> = (-2..7).map(|i| reflect_index(i, 5)).collect();
        assert_eq!(got, vec![2, 1, 0, 1, 2, 3, 4, 3, 2]);
        // n = 2: [1 | 0 1 | 0]
        let got: Vec<usize> = (-1..3).map(|i| reflect_index(i, 2)).collect();
        assert_eq!(got, vec![1, 0, 1, 0]);
        // n = 1: edge replication
        assert_eq!(reflect_index(-1, 1), 0);
        assert_eq!(reflect_index(2, 1), 0);
        // folding beyond one reflection: n = 3, period 4: ... 2 1 | 0 1 2 | 1 0 1 2
        let got: Vec<usize> = (3..7).map(|i| reflect_index(i, 3)).collect();
        assert_eq!(got, vec![1, 0, 1, 2]);
    }
}
