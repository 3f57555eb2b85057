//! `--int8` (8-bit residual blocks on the CPU) and `stylecam calibrate`'s library half: a
//! calibrated model runs quantised kernels and its frames stay close to the independent f64
//! reference; models that cannot run in int8 are refused with the fix.

mod common;

use std::path::{Path, PathBuf};

use common::reference::reference_stylize;
use image::{Rgb, RgbImage};
use stylecam::engine::calibrate::calibrate;
use stylecam::engine::{CpuGraph, DeviceChoice, EngineOptions, Stylizer};
use stylecam::net::int8::{Int8Calibration, METADATA_KEY};
use stylecam::net::onnx::{
    random_weights, read_model_info, with_metadata, write_model, ModelMetadata, Weights,
};
use stylecam::net::ImfwArch;

fn opts(int8: bool, cpu_graph: CpuGraph) -> EngineOptions {
    EngineOptions {
        intra_threads: Some(2),
        int8,
        cpu_graph,
        ..EngineOptions::default()
    }
}

/// Photo-like frames: smooth gradients with some edges, different per `salt`.
fn photo(w: u32, h: u32, salt: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let edge = if ((x + salt) / 9 + y / 6).is_multiple_of(3) {
            50
        } else {
            0
        };
        let v = |c: u32| c.min(255) as u8;
        Rgb([
            v((x * 200) / w + salt * 13 % 40),
            v((y * 180) / h + 30 + edge),
            v(((x + 2 * y + salt) * 2) % 150 + 40),
        ])
    })
}

fn write_calibrated(dir: &Path, arch: ImfwArch, seed: u64) -> (PathBuf, Weights) {
    let weights = random_weights(&arch, seed);
    let bytes = write_model(&arch, &weights, &ModelMetadata::new("int8 test")).unwrap();
    let path = dir.join(format!("{}.onnx", arch.label()));
    std::fs::write(&path, &bytes).unwrap();
    let photos: Vec<RgbImage> = (0..4).map(|s| photo(64 + 8 * s, 48, s)).collect();
    let c = calibrate(&path, &bytes, &photos, "test", &opts(false, CpuGraph::Auto)).unwrap();
    assert_eq!((c.blocks.len(), c.photos), (arch.blocks, 4));
    for b in &c.blocks {
        // ReLU outputs are ≥ 0 and not all zero; the conv output before the add is signed.
        assert!(b.input_max > 0.0 && b.inner_max > 0.0, "{b:?}");
        assert!(b.output_min < 0.0 && b.output_max > 0.0, "{b:?}");
    }
    let bytes = with_metadata(&bytes, METADATA_KEY, &c.to_metadata()).unwrap();
    std::fs::write(&path, &bytes).unwrap();
    (path, weights)
}

fn diff(a: &RgbImage, b: &RgbImage) -> (u8, f64) {
    assert_eq!(a.dimensions(), b.dimensions());
    let d: Vec<u8> = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| x.abs_diff(*y))
        .collect();
    let mean = d.iter().map(|&v| v as f64).sum::<f64>() / d.len() as f64;
    (*d.iter().max().unwrap(), mean)
}

#[test]
fn a_calibrated_model_runs_int8_within_a_few_levels_of_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    for (arch, seed) in [(ImfwArch::new(8, 2), 21), (ImfwArch::new(16, 1), 22)] {
        let (path, weights) = write_calibrated(dir.path(), arch, seed);
        // A frame the calibration did not see, at another size.
        let frame = photo(70, 46, 9);
        let want = reference_stylize(&arch, &weights, &frame);
        for graph in [CpuGraph::Auto, CpuGraph::Reference] {
            let mut st = Stylizer::load(&path, DeviceChoice::Cpu, &opts(true, graph)).unwrap();
            assert!(st.graph().ends_with("int8"), "{}", st.graph());
            let (max, mean) = diff(&st.stylize(&frame).unwrap(), &want);
            assert!(
                max <= 8 && mean <= 1.0,
                "{} {graph:?}: int8 frames differ by up to {max} levels (mean {mean:.2})",
                arch.label()
            );
            // And int8 is really in effect: not bit-identical to float32.
            let mut float = Stylizer::load(&path, DeviceChoice::Cpu, &opts(false, graph)).unwrap();
            assert_ne!(float.stylize(&frame).unwrap(), st.stylize(&frame).unwrap());
        }
    }
}

#[test]
fn int8_needs_a_calibrated_stylecam_model() {
    let dir = tempfile::tempdir().unwrap();
    let arch = ImfwArch::new(4, 1);
    let bytes = write_model(&arch, &random_weights(&arch, 3), &ModelMetadata::new("t")).unwrap();
    let plain = dir.path().join("plain.onnx");
    std::fs::write(&plain, &bytes).unwrap();
    let e = Stylizer::load(&plain, DeviceChoice::Cpu, &opts(true, CpuGraph::Auto)).unwrap_err();
    let m = e.to_string();
    assert!(
        m.contains("plain.onnx") && m.contains("stylecam calibrate") && m.contains("--int8"),
        "{m}"
    );
    // Without --int8 the same model loads.
    Stylizer::load(&plain, DeviceChoice::Cpu, &opts(false, CpuGraph::Auto)).unwrap();

    // A calibration for another architecture is refused, not misapplied.
    let other = Int8Calibration {
        photos: 1,
        size: "t".into(),
        blocks: vec![],
    };
    let wrong = with_metadata(&bytes, METADATA_KEY, &other.to_metadata()).unwrap();
    let path = dir.path().join("wrong.onnx");
    std::fs::write(&path, wrong).unwrap();
    let m = Stylizer::load(&path, DeviceChoice::Cpu, &opts(true, CpuGraph::Auto))
        .unwrap_err()
        .to_string();
    assert!(
        m.contains("covers 0 residual blocks but the network has 1"),
        "{m}"
    );

    // A model stylecam did not write cannot be quantised by it.
    let identity = common::fixtures::identity_model_dims(1, &[Some(1), Some(3), None, None]);
    let path = dir.path().join("identity.onnx");
    std::fs::write(&path, &identity).unwrap();
    let m = Stylizer::load(&path, DeviceChoice::Cpu, &opts(true, CpuGraph::Auto))
        .unwrap_err()
        .to_string();
    assert!(m.contains("cannot run in int8"), "{m}");
}

#[test]
fn calibration_only_adds_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let arch = ImfwArch::new(8, 1);
    let weights = random_weights(&arch, 5);
    let before = write_model(&arch, &weights, &ModelMetadata::new("int8 test")).unwrap();
    let (path, _) = write_calibrated(dir.path(), arch, 5);
    let after = std::fs::read(path).unwrap();
    let (a, b) = (
        read_model_info(&before).unwrap(),
        read_model_info(&after).unwrap(),
    );
    assert_eq!(
        b.metadata.get("name").map(String::as_str),
        Some("int8 test")
    );
    assert!(b.metadata.contains_key(METADATA_KEY));
    assert_eq!(a.inputs, b.inputs);
    let (_, w_after) = stylecam::net::onnx::load_weights(&after).unwrap();
    for (name, t) in &weights {
        assert_eq!(t.data, w_after[name].data, "{name} changed");
    }
}
