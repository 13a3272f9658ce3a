#!/usr/bin/python3
"""Peer for TestFashionMNISTPixelBaseline: lightly's knn_predict (torch, CPU)
on raw Fashion-MNIST pixels (v/255, and ImageNet-normalized gray:
(v/255 - 0.485)/0.229), k=200, t=0.1, test rows in batches of 512.

Usage: /usr/bin/python3 fashion_knn.py [/usr/share/datasets/fashion-mnist] [--threads 2]
Prints top-1 accuracy and seconds for each normalization.
"""
import gzip
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from make_golden import knn_predict


def idx(path):
    with gzip.open(path) as f:
        b = f.read()
    nd = b[3]
    dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(b, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def main():
    d = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("--") else "/usr/share/datasets/fashion-mnist"
    torch.set_num_threads(int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 2)
    xtr = idx(d + "/train-images-idx3-ubyte.gz").reshape(60000, -1).astype(np.float32) / 255
    ytr = torch.from_numpy(idx(d + "/train-labels-idx1-ubyte.gz").astype(np.int64))
    xte = idx(d + "/t10k-images-idx3-ubyte.gz").reshape(10000, -1).astype(np.float32) / 255
    yte = torch.from_numpy(idx(d + "/t10k-labels-idx1-ubyte.gz").astype(np.int64))
    for name, f in (("v/255", lambda x: x), ("imagenet-normalized", lambda x: (x - np.float32(0.485)) / np.float32(0.229))):
        t0 = time.perf_counter()
        bank = F.normalize(torch.from_numpy(f(xtr)), dim=1).t().contiguous()
        q = F.normalize(torch.from_numpy(f(xte)), dim=1)
        pred = torch.cat([knn_predict(q[i:i + 512], bank, ytr, 10, 200, 0.1)[0][:, 0] for i in range(0, 10000, 512)])
        acc = (pred == yte).float().mean().item()
        print(f"{name}: top-1 {acc:.4f} ({int((pred == yte).sum())}/10000) in {time.perf_counter() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
