//! Reflection and edge padding of image planes, for stylecam's `ai.stylecam:Pad2d` operator.
//!
//! ONNX Runtime's `Pad` runs its `reflect` and `edge` modes element by element on one thread:
//! in the arbitrary-style transformer's lowered graph (`net::arbitrary::lowered`) its eleven
//! pads took ≈ 15 ms of a 640×480 frame on two threads, as much as the output convolution. This
//! kernel copies whole rows (`copy_from_slice`), fills only the border element by element, and
//! pads the planes in parallel.

use super::OutPtr;

/// How the border is filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PadMode {
    /// ONNX `reflect`: the border mirrors the plane without repeating its edge
    /// (`… x2 x1 | x0 x1 x2 …`); needs each pad smaller than the side it extends.
    Reflect,
    /// ONNX `edge`: the border repeats the edge value.
    Edge,
}

/// Padding on each side of a plane, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pads {
    pub top: usize,
    pub left: usize,
    pub bottom: usize,
    pub right: usize,
}

impl Pads {
    /// The padded size of an `h`×`w` plane.
    pub fn padded(&self, h: usize, w: usize) -> (usize, usize) {
        (h + self.top + self.bottom, w + self.left + self.right)
    }

    /// Whether `mode` can pad an `h`×`w` plane this much (reflection needs pad < side).
    pub fn fit(&self, h: usize, w: usize, mode: PadMode) -> bool {
        h > 0
            && w > 0
            && (mode == PadMode::Edge
                || (self.top < h && self.bottom < h && self.left < w && self.right < w))
    }
}

/// Source index of padded index `i` (`i` counts from the first padding element; `before`
/// of them precede the `n` source elements).
#[inline]
fn source(i: usize, before: usize, n: usize, mode: PadMode) -> usize {
    let j = i as isize - before as isize;
    let last = n as isize - 1;
    let k = match mode {
        PadMode::Edge => j.clamp(0, last),
        PadMode::Reflect if j < 0 => -j,
        PadMode::Reflect if j > last => 2 * last - j,
        PadMode::Reflect => j,
    };
    k as usize
}

/// Pads each of the `planes` `h`×`w` planes of `x` into `y` (`planes` planes of
/// [`Pads::padded`] size). `parallel(n, f)` must call `f(0..n)` once each, on any threads.
pub fn pad_planes(
    x: &[f32],
    planes: usize,
    (h, w): (usize, usize),
    pads: Pads,
    mode: PadMode,
    y: &mut [f32],
    parallel: impl FnOnce(usize, &(dyn Fn(usize) + Sync)),
) {
    assert!(
        pads.fit(h, w, mode),
        "{pads:?} does not fit a {h}×{w} plane in {mode:?} mode"
    );
    let (ph, pw) = pads.padded(h, w);
    assert_eq!(x.len(), planes * h * w, "input is planes × h × w");
    assert_eq!(y.len(), planes * ph * pw, "output is planes × padded size");
    let out = OutPtr(y.as_mut_ptr());
    let task = move |p: usize| {
        let out = out;
        let src = &x[p * h * w..][..h * w];
        // SAFETY: plane p writes only its own padded plane.
        let dst = unsafe { std::slice::from_raw_parts_mut(out.0.add(p * ph * pw), ph * pw) };
        for (r, row) in dst.chunks_exact_mut(pw).enumerate() {
            let s = &src[source(r, pads.top, h, mode) * w..][..w];
            row[pads.left..pads.left + w].copy_from_slice(s);
            for c in (0..pads.left).chain(pads.left + w..pw) {
                row[c] = s[source(c, pads.left, w, mode)];
            }
        }
    };
    parallel(planes, &task);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serial(n: usize, f: &(dyn Fn(usize) + Sync)) {
        (0..n).for_each(f);
    }

    #[test]
    fn reflect_and_edge_match_onnx_on_a_small_plane() {
        // 2×3 plane: rows [1 2 3], [4 5 6]; pads top 1, left 2, bottom 1, right 1.
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let pads = Pads {
            top: 1,
            left: 2,
            bottom: 1,
            right: 1,
        };
        let mut y = vec![0.0; 4 * 6];
        pad_planes(&x, 1, (2, 3), pads, PadMode::Reflect, &mut y, serial);
        #[rustfmt::skip]
        let want = [
            6.0, 5.0, 4.0, 5.0, 6.0, 5.0,
            3.0, 2.0, 1.0, 2.0, 3.0, 2.0,
            6.0, 5.0, 4.0, 5.0, 6.0, 5.0,
            3.0, 2.0, 1.0, 2.0, 3.0, 2.0,
        ];
        assert_eq!(y, want);
        pad_planes(&x, 1, (2, 3), pads, PadMode::Edge, &mut y, serial);
        #[rustfmt::skip]
        let want = [
            1.0, 1.0, 1.0, 2.0, 3.0, 3.0,
            1.0, 1.0, 1.0, 2.0, 3.0, 3.0,
            4.0, 4.0, 4.0, 5.0, 6.0, 6.0,
            4.0, 4.0, 4.0, 5.0, 6.0, 6.0,
        ];
        assert_eq!(y, want);
    }

    #[test]
    fn planes_are_padded_independently() {
        let x: Vec<f32> = (0..2 * 3 * 4).map(|v| v as f32).collect();
        let pads = Pads {
            top: 1,
            left: 1,
            bottom: 1,
            right: 1,
        };
        let mut y = vec![0.0; 2 * 5 * 6];
        pad_planes(&x, 2, (3, 4), pads, PadMode::Edge, &mut y, serial);
        assert_eq!(y[30], 12.0, "plane 1 starts with its own corner");
        assert_eq!(y[29], 11.0, "plane 0 ends with its own corner");
        assert_eq!(y[59], 23.0, "plane 1 ends with its own corner");
        assert!(!pads.fit(1, 4, PadMode::Reflect));
        assert!(pads.fit(1, 4, PadMode::Edge));
    }
}
