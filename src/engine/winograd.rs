//! Winograd F(4×4, 3×3) convolution for the residual blocks on the CPU.
//!
//! The seed network spends about half of its time in the ten 3×3, stride-1, 128→128
//! convolutions of its residual blocks, which ONNX Runtime's direct kernels already run near
//! the machine's floating-point peak. Winograd's minimal filtering computes each 4×4 output
//! tile from a 6×6 input tile with 36 element-wise products instead of 144 multiply-adds per
//! input channel, so the same convolution needs 4× fewer multiplies: a 6×6 transform of every
//! input tile (`Bᵀ d B`), 36 independent matrix products over the channels (one per transformed
//! position, with the weights transformed once, `G g Gᵀ`), and a 4×4 inverse transform
//! (`Aᵀ m A`) that also adds the bias, the residual and the ReLU.
//!
//! The image is processed in blocks of whole tile rows, each block's transformed tiles staying
//! in the core's L2 cache; blocks run in parallel on the caller's threads (ONNX Runtime's
//! intra-op pool, see [`crate::engine::custom_op`]). Results equal the direct convolution up to
//! float rounding (≈ 1e-5 relative; `tests/lowering.rs` checks the whole network).

use super::OutPtr;

/// `Bᵀ` applied down six equal-length rows: `out_k[j] = Σ_r Bᵀ[k][r] · in_r[j]`.
#[inline(always)]
fn input_rows(i: [&[f32]; 6], o: [&mut [f32]; 6], n: usize) {
    let [i0, i1, i2, i3, i4, i5] = i.map(|s| &s[..n]);
    let [o0, o1, o2, o3, o4, o5] = o;
    let (o0, o1, o2) = (&mut o0[..n], &mut o1[..n], &mut o2[..n]);
    let (o3, o4, o5) = (&mut o3[..n], &mut o4[..n], &mut o5[..n]);
    for j in 0..n {
        let (d0, d1, d2, d3, d4, d5) = (i0[j], i1[j], i2[j], i3[j], i4[j], i5[j]);
        let a = d4 - 4.0 * d2;
        let b = d3 - 4.0 * d1;
        let c = d4 - d2;
        let e = 2.0 * (d3 - d1);
        o0[j] = 4.0 * d0 - 5.0 * d2 + d4;
        o1[j] = a + b;
        o2[j] = a - b;
        o3[j] = c + e;
        o4[j] = c - e;
        o5[j] = 4.0 * d1 - 5.0 * d3 + d5;
    }
}

/// `Aᵀ` applied down six rows: four output rows.
#[inline(always)]
fn output_rows(i: [&[f32]; 6], o: [&mut [f32]; 4], n: usize) {
    let [i0, i1, i2, i3, i4, i5] = i.map(|s| &s[..n]);
    let [o0, o1, o2, o3] = o;
    let (o0, o1, o2, o3) = (&mut o0[..n], &mut o1[..n], &mut o2[..n], &mut o3[..n]);
    for j in 0..n {
        let (m0, m1, m2, m3, m4, m5) = (i0[j], i1[j], i2[j], i3[j], i4[j], i5[j]);
        let (p12, d12) = (m1 + m2, m1 - m2);
        let (p34, d34) = (m3 + m4, m3 - m4);
        o0[j] = m0 + p12 + p34;
        o1[j] = d12 + 2.0 * d34;
        o2[j] = p12 + 4.0 * p34;
        o3[j] = d12 + 8.0 * d34 + m5;
    }
}

/// The weights' transform `G g Gᵀ` for every (output, input) channel pair, laid out as 36
/// row-major `[cout × cin]` matrices, one per transformed position.
pub fn transform_weights(weights: &[f32], cout: usize, cin: usize) -> Vec<f32> {
    const G: [[f64; 3]; 6] = [
        [0.25, 0.0, 0.0],
        [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
        [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
        [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
        [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
        [0.0, 0.0, 1.0],
    ];
    assert_eq!(
        weights.len(),
        cout * cin * 9,
        "3×3 weights [cout, cin, 3, 3]"
    );
    let mut u = vec![0.0f32; 36 * cout * cin];
    for o in 0..cout {
        for c in 0..cin {
            let g = &weights[(o * cin + c) * 9..][..9];
            let mut t = [[0.0f64; 3]; 6];
            for (r, tr) in t.iter_mut().enumerate() {
                for (j, v) in tr.iter_mut().enumerate() {
                    *v = (0..3).map(|i| G[r][i] * g[i * 3 + j] as f64).sum();
                }
            }
            for r in 0..6 {
                for s in 0..6 {
                    let v: f64 = (0..3).map(|j| t[r][j] * G[s][j]).sum();
                    u[((r * 6 + s) * cout + o) * cin + c] = v as f32;
                }
            }
        }
    }
    u
}

/// One 3×3, stride-1, zero-padded convolution with fused bias, residual and ReLU.
pub struct Conv3x3 {
    cin: usize,
    cout: usize,
    /// [`transform_weights`] of the layer's weights.
    u: Vec<f32>,
    /// The same, packed for the AVX-512 product kernel: `[36][cout / 8][cin][8]` (when
    /// `cout` is a multiple of 8).
    u_packed: Vec<f32>,
    bias: Vec<f32>,
    relu: bool,
    simd: Simd,
}

use super::simd::Simd;
pub use super::simd::KERNELS_ENV;

/// The geometry of one call: channels, image size and tiles.
#[derive(Clone, Copy)]
struct Geometry {
    cin: usize,
    cout: usize,
    h: usize,
    w: usize,
    tile_rows: usize,
    tiles_per_row: usize,
    /// Tile rows per block (each block is one parallel task).
    block_rows: usize,
}

impl Geometry {
    /// Phase-row length: one more than the tiles per row, for the tile's last two columns.
    fn phase_len(&self) -> usize {
        self.tiles_per_row + 1
    }
}

/// Per-thread buffers, reused across blocks and calls.
#[derive(Default)]
struct Scratch {
    /// One input row with its left zero pad, rounded up for whole SIMD loads.
    padded_row: Vec<f32>,
    /// One channel's input rows split in four column phases and four row phases:
    /// `[column phase][row phase][tile row][pw]`.
    phases: Vec<f32>,
    /// The first (along-rows) stage of either transform.
    rows: Vec<f32>,
    /// Transformed input tiles `[36][cin][tile row][pw]`.
    v: Vec<f32>,
    /// Products `[36][cout][tile row][pw]`.
    m: Vec<f32>,
    /// One channel's output tiles `[4][4][tile row][pw]`.
    tile_out: Vec<f32>,
    /// One output row, interleaved back from its four column phases.
    out_row: Vec<f32>,
}

impl Scratch {
    fn fit(&mut self, g: &Geometry) {
        let pw = g.phase_len();
        let nb = g.block_rows * pw;
        let span = (g.block_rows + 1) * pw;
        let grow = |v: &mut Vec<f32>, n: usize| {
            if v.len() < n {
                v.resize(n, 0.0);
            }
        };
        grow(&mut self.padded_row, 64 * pw.div_ceil(16));
        grow(&mut self.phases, 16 * span);
        grow(&mut self.rows, (24 * span).max(24 * nb));
        grow(&mut self.v, 36 * g.cin * nb);
        grow(&mut self.m, 36 * g.cout * nb);
        grow(&mut self.tile_out, 16 * nb);
        grow(&mut self.out_row, 64 * g.tiles_per_row.div_ceil(16));
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// One block's work: tile rows `first … first + rows` of input `x` into `out`.
#[derive(Clone, Copy)]
struct Job<'a> {
    x: &'a [f32],
    g: &'a Geometry,
    residual: Option<&'a [f32]>,
    first: usize,
    rows: usize,
    out: OutPtr,
}

impl Conv3x3 {
    /// A layer from its `[cout, cin, 3, 3]` weights and `[cout]` bias.
    pub fn new(weights: &[f32], bias: &[f32], cout: usize, cin: usize, relu: bool) -> Conv3x3 {
        assert_eq!(bias.len(), cout, "one bias per output channel");
        let simd = Simd::detect();
        let u = transform_weights(weights, cout, cin);
        // One copy of the transformed weights: packed where the AVX-512 product reads them.
        let (u, u_packed) = if Self::packs(simd) && cout.is_multiple_of(MR) {
            (Vec::new(), pack_weights(&u, cout, cin))
        } else {
            (u, Vec::new())
        };
        Conv3x3 {
            cin,
            cout,
            u,
            u_packed,
            bias: bias.to_vec(),
            relu,
            simd,
        }
    }

    /// True when `simd`'s product kernel reads packed weights.
    fn packs(simd: Simd) -> bool {
        #[cfg(target_arch = "x86_64")]
        if simd == Simd::Avx512 {
            return true;
        }
        let _ = simd;
        false
    }

    /// The same layer with the portable kernels only (for tests and benchmarks).
    pub fn portable(self) -> Conv3x3 {
        self.capped(Simd::Portable)
    }

    /// The same layer with kernels no faster than `simd`.
    fn capped(mut self, simd: Simd) -> Conv3x3 {
        let simd = self.simd.min(simd);
        if !Self::packs(simd) && self.u.is_empty() {
            self.u = unpack_weights(&self.u_packed, self.cout, self.cin);
            self.u_packed = Vec::new();
        }
        self.simd = simd;
        self
    }

    pub fn input_channels(&self) -> usize {
        self.cin
    }

    pub fn output_channels(&self) -> usize {
        self.cout
    }

    /// True when this CPU runs the AVX2 + FMA or AVX-512 kernels, where the Winograd body beats
    /// ONNX Runtime's direct convolution (BENCHMARKS.md, *S5*): the graph lowering's default.
    pub fn fast_on_this_cpu() -> bool {
        #[cfg(target_arch = "x86_64")]
        return Simd::detect() >= Simd::Avx2;
        #[cfg(not(target_arch = "x86_64"))]
        false
    }

    /// How many independent blocks [`Self::run`] splits an `h × w` image into for `threads`.
    pub fn blocks(&self, h: usize, w: usize, threads: usize) -> usize {
        let g = self.geometry(h, w, threads);
        g.tile_rows.div_ceil(g.block_rows)
    }

    fn geometry(&self, h: usize, w: usize, threads: usize) -> Geometry {
        let tile_rows = h.div_ceil(4).max(1);
        let tiles_per_row = w.div_ceil(4).max(1);
        // Blocks of at least ≈ 96 tiles, so the matrix products run at speed, in a multiple of
        // the threads' count, so that no thread waits for another's last block.
        let threads = threads.max(1);
        let per_thread = (tile_rows * tiles_per_row / (threads * 96)).max(1);
        let blocks = (threads * per_thread).min(tile_rows);
        let block_rows = tile_rows.div_ceil(blocks);
        Geometry {
            cin: self.cin,
            cout: self.cout,
            h,
            w,
            tile_rows,
            tiles_per_row,
            block_rows,
        }
    }

    /// `y = relu?(conv(x) + bias + residual)` for one `[cin, h, w]` image into `[cout, h, w]`.
    /// `parallel(n, f)` must call `f(0..n)` once each, in any order and on any threads;
    /// `threads` is how many it runs at once (it sizes the blocks).
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &self,
        x: &[f32],
        h: usize,
        w: usize,
        residual: Option<&[f32]>,
        y: &mut [f32],
        threads: usize,
        parallel: impl FnOnce(usize, &(dyn Fn(usize) + Sync)),
    ) {
        assert_eq!(x.len(), self.cin * h * w, "input is [cin, h, w]");
        assert_eq!(y.len(), self.cout * h * w, "output is [cout, h, w]");
        if let Some(r) = residual {
            assert_eq!(r.len(), y.len(), "residual has the output's shape");
        }
        if h == 0 || w == 0 {
            return;
        }
        let g = self.geometry(h, w, threads);
        let out = OutPtr(y.as_mut_ptr());
        let blocks = g.tile_rows.div_ceil(g.block_rows);
        let task = move |b: usize| {
            let out = out;
            SCRATCH.with(|s| {
                let mut s = s.borrow_mut();
                s.fit(&g);
                let first = b * g.block_rows;
                let rows = g.block_rows.min(g.tile_rows - first);
                // SAFETY: block `b` writes output rows 4·first … 4·(first + rows) only.
                unsafe {
                    self.run_block(
                        Job {
                            x,
                            g: &g,
                            residual,
                            first,
                            rows,
                            out,
                        },
                        &mut s,
                    )
                };
            });
        };
        parallel(blocks, &task);
    }

    /// # Safety
    /// `out` points to `cout × h × w` floats; no other block writes this block's rows.
    unsafe fn run_block(&self, job: Job<'_>, s: &mut Scratch) {
        match self.simd {
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 => unsafe { self.block_avx512(job, s) },
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2 => unsafe { self.block_avx2(job, s) },
            Simd::Portable => unsafe { self.block::<false>(job, s) },
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
    unsafe fn block_avx512(&self, job: Job<'_>, s: &mut Scratch) {
        unsafe { self.block::<true>(job, s) }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn block_avx2(&self, job: Job<'_>, s: &mut Scratch) {
        unsafe { self.block::<false>(job, s) }
    }

    #[inline(always)]
    unsafe fn block<const AVX512: bool>(&self, job: Job<'_>, s: &mut Scratch) {
        let Job {
            x,
            g,
            residual,
            first,
            rows,
            out,
        } = job;
        let (cin, cout, h, w, tw) = (g.cin, g.cout, g.h, g.w, g.tiles_per_row);
        // Tiles are laid out `[tile row][pw]`: one column past the last tile (never output)
        // keeps every transform one long vector pass over the whole block.
        let pw = g.phase_len();
        let nb = rows * pw;
        // Input rows as four row phases of rows + 1 tile rows: y = 4·(first + ri) + yq − 1.
        let span = (rows + 1) * pw;
        let Scratch {
            padded_row,
            phases,
            rows: trows,
            v,
            m,
            tile_out,
            out_row,
        } = s;
        // 1. Input transform of every channel into v[k][c][tile].
        for c in 0..cin {
            let xc = &x[c * h * w..][..h * w];
            // phases[q][yq][ri][j] = x[4·(first + ri) + yq − 1][4j + q − 1] (zero outside).
            for yq in 0..4 {
                for ri in 0..=rows {
                    let y = (4 * (first + ri) + yq) as isize - 1;
                    let at = yq * span + ri * pw;
                    if y < 0 || y >= h as isize {
                        for q in 0..4 {
                            phases[q * 4 * span + at..][..pw].fill(0.0);
                        }
                        continue;
                    }
                    let row = &xc[y as usize * w..][..w];
                    padded_row[0] = 0.0;
                    padded_row[1..w + 1].copy_from_slice(row);
                    padded_row[w + 1..].fill(0.0);
                    split_phases::<AVX512>(padded_row, &mut phases[at..], 4 * span, pw);
                }
            }
            // Along rows: trows[s'][yq][ri][j] = Σ_s Bᵀ[s'][s] · phases[s % 4][yq][ri][j + s/4].
            let n = 4 * span - 1;
            let ins: [&[f32]; 6] =
                std::array::from_fn(|s| &phases[(s % 4) * 4 * span + s / 4..][..n]);
            let mut outs = trows[..24 * span].chunks_exact_mut(4 * span);
            let o: [&mut [f32]; 6] = std::array::from_fn(|_| outs.next().expect("6 rows"));
            input_rows(ins, o, n);
            // Down columns: v[r'·6 + s'][c][ri][j] = Σ_r Bᵀ[r'][r] · trows[s'][r % 4][ri + r/4][j].
            for sp in 0..6 {
                let t = &trows[sp * 4 * span..][..4 * span];
                let ins: [&[f32]; 6] =
                    std::array::from_fn(|r| &t[(r % 4) * span + (r / 4) * pw..][..nb]);
                let vb = v.as_mut_ptr();
                // SAFETY: the six rows (r'·6 + s', c) are disjoint ranges of v.
                let o: [&mut [f32]; 6] = std::array::from_fn(|rp| unsafe {
                    std::slice::from_raw_parts_mut(vb.add(((rp * 6 + sp) * cin + c) * nb), nb)
                });
                input_rows(ins, o, nb);
            }
        }
        // 2. One matrix product per transformed position: m[k] = u[k] · v[k].
        #[cfg(target_arch = "x86_64")]
        if AVX512 && !self.u_packed.is_empty() {
            for k in 0..36 {
                let uk = &self.u_packed[k * cout * cin..][..cout * cin];
                let vk = &v[k * cin * nb..][..cin * nb];
                let mk = &mut m[k * cout * nb..][..cout * nb];
                // SAFETY: only instantiated with AVX512 = true from the AVX-512 block.
                unsafe { product_avx512(uk, vk, mk, cout, cin, nb) };
            }
        } else {
            self.product_portable(v, m, nb);
        }
        #[cfg(not(target_arch = "x86_64"))]
        self.product_portable(v, m, nb);
        // 3. Inverse transform, bias, residual and ReLU into the output rows.
        for o in 0..cout {
            // Along rows: trows[r][b][ri][j] = Σ_s Aᵀ[b][s] · m[r·6 + s][o][ri][j].
            for r in 0..6 {
                let ins: [&[f32]; 6] =
                    std::array::from_fn(|s| &m[((r * 6 + s) * cout + o) * nb..][..nb]);
                let mut outs = trows[r * 4 * nb..][..4 * nb].chunks_exact_mut(nb);
                let oo: [&mut [f32]; 4] = std::array::from_fn(|_| outs.next().expect("4"));
                output_rows(ins, oo, nb);
            }
            // Down columns: tile_out[a][b][ri][j] = Σ_r Aᵀ[a][r] · trows[r][b][ri][j].
            let n = 4 * nb;
            let ins: [&[f32]; 6] = std::array::from_fn(|r| &trows[r * n..][..n]);
            let mut outs = tile_out[..4 * n].chunks_exact_mut(n);
            let oo: [&mut [f32]; 4] = std::array::from_fn(|_| outs.next().expect("4"));
            output_rows(ins, oo, n);
            let bias = self.bias[o];
            for ri in 0..rows {
                for a in 0..4 {
                    let yy = 4 * (first + ri) + a;
                    if yy >= h {
                        break;
                    }
                    join_phases::<AVX512>(&tile_out[a * n + ri * pw..], nb, tw, out_row);
                    // SAFETY: row yy of channel o belongs to this block (see `run`).
                    let dst =
                        unsafe { std::slice::from_raw_parts_mut(out.0.add((o * h + yy) * w), w) };
                    let relu = |v: f32| if self.relu { v.max(0.0) } else { v };
                    match residual {
                        Some(res) => {
                            let rr = &res[(o * h + yy) * w..][..w];
                            for ((d, &v), &r) in dst.iter_mut().zip(out_row.iter()).zip(rr) {
                                *d = relu(v + bias + r);
                            }
                        }
                        None => {
                            for (d, &v) in dst.iter_mut().zip(out_row.iter()) {
                                *d = relu(v + bias);
                            }
                        }
                    }
                }
            }
        }
    }
}

impl Conv3x3 {
    /// The 36 products with `matrixmultiply` (its own run-time SIMD choice, up to AVX2 + FMA).
    fn product_portable(&self, v: &[f32], m: &mut [f32], nb: usize) {
        let (cin, cout) = (self.cin, self.cout);
        for k in 0..36 {
            let (mk, uk, vk) = (
                &mut m[k * cout * nb..][..cout * nb],
                &self.u[k * cout * cin..][..cout * cin],
                &v[k * cin * nb..][..cin * nb],
            );
            // SAFETY: the three row-major matrices are in bounds with the strides given.
            unsafe {
                matrixmultiply::sgemm(
                    cout,
                    cin,
                    nb,
                    1.0,
                    uk.as_ptr(),
                    cin as isize,
                    1,
                    vk.as_ptr(),
                    nb as isize,
                    1,
                    0.0,
                    mk.as_mut_ptr(),
                    nb as isize,
                    1,
                );
            }
        }
    }
}

/// Output channels per step of the AVX-512 product kernel (broadcast operands).
const MR: usize = 8;
/// Tiles per step of the AVX-512 product kernel (three 16-float vectors).
const NR: usize = 48;

/// `u` (`[36][cout][cin]`) → `[36][cout / MR][cin][MR]`: each step of the product kernel reads
/// its MR weights of one input channel from one cache line.
fn pack_weights(u: &[f32], cout: usize, cin: usize) -> Vec<f32> {
    let mut p = vec![0.0f32; u.len()];
    for k in 0..36 {
        for ob in 0..cout / MR {
            for c in 0..cin {
                for i in 0..MR {
                    p[((k * (cout / MR) + ob) * cin + c) * MR + i] =
                        u[(k * cout + ob * MR + i) * cin + c];
                }
            }
        }
    }
    p
}

/// The inverse of [`pack_weights`].
fn unpack_weights(p: &[f32], cout: usize, cin: usize) -> Vec<f32> {
    let mut u = vec![0.0f32; p.len()];
    for k in 0..36 {
        for o in 0..cout {
            for c in 0..cin {
                u[(k * cout + o) * cin + c] =
                    p[((k * (cout / MR) + o / MR) * cin + c) * MR + o % MR];
            }
        }
    }
    u
}

/// `m[cout × n] = u · v` for one transformed position: `u` packed by [`pack_weights`], `v`
/// `[cin × n]`, both row-major. Steps of MR channels × NR tiles in 24 accumulators; the last
/// columns in a step of 32 or 16 tiles, so that at most 15 lanes of a step run empty.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn product_avx512(u: &[f32], v: &[f32], m: &mut [f32], cout: usize, cin: usize, n: usize) {
    assert!(
        cout.is_multiple_of(MR)
            && u.len() >= cout * cin
            && v.len() >= cin * n
            && m.len() >= cout * n
    );
    let mut t0 = 0;
    while t0 < n {
        let left = n - t0;
        // SAFETY: the asserts above; each step reads and writes its columns only (masked).
        unsafe {
            match left {
                33.. => product_step::<3>(u, v, m, cout, cin, n, t0),
                17..=32 => product_step::<2>(u, v, m, cout, cin, n, t0),
                _ => product_step::<1>(u, v, m, cout, cin, n, t0),
            }
        }
        t0 += NR;
    }
}

/// One column step of [`product_avx512`]: `NV` vectors of 16 tiles from column `t0`.
///
/// # Safety
/// The sizes asserted in [`product_avx512`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
#[allow(clippy::too_many_arguments)]
unsafe fn product_step<const NV: usize>(
    u: &[f32],
    v: &[f32],
    m: &mut [f32],
    cout: usize,
    cin: usize,
    n: usize,
    t0: usize,
) {
    use std::arch::x86_64::*;
    let left = n - t0;
    let masks: [u16; NV] = std::array::from_fn(|i| {
        let valid = left.saturating_sub(16 * i).min(16);
        ((1u32 << valid) - 1) as u16
    });
    for ob in 0..cout / MR {
        let up = u[ob * cin * MR..].as_ptr();
        // SAFETY: reads of v are masked to the n columns; u has cin × MR floats from up;
        // writes to m are masked to the n columns of rows ob·MR … ob·MR + MR.
        unsafe {
            let mut acc = [[_mm512_setzero_ps(); NV]; MR];
            for c in 0..cin {
                let vp = v.as_ptr().add(c * n + t0);
                let vv: [__m512; NV] =
                    std::array::from_fn(|j| _mm512_maskz_loadu_ps(masks[j], vp.add(16 * j)));
                let w = up.add(c * MR);
                for (i, row) in acc.iter_mut().enumerate() {
                    let b = _mm512_set1_ps(*w.add(i));
                    for (a, x) in row.iter_mut().zip(&vv) {
                        *a = _mm512_fmadd_ps(b, *x, *a);
                    }
                }
            }
            for (i, row) in acc.iter().enumerate() {
                let mp = m.as_mut_ptr().add((ob * MR + i) * n + t0);
                for (j, a) in row.iter().enumerate() {
                    _mm512_mask_storeu_ps(mp.add(16 * j), masks[j], *a);
                }
            }
        }
    }
}

/// `dst[q·stride + j] = src[4j + q]` for the four column phases `q` of one padded row, `j < pw`.
#[inline(always)]
fn split_phases<const AVX512: bool>(src: &[f32], dst: &mut [f32], stride: usize, pw: usize) {
    #[cfg(target_arch = "x86_64")]
    if AVX512 {
        // SAFETY: only instantiated with AVX512 = true from the AVX-512 block.
        unsafe { split_phases_avx512(src, dst, stride, pw) };
        return;
    }
    for j in 0..pw {
        for q in 0..4 {
            dst[q * stride + j] = src[4 * j + q];
        }
    }
}

/// `dst[4j + q] = src[q·stride + j]` for `j < tw`: one output row from its four column phases.
#[inline(always)]
fn join_phases<const AVX512: bool>(src: &[f32], stride: usize, tw: usize, dst: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if AVX512 {
        // SAFETY: only instantiated with AVX512 = true from the AVX-512 block.
        unsafe { join_phases_avx512(src, stride, tw, dst) };
        return;
    }
    for j in 0..tw {
        for q in 0..4 {
            dst[4 * j + q] = src[q * stride + j];
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn split_phases_avx512(src: &[f32], dst: &mut [f32], stride: usize, pw: usize) {
    use std::arch::x86_64::*;
    let n16 = pw.div_ceil(16);
    assert!(src.len() >= n16 * 64 && dst.len() >= 3 * stride + pw);
    for q in 0..4 {
        // Elements q, q+4, …, q+28 of a 32-float pair in the low half.
        let pick: [i32; 16] = std::array::from_fn(|t| if t < 8 { (4 * t + q) as i32 } else { 0 });
        // SAFETY: loads stay within src (asserted above), stores within dst (masked at the end).
        unsafe {
            let idx = _mm512_loadu_si512(pick.as_ptr().cast());
            for b in 0..n16 {
                let p = src.as_ptr().add(b * 64);
                let ab =
                    _mm512_permutex2var_ps(_mm512_loadu_ps(p), idx, _mm512_loadu_ps(p.add(16)));
                let cd = _mm512_permutex2var_ps(
                    _mm512_loadu_ps(p.add(32)),
                    idx,
                    _mm512_loadu_ps(p.add(48)),
                );
                let r = _mm512_shuffle_f32x4::<0b01_00_01_00>(ab, cd);
                let d = dst.as_mut_ptr().add(q * stride + b * 16);
                let left = pw - b * 16;
                if left >= 16 {
                    _mm512_storeu_ps(d, r);
                } else {
                    _mm512_mask_storeu_ps(d, ((1u32 << left) - 1) as u16, r);
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn join_phases_avx512(src: &[f32], stride: usize, tw: usize, dst: &mut [f32]) {
    use std::arch::x86_64::*;
    let n16 = tw.div_ceil(16);
    assert!(src.len() >= 3 * stride + tw && dst.len() >= 64 * n16);
    let lo: [i32; 16] = std::array::from_fn(|t| ((t / 2) + 16 * (t % 2)) as i32);
    let hi: [i32; 16] = std::array::from_fn(|t| ((t / 2) + 8 + 16 * (t % 2)) as i32);
    let lo2: [i64; 8] = std::array::from_fn(|t| ((t / 2) + 8 * (t % 2)) as i64);
    let hi2: [i64; 8] = std::array::from_fn(|t| ((t / 2) + 4 + 8 * (t % 2)) as i64);
    // SAFETY: loads are masked to each phase's tw elements; stores stay within dst (asserted).
    unsafe {
        let (ilo, ihi) = (
            _mm512_loadu_si512(lo.as_ptr().cast()),
            _mm512_loadu_si512(hi.as_ptr().cast()),
        );
        let (jlo, jhi) = (
            _mm512_loadu_si512(lo2.as_ptr().cast()),
            _mm512_loadu_si512(hi2.as_ptr().cast()),
        );
        for b in 0..n16 {
            let left = tw - b * 16;
            let load = |q: usize| {
                let p = src.as_ptr().add(q * stride + b * 16);
                if left >= 16 {
                    _mm512_loadu_ps(p)
                } else {
                    _mm512_maskz_loadu_ps(((1u32 << left) - 1) as u16, p)
                }
            };
            let (a, bq, c, d) = (load(0), load(1), load(2), load(3));
            // (a0 b0 a1 b1 …) and (c0 d0 c1 d1 …), then pairs of pairs as 64-bit lanes.
            let ab_lo = _mm512_castps_pd(_mm512_permutex2var_ps(a, ilo, bq));
            let ab_hi = _mm512_castps_pd(_mm512_permutex2var_ps(a, ihi, bq));
            let cd_lo = _mm512_castps_pd(_mm512_permutex2var_ps(c, ilo, d));
            let cd_hi = _mm512_castps_pd(_mm512_permutex2var_ps(c, ihi, d));
            let p = dst.as_mut_ptr().add(b * 64);
            _mm512_storeu_ps(
                p,
                _mm512_castpd_ps(_mm512_permutex2var_pd(ab_lo, jlo, cd_lo)),
            );
            _mm512_storeu_ps(
                p.add(16),
                _mm512_castpd_ps(_mm512_permutex2var_pd(ab_lo, jhi, cd_lo)),
            );
            _mm512_storeu_ps(
                p.add(32),
                _mm512_castpd_ps(_mm512_permutex2var_pd(ab_hi, jlo, cd_hi)),
            );
            _mm512_storeu_ps(
                p.add(48),
                _mm512_castpd_ps(_mm512_permutex2var_pd(ab_hi, jhi, cd_hi)),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct convolution in f64: the definition.
    fn direct(
        x: &[f32],
        wt: &[f32],
        bias: &[f32],
        cin: usize,
        cout: usize,
        h: usize,
        w: usize,
    ) -> Vec<f64> {
        let mut y = vec![0.0f64; cout * h * w];
        for o in 0..cout {
            for yy in 0..h {
                for xx in 0..w {
                    let mut s = bias[o] as f64;
                    for c in 0..cin {
                        for ky in 0..3 {
                            for kx in 0..3 {
                                let (iy, ix) = (yy as isize + ky - 1, xx as isize + kx - 1);
                                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                    s += x[(c * h + iy as usize) * w + ix as usize] as f64
                                        * wt[((o * cin + c) * 3 + ky as usize) * 3 + kx as usize]
                                            as f64;
                                }
                            }
                        }
                    }
                    y[(o * h + yy) * w + xx] = s;
                }
            }
        }
        y
    }

    fn noise(n: usize, seed: u64, scale: f32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (((s >> 33) as f32 / (1u64 << 31) as f32) - 0.5) * scale
            })
            .collect()
    }

    fn serial(n: usize, f: &(dyn Fn(usize) + Sync)) {
        // Reverse order: blocks must not depend on running in sequence.
        (0..n).rev().for_each(f);
    }

    fn check(cin: usize, cout: usize, h: usize, w: usize, relu: bool, residual: bool) {
        let x = noise(cin * h * w, 1, 4.0);
        let wt = noise(cout * cin * 9, 2, 0.2);
        let bias = noise(cout, 3, 1.0);
        let res = noise(cout * h * w, 4, 2.0);
        let mut want = direct(&x, &wt, &bias, cin, cout, h, w);
        if residual {
            want.iter_mut().zip(&res).for_each(|(v, r)| *v += *r as f64);
        }
        if relu {
            want.iter_mut().for_each(|v| *v = v.max(0.0));
        }
        let scale = want.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        // Every kernel level this CPU can run.
        for level in Simd::available() {
            let layer = Conv3x3::new(&wt, &bias, cout, cin, relu).capped(level);
            assert_eq!(layer.simd, level);
            let mut y = vec![f32::NAN; cout * h * w];
            layer.run(&x, h, w, residual.then_some(&res[..]), &mut y, 3, serial);
            let worst = y
                .iter()
                .zip(&want)
                .map(|(a, b)| (*a as f64 - b).abs())
                .fold(0.0f64, f64::max);
            assert!(
                worst <= 2e-5 * scale.max(1.0),
                "{cin}→{cout} {h}×{w} relu {relu} residual {residual} ({:?}): error {worst} vs scale {scale}",
                layer.simd
            );
        }
    }

    #[test]
    fn equals_the_direct_convolution_on_awkward_sizes() {
        for (h, w) in [(1, 1), (3, 5), (4, 4), (7, 9), (13, 66), (30, 38), (9, 130)] {
            check(8, 16, h, w, false, false);
        }
    }

    #[test]
    fn output_channels_not_a_multiple_of_eight_use_the_portable_product() {
        check(5, 12, 9, 14, true, false);
        check(3, 7, 4, 5, false, false);
    }

    #[test]
    fn fuses_bias_residual_and_relu() {
        check(16, 16, 10, 21, true, false);
        check(16, 16, 10, 21, true, true);
        check(16, 16, 12, 20, false, true);
    }

    #[test]
    fn splits_into_blocks_of_tile_rows() {
        let layer = Conv3x3::new(&vec![0.0; 128 * 128 * 9], &[0.0; 128], 128, 128, true);
        // 640×480 input, 160×120 body: 30 rows of 40 tiles → 10 blocks of 3 rows, 5 per thread.
        assert_eq!(layer.blocks(120, 160, 2), 10);
        // 320×240: 15 rows of 20 tiles → one block of 8 rows and one of 7, one per thread.
        assert_eq!(layer.blocks(60, 80, 2), 2);
        // One thread: blocks of ≥ 96 tiles still (300 tiles → 3 blocks of 5 rows).
        assert_eq!(layer.blocks(60, 80, 1), 3);
        assert_eq!(layer.blocks(1, 1, 4), 1);
    }
}
