//! `stylecam bench` through the real binary: every stage is reported, for the size asked for.
//! No timing thresholds: only that the numbers exist and are positive.

use std::process::Command;

use serde_json::Value;

fn bench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_stylecam"))
        .env_remove("STYLECAM_MODELS")
        .env("RUST_LOG", "warn")
        .args(["--device", "cpu", "--threads", "1", "bench"])
        .args(args)
        .output()
        .expect("failed to start the stylecam binary")
}

fn positive(v: &Value, what: &str) -> f64 {
    let x = v
        .as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"));
    assert!(x > 0.0 && x.is_finite(), "{what} = {x}");
    x
}

#[test]
fn json_report_has_every_stage_for_the_requested_size() {
    let out = bench(&[
        "--arch", "w8-b1", "--size", "32x24", "--frames", "3", "--json",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench failed:\n{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    assert_eq!(report["architecture"], "imfwnet-w8-b1");
    assert_eq!(report["provider"], "CPU");
    assert_eq!(report["frames"], 3);
    positive(&report["peak_rss_mib"], "peak_rss_mib");

    let sizes = report["sizes"].as_array().expect("sizes array");
    assert_eq!(sizes.len(), 1);
    let s = &sizes[0];
    assert_eq!(
        (s["width"].as_u64(), s["height"].as_u64()),
        (Some(32), Some(24))
    );
    for stage in [
        "decode",
        "preprocess",
        "inference",
        "postprocess",
        "blit",
        "total",
    ] {
        let median = positive(&s["stages"][stage]["median_ms"], stage);
        let p95 = positive(&s["stages"][stage]["p95_ms"], stage);
        assert!(p95 >= median, "{stage}: p95 {p95} < median {median}");
    }
    let total = s["stages"]["total"]["median_ms"].as_f64().unwrap();
    let inference = s["stages"]["inference"]["median_ms"].as_f64().unwrap();
    assert!(total >= inference, "total {total} < inference {inference}");
    let fps = positive(&s["fps"], "fps");
    assert!(
        (fps * total / 1000.0 - 1.0).abs() < 1e-6,
        "fps {fps} vs total {total} ms"
    );
    positive(&s["gflops_per_s"], "gflops_per_s");
    positive(&s["gflop_per_frame"], "gflop_per_frame");
}

#[test]
fn several_sizes_and_a_table() {
    let out = bench(&[
        "--arch",
        "w8-b1",
        "--size",
        "20x12,33x17",
        "--frames",
        "2",
        "--warmup",
        "0",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 33×17 runs on a 36×20 tensor (padded to multiples of 4).
    for needle in [
        "imfwnet-w8-b1",
        "20x12",
        "33x17",
        "36x20",
        "inference ms",
        "FPS",
    ] {
        assert!(stdout.contains(needle), "table lacks '{needle}':\n{stdout}");
    }
}

#[test]
fn bad_architecture_is_a_clear_error() {
    let out = bench(&["--arch", "big", "--frames", "1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("w32-b5") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

#[test]
fn preset_picks_the_variant_of_a_style_name() {
    use stylecam::net::onnx::{random_weights, write_model, ModelMetadata};
    use stylecam::net::ImfwArch;
    let d = tempfile::tempdir().unwrap();
    for (file, arch) in [
        ("full.onnx", ImfwArch::new(8, 2)),
        ("light.onnx", ImfwArch::new(4, 1)),
    ] {
        let bytes =
            write_model(&arch, &random_weights(&arch, 1), &ModelMetadata::new("duo")).unwrap();
        std::fs::write(d.path().join(file), bytes).unwrap();
    }
    let models = d.path().to_str().unwrap();
    let arch_timed = |extra: &[&str]| {
        let mut args = vec!["--models", models, "--style", "duo", "--size", "16x16"];
        args.extend_from_slice(&["--frames", "1", "--warmup", "0", "--json"]);
        args.extend_from_slice(extra);
        let out = bench(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        report["architecture"].as_str().unwrap().to_string()
    };
    assert_eq!(
        arch_timed(&[]),
        "imfwnet-w8-b2",
        "a name times its full variant"
    );
    assert_eq!(arch_timed(&["--preset", "fast"]), "imfwnet-w4-b1");
    assert_eq!(
        arch_timed(&["--preset", "auto"]),
        "imfwnet-w4-b1",
        "auto on the CPU"
    );
}

#[test]
fn profile_names_each_sizes_nodes_and_keeps_the_trace() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("prof");
    let out = bench(&[
        "--arch",
        "w8-b1",
        "--size",
        "32x24,64x48",
        "--frames",
        "2",
        "--warmup",
        "1",
        "--json",
        "--profile",
        profile.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench --profile failed:\n{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let trace = std::path::PathBuf::from(report["profile_file"].as_str().expect("profile_file"));
    assert!(trace.starts_with(&profile) && trace.is_file(), "{trace:?}");

    let mut sizes = 0;
    for s in report["sizes"].as_array().unwrap() {
        let nodes = s["nodes"].as_array().expect("nodes with --profile");
        let ms: Vec<f64> = nodes
            .iter()
            .map(|n| positive(&n["ms_per_run"], "ms_per_run"))
            .collect();
        assert!(ms.windows(2).all(|w| w[0] >= w[1]), "slowest first: {ms:?}");
        let ops: Vec<&str> = nodes.iter().map(|n| n["op"].as_str().unwrap()).collect();
        // The lowered w8-b1 graph: ORT convolutions and stylecam's fused norms.
        assert!(ops.contains(&"Conv"), "{ops:?}");
        assert!(ops.contains(&"InstanceNormRelu"), "{ops:?}");
        let share: f64 = nodes.iter().map(|n| n["percent"].as_f64().unwrap()).sum();
        // Nodes run one after another inside the run.
        assert!(
            share > 0.0 && share <= 100.5,
            "nodes take {share} % of the run"
        );
        sizes += 1;
    }
    assert_eq!(sizes, 2);

    // Without the flag the report has no profile fields.
    let out = bench(&[
        "--arch", "w8-b1", "--size", "32x24", "--frames", "1", "--json",
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert!(report.get("profile_file").is_none() && report["sizes"][0].get("nodes").is_none());
}

#[test]
fn profile_into_a_file_is_refused_with_what_it_takes() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let out = bench(&[
        "--arch",
        "w8-b1",
        "--size",
        "32x24",
        "--frames",
        "1",
        "--profile",
        file.path().to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--profile takes a folder"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
