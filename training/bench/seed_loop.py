#!/usr/bin/env python3
"""The seed's PyTorch training step, timed, for comparison with stylecam-train (BENCHMARKS.md).

    python training/bench/seed_loop.py --threads 2 --batch 4 --size 256 --steps 10

Same network (ImfwNet w32 b5), the same VGG16 slices (random, torchvision's init), the same loss
and Adam as stylecam-train; the batch is a fixed random tensor (data loading is excluded here, and
overlapped with compute in stylecam-train, which reports its data wait separately).
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class ResidualBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return F.relu(self.conv2(F.relu(self.conv1(x))) + x)


class ImfwNet(nn.Module):
    def __init__(self, w=32, blocks=5):
        super().__init__()
        self.blocks = blocks
        self.conv1 = nn.Conv2d(3, w, 9)
        self.in1 = nn.InstanceNorm2d(w, affine=True)
        self.conv2 = nn.Conv2d(w, 2 * w, 3, stride=2)
        self.in2 = nn.InstanceNorm2d(2 * w, affine=True)
        self.conv3 = nn.Conv2d(2 * w, 4 * w, 3, stride=2)
        self.in3 = nn.InstanceNorm2d(4 * w, affine=True)
        for i in range(1, blocks + 1):
            setattr(self, f"res{i}", ResidualBlock(4 * w))
        self.deconv1 = nn.ConvTranspose2d(4 * w, 2 * w, 3, 2, 1, output_padding=1)
        self.in4 = nn.InstanceNorm2d(2 * w, affine=True)
        self.deconv2 = nn.ConvTranspose2d(2 * w, w, 3, 2, 1, output_padding=1)
        self.in5 = nn.InstanceNorm2d(w, affine=True)
        self.deconv3 = nn.ConvTranspose2d(w, 3, 9, 1, 4)

    def forward(self, x):
        y = F.relu(self.in1(self.conv1(F.pad(x, (4, 4, 4, 4), mode="reflect"))))
        y = F.relu(self.in2(self.conv2(y)))
        y = F.relu(self.in3(self.conv3(F.pad(y, (1, 1, 1, 1), mode="reflect"))))
        for i in range(1, self.blocks + 1):
            y = getattr(self, f"res{i}")(y)
        y = F.relu(self.in4(self.deconv1(y)))
        y = F.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)


class Vgg16Features(nn.Module):
    def __init__(self):
        super().__init__()
        layers, cin = [], 3
        for v in [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512]:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                conv = nn.Conv2d(cin, v, 3, padding=1)
                nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(conv.bias)
                layers += [conv, nn.ReLU(inplace=True)]
                cin = v
        self.features = nn.Sequential(*layers)

    def forward(self, x):
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in (3, 8, 15, 22):
                out.append(x)
        return out


def gram_matrix(y):
    b, ch, h, w = y.size()
    f = y.view(b, ch, w * h)
    return f.bmm(f.transpose(1, 2)) / (ch * h * w)


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
