"""The seed network in PyTorch, written once for every Python reference in the project.

- `ImfwNet(w, blocks)`: Johnson et al.'s image transformation network; its state_dict keys
  (conv1, in1, …, res1.conv1, …, deconv3; `.weight` / `.bias`) are the parameter names of
  src/net/arch.rs, the ONNX initializer names and the stylecam-train safetensors keys.
- `Vgg16Features()`: torchvision's vgg16().features[:23] (keys `features.N.weight` / `.bias`,
  torchvision's init) returning the seed's four slices (relu1_2, relu2_2, relu3_3, relu4_3).
- `gram_matrix(y)`: the seed's Gram matrix, divided by C·H·W.

Used by scripts/compare.py and training/bench/seed_loop.py (imported), and by the Rust tests
tests/common/torch.rs and training/tests/maths.rs (embedded with include_str! and prepended to the
Python program they run). Keep it self-contained: definitions only, nothing run at import.
"""

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
        self.pad1 = nn.ReflectionPad2d(4)
        self.conv1 = nn.Conv2d(3, w, 9)
        self.in1 = nn.InstanceNorm2d(w, affine=True)
        self.conv2 = nn.Conv2d(w, 2 * w, 3, stride=2)
        self.in2 = nn.InstanceNorm2d(2 * w, affine=True)
        self.pad3 = nn.ReflectionPad2d(1)
        self.conv3 = nn.Conv2d(2 * w, 4 * w, 3, stride=2)
        self.in3 = nn.InstanceNorm2d(4 * w, affine=True)
        for i in range(1, blocks + 1):
            setattr(self, f"res{i}", ResidualBlock(4 * w))
        self.deconv1 = nn.ConvTranspose2d(4 * w, 2 * w, 3, stride=2, padding=1, output_padding=1)
        self.in4 = nn.InstanceNorm2d(2 * w, affine=True)
        self.deconv2 = nn.ConvTranspose2d(2 * w, w, 3, stride=2, padding=1, output_padding=1)
        self.in5 = nn.InstanceNorm2d(w, affine=True)
        self.deconv3 = nn.ConvTranspose2d(w, 3, 9, stride=1, padding=4)

    def forward(self, x):
        y = F.relu(self.in1(self.conv1(self.pad1(x))))
        y = F.relu(self.in2(self.conv2(y)))
        y = F.relu(self.in3(self.conv3(self.pad3(y))))
        for i in range(1, self.blocks + 1):
            y = getattr(self, f"res{i}")(y)
        y = F.relu(self.in4(self.deconv1(y)))
        y = F.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)


class Vgg16Features(nn.Module):
    """torchvision's vgg16().features[:23] (and its init) and the seed's four slices."""

    def __init__(self):
        super().__init__()
        layers, cin = [], 3
        for v in [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512]:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                conv = nn.Conv2d(cin, v, kernel_size=3, padding=1)
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
    features = y.view(b, ch, w * h)
    return features.bmm(features.transpose(1, 2)) / (ch * h * w)
