//! The network's last layer on the CPU: a K×K stride-1 convolution with zero padding
//! `(K − 1) / 2` from a full-resolution image to [`COUT`] channels, written as the output's four
//! 2×2 phases in `DepthToSpace` CRD order (`[4·COUT, H/2, W/2]`, what
//! [`crate::pixels::postprocess_phases`] reads).
//!
//! ONNX Runtime runs this layer (the seed's 9×9, 32 → 3 `deconv3`) as a 5×5 convolution on
//! phases, 128 → 12 channels: a fifth of its taps fall outside the 9×9 kernel and its NCHWc
//! kernels pad the 12 outputs to 16, so under two thirds of its multiply-adds are useful, and
//! it needs layout reorders on both sides. This kernel does only the useful ones: output rows in
//! pairs, in chunks of 48 pixels (AVX-512; 32 with AVX2, 16 portable), the accumulators of both
//! rows' three channels in registers, each input vector loaded once for up to six FMAs with
//! broadcast weights; input channels in blocks of 8 over the whole row pair. The kernel level
//! follows [`crate::engine::simd::KERNELS_ENV`].

use super::simd::Simd;
use super::OutPtr;

/// Output channels (the network's RGB).
pub const COUT: usize = 3;

/// The largest kernel side supported (odd).
pub const MAX_KERNEL: usize = 15;

/// A K×K convolution to [`COUT`] channels with its weights laid out for the kernel.
pub struct OutputConv {
    cin: usize,
    k: usize,
    /// `[cin][ky][kx][COUT]`: the three weights one input vector meets, side by side.
    weights: Vec<f32>,
    bias: [f32; COUT],
    simd: Simd,
}

impl OutputConv {
    /// From ONNX Conv weights `[COUT, cin, k, k]` and bias `[COUT]`; `k` odd, at most
    /// [`MAX_KERNEL`].
    pub fn new(weights: &[f32], bias: &[f32], cin: usize, k: usize) -> Result<Self, String> {
        if k.is_multiple_of(2) || k > MAX_KERNEL || cin == 0 {
            return Err(format!(
                "the kernel must be odd and at most {MAX_KERNEL} wide, with at least one input \
                 channel; got {k}×{k} from {cin} channels"
            ));
        }
        if weights.len() != COUT * cin * k * k || bias.len() != COUT {
            return Err(format!(
                "weights must be [{COUT}, {cin}, {k}, {k}] and the bias [{COUT}]; got {} and {} \
                 values",
                weights.len(),
                bias.len()
            ));
        }
        let mut laid = vec![0.0; weights.len()];
        for co in 0..COUT {
            for ci in 0..cin {
                for t in 0..k * k {
                    laid[(ci * k * k + t) * COUT + co] = weights[(co * cin + ci) * k * k + t];
                }
            }
        }
        Ok(OutputConv {
            cin,
            k,
            weights: laid,
            bias: [bias[0], bias[1], bias[2]],
            simd: Simd::detect(),
        })
    }

    /// Whether this CPU runs the AVX-512 kernel, the only one measured faster than ONNX
    /// Runtime's phase convolution (its AVX2 kernel was 5–9 % slower end to end on the AVX-512
    /// machine, BENCHMARKS.md *S6*; on AVX2-only CPUs it is unmeasured, so they keep ORT's).
    pub fn fast_on_this_cpu() -> bool {
        #[cfg(target_arch = "x86_64")]
        return Simd::detect() >= Simd::Avx512;
        #[cfg(not(target_arch = "x86_64"))]
        false
    }

    #[cfg(test)]
    fn with_simd(mut self, simd: Simd) -> Self {
        self.simd = simd;
        self
    }

    pub fn input_channels(&self) -> usize {
        self.cin
    }

    /// `x` `[cin, h, w]` → `y` `[4·COUT, h/2, w/2]` (CRD phases); `h` and `w` even.
    /// `parallel(n, f)` must call `f(0..n)` once each, in any order and on any threads;
    /// `threads` is how many it runs at once.
    pub fn run(
        &self,
        x: &[f32],
        h: usize,
        w: usize,
        y: &mut [f32],
        threads: usize,
        parallel: impl FnOnce(usize, &(dyn Fn(usize) + Sync)),
    ) {
        assert!(
            h.is_multiple_of(2) && w.is_multiple_of(2),
            "the image splits into 2×2 phases"
        );
        assert_eq!(x.len(), self.cin * h * w, "input is [cin, h, w]");
        assert_eq!(y.len(), COUT * h * w, "output is [4·COUT, h/2, w/2]");
        if h == 0 || w == 0 {
            return;
        }
        // A few tasks per thread so that uneven rows (the borders) even out; each task takes
        // whole pairs of rows.
        let pairs = h / 2;
        let tasks = (threads.max(1) * 4).min(pairs);
        let out = OutPtr(y.as_mut_ptr());
        let task = move |t: usize| {
            let out = out;
            for pair in t * pairs / tasks..(t + 1) * pairs / tasks {
                // SAFETY: rows 2·pair and 2·pair + 1 of the image are written by this task only.
                unsafe { self.rows(x, h, w, 2 * pair, out) };
            }
        };
        parallel(tasks, &task);
    }

    /// # Safety
    /// `out` points to `COUT × h × w` floats; no other task writes image rows `r0`, `r0 + 1`.
    unsafe fn rows(&self, x: &[f32], h: usize, w: usize, r0: usize, out: OutPtr) {
        match self.simd {
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 => unsafe { self.rows_avx512(x, h, w, r0, out) },
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2 => unsafe { self.rows_avx2(x, h, w, r0, out) },
            Simd::Portable => unsafe {
                self.rows_with::<16>(x, h, w, r0, out, accumulate_portable)
            },
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
    unsafe fn rows_avx512(&self, x: &[f32], h: usize, w: usize, r0: usize, out: OutPtr) {
        unsafe { self.rows_with::<48>(x, h, w, r0, out, |a, s| accumulate_avx512(a, s)) }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn rows_avx2(&self, x: &[f32], h: usize, w: usize, r0: usize, out: OutPtr) {
        unsafe { self.rows_with::<32>(x, h, w, r0, out, |a, s| accumulate_avx2(a, s)) }
    }

    /// Output rows `r0` and `r0 + 1` in chunks of `N` pixels, each accumulated by `accumulate`.
    #[inline(always)]
    unsafe fn rows_with<const N: usize>(
        &self,
        x: &[f32],
        h: usize,
        w: usize,
        r0: usize,
        out: OutPtr,
        accumulate: impl Fn(&mut Acc<N>, &Span<'_>),
    ) {
        let pad = self.k / 2;
        // Input rows either output row reads, inside the image.
        let iy = r0.saturating_sub(pad)..(r0 + 1 + pad + 1).min(h);
        let plane = (h / 2) * (w / 2);
        let edge_len = N + 2 * pad;
        let chunks = w.div_ceil(N);
        let acc_len = 2 * COUT * N;
        ACCUMULATORS.with(|buf| {
            let mut buf = buf.borrow_mut();
            buf.clear();
            buf.resize(chunks * acc_len, 0.0);
            let acc_of = |buf: &mut [f32], j: usize| -> *mut Acc<N> {
                buf[j * acc_len..][..acc_len].as_mut_ptr().cast::<Acc<N>>()
            };
            for j in 0..chunks {
                // SAFETY: `Acc<N>` is `2·COUT·N` contiguous f32s, which this slice holds.
                let acc = unsafe { &mut *acc_of(&mut buf, j) };
                for row in acc.iter_mut() {
                    for (a, b) in row.iter_mut().zip(self.bias) {
                        *a = [b; N];
                    }
                }
            }
            // Channels in blocks, each block over the whole row pair, so that its input rows
            // stream through the cache once per block instead of jumping between all channels'
            // rows for every chunk (32 input channels ran at 2/3 the speed of 8 without this).
            for c0 in (0..self.cin).step_by(CHANNEL_BLOCK) {
                let cb = CHANNEL_BLOCK.min(self.cin - c0);
                // What every chunk of this block shares; each chunk sets where its rows are.
                let block = Span {
                    x: &[],
                    ci_stride: 0,
                    iy_stride: 0,
                    cin: cb,
                    iy: iy.clone(),
                    r0,
                    k: self.k,
                    weights: &self.weights[c0 * self.k * self.k * COUT..],
                };
                for j in 0..chunks {
                    let x0 = j * N;
                    // SAFETY: as above; chunk j's accumulators, no other reference alive.
                    let acc = unsafe { &mut *acc_of(&mut buf, j) };
                    if x0 >= pad && x0 + N + pad <= w {
                        // Every tap of the chunk inside the image: read it in place.
                        let first = (c0 * h + iy.start) * w + x0 - pad;
                        let span = Span {
                            x: &x[first..],
                            ci_stride: h * w,
                            iy_stride: w,
                            ..block.clone()
                        };
                        accumulate(acc, &span);
                    } else {
                        // A chunk whose taps reach past a side reads zero-padded copies of its
                        // rows.
                        EDGE.with(|edge| {
                            let mut edge = edge.borrow_mut();
                            let rows = iy.len();
                            edge.clear();
                            edge.resize(cb * rows * edge_len, 0.0);
                            let from = x0.saturating_sub(pad);
                            let to = (x0 + N + pad).min(w);
                            let at = from + pad - x0;
                            for ci in 0..cb {
                                for (r, y) in iy.clone().enumerate() {
                                    let line = &x[((c0 + ci) * h + y) * w..][..w];
                                    let seg = &mut edge[(ci * rows + r) * edge_len..][..edge_len];
                                    seg[at..at + (to - from)].copy_from_slice(&line[from..to]);
                                }
                            }
                            let span = Span {
                                x: &edge,
                                ci_stride: rows * edge_len,
                                iy_stride: edge_len,
                                ..block.clone()
                            };
                            accumulate(acc, &span);
                        });
                    }
                }
            }
            // Pixel (row, xx) of channel c is phase (row mod 2, xx mod 2) of CRD channel
            // 4c + 2·(row mod 2) + (xx mod 2), at (row / 2, xx / 2); rows r0, r0 + 1 share
            // their phase row r0 / 2.
            let base = (r0 / 2) * (w / 2);
            for j in 0..chunks {
                let x0 = j * N;
                let n = N.min(w - x0);
                // SAFETY: as above.
                let acc = unsafe { &*acc_of(&mut buf, j) };
                for (dr, row) in acc.iter().enumerate() {
                    for (c, a) in row.iter().enumerate() {
                        for (l, &value) in a[..n].iter().enumerate() {
                            let xx = x0 + l;
                            let ch = 4 * c + 2 * dr + xx % 2;
                            // SAFETY: in bounds (checked shapes); this task owns these rows.
                            unsafe { *out.0.add(ch * plane + base + xx / 2) = value };
                        }
                    }
                }
            }
        });
    }
}

/// Input channels accumulated per pass over a row pair.
const CHANNEL_BLOCK: usize = 8;

/// Accumulators of a chunk: `[output row r0, r0 + 1][channel][pixel]`.
type Acc<const N: usize> = [[[f32; N]; COUT]; 2];

thread_local! {
    /// Zero-padded rows of a chunk at the image's sides.
    static EDGE: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
    /// The accumulators of a row pair's chunks.
    static ACCUMULATORS: std::cell::RefCell<Vec<f32>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// The input a chunk reads: image row `y` (in `self.iy`) of channel `ci` starts at
/// `x[ci·ci_stride + (y − iy.start)·iy_stride]` and holds the chunk's `N + k − 1` columns.
#[derive(Clone)]
struct Span<'a> {
    x: &'a [f32],
    ci_stride: usize,
    iy_stride: usize,
    cin: usize,
    iy: std::ops::Range<usize>,
    /// The first of the two output rows.
    r0: usize,
    k: usize,
    /// `[cin][ky][kx][COUT]`.
    weights: &'a [f32],
}

impl Span<'_> {
    /// The chunk's `n + k − 1` columns of image row `y` in channel `ci`.
    #[inline(always)]
    fn line(&self, ci: usize, y: usize, n: usize) -> &[f32] {
        let at = ci * self.ci_stride + (y - self.iy.start) * self.iy_stride;
        &self.x[at..at + n + self.k - 1]
    }

    /// The kernel row by which image row `y` reaches output row `r0 + dr`, if it does.
    #[inline(always)]
    fn ky(&self, y: usize, dr: usize) -> Option<usize> {
        (y + self.k / 2)
            .checked_sub(self.r0 + dr)
            .filter(|&ky| ky < self.k)
    }

    /// Kernel row `ky`'s `k·COUT` weights for channel `ci`.
    #[inline(always)]
    fn taps(&self, ci: usize, ky: usize) -> &[f32] {
        &self.weights[(ci * self.k + ky) * self.k * COUT..][..self.k * COUT]
    }
}

fn accumulate_portable<const N: usize>(acc: &mut Acc<N>, span: &Span<'_>) {
    for ci in 0..span.cin {
        for y in span.iy.clone() {
            let line = span.line(ci, y, N);
            for (dr, row) in acc.iter_mut().enumerate() {
                let Some(ky) = span.ky(y, dr) else { continue };
                let taps = span.taps(ci, ky);
                for kx in 0..span.k {
                    for (a, &wc) in row.iter_mut().zip(&taps[kx * COUT..][..COUT]) {
                        for (al, &vl) in a.iter_mut().zip(&line[kx..kx + N]) {
                            *al += vl * wc;
                        }
                    }
                }
            }
        }
    }
}

/// 48 pixels × 3 channels × 2 rows in eighteen registers: an input row that reaches both
/// output rows feeds six FMAs per vector loaded.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
#[allow(clippy::needless_range_loop)] // both rows' accumulators are indexed alike
fn accumulate_avx512(acc: &mut Acc<48>, span: &Span<'_>) {
    use std::arch::x86_64::*;
    // SAFETY: every load reads `line[kx .. kx + 48]` with `kx < k`, inside `line`
    // (`48 + k − 1` long), and `taps[kx·COUT + c]` inside the `k·COUT` taps; the accumulators
    // are read and written as 16-float pieces of `acc`.
    unsafe {
        let mut a = [[[_mm512_setzero_ps(); 3]; COUT]; 2];
        for (ar, accr) in a.iter_mut().zip(acc.iter()) {
            for (ac, accc) in ar.iter_mut().zip(accr) {
                for (j, v) in ac.iter_mut().enumerate() {
                    *v = _mm512_loadu_ps(accc.as_ptr().add(16 * j));
                }
            }
        }
        for ci in 0..span.cin {
            for y in span.iy.clone() {
                let p = span.line(ci, y, 48).as_ptr();
                let load = |kx: usize| {
                    [
                        _mm512_loadu_ps(p.add(kx)),
                        _mm512_loadu_ps(p.add(kx + 16)),
                        _mm512_loadu_ps(p.add(kx + 32)),
                    ]
                };
                match (span.ky(y, 0), span.ky(y, 1)) {
                    (Some(k0), Some(k1)) => {
                        let (t0, t1) = (span.taps(ci, k0).as_ptr(), span.taps(ci, k1).as_ptr());
                        for kx in 0..span.k {
                            let v = load(kx);
                            for c in 0..COUT {
                                let w0 = _mm512_set1_ps(*t0.add(kx * COUT + c));
                                let w1 = _mm512_set1_ps(*t1.add(kx * COUT + c));
                                for j in 0..3 {
                                    a[0][c][j] = _mm512_fmadd_ps(v[j], w0, a[0][c][j]);
                                    a[1][c][j] = _mm512_fmadd_ps(v[j], w1, a[1][c][j]);
                                }
                            }
                        }
                    }
                    (one, other) => {
                        let (dr, ky) = match (one, other) {
                            (Some(ky), _) => (0, ky),
                            (_, Some(ky)) => (1, ky),
                            _ => continue,
                        };
                        let t = span.taps(ci, ky).as_ptr();
                        let ar = &mut a[dr];
                        for kx in 0..span.k {
                            let v = load(kx);
                            for (c, ac) in ar.iter_mut().enumerate() {
                                let wc = _mm512_set1_ps(*t.add(kx * COUT + c));
                                for (acj, vj) in ac.iter_mut().zip(v) {
                                    *acj = _mm512_fmadd_ps(vj, wc, *acj);
                                }
                            }
                        }
                    }
                }
            }
        }
        for (ar, accr) in a.iter().zip(acc.iter_mut()) {
            for (ac, accc) in ar.iter().zip(accr) {
                for (j, v) in ac.iter().enumerate() {
                    _mm512_storeu_ps(accc.as_mut_ptr().add(16 * j), *v);
                }
            }
        }
    }
}

/// 32 pixels × 3 channels in twelve registers, one output row at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn accumulate_avx2(acc: &mut Acc<32>, span: &Span<'_>) {
    use std::arch::x86_64::*;
    // SAFETY: as in `accumulate_avx512`, with 8-float pieces and 32-pixel lines.
    unsafe {
        for (dr, accr) in acc.iter_mut().enumerate() {
            let mut a = [[_mm256_setzero_ps(); 4]; COUT];
            for (ac, accc) in a.iter_mut().zip(accr.iter()) {
                for (j, v) in ac.iter_mut().enumerate() {
                    *v = _mm256_loadu_ps(accc.as_ptr().add(8 * j));
                }
            }
            for ci in 0..span.cin {
                for y in span.iy.clone() {
                    let Some(ky) = span.ky(y, dr) else { continue };
                    let p = span.line(ci, y, 32).as_ptr();
                    let t = span.taps(ci, ky).as_ptr();
                    for kx in 0..span.k {
                        let v = [
                            _mm256_loadu_ps(p.add(kx)),
                            _mm256_loadu_ps(p.add(kx + 8)),
                            _mm256_loadu_ps(p.add(kx + 16)),
                            _mm256_loadu_ps(p.add(kx + 24)),
                        ];
                        for (c, ac) in a.iter_mut().enumerate() {
                            let wc = _mm256_set1_ps(*t.add(kx * COUT + c));
                            for (acj, vj) in ac.iter_mut().zip(v) {
                                *acj = _mm256_fmadd_ps(vj, wc, *acj);
                            }
                        }
                    }
                }
            }
            for (ac, accc) in a.iter().zip(accr.iter_mut()) {
                for (j, v) in ac.iter().enumerate() {
                    _mm256_storeu_ps(accc.as_mut_ptr().add(8 * j), *v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition in f64: zero-padded K×K convolution, then the CRD phase split.
    fn reference(
        x: &[f32],
        wts: &[f32],
        b: &[f32],
        cin: usize,
        k: usize,
        h: usize,
        w: usize,
    ) -> Vec<f32> {
        let pad = (k / 2) as isize;
        let mut y = vec![0.0f32; COUT * h * w];
        for co in 0..COUT {
            for r in 0..h {
                for c in 0..w {
                    let mut s = b[co] as f64;
                    for ci in 0..cin {
                        for ky in 0..k {
                            for kx in 0..k {
                                let (iy, ix) = (
                                    r as isize + ky as isize - pad,
                                    c as isize + kx as isize - pad,
                                );
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                    continue;
                                }
                                s += wts[((co * cin + ci) * k + ky) * k + kx] as f64
                                    * x[(ci * h + iy as usize) * w + ix as usize] as f64;
                            }
                        }
                    }
                    let ch = 4 * co + 2 * (r % 2) + c % 2;
                    y[(ch * (h / 2) + r / 2) * (w / 2) + c / 2] = s as f32;
                }
            }
        }
        y
    }

    fn sequential(n: usize, f: &(dyn Fn(usize) + Sync)) {
        (0..n).for_each(f);
    }

    #[test]
    fn every_kernel_level_matches_the_definition_at_awkward_sizes() {
        let mut seed = 7u32;
        let mut rnd = move || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        // Widths below, at and past the chunk widths, not multiples of 16; images smaller
        // than the kernel; 3×3 and 9×9; channel counts below, at and past the channel block.
        for &(cin, k, h, w) in &[
            (8, 9, 12, 100),
            (5, 9, 4, 6),
            (32, 9, 10, 50),
            (13, 9, 8, 60),
            (3, 3, 6, 34),
            (2, 9, 20, 130),
        ] {
            let x: Vec<f32> = (0..cin * h * w).map(|_| rnd()).collect();
            let wts: Vec<f32> = (0..COUT * cin * k * k).map(|_| rnd()).collect();
            let b = [rnd(), rnd(), rnd()];
            let want = reference(&x, &wts, &b, cin, k, h, w);
            for simd in Simd::available() {
                let conv = OutputConv::new(&wts, &b, cin, k).unwrap().with_simd(simd);
                let mut y = vec![f32::NAN; want.len()];
                conv.run(&x, h, w, &mut y, 2, sequential);
                let err = y
                    .iter()
                    .zip(&want)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0f32, f32::max);
                assert!(
                    err < 1e-4,
                    "{simd:?} cin {cin} k {k} {h}×{w}: max error {err}"
                );
            }
        }
    }

    #[test]
    fn threads_split_rows_without_changing_the_result() {
        let (cin, k, h, w) = (4, 9, 18, 40);
        let x: Vec<f32> = (0..cin * h * w).map(|i| (i % 13) as f32 * 0.1).collect();
        let wts: Vec<f32> = (0..COUT * cin * k * k)
            .map(|i| (i % 7) as f32 * 0.01)
            .collect();
        let conv = OutputConv::new(&wts, &[0.1, 0.2, 0.3], cin, k).unwrap();
        let mut one = vec![0.0; COUT * h * w];
        conv.run(&x, h, w, &mut one, 1, sequential);
        let mut many = vec![0.0; COUT * h * w];
        conv.run(&x, h, w, &mut many, 3, |n, f| {
            std::thread::scope(|s| {
                for i in 0..n {
                    s.spawn(move || f(i));
                }
            })
        });
        assert_eq!(one, many);
    }

    #[test]
    fn bad_shapes_are_refused_with_the_expected_ones() {
        let e = OutputConv::new(&[0.0; 3 * 2 * 16], &[0.0; 3], 2, 4)
            .err()
            .unwrap();
        assert!(e.contains("odd"), "{e}");
        let e = OutputConv::new(&[0.0; 10], &[0.0; 3], 2, 3).err().unwrap();
        assert!(e.contains("[3, 2, 3, 3]"), "{e}");
    }
}
