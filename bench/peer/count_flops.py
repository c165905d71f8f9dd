"""Multiply-accumulates of one forward pass of the peer's network (learned resizer + timm EfficientNetV2),
counted with forward hooks on every convolution and linear layer (BatchNorm, activations and the
resizer's bilinear resampling are left out: memory-bound, no tensor-core work). A training step is
about three forward passes' worth (forward, and backward for inputs and for weights), 2 FLOP per MAC.

    .venv-peer/bin/python bench/peer/count_flops.py [--arch efficientnetv2_s] [--size 384]

Prints one JSON line: MACs of the resizer and of the backbone per sample, and the training step's FLOP
per sample (3 x 2 x MACs), which docs/performance.md divides into the measured samples/s.
"""
import argparse, json, os, sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer import make_model  # noqa: E402


def count(model, x):
    macs = {"resizer": 0, "backbone": 0}
    hooks = []
    for part, module in (("resizer", model[0]), ("backbone", model[1])):
        for m in module.modules():
            if isinstance(m, nn.Conv2d):
                def conv(mod, inp, out, part=part):
                    k = mod.kernel_size[0] * mod.kernel_size[1] * (mod.in_channels // mod.groups)
                    macs[part] += out.numel() // out.shape[0] * k
                hooks.append(m.register_forward_hook(conv))
            elif isinstance(m, nn.Linear):
                def lin(mod, inp, out, part=part):
                    macs[part] += mod.in_features * mod.out_features
                hooks.append(m.register_forward_hook(lin))
    with torch.no_grad():
        model.eval()(x)
    for h in hooks:
        h.remove()
    return macs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="efficientnetv2_s")
    ap.add_argument("--size", type=int, default=384)
    a = ap.parse_args()
    model = make_model(a.arch, (a.size, a.size))
    macs = count(model, torch.randn(1, 1, 819, 256))
    total = macs["resizer"] + macs["backbone"]
    print(json.dumps({"arch": a.arch, "size": a.size, "resizer_gmac": macs["resizer"] / 1e9,
                      "backbone_gmac": macs["backbone"] / 1e9, "forward_gmac": total / 1e9,
                      "train_step_gflop_per_sample": 6 * total / 1e9}))


if __name__ == "__main__":
    main()
