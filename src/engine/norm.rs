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

/// Normalises each of `scale.len()` contiguous chunks of `x` into `y`:
/// `y = relu?((x − mean) / sqrt(var + eps) · scale + bias)`.
/// `parallel(n, f)` must call `f(0..n)` once each, in any order and on any threads.
pub fn instance_norm(
    x: &[f32],
    y: &mut [f32],
    scale: &[f32],
    bias: &[f32],
    eps: f32,
    relu: bool,
    parallel: impl FnOnce(usize, &(dyn Fn(usize) + Sync)),
) {
    let channels = scale.len();
    assert_eq!(bias.len(), channels, "one bias per channel");
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
        normalise_channel(src, dst, scale[c], bias[c], eps, relu);
    };
    parallel(channels, &task);
}

#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: the channels' tasks write disjoint chunks (see `instance_norm`).
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

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

fn normalise_channel(src: &[f32], dst: &mut [f32], scale: f32, bias: f32, eps: f32, relu: bool) {
    let n = src.len() as f64;
    let mean = (sum_by(src, |v| v) / n) as f32;
    let var = (sum_by(src, |v| (v - mean) * (v - mean)) / n) as f32;
    let k = scale / (var + eps).sqrt();
    let b = bias - mean * k;
    if relu {
        for (d, &v) in dst.iter_mut().zip(src) {
            *d = (v * k + b).max(0.0);
        }
    } else {
        for (d, &v) in dst.iter_mut().zip(src) {
            *d = v * k + b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serial(n: usize, f: &(dyn Fn(usize) + Sync)) {
        (0..n).rev().for_each(f);
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
            instance_norm(&x, &mut y, &scale, &bias, 1e-5, relu, serial);
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
