//! The Winograd residual convolution on one thread, the seed's body sizes, and the output
//! convolution at the light presets' sizes: `cargo bench --bench winograd`. Compare with `portable` (matrixmultiply products, scalar
//! phase shuffles) and with ONNX Runtime's direct convolution in BENCHMARKS.md (*S5*).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use stylecam::engine::out_conv::OutputConv;
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

fn bench_output_conv(c: &mut Criterion) {
    let mut group = c.benchmark_group("output_conv");
    group.sample_size(20);
    let serial = |n: usize, f: &(dyn Fn(usize) + Sync)| (0..n).for_each(f);
    // The fast preset's 9×9, 8 → 3 layer at 320×240 and 640×480, and the seed's 32 → 3.
    for (cin, h, w) in [(8usize, 240usize, 320usize), (8, 480, 640), (32, 480, 640)] {
        let conv = OutputConv::new(&noise(3 * cin * 81, 4), &noise(3, 5), cin, 9).unwrap();
        let x = noise(cin * h * w, 6);
        let mut y = vec![0.0f32; 3 * h * w];
        group.throughput(Throughput::Elements((3 * cin * 81 * h * w) as u64));
        group.bench_function(BenchmarkId::new("9x9", format!("{cin}ch_{w}x{h}")), |b| {
            b.iter(|| conv.run(&x, h, w, &mut y, 1, serial))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_winograd, bench_output_conv);
criterion_main!(benches);
