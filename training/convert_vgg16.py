#!/usr/bin/env python3
"""Convert torchvision's VGG16 checkpoint to the .safetensors file stylecam-train reads.

    python training/convert_vgg16.py vgg16-397923af.pth vgg16.safetensors

Input: torchvision's ImageNet weights (https://download.pytorch.org/models/vgg16-397923af.pth,
sha256 prefix 397923af), a plain state_dict. Output: float32 tensors named `features.N.weight` /
`features.N.bias` for the convolutions up to relu4_3 (N = 0, 2, 5, 7, 10, 12, 14, 17, 19, 21),
which is all the perceptual loss uses (about 30 MB instead of 528 MB).

Needs only `torch` (installed by `make setup` into .venv); no `safetensors` package.
"""
import json
import struct
import sys

import torch

CONVS = [(0, 3, 64), (2, 64, 64), (5, 64, 128), (7, 128, 128), (10, 128, 256),
         (12, 256, 256), (14, 256, 256), (17, 256, 512), (19, 512, 512), (21, 512, 512)]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    state = torch.load(src, map_location="cpu", weights_only=True)
    if "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    tensors, problems = {}, []
    for idx, cin, cout in CONVS:
        for suffix, shape in (("weight", [cout, cin, 3, 3]), ("bias", [cout])):
            name = f"features.{idx}.{suffix}"
            t = state.get(name)
            if t is None:
                problems.append(f"missing {name}")
            elif list(t.shape) != shape:
                problems.append(f"{name} has shape {list(t.shape)}, expected {shape}")
            else:
                tensors[name] = t.detach().to(torch.float32).contiguous()
    if problems:
        sys.exit(f"{src} is not torchvision's VGG16: " + "; ".join(problems))

    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"source": src.rsplit("/", 1)[-1], "layers": "vgg16.features[:23]"}
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = dst + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    import os
    os.replace(tmp, dst)
    print(f"wrote {dst}: {len(tensors)} tensors, {offset / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
