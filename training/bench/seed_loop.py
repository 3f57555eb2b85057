#!/usr/bin/env python3
"""The seed's PyTorch training step, timed, for comparison with stylecam-train (BENCHMARKS.md).

    python training/bench/seed_loop.py --threads 2 --batch 4 --size 256 --steps 10

Same network (ImfwNet w32 b5), the same VGG16 slices (random, torchvision's init; both from
scripts/imfwnet_torch.py), the same loss and Adam as stylecam-train; the batch is a fixed random
tensor (data loading is excluded here, and overlapped with compute in stylecam-train, which reports
its data wait separately).
"""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from imfwnet_torch import ImfwNet, Vgg16Features, gram_matrix  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net, vgg = ImfwNet(), Vgg16Features()
    for p in vgg.parameters():
        p.requires_grad_(False)
    x = torch.randn(a.batch, 3, a.size, a.size)
    style = torch.randn(1, 3, a.size, a.size)
    with torch.no_grad():
        gram_style = [gram_matrix(f) for f in vgg(style.repeat(a.batch, 1, 1, 1))]
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    cw, sw, tw = 1.0, 1e5, 1e-5
    times = []
    for step in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        opt.zero_grad()
        y = net(x)
        fy = vgg(y)
        with torch.no_grad():
            fx = vgg(x)
        content = F.mse_loss(fy[2], fx[2])
        style_loss = sum(F.mse_loss(gram_matrix(a_), g) for a_, g in zip(fy, gram_style))
        tv = torch.sum(torch.abs(y[:, :, :, :-1] - y[:, :, :, 1:])) + torch.sum(torch.abs(y[:, :, :-1, :] - y[:, :, 1:, :]))
        total = cw * content + sw * style_loss + tw * tv
        total.backward()
        opt.step()
        if step >= a.warmup:
            times.append(time.perf_counter() - t0)
    times.sort()
    print(f"PyTorch {torch.__version__}, {a.threads} threads, batch {a.batch}, {a.size}px: "
          f"median {times[len(times) // 2]:.3f} s/step, min {times[0]:.3f}, "
          f"{a.batch / times[len(times) // 2]:.2f} img/s over {a.steps} steps")


if __name__ == "__main__":
    main()
