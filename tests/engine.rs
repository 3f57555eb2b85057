//! The engine through its public API: load models, stylize frames of awkward sizes, reject bad
//! models, report which provider runs. Models are generated here (the ONNX writer with random
//! weights, or hand-built Identity graphs); ONNX Runtime comes from the project's `.venv`.

mod common;

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};
use stylecam::engine::{runtime, DeviceChoice, EngineOptions, Provider, Stylizer};
use stylecam::net::onnx::{random_weights, write_model, ModelMetadata};
use stylecam::net::ImfwArch;
use stylecam::Error;

fn opts() -> EngineOptions {
    EngineOptions {
        intra_threads: Some(2),
        ..EngineOptions::default()
    }
}

fn write(dir: &Path, file: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(file);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn imfw_model(dir: &Path, name: &str, arch: ImfwArch, seed: u64) -> PathBuf {
    let bytes = write_model(
        &arch,
        &random_weights(&arch, seed),
        &ModelMetadata {
            name: name.into(),
            extra: vec![("trained_by".into(), "engine tests".into())],
        },
    )
    .unwrap();
    write(dir, &format!("{name}.onnx"), &bytes)
}

fn pattern(w: u32, h: u32, salt: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([
            (x * 29 + y * 7 + salt) as u8,
            (x * 3 + y * 31 + 2 * salt) as u8,
            (x * y + 5 * salt + 100) as u8,
        ])
    })
}

/// What an identity network gives back: the frame itself, except red 0 (below the output clamp
/// of -2.1 after normalisation) which returns as 1.
fn identity_expected(frame: &RgbImage) -> RgbImage {
    let mut e = frame.clone();
    e.pixels_mut().for_each(|p| p[0] = p[0].max(1));
    e
}

fn assert_invalid_model(result: Result<Stylizer, Error>, path: &Path, needle: &str) {
    match result {
        Err(e @ Error::InvalidModel { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains(&path.display().to_string()),
                "message lacks the path: {msg}"
            );
            assert!(
                msg.to_lowercase().contains(needle),
                "message lacks '{needle}': {msg}"
            );
        }
        Err(other) => panic!("expected InvalidModel, got {other:?}"),
        Ok(s) => panic!("expected InvalidModel, but {} loaded", s.path().display()),
    }
}

#[test]
fn runtime_is_found_in_the_project_venv_and_init_is_idempotent() {
    let first =
        runtime::init(None).expect("libonnxruntime in the project's .venv (run `make setup`)");
    assert!(first.is_file(), "{}", first.display());
    assert!(first.to_string_lossy().contains("libonnxruntime"));
    assert_eq!(runtime::init(None).unwrap(), first);
    // A conflicting explicit path after init: warned about, the loaded library is kept.
    assert_eq!(
        runtime::init(Some(Path::new("/nonexistent/libonnxruntime.so"))).unwrap(),
        first
    );
    assert_eq!(runtime::loaded_path(), Some(first));
}

#[test]
fn identity_network_returns_every_size_unchanged() {
    let d = tempfile::tempdir().unwrap();
    let model = write(
        d.path(),
        "identity.onnx",
        &common::fixtures::identity_model_dims(1, &[None, Some(3), None, None]),
    );
    let mut st = Stylizer::load(&model, DeviceChoice::Cpu, &opts()).unwrap();
    assert_eq!(st.provider(), Provider::Cpu);
    assert_eq!(st.input_shape(), [-1, 3, -1, -1]);
    assert_eq!(st.name(), "identity", "no metadata name → file stem");
    let mut out = RgbImage::new(0, 0);
    // Size changes in both directions, then back: buffers are rebuilt and stay correct.
    for (i, (w, h)) in [
        (37, 23),
        (5, 5),
        (64, 48),
        (1, 1),
        (2, 9),
        (64, 48),
        (37, 23),
    ]
    .into_iter()
    .enumerate()
    {
        let frame = pattern(w, h, i as u32);
        st.stylize_into(&frame, &mut out).unwrap();
        assert_eq!(out, identity_expected(&frame), "{w}×{h}");
    }
}

#[test]
fn seed_shaped_network_gives_same_size_frames_that_follow_the_input() {
    let d = tempfile::tempdir().unwrap();
    let model = imfw_model(d.path(), "Test Mosaic", ImfwArch::new(8, 1), 7);
    let mut st = Stylizer::load(&model, DeviceChoice::Auto, &opts()).unwrap();
    assert_eq!(st.name(), "Test Mosaic");
    assert_eq!(
        st.metadata().get("architecture").map(String::as_str),
        Some("imfwnet-w8-b1")
    );
    assert_eq!(
        st.metadata().get("trained_by").map(String::as_str),
        Some("engine tests")
    );

    for (w, h) in [(37, 23), (5, 5), (64, 48)] {
        let a = pattern(w, h, 1);
        let out_a = st.stylize(&a).unwrap();
        assert_eq!(out_a.dimensions(), (w, h));
        // Steady state reuses the bound buffers: a second, different frame of the same size must
        // give a different result, and the first frame again must give the first result.
        let b = pattern(w, h, 90);
        let out_b = st.stylize(&b).unwrap();
        assert_ne!(out_a, out_b, "{w}×{h}: the output ignores the input");
        assert_eq!(st.stylize(&a).unwrap(), out_a, "{w}×{h}: not deterministic");
    }
    // A fresh session on the same model agrees with the reused one.
    let frame = pattern(64, 48, 3);
    let reused = st.stylize(&frame).unwrap();
    let mut fresh = Stylizer::load(&model, DeviceChoice::Cpu, &opts()).unwrap();
    assert_eq!(fresh.stylize(&frame).unwrap(), reused);
}

#[test]
fn fixed_size_model_resizes_in_and_out() {
    let d = tempfile::tempdir().unwrap();
    let model = write(
        d.path(),
        "fixed.onnx",
        &common::fixtures::identity_model_dims(1, &[Some(1), Some(3), Some(8), Some(8)]),
    );
    let mut st = Stylizer::load(&model, DeviceChoice::Cpu, &opts()).unwrap();
    assert_eq!(st.fixed_size(), (Some(8), Some(8)));
    // Native size: exact.
    let frame = pattern(8, 8, 4);
    assert_eq!(st.stylize(&frame).unwrap(), identity_expected(&frame));
    // Other sizes come back at their own size; a flat colour survives resizing both ways.
    let flat = RgbImage::from_pixel(37, 23, Rgb([120, 40, 200]));
    let out = st.stylize(&flat).unwrap();
    assert_eq!(out.dimensions(), (37, 23));
    assert!(out.pixels().all(|p| p.0 == [120, 40, 200]));
}

#[test]
fn non_onnx_and_missing_files_are_invalid_models() {
    let d = tempfile::tempdir().unwrap();
    let bogus = write(d.path(), "bogus.onnx", b"this is not a protobuf model");
    assert_invalid_model(
        Stylizer::load(&bogus, DeviceChoice::Cpu, &opts()),
        &bogus,
        "onnx runtime cannot load it",
    );
    let empty = write(d.path(), "empty.onnx", b"");
    assert!(matches!(
        Stylizer::load(&empty, DeviceChoice::Cpu, &opts()),
        Err(Error::InvalidModel { .. })
    ));
    let missing = d.path().join("missing.onnx");
    assert_invalid_model(
        Stylizer::load(&missing, DeviceChoice::Auto, &opts()),
        &missing,
        "no such file",
    );
}

#[test]
fn wrong_interfaces_are_rejected_with_the_mismatch_named() {
    let d = tempfile::tempdir().unwrap();
    let cases = [
        (
            "int64.onnx",
            common::fixtures::identity_model(7, &[1, 3, 8, 8]),
            "input 'input' has element type int64, expected float32",
        ),
        (
            "rank3.onnx",
            common::fixtures::identity_model(1, &[3, 8, 8]),
            "rank 3",
        ),
        (
            "gray.onnx",
            common::fixtures::identity_model(1, &[1, 1, 8, 8]),
            "1 channels",
        ),
        (
            "batch.onnx",
            common::fixtures::identity_model(1, &[2, 3, 8, 8]),
            "batch size 2",
        ),
    ];
    for (file, bytes, needle) in cases {
        let p = write(d.path(), file, &bytes);
        assert_invalid_model(
            Stylizer::load(&p, DeviceChoice::Cpu, &opts()),
            &p,
            &needle.to_lowercase(),
        );
    }
}

#[test]
fn empty_frames_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let model = write(
        d.path(),
        "identity.onnx",
        &common::fixtures::identity_model_dims(1, &[None, Some(3), None, None]),
    );
    let mut st = Stylizer::load(&model, DeviceChoice::Cpu, &opts()).unwrap();
    assert!(matches!(
        st.stylize(&RgbImage::new(0, 4)),
        Err(Error::InvalidArgument(_))
    ));
}

/// Whether this ONNX Runtime build has the CUDA provider compiled in.
fn cuda_built_in() -> bool {
    runtime::init(None).unwrap();
    use ort::ep::ExecutionProvider;
    ort::ep::CUDA::is_available().unwrap_or(false)
}

#[test]
fn without_cuda_explicit_cuda_fails_and_auto_runs_on_cpu() {
    let d = tempfile::tempdir().unwrap();
    let model = write(
        d.path(),
        "identity.onnx",
        &common::fixtures::identity_model_dims(1, &[None, Some(3), None, None]),
    );
    if cuda_built_in() {
        // onnxruntime-gpu: whether CUDA starts depends on the machine (a usable GPU). Either
        // way explicit CUDA and auto must agree, a failure must say what to do, and auto's
        // output must be right on whichever provider it chose.
        let explicit = Stylizer::load(&model, DeviceChoice::Cuda, &opts());
        let mut auto = Stylizer::load(&model, DeviceChoice::Auto, &opts()).unwrap();
        match explicit {
            Ok(st) => {
                assert_eq!(st.provider(), Provider::Cuda);
                assert_eq!(
                    auto.provider(),
                    Provider::Cuda,
                    "CUDA works but auto did not use it"
                );
            }
            Err(e @ Error::ProviderUnavailable { .. }) => {
                assert!(
                    e.to_string().contains("--device cpu"),
                    "the fix is missing: {e}"
                );
                assert_eq!(auto.provider(), Provider::Cpu);
            }
            Err(other) => panic!("expected CUDA or ProviderUnavailable, got {other:?}"),
        }
        let frame = pattern(5, 5, 0);
        assert_eq!(auto.stylize(&frame).unwrap(), identity_expected(&frame));
        return;
    }
    match Stylizer::load(&model, DeviceChoice::Cuda, &opts()) {
        Err(e @ Error::ProviderUnavailable { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("CUDA"), "{msg}");
            assert!(msg.contains("--device cpu"), "the fix is missing: {msg}");
        }
        other => panic!("expected ProviderUnavailable, got {other:?}"),
    }
    assert!(matches!(
        Stylizer::load(&model, DeviceChoice::TensorRt, &opts()),
        Err(Error::ProviderUnavailable { .. })
    ));
    let mut st = Stylizer::load(&model, DeviceChoice::Auto, &opts()).unwrap();
    assert_eq!(st.provider(), Provider::Cpu);
    let frame = pattern(5, 5, 0);
    assert_eq!(st.stylize(&frame).unwrap(), identity_expected(&frame));
}
