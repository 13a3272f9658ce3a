#!/usr/bin/python3
"""PyTorch peer timings for stages/train/loss and stages/train/optim benchmarks.

    /usr/bin/python3 stages/train/loss/testdata/bench_peer.py [--threads 2] [--reps 5]

Prints one line per case, median time per iteration in ms over --reps
repetitions, each repetition timing a fixed number of iterations after one
warm-up. The time is wall time, or with --cpu the CPU time of the process
(time.process_time: all threads, user + system), which a loaded machine's run
queue inflates far less:
  ntxent N=256 D=128 / N=4096 D=128 : nt_xent (shared/bench/ntxent.py) forward + backward
  sgd / lars / adamw                 : one optimizer step over the ~1.52 M parameters of
                                       BenchmarkStep (stages/train/optim/optim_test.go)
LARS is SimCLR's apply_gradients written with torch ops per parameter (torch has no LARS).
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F


def nt_xent(z, tau):
    n2 = z.shape[0]
    n = n2 // 2
    zn = F.normalize(z, dim=1)
    sim = zn @ zn.t() / tau
    eye = torch.eye(n2, dtype=torch.bool)
    sim = sim.masked_fill(eye, float("-inf"))
    target = torch.cat([torch.arange(n, n2), torch.arange(0, n)])
    return F.cross_entropy(sim, target)


SHAPES = [("features.0.weight", (64, 3, 3, 3)), ("features.1.weight", (64,)), ("features.1.bias", (64,)),
          ("features.4.weight", (128, 64, 3, 3)), ("features.5.weight", (128,)), ("features.5.bias", (128,)),
          ("features.8.weight", (256, 128, 3, 3)), ("features.9.weight", (256,)), ("features.9.bias", (256,)),
          ("features.12.weight", (384, 256, 3, 3)), ("features.13.weight", (384,)), ("features.13.bias", (384,)),
          ("head.0.weight", (512, 384)), ("head.0.bias", (512,)), ("head.3.weight", (128, 512))]


def no_decay(name, shape):
    return name.endswith(".bias") or (name.startswith("features.") and len(shape) == 1)


def timed(fn, iters, reps, clock):
    fn()
    out = []
    for _ in range(reps):
        t0 = clock()
        for _ in range(iters):
            fn()
        out.append((clock() - t0) / iters * 1e3)
    return statistics.median(out), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--only", default="")
    ap.add_argument("--cpu", action="store_true", help="CPU time instead of wall time")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cases = []
    for n, iters in ((256, 20), (4096, 1)):
        z = torch.randn(2 * n, 128)

        def step(z=z):
            zz = z.clone().requires_grad_(True)
            nt_xent(zz, 0.1).backward()
        cases.append(("ntxent N=%d D=128" % n, step, iters))

    ps = {k: torch.nn.Parameter(torch.randn(s) * 1e-2) for k, s in SHAPES}
    for p in ps.values():
        p.grad = torch.randn_like(p) * 1e-3
    nparams = sum(p.numel() for p in ps.values())
    dec = [p for k, p in ps.items() if not no_decay(k, p.shape)]
    nod = [p for k, p in ps.items() if no_decay(k, p.shape)]
    sgd = torch.optim.SGD([{"params": dec, "weight_decay": 1e-4}, {"params": nod, "weight_decay": 0}],
                          lr=1e-3, momentum=0.9, nesterov=True)
    adamw = torch.optim.AdamW([{"params": dec, "weight_decay": 0.05}, {"params": nod, "weight_decay": 0}], lr=1e-3)
    vs = {k: torch.zeros_like(p) for k, p in ps.items()}

    @torch.no_grad()
    def lars(lr=1e-3, momentum=0.9, wd=1e-6, eta=1e-3):
        for k, p in ps.items():
            g = p.grad
            nd = no_decay(k, p.shape)
            if not nd:
                g = g + wd * p
            trust = torch.tensor(1.0)
            if not nd:
                w_norm, g_norm = torch.norm(p), torch.norm(g)
                trust = torch.where(w_norm > 0, torch.where(g_norm > 0, eta * w_norm / g_norm, torch.tensor(1.0)),
                                    torch.tensor(1.0))
            v = vs[k]
            v.mul_(momentum).add_(lr * trust * g)
            p.sub_(v)
    cases += [("sgd %d params" % nparams, sgd.step, 20), ("lars %d params" % nparams, lars, 20),
              ("adamw %d params" % nparams, adamw.step, 20)]
    for name, fn, iters in cases:
        if a.only and a.only not in name:
            continue
        med, all_ = timed(fn, iters, a.reps, time.process_time if a.cpu else time.perf_counter)
        print("%-28s threads=%d median %.3f %s-ms/iter  (reps: %s)" % (name, a.threads, med, "cpu" if a.cpu else "wall",
              " ".join("%.3f" % x for x in all_)), flush=True)


if __name__ == "__main__":
    main()
