#!/usr/bin/python3
"""Peer timing for BenchmarkKNN: lightly's knn_predict in torch (CPU) on the
same sizes (12,000 train x 2,000 test rows of 256 features, 10 classes, k=200,
t=0.1), test rows in batches of 512 as lightly's benchmark module feeds them.

Usage: /usr/bin/python3 bench_knn.py [--threads 2] [--runs 3]
Prints seconds per full prediction for each run and the median.
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from make_golden import knn_predict


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--train", type=int, default=12000)
    ap.add_argument("--test", type=int, default=2000)
    ap.add_argument("--dim", type=int, default=256)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    g = torch.Generator().manual_seed(1)
    ytr = torch.arange(a.train) % 10
    xtr = torch.randn(a.train, a.dim, generator=g)
    xtr[torch.arange(a.train), ytr] += 3
    xte = torch.randn(a.test, a.dim, generator=g)
    times = []
    for _ in range(a.runs):
        t0 = time.perf_counter()
        bank = F.normalize(xtr, dim=1).t().contiguous()
        q = F.normalize(xte, dim=1)
        preds = [knn_predict(q[i:i + 512], bank, ytr, 10, 200, 0.1)[0][:, 0] for i in range(0, a.test, 512)]
        torch.cat(preds)
        times.append(time.perf_counter() - t0)
    print("runs:", " ".join(f"{t:.3f}" for t in times), f"median {statistics.median(times):.3f} s")


if __name__ == "__main__":
    main()
