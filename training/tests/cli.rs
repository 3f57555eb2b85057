//! `stylecam-train` through its binary, as a user runs it: tiny training runs (64 px, width 8,
//! random VGG), kill -9 + --resume, export, and the errors for bad input.

mod common;

use std::path::Path;

use stylecam_train::checkpoint;
use stylecam_train::report::read_csv;

use common::{run_err, run_ok, Fixture};

fn fixture() -> Fixture {
    common::fixture("photos", 10, 96, 80)
}

/// Arguments of a tiny run writing to `run` (checkpoints) and `out` (model).
fn tiny_args(f: &Fixture, run: &Path, out: &Path, steps: u32) -> Vec<String> {
    [
        "train",
        "--style",
        f.style.to_str().unwrap(),
        "--data",
        f.data.to_str().unwrap(),
        "--vgg",
        "random:0",
        "--out",
        out.to_str().unwrap(),
        "--size",
        "64",
        "--style-size",
        "64",
        "--batch",
        "2",
        "--width",
        "8",
        "--blocks",
        "2",
        "--steps",
        &steps.to_string(),
        "--content-weight",
        "5e3",
        "--style-weight",
        "1e9",
        "--tv-weight",
        "1e-5",
        "--checkpoint-dir",
        run.to_str().unwrap(),
        "--checkpoint-every",
        "3",
        "--sample-every",
        "10",
        "--samples",
        "3",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--workers",
        "2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn tiny_run_loss_falls_and_exports_a_working_model() {
    let f = fixture();
    let run = f.root.join("run");
    let model = f.root.join("models/tiny.onnx");
    let out = run_ok(&tiny_args(&f, &run, &model, 20));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("skipped 1 unreadable image"),
        "the broken file should be reported: {stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("max |diff|"));
    // Calibrated for the app's --int8 on the training photos (the broken one skipped).
    assert!(stdout.contains("int8 calibration: measured on"), "{stdout}");

    let rows = read_csv(&run.join("losses.csv")).unwrap();
    assert_eq!(
        rows.iter().map(|r| r.step).collect::<Vec<_>>(),
        (1..=20).collect::<Vec<_>>()
    );
    let first = rows[0].losses.total;
    let last5 = rows[15..].iter().map(|r| r.losses.total).sum::<f64>() / 5.0;
    assert!(
        last5 < 0.7 * first,
        "loss did not fall: first {first}, mean of last five {last5}"
    );

    // Progress artefacts a user looks at.
    let plot = image::open(run.join("loss.png")).unwrap();
    assert!(plot.width() > 100 && plot.height() > 100);
    let grid = image::open(run.join("samples-00000020.png")).unwrap();
    assert!(grid.width() >= 3 * 64 && grid.height() >= 2 * 64);

    // The exported model runs in ONNX Runtime at a size it was not trained on.
    let (h, w) = (36usize, 52usize);
    let input: Vec<f32> = (0..3 * h * w)
        .map(|i| ((i % 97) as f32 / 48.0) - 1.0)
        .collect();
    let y = stylecam_train::export::run_ort(&model, [1, 3, h, w], input).unwrap();
    assert_eq!(y.len(), 3 * h * w);
    assert!(y.iter().all(|v| v.is_finite()));
    let info = stylecam::net::onnx::read_model_info_file(&model).unwrap();
    assert_eq!(info.name(), Some("tiny"));
    assert_eq!(info.arch(), Some(stylecam::net::ImfwArch::new(8, 2)));
    let calibration = &info.metadata[stylecam::net::int8::METADATA_KEY];
    let c = stylecam::net::int8::Int8Calibration::from_metadata(calibration).unwrap();
    assert_eq!(c.blocks.len(), 2);
}

#[test]
fn kill_9_then_resume_reaches_the_uninterrupted_numbers() {
    let f = fixture();
    let steps = 12;

    // Reference: one uninterrupted run.
    let run_a = f.root.join("a");
    run_ok(&tiny_args(&f, &run_a, &f.root.join("a.onnx"), steps));

    // Killed with SIGKILL right after its first checkpoint, then resumed.
    let run_b = f.root.join("b");
    let args_b = tiny_args(&f, &run_b, &f.root.join("b.onnx"), steps);
    common::kill_9_and_resume(
        &args_b,
        &run_b,
        &run_b.join(checkpoint::file_name(3)),
        &run_b.join(checkpoint::file_name(steps as u64)),
    );

    let a = read_csv(&run_a.join("losses.csv")).unwrap();
    let b = read_csv(&run_b.join("losses.csv")).unwrap();
    assert_eq!(a.len(), steps as usize);
    assert_eq!(
        a.iter().map(|r| r.step).collect::<Vec<_>>(),
        b.iter().map(|r| r.step).collect::<Vec<_>>()
    );
    for (ra, rb) in a.iter().zip(&b) {
        let (x, y) = (ra.losses.total, rb.losses.total);
        assert!(
            (x - y).abs() <= 1e-6 * x.abs(),
            "step {}: uninterrupted {x} vs resumed {y}",
            ra.step
        );
    }
    // Same final network.
    let ca = checkpoint::load(&run_a.join(checkpoint::file_name(steps as u64))).unwrap();
    let cb = checkpoint::load(&run_b.join(checkpoint::file_name(steps as u64))).unwrap();
    for (name, ta) in &ca.net {
        let d = (ta - &cb.net[name]).abs().max().double_value(&[]);
        assert!(d <= 1e-6, "{name} differs by {d} after resume");
    }
    assert_eq!(ca.meta.cursor, cb.meta.cursor);

    // `export` of the final checkpoint gives a model like the one written at the end of training.
    let exported = f.root.join("exported.onnx");
    run_ok(&[
        "export".into(),
        "--checkpoint".into(),
        run_b.to_str().unwrap().into(),
        "--out".into(),
        exported.to_str().unwrap().into(),
    ]);
    let input: Vec<f32> = (0..3 * 32 * 32)
        .map(|i| (i % 13) as f32 / 7.0 - 1.0)
        .collect();
    let y1 = stylecam_train::export::run_ort(&exported, [1, 3, 32, 32], input.clone()).unwrap();
    let y2 =
        stylecam_train::export::run_ort(&f.root.join("b.onnx"), [1, 3, 32, 32], input).unwrap();
    assert_eq!(y1, y2);
}

#[test]
fn init_exports_an_untrained_model_of_the_requested_width() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("untrained.onnx");
    let out = run_ok(&[
        "init".into(),
        "--out".into(),
        model.to_str().unwrap().into(),
        "--width".into(),
        "8".into(),
        "--blocks".into(),
        "1".into(),
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("imfwnet-w8-b1"));
    let info = stylecam::net::onnx::read_model_info_file(&model).unwrap();
    assert_eq!(info.arch(), Some(stylecam::net::ImfwArch::new(8, 1)));
}

#[test]
fn divergence_stops_with_a_clear_message_and_keeps_good_checkpoints() {
    let f = fixture();
    let run = f.root.join("run");
    let model = f.root.join("nan.onnx");
    let mut args = tiny_args(&f, &run, &model, 30);
    args.extend(["--lr".into(), "1e30".into()]);
    let err = run_err(&args);
    assert!(err.contains("diverged"), "{err}");
    assert!(
        err.contains("--resume"),
        "the message should say how to go on: {err}"
    );
    assert!(
        !model.exists(),
        "no model may be exported from a diverged run"
    );
    for (_, p) in checkpoint::list(&run) {
        let ck = checkpoint::load(&p).unwrap();
        let losses = ck.meta.last_losses.unwrap();
        assert!(
            losses.total.is_finite(),
            "checkpoint {} holds a NaN run",
            p.display()
        );
    }
}

#[test]
fn bad_inputs_are_clear_errors() {
    let f = fixture();
    let run = f.root.join("run");
    let model = f.root.join("m.onnx");

    // Empty data folder.
    let empty = f.root.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let mut args = tiny_args(&f, &run, &model, 2);
    let i = args.iter().position(|a| a == "--data").unwrap();
    args[i + 1] = empty.to_str().unwrap().into();
    let err = run_err(&args);
    assert!(err.contains("no usable training images"), "{err}");

    // VGG weights: one tensor missing, one mis-shaped.
    let vgg = stylecam_train::vgg::Vgg16::load(
        &stylecam_train::vgg::VggSource::Random(0),
        tch::Device::Cpu,
    )
    .unwrap();
    let mut tensors: Vec<(String, tch::Tensor)> = vgg
        .named_tensors()
        .into_iter()
        .filter(|(n, _)| n != "features.21.weight")
        .collect();
    for (n, t) in tensors.iter_mut() {
        if n == "features.5.bias" {
            *t = tch::Tensor::zeros([64], (tch::Kind::Float, tch::Device::Cpu));
        }
    }
    let file = f.root.join("vgg16.safetensors");
    tch::Tensor::write_safetensors(&tensors, &file).unwrap();
    let mut args = tiny_args(&f, &run, &model, 2);
    let i = args.iter().position(|a| a == "--vgg").unwrap();
    args[i + 1] = file.to_str().unwrap().into();
    let err = run_err(&args);
    assert!(err.contains("features.21.weight"), "{err}");
    assert!(
        err.contains("features.5.bias has shape [64], expected [128]"),
        "{err}"
    );
    assert!(err.contains("convert_vgg16.py"), "{err}");

    // Missing style image.
    let mut args = tiny_args(&f, &run, &model, 2);
    let i = args.iter().position(|a| a == "--style").unwrap();
    args[i + 1] = f.root.join("nope.jpg").to_str().unwrap().into();
    let err = run_err(&args);
    assert!(err.contains("nope.jpg"), "{err}");
    assert!(!model.exists());
}

#[test]
fn init_fp16_writes_half_weights_float32_norms_and_a_close_model() {
    use prost::Message;
    use stylecam::net::onnx_proto::{ModelProto, DATA_TYPE_FLOAT, DATA_TYPE_FLOAT16};
    let dir = tempfile::tempdir().unwrap();
    let (full, half) = (dir.path().join("f32.onnx"), dir.path().join("f16.onnx"));
    for (path, extra) in [(&full, None), (&half, Some("--fp16"))] {
        let mut args: Vec<String> = ["init", "--width", "8", "--blocks", "1", "--seed", "3"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(["--out".to_string(), path.to_str().unwrap().to_string()]);
        args.extend(extra.map(str::to_string));
        run_ok(&args);
    }
    let m = ModelProto::decode(std::fs::read(&half).unwrap().as_slice()).unwrap();
    let g = m.graph.unwrap();
    let dtype = |name: &str| {
        g.initializer
            .iter()
            .find(|t| t.name == name)
            .unwrap()
            .data_type
    };
    assert_eq!(dtype("conv1.weight"), DATA_TYPE_FLOAT16);
    assert_eq!(dtype("deconv3.weight"), DATA_TYPE_FLOAT16);
    assert_eq!(dtype("in1.weight"), DATA_TYPE_FLOAT);
    assert!(m.metadata_props.iter().any(|p| p.key == "precision"));
    // Same network in both files: outputs agree to half precision, and are not identical.
    let input: Vec<f32> = (0..3 * 24 * 32)
        .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
        .collect();
    let run = |p: &Path| stylecam_train::export::run_ort(p, [1, 3, 24, 32], input.clone()).unwrap();
    let (a, b) = (run(&full), run(&half));
    let diff = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(diff > 0.0 && diff < 5e-2, "fp16 vs fp32: {diff}");
}
