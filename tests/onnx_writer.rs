//! The ONNX writer against PyTorch: a model written with random weights, run by onnxruntime,
//! equals the PyTorch seed network with the same weights; and the f64 reference pipeline in
//! `common::reference` equals PyTorch (network) and numpy + onnxruntime (whole pipeline).
//!
//! Needs the project's Python with torch and onnxruntime (`make test` installs `.venv`; or set
//! `STYLECAM_PYTHON`). Without it these tests fail, saying so.

mod common;

use common::reference::{self, reference_forward, reference_stylize, Chw};
use common::torch::{lines_with, read_f32, run_reference, write_f32, write_weights};
use image::RgbImage;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use stylecam::net::arch::size_padding;
use stylecam::net::onnx::{random_weights, write_model, ModelMetadata};
use stylecam::net::{ImfwArch, Weights};

/// Write `arch` with random weights as `model.onnx` + the weight files into a fresh folder.
fn prepare(arch: &ImfwArch, seed: u64) -> (tempfile::TempDir, Weights) {
    let dir = tempfile::tempdir().unwrap();
    let weights = random_weights(arch, seed);
    let meta = ModelMetadata::new(format!("random {}", arch.label()));
    let bytes = write_model(arch, &weights, &meta).unwrap();
    std::fs::write(dir.path().join("model.onnx"), bytes).unwrap();
    write_weights(dir.path(), arch, &weights);
    (dir, weights)
}

/// Run onnxruntime and torch on random inputs of `sizes` (`HxW`) and check they agree.
fn check_ort_against_torch(arch: ImfwArch, seed: u64, sizes: &[&str]) -> String {
    let (dir, _) = prepare(&arch, seed);
    std::fs::write(dir.path().join("sizes.txt"), sizes.join("\n")).unwrap();
    let stdout = run_reference(dir.path(), &arch);

    let count = lines_with(&stdout, "torch_param_count");
    assert_eq!(
        count[0][0].parse::<usize>().unwrap(),
        arch.parameter_count(),
        "PyTorch's parameter count of {} differs from ImfwArch::parameter_count",
        arch.label()
    );
    let runs = lines_with(&stdout, "ort_vs_torch");
    assert_eq!(
        runs.len(),
        sizes.len(),
        "one comparison per size:\n{stdout}"
    );
    for run in runs {
        let (size, diff, magnitude) = (run[0], run[1], run[2]);
        let diff: f64 = diff.parse().unwrap();
        let magnitude: f64 = magnitude.parse().unwrap();
        eprintln!(
            "{} {size}: max |onnxruntime − torch| = {diff:.2e} (max |torch| = {magnitude:.3})",
            arch.label()
        );
        assert!(
            diff <= 1e-4,
            "{} at {size}: onnxruntime and PyTorch differ by {diff:e}",
            arch.label()
        );
        assert!(magnitude > 0.05, "the output is nearly zero: {magnitude}");
    }
    stdout
}

#[test]
fn written_light_model_runs_in_onnxruntime_like_pytorch() {
    check_ort_against_torch(ImfwArch::new(8, 2), 1, &["36x52", "64x64", "8x8", "12x20"]);
}

#[test]
fn written_seed_model_runs_in_onnxruntime_like_pytorch() {
    let stdout = check_ort_against_torch(ImfwArch::SEED, 2, &["36x52", "64x64"]);
    let seed_count: usize = lines_with(&stdout, "seed_param_count")[0][0]
        .parse()
        .unwrap();
    assert_eq!(seed_count, 1_676_675);
    assert_eq!(ImfwArch::SEED.parameter_count(), seed_count);
}

fn random_chw(c: usize, h: usize, w: usize, seed: u64) -> Chw {
    let mut rng = StdRng::seed_from_u64(seed);
    Chw {
        c,
        h,
        w,
        data: (0..c * h * w)
            .map(|_| rng.random_range(-2.0..2.0))
            .collect(),
    }
}

#[test]
fn reference_forward_matches_pytorch() {
    for (arch, h, w) in [
        (ImfwArch::new(8, 2), 12, 16),
        (ImfwArch::new(4, 1), 8, 8),
        (ImfwArch::new(16, 3), 20, 8),
    ] {
        let (dir, weights) = prepare(&arch, 5);
        // Float32 input so that torch and the reference see identical values.
        let input = random_chw(3, h, w, 9);
        let input32: Vec<f32> = input.data.iter().map(|&v| v as f32).collect();
        let input = Chw {
            data: input32.iter().map(|&v| v as f64).collect(),
            ..input
        };
        write_f32(&dir.path().join("input.f32"), &input32);
        std::fs::write(dir.path().join("input_shape.txt"), format!("3 {h} {w}")).unwrap();
        run_reference(dir.path(), &arch);

        let shape = std::fs::read_to_string(dir.path().join("torch_out_shape.txt")).unwrap();
        assert_eq!(shape.trim(), format!("3 {h} {w}"));
        let torch = read_f32(&dir.path().join("torch_out.f32"));
        let ours = reference_forward(&arch, &weights, &input);
        assert_eq!((ours.c, ours.h, ours.w), (3, h, w));
        let diff = ours
            .data
            .iter()
            .zip(&torch)
            .map(|(a, b)| (a - *b as f64).abs())
            .fold(0.0, f64::max);
        let magnitude = torch.iter().fold(0f32, |m, v| m.max(v.abs()));
        eprintln!(
            "{} {h}x{w}: max |reference − torch| = {diff:.2e} (max |torch| = {magnitude:.3})",
            arch.label()
        );
        assert!(
            diff <= 1e-4,
            "{}: reference differs by {diff:e}",
            arch.label()
        );
        assert!(magnitude > 0.05);
    }
}

/// A deterministic test picture: gradients plus noise.
fn test_image(w: u32, h: u32, seed: u64) -> RgbImage {
    let mut rng = StdRng::seed_from_u64(seed);
    RgbImage::from_fn(w, h, |x, y| {
        let gx = (x * 255 / w.max(2).saturating_sub(1).max(1)) as i32;
        let gy = (y * 255 / h.max(2).saturating_sub(1).max(1)) as i32;
        let n = |rng: &mut StdRng| rng.random_range(-40..=40);
        image::Rgb([
            (gx + n(&mut rng)).clamp(0, 255) as u8,
            (gy + n(&mut rng)).clamp(0, 255) as u8,
            ((gx + gy) / 2 + n(&mut rng)).clamp(0, 255) as u8,
        ])
    })
}

#[test]
fn reference_pipeline_matches_numpy_and_onnxruntime() {
    let arch = ImfwArch::new(8, 2);
    let (dir, weights) = prepare(&arch, 11);
    // Sizes that need no padding, padding on one side, on both sides, and the minimum size.
    let sizes = [(16u32, 12u32), (13, 10), (37, 23), (5, 5), (9, 14)];
    let mut list = String::new();
    let mut images = Vec::new();
    for (i, &(w, h)) in sizes.iter().enumerate() {
        let img = test_image(w, h, i as u64);
        std::fs::write(dir.path().join(format!("img{i}.u8")), img.as_raw()).unwrap();
        list.push_str(&format!("img{i} {h} {w}\n"));
        images.push(img);
    }
    std::fs::write(dir.path().join("images.txt"), list).unwrap();
    run_reference(dir.path(), &arch);
    for (i, img) in images.iter().enumerate() {
        let (w, h) = img.dimensions();
        let theirs = std::fs::read(dir.path().join(format!("img{i}.out.u8"))).unwrap();
        let ours = reference_stylize(&arch, &weights, img);
        assert_eq!(ours.dimensions(), (w, h), "same size out");
        assert_eq!(theirs.len(), ours.as_raw().len());
        let diffs: Vec<u8> = ours
            .as_raw()
            .iter()
            .zip(&theirs)
            .map(|(a, b)| a.abs_diff(*b))
            .collect();
        let max = diffs.iter().copied().max().unwrap();
        let off = diffs.iter().filter(|&&d| d > 0).count();
        eprintln!(
            "{w}x{h}: max |reference − numpy/onnxruntime| = {max} level(s), {off}/{} values differ",
            diffs.len()
        );
        assert!(
            max <= 1,
            "{w}x{h}: the reference pipeline differs by {max} levels"
        );
        // A stylized picture, not a flat or saturated one.
        let distinct: std::collections::BTreeSet<u8> = ours.as_raw().iter().copied().collect();
        assert!(
            distinct.len() > 10,
            "{w}x{h}: only {} distinct values",
            distinct.len()
        );
    }
}

#[test]
fn reference_padding_follows_the_documented_rule() {
    for len in 1..80 {
        assert_eq!(reference::side_padding(len), size_padding(len), "len {len}");
    }
    // Reflection without repeating the edge, bouncing when the pad exceeds len − 1.
    let row: Vec<usize> = (-4..9).map(|i| reference::reflect(i, 5)).collect();
    assert_eq!(row, vec![4, 3, 2, 1, 0, 1, 2, 3, 4, 3, 2, 1, 0]);
    let row: Vec<usize> = (-4..6).map(|i| reference::reflect(i, 2)).collect();
    assert_eq!(row, vec![0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
    assert_eq!(reference::reflect(-3, 1), 0);
}
