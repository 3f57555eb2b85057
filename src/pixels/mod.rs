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

mod mix;
mod tensor;

pub use crate::net::arch::{MEAN, OUTPUT_CLAMP, SIZE_MULTIPLE, STD};
pub use mix::{blend, preserve_colour};
pub use tensor::{normalise, postprocess, preprocess};

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
    /// Geometry for a `width`×`height` frame padded up to the next multiple of [`SIZE_MULTIPLE`].
    pub fn for_frame(width: usize, height: usize) -> Self {
        Self::with_padded(width, height, round_up(width), round_up(height))
    }

    /// Geometry for a frame placed in a tensor of an explicit size (each at least the frame's).
    pub fn with_padded(width: usize, height: usize, padded_width: usize, padded_height: usize) -> Self {
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

fn round_up(n: usize) -> usize {
    n.div_ceil(SIZE_MULTIPLE) * SIZE_MULTIPLE
}

/// Source index for padded position `i` (which may lie before 0 or past `n - 1`) under reflection
/// padding, PyTorch `ReflectionPad2d` style: the edge is not repeated (`-1 → 1`, `n → n - 2`).
///
/// Reflection needs at least 2 pixels. Tiny sizes are handled instead of failing:
/// * `n == 1`: every position maps to 0 (edge replication; there is nothing to reflect).
/// * padding wider than `n - 1` (impossible with [`SIZE_MULTIPLE`] 4 when `n ≥ 2`, since the pad
///   is at most 2 on a side and `n = 2` gets 1 on each side): the reflection is folded again
///   (period `2(n - 1)`), i.e. the image is mirrored back and forth as often as needed.
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
        assert_eq!((g.padded_width, g.padded_height, g.top, g.left), (64, 48, 0, 0));
        let g = PadGeometry::for_frame(1, 1);
        assert_eq!((g.padded_width, g.padded_height, g.top, g.left), (4, 4, 1, 1));
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
