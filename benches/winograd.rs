//! The Winograd residual convolution on one thread, the seed's body sizes:
//! `cargo bench --bench winograd`. Compare with `portable` (matrixmultiply products, scalar
//! phase shuffles) and with ONNX Runtime's direct convolution in BENCHMARKS.md (*S5*).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use stylecam::engine::winograd::Conv3x3;

fn noise(n: usize, seed: u32) -> Vec<f32> {
    (0..n as u32)
        .map(|i| ((i.wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 1000.0 - 0.5)
        .collect()
}

fn bench_winograd(c: &mut Criterion) {
    let mut group = c.benchmark_group("winograd");
    group.sample_size(20);
    let ch = 128;
    let weights = noise(ch * ch * 9, 1);
    let bias = noise(ch, 2);
    // The 128-channel body of a 320×240 and a 640×480 frame.
    for (h, w) in [(60usize, 80usize), (120, 160)] {
        let x = noise(ch * h * w, 3);
        let mut y = vec![0.0f32; ch * h * w];
        // Multiply-adds of the direct convolution it replaces.
        group.throughput(Throughput::Elements((ch * ch * 9 * h * w) as u64));
        let id = format!("{ch}ch_{w}x{h}");
        let serial = |n: usize, f: &(dyn Fn(usize) + Sync)| (0..n).for_each(f);
        let fast = Conv3x3::new(&weights, &bias, ch, ch, true);
        group.bench_function(BenchmarkId::new("detected", &id), |b| {
            b.iter(|| fast.run(&x, h, w, Some(&x), &mut y, 1, serial))
        });
        let portable = Conv3x3::new(&weights, &bias, ch, ch, true).portable();
        group.bench_function(BenchmarkId::new("portable", &id), |b| {
            b.iter(|| portable.run(&x, h, w, Some(&x), &mut y, 1, serial))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_winograd);
criterion_main!(benches);
