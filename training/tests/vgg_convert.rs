//! `training/convert_vgg16.py` turns a torchvision-style VGG16 checkpoint into weights the trainer
//! accepts, with the values intact; a file that is not VGG16 is refused with a clear message.

mod common;

use std::path::Path;
use std::process::Command;

use stylecam_train::vgg::{Vgg16, VggSource};
use tch::Device;

/// Writes a state_dict shaped like torchvision's `vgg16()` (features and classifier, random values)
/// and prints, for every feature tensor, its shape and two checksums as JSON: the sum, and the sum
/// weighted by each element's flat position (so a transposed or shuffled kernel, whose sum is the
/// same, is caught), with the scale of the latter for the tolerance.
const MAKE_PTH: &str = r#"
import json, sys, torch
torch.manual_seed(0)
state, cin, i = {}, 3, 0
for v in [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]:
    if v == "M":
        i += 1
        continue
    state[f"features.{i}.weight"] = torch.randn(v, cin, 3, 3)
    state[f"features.{i}.bias"] = torch.randn(v)
    cin, i = v, i + 2
state["classifier.0.weight"] = torch.randn(16, 8)
if sys.argv[2] == "broken":
    state["features.19.weight"] = torch.randn(512, 256, 3, 3)
    del state["features.0.bias"]
torch.save(state, sys.argv[1])
def check(v):
    pos = torch.arange(v.numel(), dtype=torch.float64).reshape(v.shape)
    v = v.double()
    return [list(v.shape), float(v.sum()), float((v * pos).sum()), float((v.abs() * pos).sum())]
print(json.dumps({k: check(v) for k, v in state.items() if k.startswith("features.")}))
"#;

fn converter() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("convert_vgg16.py")
}

#[test]
fn converted_torchvision_checkpoint_loads_with_the_same_values() {
    let dir = tempfile::tempdir().unwrap();
    let py = common::python();
    let pth = dir.path().join("vgg16-fake.pth");
    let made = Command::new(&py)
        .args(["-c", MAKE_PTH, pth.to_str().unwrap(), "ok"])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let checks: serde_json::Value = serde_json::from_slice(&made.stdout).unwrap();

    let out = dir.path().join("vgg16.safetensors");
    let conv = Command::new(&py)
        .arg(converter())
        .arg(&pth)
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        conv.status.success(),
        "{}",
        String::from_utf8_lossy(&conv.stderr)
    );

    let vgg = Vgg16::load(&VggSource::File(out), Device::Cpu).unwrap();
    let tensors = vgg.named_tensors();
    assert_eq!(tensors.len(), 20, "convolutions up to relu4_3");
    for (name, t) in tensors {
        let c = &checks[&name];
        let shape: Vec<i64> = c[0]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_i64().unwrap())
            .collect();
        assert_eq!(t.size(), shape, "{name}: shape");
        let t = t.to_kind(tch::Kind::Double);
        let pos =
            tch::Tensor::arange(t.numel() as i64, (tch::Kind::Double, t.device())).reshape(&shape);
        let sum = t.sum(tch::Kind::Double).double_value(&[]);
        let weighted = (&t * &pos).sum(tch::Kind::Double).double_value(&[]);
        let (want_sum, want_weighted) = (c[1].as_f64().unwrap(), c[2].as_f64().unwrap());
        let scale = c[3].as_f64().unwrap().max(1.0);
        assert!(
            (sum - want_sum).abs() <= 1e-8 * scale,
            "{name}: sum {sum} vs {want_sum}"
        );
        assert!(
            (weighted - want_weighted).abs() <= 1e-8 * scale,
            "{name}: values are not in their places (position-weighted sum {weighted} vs \
             {want_weighted})"
        );
    }
}

#[test]
fn converter_refuses_a_file_that_is_not_vgg16() {
    let dir = tempfile::tempdir().unwrap();
    let py = common::python();
    let pth = dir.path().join("broken.pth");
    let made = Command::new(&py)
        .args(["-c", MAKE_PTH, pth.to_str().unwrap(), "broken"])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let out = dir.path().join("vgg16.safetensors");
    let conv = Command::new(&py)
        .arg(converter())
        .arg(&pth)
        .arg(&out)
        .output()
        .unwrap();
    assert!(!conv.status.success());
    let err = String::from_utf8_lossy(&conv.stderr);
    assert!(err.contains("missing features.0.bias"), "{err}");
    assert!(
        err.contains("features.19.weight has shape [512, 256, 3, 3]"),
        "{err}"
    );
    assert!(!out.exists(), "no output for a refused input");
}
