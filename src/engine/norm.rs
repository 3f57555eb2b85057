//! Instance norm with its ReLU in one operator, for the CPU-lowered graphs.
//!
//! ONNX Runtime runs `InstanceNormalization` and the `Relu` after it as two nodes, each a full
//! pass over a tensor that at full resolution is 32 channels × the frame. This kernel makes
//! three passes over one channel at a time while it sits in the core's cache (mean, variance
//! about the mean, then normalise + affine + ReLU into the output), channels in parallel.
//!
//! The statistics of channel `c` cover the `c`-th of `C` equal contiguous chunks of the tensor
//! (`C` = the length of the scale), so a phase-split tensor (`[1, 4C, h, w]` in `DepthToSpace`
//! CRD order, a channel's four phases adjacent) needs no reshape.

use super::OutPtr;

/// A norm's per-channel affine parameters, its epsilon, and whether a ReLU follows.
#[derive(Clone, Debug, PartialEq)]
pub struct NormParams {
    pub scale: Vec<f32>,
    pub bias: Vec<f32>,
    pub epsilon: f32,
    pub relu: bool,
}

impl NormParams {
    /// Channel `c`'s `x ↦ relu?(x · k + b)` for statistics giving `(k, b)` ([`affine`]).
    #[inline(always)]
    fn channel(&self, c: usize, parts: &[&[f32]]) -> impl Fn(f32) -> f32 {
        let (k, b) = affine(parts, self.scale[c], self.bias[c], self.epsilon);
        let relu = self.relu;
        move |v: f32| {
            let t = v * k + b;
            if relu {
                t.max(0.0)
            } else {
                t
            }
        }
    }

    fn check(&self) -> usize {
        assert_eq!(self.bias.len(), self.scale.len(), "one bias per channel");
        self.scale.len()
    }
}

/// Normalises each of `scale.len()` contiguous chunks of `x` into `y`:
/// `y = relu?((x − mean) / sqrt(var + eps) · scale + bias)`.
/// `parallel(n, f)` must call `f(0..n)` once each, in any order and on any threads.
pub fn instance_norm(
    x: &[f32],
    y: &mut [f32],
    norm: &NormParams,
    parallel: impl FnOnce(usize, &(dyn Fn(usize) + Sync)),
) {
    let channels = norm.check();
    assert_eq!(x.len(), y.len(), "output has the input's shape");
    if channels == 0 || x.is_empty() {
        return;
    }
    assert_eq!(
        x.len() % channels,
        0,
        "the tensor splits into one chunk per channel"
    );
    let n = x.len() / channels;
    let out = OutPtr(y.as_mut_ptr());
    let task = move |c: usize| {
        let out = out;
        let src = &x[c * n..][..n];
        // SAFETY: channel c writes only its own chunk of y.
        let dst = unsafe { std::slice::from_raw_parts_mut(out.0.add(c * n), n) };
        let f = norm.channel(c, &[src]);
        for (d, &v) in dst.iter_mut().zip(src) {
            *d = f(v);
        }
    };
    parallel(channels, &task);
}

/// [`instance_norm`] of a `[C, h, w]` image written reflection-padded by `pad` on each side
/// (`[C, h + 2·pad, w + 2·pad]`, ONNX `Pad` mode `reflect`): the norm and the pad that follows it
/// in one pass. Needs `pad < h` and `pad < w`.
pub fn instance_norm_reflect_padded(
    x: &[f32],
    h: usize,
    w: usize,
    pad: usize,
    y: &mut [f32],
    norm: &NormParams,
    parallel: impl FnOnce(usize, &(dyn Fn(usize) + Sync)),
) {
    let channels = norm.check();
    assert!(pad < h && pad < w, "reflection needs pad < h, w");
    assert_eq!(x.len(), channels * h * w, "input is [C, h, w]");
    let (ph, pw) = (h + 2 * pad, w + 2 * pad);
    assert_eq!(
        y.len(),
        channels * ph * pw,
        "output is [C, h + 2·pad, w + 2·pad]"
    );
    if channels == 0 {
        return;
    }
    let out = OutPtr(y.as_mut_ptr());
    let task = move |c: usize| {
        let out = out;
        let src = &x[c * h * w..][..h * w];
        // SAFETY: channel c writes only its own padded plane.
        let dst = unsafe { std::slice::from_raw_parts_mut(out.0.add(c * ph * pw), ph * pw) };
        let f = norm.channel(c, &[src]);
        for (i, row) in src.chunks_exact(w).enumerate() {
            let d = &mut dst[(i + pad) * pw..][..pw];
            for (o, &v) in d[pad..pad + w].iter_mut().zip(row) {
                *o = f(v);
            }
            // Column pad − 1 − j mirrors column j + 1; column pad + w + j mirrors w − 2 − j.
            for j in 0..pad {
                d[pad - 1 - j] = d[pad + 1 + j];
                d[pad + w + j] = d[pad + w - 2 - j];
            }
        }
        for j in 0..pad {
            dst.copy_within((pad + 1 + j) * pw..(pad + 2 + j) * pw, (pad - 1 - j) * pw);
            dst.copy_within(
                (pad + h - 2 - j) * pw..(pad + h - 1 - j) * pw,
                (pad + h + j) * pw,
            );
        }
    };
    parallel(channels, &task);
}

/// How [`phase_norm`] writes its output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhaseLayout {
    /// `[C, 2h, 2w]`: the phases interleaved back into the image (`DepthToSpace`).
    Interleaved,
    /// `[4C, h, w]`, a channel's four phases adjacent (`DepthToSpace` CRD order).
    Crd,
}

/// Where [`phase_norm`] finds an image's four 2×2 phases (phase `(a, b)` holds pixels
/// `(2i + a, 2j + b)`, phase index `2a + b`).
#[derive(Clone, Copy, Debug)]
pub enum PhaseInput<'a> {
    /// Four tensors `[p00, p01, p10, p11]`, each `[C, h, w]`.
    Planes([&'a [f32]; 4]),
    /// One `[4C, h, w]` tensor in `DepthToSpace` CRD order: channel `c`'s phase `k` is plane
    /// `4c + k`.
    Crd(&'a [f32]),
}

impl<'a> PhaseInput<'a> {
    fn len(&self) -> usize {
        match self {
            PhaseInput::Planes(p) => p.iter().map(|p| p.len()).sum(),
            PhaseInput::Crd(x) => x.len(),
        }
    }

    /// Channel `c`'s four phase planes of `plane` values.
    fn channel(&self, c: usize, plane: usize) -> [&'a [f32]; 4] {
        match *self {
            PhaseInput::Planes(p) => p.map(|p| &p[c * plane..][..plane]),
            PhaseInput::Crd(x) => std::array::from_fn(|k| &x[(4 * c + k) * plane..][..plane]),
        }
    }
}

/// Instance norm (+ ReLU) of an image given as its four 2×2 phases: the statistics of channel
/// `c` cover its four planes; the output is written in `layout`. One pass replaces a `Concat`, a
/// `DepthToSpace`, the norm and the ReLU of the lowered graph's transposed convolutions.
pub fn phase_norm(
    phases: PhaseInput<'_>,
    h: usize,
    w: usize,
    y: &mut [f32],
    layout: PhaseLayout,
    norm: &NormParams,
    parallel: impl FnOnce(usize, &(dyn Fn(usize) + Sync)),
) {
    let channels = norm.check();
    let plane = h * w;
    if let PhaseInput::Planes(p) = phases {
        for p in p {
            assert_eq!(p.len(), channels * plane, "each phase is [C, h, w]");
        }
    }
    assert_eq!(
        phases.len(),
        4 * channels * plane,
        "the phases hold C × 4 planes of h × w"
    );
    assert_eq!(
        y.len(),
        4 * channels * plane,
        "output holds the four phases"
    );
    if channels == 0 || plane == 0 {
        return;
    }
    let out = OutPtr(y.as_mut_ptr());
    let task = move |c: usize| {
        let out = out;
        let planes = phases.channel(c, plane);
        let f = norm.channel(c, &planes);
        // SAFETY: channel c writes only its own 4·h·w outputs.
        let dst = unsafe { std::slice::from_raw_parts_mut(out.0.add(c * 4 * plane), 4 * plane) };
        match layout {
            PhaseLayout::Crd => {
                for (d, p) in dst.chunks_exact_mut(plane).zip(planes) {
                    for (o, &v) in d.iter_mut().zip(p) {
                        *o = f(v);
                    }
                }
            }
            PhaseLayout::Interleaved => {
                for i in 0..h {
                    for a in 0..2 {
                        let row = &mut dst[(2 * i + a) * 2 * w..][..2 * w];
                        let (p0, p1) = (
                            &planes[2 * a][i * w..][..w],
                            &planes[2 * a + 1][i * w..][..w],
                        );
                        for ((o, &v0), &v1) in row.chunks_exact_mut(2).zip(p0).zip(p1) {
                            o[0] = f(v0);
                            o[1] = f(v1);
                        }
                    }
                }
            }
        }
    };
    parallel(channels, &task);
}

/// Sum of `f(v)` over `xs`, in 16 f32 lanes per block of 4096 values, blocks summed in f64.
#[inline(always)]
fn sum_by(xs: &[f32], f: impl Fn(f32) -> f32) -> f64 {
    let mut total = 0.0f64;
    for block in xs.chunks(4096) {
        let mut lanes = [0.0f32; 16];
        let mut it = block.chunks_exact(16);
        for c in &mut it {
            for (l, &v) in lanes.iter_mut().zip(c) {
                *l += f(v);
            }
        }
        let tail: f32 = it.remainder().iter().map(|&v| f(v)).sum();
        total += lanes.iter().map(|&l| l as f64).sum::<f64>() + tail as f64;
    }
    total
}

/// `(k, b)` with `norm(v) = v · k + b` for the values of `parts` taken together: mean first,
/// then the variance about it (two passes, no cancellation).
fn affine(parts: &[&[f32]], scale: f32, bias: f32, eps: f32) -> (f32, f32) {
    let n = parts.iter().map(|p| p.len()).sum::<usize>() as f64;
    let mean = (parts.iter().map(|p| sum_by(p, |v| v)).sum::<f64>() / n) as f32;
    let var = (parts
        .iter()
        .map(|p| sum_by(p, |v| (v - mean) * (v - mean)))
        .sum::<f64>()
        / n) as f32;
    let k = scale / (var + eps).sqrt();
    (k, bias - mean * k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(scale: &[f32], bias: &[f32], relu: bool) -> NormParams {
        NormParams {
            scale: scale.to_vec(),
            bias: bias.to_vec(),
            epsilon: 1e-5,
            relu,
        }
    }

    fn serial(n: usize, f: &(dyn Fn(usize) + Sync)) {
        (0..n).rev().for_each(f);
    }

    #[test]
    fn reflect_padded_norm_equals_the_norm_then_onnx_reflect_pad() {
        for (c, h, w, pad) in [(3usize, 5usize, 7usize, 1usize), (2, 4, 3, 2), (1, 2, 2, 1)] {
            let x: Vec<f32> = (0..c * h * w)
                .map(|i| ((i * 37) % 29) as f32 - 11.0)
                .collect();
            let scale: Vec<f32> = (0..c).map(|i| 0.5 + i as f32).collect();
            let bias: Vec<f32> = (0..c).map(|i| i as f32 * 0.25 - 0.5).collect();
            let mut plain = vec![0.0; x.len()];
            instance_norm(&x, &mut plain, &params(&scale, &bias, true), serial);
            let (ph, pw) = (h + 2 * pad, w + 2 * pad);
            // ONNX reflect: padded index p reads source index |p − pad| mirrored at the far edge.
            let reflect = |p: usize, n: usize| {
                let i = p as isize - pad as isize;
                let i = i.abs();
                let last = n as isize - 1;
                (if i > last { 2 * last - i } else { i }) as usize
            };
            let mut want = vec![0.0; c * ph * pw];
            for ch in 0..c {
                for r in 0..ph {
                    for q in 0..pw {
                        want[(ch * ph + r) * pw + q] =
                            plain[(ch * h + reflect(r, h)) * w + reflect(q, w)];
                    }
                }
            }
            let mut y = vec![f32::NAN; want.len()];
            instance_norm_reflect_padded(
                &x,
                h,
                w,
                pad,
                &mut y,
                &params(&scale, &bias, true),
                serial,
            );
            assert_eq!(y, want, "{c}×{h}×{w} pad {pad}");
        }
    }

    #[test]
    fn phase_norm_equals_depth_to_space_then_the_norm() {
        let (c, h, w) = (3usize, 5usize, 7usize);
        let phases: Vec<Vec<f32>> = (0..4)
            .map(|p| {
                (0..c * h * w)
                    .map(|i| ((i * 31 + p * 17) % 23) as f32 - 9.0)
                    .collect()
            })
            .collect();
        let scale = [1.0f32, 0.5, -2.0];
        let bias = [0.0f32, 1.0, 0.25];
        // The image the phases describe, and its plain instance norm.
        let mut image = vec![0.0f32; c * 4 * h * w];
        for ch in 0..c {
            for i in 0..h {
                for j in 0..w {
                    for (p, plane) in phases.iter().enumerate() {
                        let (a, b) = (p / 2, p % 2);
                        image[(ch * 2 * h + 2 * i + a) * 2 * w + 2 * j + b] =
                            plane[(ch * h + i) * w + j];
                    }
                }
            }
        }
        let mut want = vec![0.0f32; image.len()];
        instance_norm(&image, &mut want, &params(&scale, &bias, true), serial);
        let ph: [&[f32]; 4] = std::array::from_fn(|p| &phases[p][..]);
        let mut got = vec![f32::NAN; image.len()];
        phase_norm(
            PhaseInput::Planes(ph),
            h,
            w,
            &mut got,
            PhaseLayout::Interleaved,
            &params(&scale, &bias, true),
            serial,
        );
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-5, "{g} vs {w}");
        }
        // CRD: channel c's phase p at plane 4c + p.
        let mut crd = vec![f32::NAN; image.len()];
        phase_norm(
            PhaseInput::Planes(ph),
            h,
            w,
            &mut crd,
            PhaseLayout::Crd,
            &params(&scale, &bias, true),
            serial,
        );
        for ch in 0..c {
            for p in 0..4 {
                for i in 0..h {
                    for j in 0..w {
                        let (a, b) = (p / 2, p % 2);
                        let g = crd[((4 * ch + p) * h + i) * w + j];
                        let w_ = want[(ch * 2 * h + 2 * i + a) * 2 * w + 2 * j + b];
                        assert!((g - w_).abs() < 1e-5);
                    }
                }
            }
        }
    }

    #[test]
    fn crd_input_gives_the_same_image_as_four_planes() {
        let (c, h, w) = (3usize, 4usize, 5usize);
        let planes: Vec<Vec<f32>> = (0..4)
            .map(|p| {
                (0..c * h * w)
                    .map(|i| ((i * 13 + p * 7) % 19) as f32 - 6.0)
                    .collect()
            })
            .collect();
        // The same phases as one CRD tensor: channel ch's phase p at plane 4·ch + p.
        let mut crd = vec![0.0f32; 4 * c * h * w];
        for ch in 0..c {
            for (p, plane) in planes.iter().enumerate() {
                crd[(4 * ch + p) * h * w..][..h * w].copy_from_slice(&plane[ch * h * w..][..h * w]);
            }
        }
        let norm = params(&[1.0, -0.5, 2.0], &[0.1, 0.0, -1.0], true);
        let ph: [&[f32]; 4] = std::array::from_fn(|p| &planes[p][..]);
        let mut want = vec![f32::NAN; crd.len()];
        phase_norm(
            PhaseInput::Planes(ph),
            h,
            w,
            &mut want,
            PhaseLayout::Interleaved,
            &norm,
            serial,
        );
        let mut got = vec![f32::NAN; crd.len()];
        phase_norm(
            PhaseInput::Crd(&crd),
            h,
            w,
            &mut got,
            PhaseLayout::Interleaved,
            &norm,
            serial,
        );
        assert_eq!(got, want);
    }

    #[test]
    fn matches_the_definition_in_f64() {
        let (channels, n) = (3, 5000 + 7);
        // Large mean against a small spread: a one-pass E[x²] − E[x]² would lose it.
        let x: Vec<f32> = (0..channels * n)
            .map(|i| 100.0 + ((i * 7919) % 1000) as f32 * 0.01)
            .collect();
        let scale = [1.5f32, -0.5, 2.0];
        let bias = [0.1f32, 0.2, -0.3];
        for relu in [false, true] {
            let mut y = vec![f32::NAN; x.len()];
            instance_norm(&x, &mut y, &params(&scale, &bias, relu), serial);
            for c in 0..channels {
                let chunk = &x[c * n..][..n];
                let mean = chunk.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
                let var = chunk
                    .iter()
                    .map(|&v| (v as f64 - mean).powi(2))
                    .sum::<f64>()
                    / n as f64;
                for (i, &v) in chunk.iter().enumerate() {
                    let mut want =
                        (v as f64 - mean) / (var + 1e-5).sqrt() * scale[c] as f64 + bias[c] as f64;
                    if relu {
                        want = want.max(0.0);
                    }
                    let got = y[c * n + i] as f64;
                    assert!((got - want).abs() < 2e-4, "c {c} i {i}: {got} vs {want}");
                }
            }
        }
    }
}
