#!/usr/bin/python3
"""Writes the PyTorch golden values that stages/train/nn's parity tests read.

Run from this directory with Debian's interpreter (torch 1.13):
    /usr/bin/python3 make_golden.py
Outputs golden.json (index: name -> [offset in floats, shape], plus the
state_dict key lists of the peer models) and golden.bin (little-endian
float32). Inputs and weights are not stored: both sides compute them from
the integer hash in fill() below, so they are bit-identical. Each case runs
forward in training mode, then backward of L = sum(g * y) for a hashed g.
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, "/work/shared/bench")
torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


def fill(shape, salt, scale=1.0, offset=0.0):
    """Deterministic values in offset + scale*[-1, 1) from a 32-bit integer hash of (i, salt)."""
    n = int(np.prod(shape)) if len(shape) else 1
    i = np.arange(n, dtype=np.uint64)
    m = np.uint64((1 << 32) - 1)
    h = (i * np.uint64(2654435761) + np.uint64(salt * 40503)) & m
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(2246822519)) & m
    h ^= h >> np.uint64(13)
    u = h.astype(np.float64) / float(1 << 32)
    return torch.tensor((offset + scale * (2 * u - 1)).astype(np.float32).reshape(shape))


out, index = bytearray(), {}


def put(name, t):
    a = t.detach().contiguous().numpy().astype("<f4")
    index[name] = [len(out) // 4, list(a.shape)]
    out.extend(a.tobytes())


def init_module(m, salt0):
    """Hash-fill every parameter in state_dict order: weights/biases in
    ±1/sqrt(fan_in); BN weight 1 ± 0.2, BN bias ± 0.2."""
    for k, (name, p) in enumerate(m.named_parameters()):
        owner = m.get_submodule(name.rsplit(".", 1)[0]) if "." in name else m
        if isinstance(owner, (nn.BatchNorm1d, nn.BatchNorm2d)):
            v = fill(p.shape, salt0 + k, 0.2, 1.0 if name.endswith("weight") else 0.0)
        else:
            fan_in = int(np.prod(p.shape[1:])) if p.dim() > 1 else None
            if fan_in is None:  # bias: fan_in of its weight
                w = dict(m.named_parameters())[name[:-4] + "weight"]
                fan_in = int(np.prod(w.shape[1:]))
            v = fill(p.shape, salt0 + k, 1 / np.sqrt(fan_in))
        with torch.no_grad():
            p.copy_(v)


def case(name, m, xshape, salt, train=True, grads=None):
    init_module(m, salt)
    m.train(train)
    x = fill(xshape, salt + 1000, 1.0).requires_grad_(True)
    y = m(x)
    g = fill(tuple(y.shape), salt + 2000, 1.0)
    (y * g).sum().backward()
    put(name + "/y", y)
    put(name + "/dx", x.grad)
    for pn, p in m.named_parameters():
        if grads is None or pn.startswith(grads):
            put(name + "/grad/" + pn, p.grad)
    for bn, b in m.named_buffers():
        if b.dtype == torch.float32:
            put(name + "/buf/" + bn, b)
    # evaluation-mode output after the training step's running-stat update
    m.eval()
    with torch.no_grad():
        put(name + "/yeval", m(x))


class ConvBNReLU(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 5, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(5)

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))


class Basic(nn.Module):  # as train_step.py
    def __init__(self, ci, co, stride):
        super().__init__()
        self.c1 = nn.Conv2d(ci, co, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(co)
        self.c2 = nn.Conv2d(co, co, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(co)
        self.sc = nn.Sequential()
        if stride != 1 or ci != co:
            self.sc = nn.Sequential(nn.Conv2d(ci, co, 1, stride, bias=False), nn.BatchNorm2d(co))

    def forward(self, x):
        o = torch.relu(self.b1(self.c1(x)))
        return torch.relu(self.b2(self.c2(o)) + self.sc(x))


class SmallCeil(nn.Module):
    """train_step.py's Small with ceil_mode pooling (28 -> 14 -> 7 -> 4 -> 2) and a
    configurable head (Linear -> [BN] -> ReLU -> Linear)."""

    def __init__(self, cin, head_bn):
        super().__init__()
        layers, c = [], cin
        for co in (32, 64, 128, 256):
            layers += [nn.Conv2d(c, co, 3, padding=1, bias=False), nn.BatchNorm2d(co),
                       nn.ReLU(inplace=True), nn.MaxPool2d(2, ceil_mode=True)]
            c = co
        self.features = nn.Sequential(*layers)
        hl = [nn.Linear(256, 256)] + ([nn.BatchNorm1d(256)] if head_bn else []) + [nn.ReLU(inplace=True), nn.Linear(256, 128)]
        self.head = nn.Sequential(*hl)

    def forward(self, x):
        h = self.features(x).mean(dim=(2, 3))
        self.h = h
        return self.head(h)


def main():
    os.chdir(os.path.dirname(os.path.abspath(__file__)))
    case("conv_s2_bias", nn.Conv2d(3, 4, 3, 2, 1, bias=True), (2, 3, 7, 7), 1)
    case("conv_s1", nn.Conv2d(2, 3, 3, 1, 1, bias=False), (2, 2, 6, 5), 2)
    case("conv1x1_s2", nn.Conv2d(4, 6, 1, 2, 0, bias=False), (3, 4, 5, 5), 3)
    case("bn2d", nn.BatchNorm2d(4), (3, 4, 5, 5), 4)
    case("bn1d", nn.BatchNorm1d(6), (5, 6), 5)
    case("convbnrelu", ConvBNReLU(), (2, 3, 6, 6), 6)
    case("maxpool_ceil", nn.MaxPool2d(2, ceil_mode=True), (2, 3, 7, 7), 7)
    case("linear", nn.Linear(7, 5), (4, 7), 8)
    case("block_sc", Basic(4, 8, 2), (2, 4, 8, 8), 9)
    case("block_id", Basic(4, 4, 1), (2, 4, 6, 6), 10)
    torch.manual_seed(0)
    case("small_rgb16_bnhead", SmallCeil(3, True), (8, 3, 16, 16), 11)
    case("small_gray28", SmallCeil(1, False), (4, 1, 28, 28), 12, grads=("features.0.", "features.1.", "head."))

    import train_step  # the peer's exact models: names and shapes only
    keys = {}
    for nm, mdl in (("peer_small", train_step.Small()), ("peer_resnet18", train_step.ResNet18())):
        keys[nm] = [[k, list(v.shape), str(v.dtype)] for k, v in mdl.state_dict().items()]
    with open("golden.bin", "wb") as f:
        f.write(out)
    with open("golden.json", "w") as f:
        json.dump({"torch": torch.__version__, "tensors": index, "state_dicts": keys}, f, indent=0, sort_keys=True)
    print("wrote %d tensors, %d bytes" % (len(index), len(out)))


if __name__ == "__main__":
    main()
