#!/usr/bin/python3
"""The training-step peer of shared/bench/train_step.py (same models, loss,
optimizer and input: it imports them), timed per step in wall time and in
process CPU time (time.process_time), which a loaded machine inflates less.

Usage: /usr/bin/python3 peer_cpu.py --model small --threads 2 [--malloc-tuned] [--steps 8]
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, "/work/shared/bench")
import torch  # noqa: E402
import train_step  # noqa: E402
from ntxent import nt_xent  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["small", "resnet18"], default="small")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--pairs", type=int, default=256)
    ap.add_argument("--malloc-tuned", action="store_true")
    a = ap.parse_args()
    if a.malloc_tuned and "GLIBC_TUNABLES" not in os.environ:
        env = dict(os.environ, GLIBC_TUNABLES=train_step.TUNED)
        os.execve(sys.executable, [sys.executable] + sys.argv, env)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = train_step.Small() if a.model == "small" else train_step.ResNet18()
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-6)
    x1, x2 = torch.randn(a.pairs, 3, 32, 32), torch.randn(a.pairs, 3, 32, 32)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = nt_xent(model(torch.cat([x1, x2])), 0.5)
        loss.backward()
        opt.step()
        return loss.item()

    step()  # warm-up
    wall, cpu = [], []
    for _ in range(a.steps):
        w0, c0 = time.perf_counter(), time.process_time()
        step()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    tag = " malloc-tuned" if os.environ.get("GLIBC_TUNABLES") else ""
    print("PEER model=%s%s threads=%d: median %.3f s/step wall, %.3f cpu-s/step"
          % (a.model, tag, a.threads, statistics.median(wall), statistics.median(cpu)))


if __name__ == "__main__":
    main()
