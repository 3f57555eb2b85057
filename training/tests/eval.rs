//! `stylecam-train eval` through its binary: tiny models from `init` (and one short training run),
//! a random VGG16 and 32 px photos, checked against the trainer's own loss code.

mod common;

use std::path::{Path, PathBuf};

use stylecam::net::ImfwArch;
use stylecam_train::data;
use stylecam_train::loss::{perceptual_loss, LossWeights, StyleTarget};
use stylecam_train::net::ImfwNet;
use stylecam_train::vgg::{Vgg16, VggSource};
use tch::{Device, Tensor};

use common::{run_err, run_ok, Fixture};

/// Four photos (one nested, one JPEG) plus an unreadable file, and a striped style image.
fn fixture() -> Fixture {
    common::fixture("held-out", 4, 48, 40)
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// `init` a model of `width`×`blocks` from `seed` at `root/<file>`.
fn init_model(root: &Path, file: &str, width: usize, blocks: usize, seed: u64) -> PathBuf {
    let model = root.join(file);
    run_ok(&[
        "init".into(),
        "--out".into(),
        s(&model),
        "--width".into(),
        width.to_string(),
        "--blocks".into(),
        blocks.to_string(),
        "--seed".into(),
        seed.to_string(),
    ]);
    model
}

/// What the loss is computed from, for `train` and `eval` alike: the fixture at 32 px, random
/// VGG16, CPU, one thread.
fn loss_args(f: &Fixture) -> Vec<String> {
    [
        "--style",
        &s(&f.style),
        "--data",
        &s(&f.data),
        "--vgg",
        "random:0",
        "--size",
        "32",
        "--style-size",
        "32",
        "--device",
        "cpu",
        "--threads",
        "1",
    ]
    .map(String::from)
    .to_vec()
}

/// `eval` arguments for `models` on the fixture.
fn eval_args(f: &Fixture, models: &[&Path]) -> Vec<String> {
    let mut args: Vec<String> = vec!["eval".into()];
    for m in models {
        args.extend(["--model".into(), s(m)]);
    }
    args.extend(loss_args(f));
    args
}

fn eval_json(args: &[String]) -> serde_json::Value {
    let mut args = args.to_vec();
    args.push("--json".into());
    let out = run_ok(&args);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "--json output does not parse ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn num(v: &serde_json::Value, path: &[&str]) -> f64 {
    let mut cur = v;
    for key in path {
        cur = &cur[key];
    }
    cur.as_f64()
        .unwrap_or_else(|| panic!("{path:?} is not a number: {cur}"))
}

#[test]
fn eval_prints_one_row_per_model_and_json_with_the_numbers() {
    let f = fixture();
    let small = init_model(&f.root, "small.onnx", 8, 1, 0);
    let tiny = init_model(&f.root, "tiny.onnx", 4, 2, 0);
    let args = eval_args(&f, &[&small, &tiny]);

    // The table: a header and one row per model, in --model order.
    let out = run_ok(&args);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("4 photo(s)"), "{table}");
    assert!(table.contains("1 unreadable file(s) skipped"), "{table}");
    let rows: Vec<&str> = table.lines().filter(|l| l.contains(".onnx")).collect();
    assert_eq!(rows.len(), 2, "{table}");
    assert!(rows[0].contains("small.onnx") && rows[0].contains("imfwnet-w8-b1"));
    assert!(rows[1].contains("tiny.onnx") && rows[1].contains("imfwnet-w4-b2"));
    assert!(
        rows[0].contains(&ImfwArch::new(8, 1).parameter_count().to_string()),
        "{table}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken.jpg"));

    // The JSON: the same models with finite, positive, consistent numbers.
    let report = eval_json(&args);
    assert_eq!(report["photos"], 4);
    assert_eq!(report["skipped"].as_array().unwrap().len(), 1);
    let models = report["models"].as_array().unwrap();
    assert_eq!(models.len(), 2);
    let w = LossWeights::default();
    for (m, (arch, file)) in models.iter().zip([
        (ImfwArch::new(8, 1), "small.onnx"),
        (ImfwArch::new(4, 2), "tiny.onnx"),
    ]) {
        assert_eq!(m["architecture"], arch.label());
        assert_eq!(m["width"], arch.width);
        assert_eq!(m["blocks"], arch.blocks);
        assert_eq!(m["parameters"], arch.parameter_count());
        assert_eq!(m["name"], file.trim_end_matches(".onnx"));
        assert!(m["path"].as_str().unwrap().ends_with(file));
        for term in ["content", "style", "tv", "total"] {
            let v = num(m, &["losses", term]);
            assert!(v.is_finite() && v > 0.0, "{file}: {term} = {v}");
        }
        let weighted = [
            (
                num(m, &["weighted", "content"]),
                num(m, &["losses", "content"]) * w.content,
            ),
            (
                num(m, &["weighted", "style"]),
                num(m, &["losses", "style"]) * w.style,
            ),
            (
                num(m, &["weighted", "tv"]),
                num(m, &["losses", "tv"]) * w.tv,
            ),
        ];
        for (got, want) in weighted {
            assert!((got - want).abs() <= 1e-9 * want.abs(), "{got} vs {want}");
        }
        let sum: f64 = weighted.iter().map(|(g, _)| g).sum();
        let total = num(m, &["losses", "total"]);
        assert!((total - sum).abs() <= 1e-9 * sum, "{total} vs {sum}");
    }
    assert_eq!(num(&models[0], &["total_vs_first"]), 1.0);
    let ratio = num(&models[1], &["total_vs_first"]);
    let expected = num(&models[1], &["losses", "total"]) / num(&models[0], &["losses", "total"]);
    assert!((ratio - expected).abs() <= 1e-9 * expected);
}

#[test]
fn eval_numbers_are_the_trainers_loss_on_the_models_weights() {
    let f = fixture();
    let (arch, seed) = (ImfwArch::new(8, 1), 3);
    let model = init_model(&f.root, "m.onnx", arch.width, arch.blocks, seed);
    let weights = LossWeights {
        content: 2.0,
        style: 3e4,
        tv: 1e-4,
        ..LossWeights::default()
    };
    let mut args = eval_args(&f, &[&model]);
    args.extend([
        "--content-weight".into(),
        "2".into(),
        "--style-weight".into(),
        "3e4".into(),
        "--tv-weight".into(),
        "1e-4".into(),
    ]);
    let report = eval_json(&args);
    let got = &report["models"][0];

    // The network eval read back computes what ONNX Runtime computes on the file.
    let loaded = stylecam_train::eval::load_model(&model, Device::Cpu).unwrap();
    let diff = stylecam_train::export::verify(&loaded.net, &model).unwrap();
    assert!(
        diff <= 1e-4,
        "eval's network differs from the file by {diff}"
    );

    // Independently: the network `init` built from the same seed, all readable photos in one
    // batch through the trainer's loss (content and style are batch means; TV is a batch sum).
    let net = ImfwNet::new(arch, Device::Cpu, seed as i64).unwrap();
    let photos: Vec<Tensor> = data::list_images(&f.data)
        .unwrap()
        .iter()
        .filter_map(|p| data::load_training_image(p, 32).ok())
        .map(|img| data::image_to_tensor(&img))
        .collect();
    assert_eq!(photos.len(), 4);
    let batch = Tensor::cat(&photos, 0);
    let vgg = Vgg16::load(&VggSource::Random(0), Device::Cpu).unwrap();
    let style = data::load_style_image(&f.style, Some(32)).unwrap();
    let target = StyleTarget::new(&vgg, &data::image_to_tensor(&style));
    let want = tch::no_grad(|| {
        perceptual_loss(&vgg, &target, &weights, &batch, &net.forward(&batch)).values()
    });
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-4 * b.abs();
    let content = num(got, &["losses", "content"]);
    let style_loss = num(got, &["losses", "style"]);
    let tv = num(got, &["losses", "tv"]);
    assert!(
        close(content, want.content),
        "content {content} vs {}",
        want.content
    );
    assert!(
        close(style_loss, want.style),
        "style {style_loss} vs {}",
        want.style
    );
    assert!(close(tv, want.tv / 4.0), "TV {tv} vs {}", want.tv / 4.0);
    let total = num(got, &["losses", "total"]);
    let want_total =
        weights.content * want.content + weights.style * want.style + weights.tv * want.tv / 4.0;
    assert!(close(total, want_total), "total {total} vs {want_total}");
}

#[test]
fn a_model_trained_for_content_scores_a_lower_content_loss_than_its_untrained_start() {
    let f = fixture();
    // `train` starts from exactly the network `init --seed 0` writes.
    let untrained = init_model(&f.root, "untrained.onnx", 8, 1, 0);
    let trained = f.root.join("trained.onnx");
    let mut train = vec!["train".to_string()];
    train.extend(loss_args(&f));
    train.extend(
        [
            "--out",
            &s(&trained),
            "--batch",
            "2",
            "--width",
            "8",
            "--blocks",
            "1",
            "--steps",
            "40",
            "--lr",
            "1e-2",
            "--content-weight",
            "1",
            "--style-weight",
            "0",
            "--tv-weight",
            "0",
            "--checkpoint-dir",
            &s(&f.root.join("run")),
            "--seed",
            "0",
        ]
        .map(String::from),
    );
    run_ok(&train);
    let report = eval_json(&eval_args(&f, &[&untrained, &trained]));
    let models = report["models"].as_array().unwrap();
    let before = num(&models[0], &["losses", "content"]);
    let after = num(&models[1], &["losses", "content"]);
    assert!(
        after < 0.75 * before,
        "training for content should show in eval: untrained {before}, trained {after}"
    );
}

#[test]
fn eval_bad_inputs_are_clear_errors() {
    let f = fixture();
    let model = init_model(&f.root, "ok.onnx", 4, 1, 0);

    // Data folder missing, empty, or holding only unreadable files.
    let mut args = eval_args(&f, &[&model]);
    let data_at = args.iter().position(|a| a == "--data").unwrap() + 1;
    args[data_at] = s(&f.root.join("no-such-folder"));
    let err = run_err(&args);
    assert!(
        err.contains("no-such-folder") && err.contains("Fix: point --data"),
        "{err}"
    );
    let empty = f.root.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    args[data_at] = s(&empty);
    let err = run_err(&args);
    assert!(
        err.contains("holds no image files") && err.contains("Fix:"),
        "{err}"
    );
    let broken = f.root.join("broken-only");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("a.png"), b"not a png").unwrap();
    args[data_at] = s(&broken);
    let err = run_err(&args);
    assert!(err.contains("all 1 image files are unreadable"), "{err}");

    // Models: missing, not ONNX, ONNX without stylecam's architecture metadata.
    let missing = f.root.join("missing.onnx");
    let err = run_err(&eval_args(&f, &[&model, &missing]));
    assert!(
        err.contains("missing.onnx") && err.contains("cannot read"),
        "{err}"
    );
    assert!(
        err.contains("Fix:") && err.contains("stylecam-train"),
        "{err}"
    );
    let garbage = f.root.join("garbage.onnx");
    std::fs::write(&garbage, b"hello, this is not a model\n").unwrap();
    let err = run_err(&eval_args(&f, &[&garbage]));
    assert!(
        err.contains("garbage.onnx") && err.contains("not a usable ONNX model"),
        "{err}"
    );
    let foreign = f.root.join("foreign.onnx");
    std::fs::write(
        &foreign,
        strip_architecture(&std::fs::read(&model).unwrap()),
    )
    .unwrap();
    assert!(
        stylecam::net::onnx::read_model_info_file(&foreign).is_ok(),
        "the foreign fixture must still be valid ONNX"
    );
    let err = run_err(&eval_args(&f, &[&foreign]));
    assert!(
        err.contains("foreign.onnx") && err.contains("names no ImfwNet architecture"),
        "{err}"
    );
    assert_eq!(err.matches("Fix:").count(), 1, "one fix, ours: {err}");

    // Style image unreadable.
    let mut args = eval_args(&f, &[&model]);
    let style_at = args.iter().position(|a| a == "--style").unwrap() + 1;
    args[style_at] = s(&f.root.join("nope.jpg"));
    let err = run_err(&args);
    assert!(
        err.contains("nope.jpg") && err.contains("Fix: --style"),
        "{err}"
    );

    // A crop size the network cannot take.
    let mut args = eval_args(&f, &[&model]);
    let size_at = args.iter().position(|a| a == "--size").unwrap() + 1;
    args[size_at] = "30".into();
    let err = run_err(&args);
    assert!(
        err.contains("--size 30") && err.contains("multiple of 4"),
        "{err}"
    );
}

/// The model with its `architecture`, `width` and `blocks` metadata keys renamed (same lengths,
/// so the protobuf stays valid): an ONNX file stylecam cannot tell the architecture of.
fn strip_architecture(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for (from, to) in [
        (&b"architecture"[..], &b"architectur_"[..]),
        (b"width", b"widt_"),
        (b"blocks", b"block_"),
    ] {
        let mut i = 0;
        while i + from.len() <= out.len() {
            if &out[i..i + from.len()] == from {
                out[i..i + from.len()].copy_from_slice(to);
                i += from.len();
            } else {
                i += 1;
            }
        }
    }
    out
}
