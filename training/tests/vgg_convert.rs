//! `training/convert_vgg16.py` turns a torchvision-style VGG16 checkpoint into weights the trainer
//! accepts, with the values intact; a file that is not VGG16 is refused with a clear message.

mod common;

use std::path::Path;
use std::process::Command;

use stylecam_train::vgg::{Vgg16, VggSource};
use tch::Device;

/// Writes a state_dict shaped like torchvision's `vgg16()` (features and classifier, random values)
/// and prints the sum of every feature tensor as JSON.
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
print(json.dumps({k: float(v.double().sum()) for k, v in state.items() if k.startswith("features.")}))
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
    let sums: serde_json::Value = serde_json::from_slice(&made.stdout).unwrap();

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
        let expected = sums[&name].as_f64().unwrap();
        let got = t.sum(tch::Kind::Double).double_value(&[]);
        assert!(
            (got - expected).abs() <= 1e-6 * expected.abs().max(1.0),
            "{name}: sum {got} vs {expected}"
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
