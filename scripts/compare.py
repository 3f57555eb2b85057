#!/usr/bin/env python3
"""stylecam vs python onnxruntime vs PyTorch eager, same network, same weights, same threads.

    .venv/bin/python scripts/compare.py [--arch w32-b5] [--model M.onnx] [--threads 2]
        [--sizes 320x240,640x480,1280x720] [--frames 10] [--warmup 2] [--rounds 3]
        [--stylecam target/release/stylecam]

Without --model, `stylecam bench --arch A --write-model` writes the architecture with random
weights; the weights are read back from that .onnx (its initializers) into a PyTorch ImfwNet,
so all three engines run one set of weights. Prints a markdown table (inference median ms per
frame; stylecam's full path too) and the largest torch-vs-onnxruntime output difference as a
check that the networks agree.

The engines take turns: each of --rounds rounds times every engine once per size, and the table
gives each engine's median over the rounds, so a slow spell of a shared machine hits all of
them alike. stylecam runs as shipped (CPU graph lowering), on the file's own graph (the
like-for-like overhead check against onnxruntime), and with --int8 (a copy of the model
calibrated on synthetic photos: timing does not depend on the ranges).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

try:
    import onnxruntime as ort
    import torch
except ImportError as e:  # pragma: no cover
    sys.exit(f"needs onnxruntime and torch ({e}); run `make setup` to install .venv")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imfwnet_torch import ImfwNet  # noqa: E402


# --- a minimal ONNX reader: initializers only (no `onnx` package needed) -------------------------

def _varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7


def _fields(buf):
    """Yields (field number, wire type, value) of one protobuf message."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _varint(buf, i)
        elif wire == 1:
            v, i = buf[i:i + 8], i + 8
        elif wire == 2:
            n, i = _varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wire == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield field, wire, v


def onnx_initializers(path):
    """{name: float32 array} of a model's float32 graph initializers (ModelProto.graph = 7,
    GraphProto.initializer = 5; TensorProto dims = 1, data_type = 2, float_data = 4,
    name = 8, raw_data = 9)."""
    data = memoryview(open(path, "rb").read())
    out = {}
    for f, _, graph in _fields(data):
        if f != 7:
            continue
        for g, _, tensor in _fields(graph):
            if g != 5:
                continue
            dims, name, raw, floats, dtype = [], None, None, [], 1
            for t, wire, v in _fields(tensor):
                if t == 1:
                    if wire == 2:  # packed
                        j = 0
                        while j < len(v):
                            d, j = _varint(v, j)
                            dims.append(d)
                    else:
                        dims.append(v)
                elif t == 2:
                    dtype = v
                elif t == 4:
                    floats.extend(np.frombuffer(bytes(v), "<f4") if wire == 2 else [v])
                elif t == 8:
                    name = bytes(v).decode()
                elif t == 9:
                    raw = bytes(v)
            if dtype != 1:  # int64 pads, shapes, …: not weights
                continue
            arr = np.frombuffer(raw, "<f4") if raw is not None else np.asarray(floats, "<f4")
            out[name] = arr.reshape(dims).copy()
    return out


# --- the network in PyTorch (imfwnet_torch.ImfwNet: parameter names as src/net/arch.rs) --------

def torch_net(weights):
    width = weights["conv1.weight"].shape[0]
    blocks = sum(1 for k in weights if k.startswith("res") and k.endswith(".conv1.weight"))
    net = ImfwNet(width, blocks)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=True)
    return net.eval(), width, blocks


# --- timing ----------------------------------------------------------------------------------------

def timed(fn, frames, warmup):
    for _ in range(warmup):
        fn()
    ms = []
    for _ in range(frames):
        t = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ms)


def padded(n):
    """The network size stylecam runs a frame length at: a multiple of 4, at least 8."""
    return max(8, (n + 3) // 4 * 4)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="w32-b5", help="architecture with random weights (default: the seed)")
    ap.add_argument("--model", help="an .onnx style model instead of random weights")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sizes", default="320x240,640x480,1280x720")
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--stylecam", default=os.path.join(root, "target", "release", "stylecam"))
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians over them)")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args()

    sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes.split(",")]
    if not os.path.exists(args.stylecam):
        sys.exit(f"{args.stylecam} not found: build it with `cargo build --release`")
    tmp = tempfile.TemporaryDirectory()
    model = args.model
    if model is None:
        model = os.path.join(tmp.name, f"{args.arch}.onnx")
        subprocess.run([args.stylecam, "bench", "--arch", args.arch, "--write-model", model], check=True)

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    net, width, blocks = torch_net(onnx_initializers(model))
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    in_name = sess.get_inputs()[0].name

    # int8 needs a calibrated model: calibrate a copy on a few synthetic photos.
    int8_model = os.path.join(tmp.name, "int8.onnx")
    with open(model, "rb") as src, open(int8_model, "wb") as dst:
        dst.write(src.read())
    photos = os.path.join(tmp.name, "photos")
    os.mkdir(photos)
    rng = np.random.default_rng(1)
    for i in range(3):
        yy, xx = np.mgrid[0:240, 0:320]
        img = np.stack([xx * 255 // 320, yy * 255 // 240, (xx + yy + 60 * i) % 256], -1)
        img = np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)
        with open(os.path.join(photos, f"photo{i}.ppm"), "wb") as f:
            f.write(b"P6 320 240 255\n" + img.tobytes())
    subprocess.run([args.stylecam, "calibrate", int8_model, "--photos", photos], check=True,
                   capture_output=True)

    def stylecam_bench(path, size, flags):
        cmd = [args.stylecam, "--device", "cpu", "--threads", str(args.threads), *flags, "bench",
               "--style", path, "--size", f"{size[0]}x{size[1]}", "--frames", str(args.frames),
               "--warmup", str(args.warmup), "--json"]
        report = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        return report["graph"], report["sizes"][0]

    def stylize_ms(r):
        return sum(r["stages"][k]["median_ms"] for k in ("preprocess", "inference", "postprocess"))

    rng = np.random.default_rng(0)
    inputs = {(w, h): rng.standard_normal((1, 3, padded(h), padded(w))).astype(np.float32)
              for w, h in sizes}
    max_diff = 0.0
    for x in inputs.values():
        with torch.inference_mode():
            diff = float(np.abs(net(torch.from_numpy(x)).numpy() - sess.run(None, {in_name: x})[0]).max())
        max_diff = max(max_diff, diff)

    # samples[size][engine] = one value per round
    samples = {size: {} for size in sizes}
    graph = graph_int8 = None
    for _ in range(args.rounds):
        for size in sizes:
            x = inputs[size]
            got = samples[size]
            got.setdefault("torch", [])
            xt = torch.from_numpy(x)
            with torch.inference_mode():
                got["torch"].append(timed(lambda: net(xt), args.frames, args.warmup))
            got.setdefault("ort", []).append(
                timed(lambda: sess.run(None, {in_name: x}), args.frames, args.warmup))
            # The app as shipped (CPU graph lowering on) and on the file's own graph.
            graph, r = stylecam_bench(model, size, ["--cpu-graph", "auto"])
            for key, value in (("inference", r["stages"]["inference"]["median_ms"]),
                               ("total", r["stages"]["total"]["median_ms"]),
                               ("stylize", stylize_ms(r))):
                got.setdefault(key, []).append(value)
            _, rr = stylecam_bench(model, size, ["--cpu-graph", "reference"])
            got.setdefault("reference_stylize", []).append(stylize_ms(rr))
            graph_int8, ri = stylecam_bench(int8_model, size, ["--int8"])
            got.setdefault("int8_total", []).append(ri["stages"]["total"]["median_ms"])

    rows = []
    for w, h in sizes:
        m = {k: statistics.median(v) for k, v in samples[(w, h)].items()}
        rows.append({
            "size": f"{w}x{h}",
            "ort_python_ms": m["ort"],
            "torch_eager_ms": m["torch"],
            "stylecam_inference_ms": m["inference"],
            "stylecam_total_ms": m["total"],
            "stylecam_stylize_ms": m["stylize"],
            "stylecam_fps": 1000.0 / m["total"],
            "stylecam_reference_graph_stylize_ms": m["reference_stylize"],
            "stylecam_int8_total_ms": m["int8_total"],
            "rounds": samples[(w, h)],
        })

    load = os.getloadavg()
    print(f"network: ImfwNet width {width}, {blocks} blocks ({os.path.basename(model)}); "
          f"threads {args.threads}; {args.frames} frames (+{args.warmup} warm-up), medians of "
          f"{args.rounds} interleaved rounds; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"onnxruntime {ort.__version__}, torch {torch.__version__}; "
          f"max |torch - onnxruntime| = {max_diff:.2e}\n")
    print(f"stylecam runs the {graph} graph; 'same graph' runs the file's graph (--cpu-graph "
          f"reference); int8 runs the {graph_int8} graph\n")
    print("| size | PyTorch eager ms | onnxruntime (python) ms | stylecam inference ms "
          "| stylecam stylize ms (pre+inf+post) | stylecam full path ms (decode→blit) | stylecam FPS "
          "| full path vs torch | stylize vs raw ORT | same graph: stylize vs raw ORT "
          "| --int8 full path ms | --int8 vs torch |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['size']} | {r['torch_eager_ms']:.1f} | {r['ort_python_ms']:.1f} | "
              f"{r['stylecam_inference_ms']:.1f} | {r['stylecam_stylize_ms']:.1f} | {r['stylecam_total_ms']:.1f} | "
              f"{r['stylecam_fps']:.2f} | {r['torch_eager_ms'] / r['stylecam_total_ms']:.2f}× | "
              f"{100 * (r['stylecam_stylize_ms'] / r['ort_python_ms'] - 1):+.1f} % | "
              f"{100 * (r['stylecam_reference_graph_stylize_ms'] / r['ort_python_ms'] - 1):+.1f} % | "
              f"{r['stylecam_int8_total_ms']:.1f} | {r['torch_eager_ms'] / r['stylecam_int8_total_ms']:.2f}× |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "max_diff": max_diff, "load": load, "threads": args.threads,
                       "stylecam_graph": graph, "stylecam_int8_graph": graph_int8}, f, indent=2)


if __name__ == "__main__":
    main()
