//! A PyTorch / onnxruntime reference run through the project's Python (`$STYLECAM_PYTHON`, else
//! `<repo>/.venv/bin/python`, which `make test` installs).
//!
//! Files are exchanged through a folder: weights as raw little-endian f32 (`weights.bin`, in the
//! order of `manifest.txt`, one `name d0 d1 …` line per tensor), tensors and images as raw
//! f32 / u8 with a shape file. A missing Python, torch or onnxruntime fails the test with a
//! message saying to run `make test`; it never passes silently.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use stylecam::net::{ImfwArch, Weights};

/// The reference script. `python -c PY DIR WIDTH BLOCKS` reads `DIR/manifest.txt` +
/// `DIR/weights.bin` into a PyTorch ImfwNet (`scripts/imfwnet_torch.py`, embedded after the import
/// check; strict names) and then, depending on the files in DIR:
/// - always: prints `torch_param_count N` and `seed_param_count N` (a fresh w32/b5 net);
/// - `model.onnx` + `sizes.txt` (`HxW` per line): runs onnxruntime and torch on the same random
///   input of each size and prints `ort_vs_torch HxW MAXDIFF`, after checking the interface;
/// - `input.f32` + `input_shape.txt` (`C H W`): runs torch (float64) and writes `torch_out.f32`
///   plus `torch_out_shape.txt`;
/// - `model.onnx` + `images.txt` (`NAME H W` per line, pixels in `NAME.u8`, packed RGB): runs the
///   whole pipeline with numpy and onnxruntime (normalise, reflect-pad to ×4 and at least 8 with
///   before = extra//2, net, crop, clamp, denormalise, clip, round) and writes `NAME.out.u8`.
pub const PY: &str = concat!(
    r#"
import os, sys
try:
    import numpy as np
    import torch
    import torch.nn as nn
    import onnxruntime as ort
except ImportError as e:
    print(f"reference python lacks a package ({e}); run `make test`, which installs .venv with torch and onnxruntime", file=sys.stderr)
    sys.exit(3)

d, width, blocks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.manual_seed(0)
torch.set_num_threads(2)

"#,
    include_str!("../../scripts/imfwnet_torch.py"),
    r#"
def count(net):
    return sum(p.numel() for p in net.parameters())

net = ImfwNet(width, blocks)
flat = np.fromfile(os.path.join(d, "weights.bin"), dtype="<f4")
state, off = {}, 0
for line in open(os.path.join(d, "manifest.txt")):
    parts = line.split()
    if not parts:
        continue
    shape = [int(s) for s in parts[1:]]
    n = int(np.prod(shape))
    state[parts[0]] = torch.from_numpy(flat[off:off + n].reshape(shape).copy())
    off += n
assert off == flat.size, f"weights.bin holds {flat.size} floats, manifest {off}"
net.load_state_dict(state, strict=True)
net.eval()
print("torch_param_count", count(net))
print("seed_param_count", count(ImfwNet(32, 5)))

model = os.path.join(d, "model.onnx")
rng = np.random.default_rng(1234)
if os.path.exists(model):
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    ins, outs = sess.get_inputs(), sess.get_outputs()
    assert [i.name for i in ins] == ["input"], [i.name for i in ins]
    assert [o.name for o in outs] == ["output"], [o.name for o in outs]
    assert ins[0].type == "tensor(float)" and outs[0].type == "tensor(float)"
    assert ins[0].shape == ["N", 3, "H", "W"], ins[0].shape
    assert outs[0].shape == ["N", 3, "H", "W"], outs[0].shape

sizes = os.path.join(d, "sizes.txt")
if os.path.exists(model) and os.path.exists(sizes):
    for line in open(sizes):
        if not line.strip():
            continue
        h, w = (int(v) for v in line.strip().split("x"))
        x = rng.standard_normal((1, 3, h, w)).astype(np.float32)
        y_ort = sess.run(["output"], {"input": x})[0]
        with torch.no_grad():
            y_torch = net(torch.from_numpy(x)).numpy()
        assert y_ort.shape == (1, 3, h, w), y_ort.shape
        assert y_torch.shape == (1, 3, h, w), y_torch.shape
        print("ort_vs_torch", f"{h}x{w}", float(np.abs(y_ort - y_torch).max()), float(np.abs(y_torch).max()))

inp = os.path.join(d, "input.f32")
if os.path.exists(inp):
    c, h, w = (int(v) for v in open(os.path.join(d, "input_shape.txt")).read().split())
    x = np.fromfile(inp, dtype="<f4").reshape(1, c, h, w).astype(np.float64)
    with torch.no_grad():
        y = net.double()(torch.from_numpy(x)).numpy()[0]
        net.float()
    y.astype("<f4").tofile(os.path.join(d, "torch_out.f32"))
    open(os.path.join(d, "torch_out_shape.txt"), "w").write(" ".join(str(s) for s in y.shape))

images = os.path.join(d, "images.txt")
if os.path.exists(model) and os.path.exists(images):
    mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)
    std = np.array([0.229, 0.224, 0.225], dtype=np.float32)
    def split(n):
        target = ((max(n, 8) + 3) // 4) * 4
        e = target - n
        return e // 2, e - e // 2
    for line in open(images):
        if not line.strip():
            continue
        name, h, w = line.split()
        h, w = int(h), int(w)
        x = np.fromfile(os.path.join(d, name + ".u8"), dtype=np.uint8).reshape(h, w, 3)
        x = (x.astype(np.float32) / 255.0 - mean) / std
        (pt, pb), (pl, pr) = split(h), split(w)
        x = np.pad(x, ((pt, pb), (pl, pr), (0, 0)), mode="reflect")
        y = sess.run(["output"], {"input": np.ascontiguousarray(x.transpose(2, 0, 1)[None])})[0][0]
        y = y[:, pt:pt + h, pl:pl + w].transpose(1, 2, 0)
        y = np.clip(np.clip(y, -2.1, 2.7) * std + mean, 0.0, 1.0)
        np.floor(y * 255.0 + 0.5).astype(np.uint8).tofile(os.path.join(d, name + ".out.u8"))
"#
);

/// The Python that has torch and onnxruntime, or a panic saying how to get one.
pub fn python() -> PathBuf {
    let path = std::env::var_os("STYLECAM_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(".venv")
                .join("bin")
                .join("python")
        });
    assert!(
        path.exists(),
        "the reference tests need Python with torch and onnxruntime, and {} does not exist.\n\
         Fix: run `make test` (it installs .venv), or set STYLECAM_PYTHON to such a python",
        path.display()
    );
    path
}

/// Raw little-endian f32.
pub fn write_f32(path: &Path, data: &[f32]) {
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

pub fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// `manifest.txt` + `weights.bin` for the script, in [`ImfwArch::parameters`] order.
pub fn write_weights(dir: &Path, arch: &ImfwArch, weights: &Weights) {
    let mut manifest = String::new();
    let mut flat = Vec::new();
    for (name, _) in arch.parameters() {
        let t = &weights[&name];
        let dims: Vec<String> = t.shape.iter().map(|d| d.to_string()).collect();
        writeln!(manifest, "{name} {}", dims.join(" ")).unwrap();
        flat.extend_from_slice(&t.data);
    }
    std::fs::write(dir.join("manifest.txt"), manifest).unwrap();
    write_f32(&dir.join("weights.bin"), &flat);
}

/// Run [`PY`] on `dir`; returns its stdout, panicking with its output when it fails.
pub fn run_reference(dir: &Path, arch: &ImfwArch) -> String {
    let python = python();
    let out = Command::new(&python)
        .arg("-c")
        .arg(PY)
        .arg(dir)
        .arg(arch.width.to_string())
        .arg(arch.blocks.to_string())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {}: {e}\nFix: run `make test` (it installs .venv), or set STYLECAM_PYTHON",
                python.display()
            )
        });
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the PyTorch/onnxruntime reference failed ({}).\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The values printed on lines starting with `key`.
pub fn lines_with<'a>(stdout: &'a str, key: &str) -> Vec<Vec<&'a str>> {
    stdout
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            (parts.next() == Some(key)).then(|| parts.collect())
        })
        .collect()
}
