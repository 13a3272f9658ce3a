#!/usr/bin/python3
"""Learnability check of the synthetic dataset (sources.Synth) with PyTorch.

Trains a small CNN (4 x conv3x3-BN-ReLU-maxpool, 16/32/64/128 channels,
global average pool; ~8 MFLOP per 32x32 image forward) with SimCLR (NT-Xent, two augmented views per image) on
10,000 synthetic 32x32 images for a few CPU minutes and compares a kNN
classifier (k=20, cosine) on its features with the same kNN on raw pixels
and on an untrained (random) encoder. The dataset keeps its promise when the
contrastive features beat both clearly (raw-pixel kNN is 30% with 10 classes:
random colours and positions keep it well below what the shapes allow).

    mkdir -p /tmp/synth && CONTRASTREAM_SYNTH_DUMP=/tmp/synth go test ./sources -run SynthDump
    /usr/bin/python3 sources/testdata/synth_simclr.py /tmp/synth [epochs] [threads] > synth_simclr.log

Augmentations (batched, on tensors): random resized crop (scale 0.2-1,
aspect 3/4-4/3) with horizontal flip via an affine grid, colour jitter
(brightness, contrast, saturation 0.4, p=0.8), random grayscale (p=0.2).
Prints one JSON line per epoch and a final summary line.
"""
import json
import math
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def load(d, split):
    x = np.fromfile(f"{d}/{split}.u8", dtype=np.uint8).reshape(-1, 32, 32, 3)
    y = np.fromfile(f"{d}/{split}-labels.u8", dtype=np.uint8).astype(np.int64)
    x = torch.from_numpy(x).permute(0, 3, 1, 2).float().div(255)
    return x, torch.from_numpy(y)


def augment(x, g):
    n = x.shape[0]
    scale = torch.empty(n).uniform_(0.2, 1.0, generator=g)
    logr = torch.empty(n).uniform_(math.log(3 / 4), math.log(4 / 3), generator=g)
    ratio = torch.exp(logr)
    w = torch.sqrt(scale * ratio).clamp(max=1)
    h = torch.sqrt(scale / ratio).clamp(max=1)
    cx = (torch.rand(n, generator=g) * 2 - 1) * (1 - w)
    cy = (torch.rand(n, generator=g) * 2 - 1) * (1 - h)
    flip = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = w * flip
    theta[:, 0, 2] = cx
    theta[:, 1, 1] = h
    theta[:, 1, 2] = cy
    grid = F.affine_grid(theta, x.shape, align_corners=False)
    v = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    jit = (torch.rand(n, generator=g) < 0.8).float().view(n, 1, 1, 1)
    b = 1 + (torch.rand(n, 1, 1, 1, generator=g) * 0.8 - 0.4) * jit
    c = 1 + (torch.rand(n, 1, 1, 1, generator=g) * 0.8 - 0.4) * jit
    s = 1 + (torch.rand(n, 1, 1, 1, generator=g) * 0.8 - 0.4) * jit
    v = v * b
    m = v.mean(dim=(1, 2, 3), keepdim=True)
    v = (v - m) * c + m
    gray = (0.299 * v[:, 0:1] + 0.587 * v[:, 1:2] + 0.114 * v[:, 2:3])
    v = (v - gray) * s + gray
    to_gray = (torch.rand(n, generator=g) < 0.2).view(n, 1, 1, 1)
    gray = (0.299 * v[:, 0:1] + 0.587 * v[:, 1:2] + 0.114 * v[:, 2:3]).expand_as(v)
    v = torch.where(to_gray, gray, v)
    return (v.clamp(0, 1) - 0.5) / 0.25


class Encoder(nn.Module):
    def __init__(self, widths=(16, 32, 64, 128)):
        super().__init__()
        layers, c = [], 3
        for w in widths:
            layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            c = w
        self.body = nn.Sequential(*layers)
        self.dim = c

    def forward(self, x):
        return self.body(x).mean(dim=(2, 3))


def nt_xent(z, tau):
    z = F.normalize(z, dim=1)
    n = z.shape[0] // 2
    sim = z @ z.t() / tau
    sim.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(sim, target)


@torch.no_grad()
def features(enc, x):
    enc.eval()
    out = torch.cat([enc((x[i:i + 500] - 0.5) / 0.25) for i in range(0, len(x), 500)])
    enc.train()
    return out


def knn(ftr, ytr, fte, yte, k=20):
    ftr, fte = F.normalize(ftr, dim=1), F.normalize(fte, dim=1)
    sim = fte @ ftr.t()
    w, idx = sim.topk(k, dim=1)
    votes = torch.zeros(len(fte), 10)
    votes.scatter_add_(1, ytr[idx], torch.exp(w / 0.07))
    return (votes.argmax(1) == yte).float().mean().item()


def main():
    d = sys.argv[1]
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    xtr, ytr = load(d, "train")
    xte, yte = load(d, "test")
    raw = knn(xtr.flatten(1), ytr, xte.flatten(1), yte)
    enc = Encoder()
    head = nn.Sequential(nn.Linear(enc.dim, 256), nn.ReLU(inplace=True), nn.Linear(256, 128))
    rand_acc = knn(features(enc, xtr), ytr, features(enc, xte), yte)
    params = list(enc.parameters()) + list(head.parameters())
    opt = torch.optim.SGD(params, lr=0.3, momentum=0.9, weight_decay=5e-4)
    bs = 256
    steps = epochs * (len(xtr) // bs)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.3, total_steps=steps, pct_start=0.1)
    t0 = time.time()
    for ep in range(epochs):
        perm = torch.randperm(len(xtr), generator=g)
        tot = 0.0
        for i in range(len(xtr) // bs):
            xb = xtr[perm[i * bs:(i + 1) * bs]]
            v = torch.cat([augment(xb, g), augment(xb, g)])
            loss = nt_xent(head(enc(v)), 0.2)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item()
        acc = knn(features(enc, xtr), ytr, features(enc, xte), yte)
        print(json.dumps({"epoch": ep + 1, "loss": round(tot / (len(xtr) // bs), 4), "knn": round(acc, 4),
                          "seconds": round(time.time() - t0, 1)}), flush=True)
    print(json.dumps({"summary": True, "knn_raw_pixels": round(raw, 4), "knn_random_encoder": round(rand_acc, 4),
                      "knn_simclr": round(acc, 4), "epochs": epochs, "train_seconds": round(time.time() - t0, 1),
                      "threads": torch.get_num_threads(), "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
