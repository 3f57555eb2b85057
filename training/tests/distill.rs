//! `stylecam-train distill` as a user runs it, on a tiny teacher with the real one's interface
//! (tests/common/teacher.rs): the loss falls, targets are cached and found again, a kill -9 +
//! `--resume` reaches the uninterrupted run's numbers, the held-out score lands in the model; and
//! the real teacher's interface, when `make setup` has installed it.

mod common;

use std::path::Path;

use stylecam_train::checkpoint;
use stylecam_train::report::read_csv;

use common::{run_err, run_ok, Fixture};

fn fixture() -> Fixture {
    let f = common::fixture("photos", 12, 96, 80);
    common::teacher::write_tiny_teacher(&f.root.join("teacher"));
    f
}

/// A tiny distillation run: 64 px teacher squares, 48 px crops, width 8.
fn tiny_args(f: &Fixture, run: &Path, out: &Path, steps: u32) -> Vec<String> {
    let s = |p: &Path| p.to_str().unwrap().to_string();
    [
        "distill",
        "--style",
        &s(&f.style),
        "--data",
        &s(&f.data),
        "--teacher",
        &s(&f.root.join("teacher")),
        "--cache-dir",
        &s(&f.root.join("cache")),
        "--out",
        &s(out),
        "--checkpoint-dir",
        &s(run),
        "--teacher-size",
        "64",
        "--size",
        "48",
        "--style-size",
        "64",
        "--batch",
        "2",
        "--width",
        "8",
        "--blocks",
        "1",
        "--lr",
        "5e-3",
        "--steps",
        &steps.to_string(),
        "--holdout-every",
        "4",
        "--checkpoint-every",
        "3",
        "--sample-every",
        "10",
        "--device",
        "cpu",
        "--threads",
        "1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn distillation_learns_the_teacher_caches_targets_and_scores_held_out_photos() {
    let f = fixture();
    let run = f.root.join("run");
    let model = f.root.join("tiny.onnx");
    let out = run_ok(&tiny_args(&f, &run, &model, 150));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    // 12 photos + 1 unreadable file: 3 held out (every 4th), the broken one skipped.
    assert!(stderr.contains("0 from the cache"), "{stderr}");
    assert!(stderr.contains("skipping unreadable image"), "{stderr}");
    assert!(
        stdout.contains("distance to the teacher on 3 held-out photo(s)"),
        "{stdout}"
    );

    let rows = read_csv(&run.join("losses.csv")).unwrap();
    assert_eq!(rows.len(), 150);
    let mean = |r: &[stylecam_train::report::LossRow]| {
        r.iter().map(|r| r.losses.teacher).sum::<f64>() / r.len() as f64
    };
    let (first, last) = (mean(&rows[..5]), mean(&rows[145..]));
    assert!(
        last < 0.7 * first,
        "teacher loss did not fall: {first} → {last}"
    );
    assert!(
        rows.iter().all(|r| r.losses.stability > 0.0),
        "stability term missing"
    );

    let info = stylecam::net::onnx::read_model_info_file(&model).unwrap();
    assert_eq!(info.arch(), Some(stylecam::net::ImfwArch::new(8, 1)));
    let score = |m: &Path| {
        let info = stylecam::net::onnx::read_model_info_file(m).unwrap();
        let l1: f64 = info.metadata["teacher_l1"].parse().unwrap();
        let psnr: f64 = info.metadata["teacher_psnr_db"].parse().unwrap();
        (l1, psnr)
    };
    assert_eq!(info.metadata["strength"], "1");

    // A repeated run (new checkpoint folder) finds every target in the cache; untrained (0
    // steps), the student is much further from the teacher on the held-out photos.
    let untrained = f.root.join("t2.onnx");
    let again = run_ok(&tiny_args(&f, &f.root.join("run2"), &untrained, 0));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("from the cache, 0 computed"), "{stderr}");
    let ((l1, psnr), (l1_0, psnr_0)) = (score(&model), score(&untrained));
    assert!(
        l1 < 0.9 * l1_0,
        "held-out L1: trained {l1}, untrained {l1_0}"
    );
    assert!(
        psnr > psnr_0 + 0.5,
        "held-out PSNR: trained {psnr}, untrained {psnr_0}"
    );
    // Another strength is another target.
    let mut weaker = tiny_args(&f, &f.root.join("run3"), &f.root.join("t3.onnx"), 1);
    weaker.extend(["--strength".into(), "0.5".into()]);
    let stderr = String::from_utf8_lossy(&run_ok(&weaker).stderr).into_owned();
    assert!(stderr.contains("0 from the cache"), "{stderr}");
}

#[test]
fn kill_9_then_resume_reaches_the_uninterrupted_numbers() {
    let f = fixture();
    let steps = 12;
    let run_a = f.root.join("a");
    run_ok(&tiny_args(&f, &run_a, &f.root.join("a.onnx"), steps));

    let run_b = f.root.join("b");
    let args_b = tiny_args(&f, &run_b, &f.root.join("b.onnx"), steps);
    let out = common::kill_9_and_resume(
        &args_b,
        &run_b,
        &run_b.join(checkpoint::file_name(3)),
        &run_b.join(checkpoint::file_name(steps as u64)),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("from the cache, 0 computed"), "{stderr}");

    let a = read_csv(&run_a.join("losses.csv")).unwrap();
    let b = read_csv(&run_b.join("losses.csv")).unwrap();
    assert_eq!(a.len(), steps as usize);
    assert_eq!(b.len(), steps as usize);
    for (ra, rb) in a.iter().zip(&b) {
        for (x, y) in [
            (ra.losses.teacher, rb.losses.teacher),
            (ra.losses.stability, rb.losses.stability),
        ] {
            assert!(
                (x - y).abs() <= 1e-6 * x.abs().max(1e-9),
                "step {}: {x} vs {y}",
                ra.step
            );
        }
    }
    let ca = checkpoint::load(&run_a.join(checkpoint::file_name(steps as u64))).unwrap();
    let cb = checkpoint::load(&run_b.join(checkpoint::file_name(steps as u64))).unwrap();
    for (name, ta) in &ca.net {
        let d = (ta - &cb.net[name]).abs().max().double_value(&[]);
        assert!(d <= 1e-6, "{name} differs by {d} after resume");
    }
}

#[test]
fn bad_distillation_settings_are_clear_errors() {
    let f = fixture();
    // Each (flag, value) replaces the tiny run's value or is added.
    let base = |extra: &[(&str, &str)]| {
        let mut a = tiny_args(&f, &f.root.join("r"), &f.root.join("m.onnx"), 2);
        for (flag, v) in extra {
            match a.iter().position(|x| x == flag) {
                Some(i) => a[i + 1] = v.to_string(),
                None => a.extend([flag.to_string(), v.to_string()]),
            }
        }
        a
    };
    let e = run_err(&base(&[("--strength", "1.5")]));
    assert!(
        e.contains("--strength 1.5") && e.contains("between 0"),
        "{e}"
    );
    let e = run_err(&base(&[("--size", "64")]));
    assert!(
        e.contains("--stability-shift") && e.contains("--teacher-size 64"),
        "{e}"
    );
    let nowhere = f.root.join("nowhere");
    let e = run_err(&base(&[("--teacher", nowhere.to_str().unwrap())]));
    assert!(
        e.contains("make setup") && e.contains("arbitrary_transform.onnx"),
        "{e}"
    );
    assert!(
        !f.root.join("m.onnx").exists(),
        "a failed run wrote a model"
    );
}

/// The real teacher (installed by `make setup` / `make test`): its names, shapes and value
/// range, at its own sizes and at a webcam's.
#[test]
fn the_installed_teacher_has_the_documented_interface() {
    let files = match stylecam::net::arbitrary::locate(None) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("SKIPPED: the real teacher is not installed here ({e})");
            return;
        }
    };
    assert!(
        files.check_pinned().unwrap(),
        "{files:?} are not the pinned wheel's files"
    );
    let mut t = stylecam_train::teacher::Teacher::load(None, 2).unwrap();
    let style = common::style_image(256, 256);
    let emb = t.embed(&style).unwrap();
    assert_eq!(emb.len(), 100);
    assert!(emb.iter().all(|v| v.is_finite()));
    // The style predictor takes other sizes too (its input is made dynamic).
    assert_eq!(t.embed(&common::style_image(320, 200)).unwrap().len(), 100);
    for (w, h) in [(384, 384), (640, 480)] {
        let photo = common::photo(3, w, h);
        let out = t.stylize(&photo, &emb).unwrap();
        assert_eq!(out.len(), (w * h * 3) as usize);
        assert!(out.iter().all(|v| (0.0..=1.0).contains(v)));
        // It stylizes: the output is far from the photo.
        let diff: f32 = out
            .iter()
            .zip(photo.as_raw())
            .map(|(o, &p)| (o - p as f32 / 255.0).abs())
            .sum::<f32>()
            / out.len() as f32;
        assert!(
            diff > 0.05,
            "{w}×{h}: output too close to the photo ({diff})"
        );
    }
}

/// `--init-from`: a trained small model grown to a wider, deeper network starts out as close to
/// the teacher as the small one (far closer than a fresh network of that size), and a width
/// that is not a whole multiple is refused with the fix.
#[test]
fn a_grown_start_keeps_the_trained_models_distance_to_the_teacher() {
    let f = fixture();
    let small = f.root.join("small.onnx");
    run_ok(&tiny_args(&f, &f.root.join("run_small"), &small, 60));
    let score = |m: &Path| {
        let info = stylecam::net::onnx::read_model_info_file(m).unwrap();
        let psnr: f64 = info.metadata["teacher_psnr_db"].parse().unwrap();
        (info.arch(), psnr)
    };
    let bigger = |name: &str, init: Option<&Path>, width: &str| {
        let mut args = tiny_args(
            &f,
            &f.root.join(format!("run_{name}")),
            &f.root.join(name),
            0,
        );
        let at = args.iter().position(|a| a == "--width").unwrap();
        args[at + 1] = width.into();
        let at = args.iter().position(|a| a == "--blocks").unwrap();
        args[at + 1] = "2".into();
        if let Some(m) = init {
            args.extend(["--init-from".into(), m.to_str().unwrap().into()]);
        }
        args
    };
    let out = run_ok(&bigger("grown.onnx", Some(&small), "16"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("imfwnet-w8-b1 grown to imfwnet-w16-b2"),
        "{stderr}"
    );
    run_ok(&bigger("fresh.onnx", None, "16"));
    let (_, small_psnr) = score(&small);
    let (arch, grown_psnr) = score(&f.root.join("grown.onnx"));
    let (_, fresh_psnr) = score(&f.root.join("fresh.onnx"));
    assert_eq!(arch, Some(stylecam::net::ImfwArch::new(16, 2)));
    assert!(
        (grown_psnr - small_psnr).abs() < 0.3,
        "grown {grown_psnr} dB vs the small model's {small_psnr} dB"
    );
    assert!(
        grown_psnr > fresh_psnr + 0.5,
        "grown {grown_psnr} dB vs a fresh network's {fresh_psnr} dB"
    );
    let err = run_err(&bigger("odd.onnx", Some(&small), "12"));
    assert!(err.contains("whole multiple"), "{err}");
}
