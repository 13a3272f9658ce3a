"""Throughput of `contrastream stream` as a PyTorch input pipeline.

Modes (each prints one line starting with RESULT):
  bytes   the stream read by the package's own Arrow reader, which only
          touches the bytes (one byte per 4 KiB page of each batch's
          pixels): the transport's cost against `contrastream bench
          --uint8`. --transport pipe: the pixels come through the pipe into
          one reused buffer (readinto, a 1 MiB pipe, vmsplice on the Go
          side); shm: they are read where the child wrote them, in the
          shared-memory ring, and each slot is handed back once touched.
  torch   the ViewLoader iterated as a training loop would: every batch's
          views touched (uint8 sum over a strided sample), or, with
          --normalize, converted to normalized float32 [B,V,C,H,W] on the
          host (the tensors torchvision's DataLoader hands over).
          --transport is the loader's (default: its own choice, shm on the
          host); with --normalize and shm the child writes the normalized
          float32 into the ring (the loader's default; --child-normalize
          off has the host normalize the uint8 views instead).

  /usr/bin/python3 python/examples/bench_loader.py --mode torch --data SHARDS --size 96 --workers 2 --normalize

The child runs with GOMAXPROCS = --workers unless $GOMAXPROCS is set; it
measures --seconds after --warmup seconds and reports pairs/s (one pair = one
image's views).
"""

import argparse
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from contrastream import _arrow  # noqa: E402
from contrastream.torch import find_binary  # noqa: E402


def timed(batches, warmup, seconds):
    """Iterate (n_samples) items; return pairs/s over the window after warmup
    and the reader's own CPU time in that window as a fraction of the wall
    time (the child's CPU is not in it)."""
    t_start = time.perf_counter()
    t0 = n0 = c0 = None
    n = 0
    for k in batches:
        n += k
        now = time.perf_counter()
        if t0 is None:
            if now - t_start >= warmup:
                t0, n0, c0 = now, n, time.process_time()
        elif now - t0 >= seconds:
            return (n - n0) / (now - t0), (time.process_time() - c0) / (now - t0)
    raise SystemExit("the stream ended before the measurement did (more data or fewer seconds)")


def stream_args(a):
    return ["stream", "--data", a.data, "--size", str(a.size), "--batch", str(a.batch), "--workers", str(a.workers),
            "--epochs", "0", "--seed", "1"]


def bytes_mode(a, env):
    p = subprocess.Popen([find_binary(a.binary)] + stream_args(a), stdout=subprocess.PIPE, bufsize=0, env=env)
    try:
        import fcntl
        fcntl.fcntl(p.stdout.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (ImportError, OSError):
        pass
    r = _arrow.StreamReader(p.stdout)
    buf = np.empty(1 << 28, dtype=np.uint8)  # one reused body buffer: only the transport is measured

    def batches():
        while True:
            b = r.next_batch()
            if b is None:
                return
            int(np.add.reduce(b.body[: b.body_len : 4096]))  # touch every page
            yield b.length

    r.alloc = lambda n: buf[:n]
    try:
        return timed(batches(), a.warmup, a.seconds)
    finally:
        p.kill()
        p.wait()


def bytes_shm_mode(a, env):
    from contrastream.torch import _Child, ring_slots

    argv = [find_binary(a.binary)] + stream_args(a) + ["--parent-pid", str(os.getpid())]
    ch = _Child(argv, env, a.prefetch, None, "shm", False, False, shm_slots=ring_slots(a.prefetch))
    m = ch.meta
    per = int(m["views"]) * int(m["size"]) ** 2 * int(m["channels"])
    ring = ch.ring

    def batches():
        while True:
            b = ch.get()
            if b is None:
                return
            off = int(b["views_offset"].values[0])
            int(np.add.reduce(ring[off: off + b.length * per: 4096]))  # touch every page
            ch.release(off // ch.slot_bytes)
            yield b.length

    try:
        return timed(batches(), a.warmup, a.seconds)
    finally:
        ch.close()


def torch_mode(a, env):
    import torch
    from contrastream.torch import ViewLoader

    torch.set_num_threads(1)
    os.environ.update(env)
    ld = ViewLoader(a.data, size=a.size, batch_size=a.batch, seed=1, workers=a.workers, binary=a.binary,
                    normalize=a.normalize, prefetch=a.prefetch, transport=a.transport,
                    child_normalize={"auto": None, "on": True, "off": False}[a.child_normalize])
    a.child_normalized = ld.child_normalize

    def batches():
        while True:
            for b in ld:
                v = b.views
                if a.normalize:
                    assert v.dtype == torch.float32 and v.shape[2] == 3
                    float(v[:, :, :, 0, 0].sum())
                else:
                    # every 4 KiB page of the batch, read where it lies: v is
                    # a [B,V,C,H,W] view of [B,V,H,W,C] memory, so permuting
                    # back gives a flat view (v.reshape(-1) would copy it all)
                    int(v.permute(0, 1, 3, 4, 2).reshape(-1)[::4096].sum())
                yield v.shape[0]

    try:
        return timed(batches(), a.warmup, a.seconds)
    finally:
        ld.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["bytes", "torch"], required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--prefetch", type=int, default=2)
    ap.add_argument("--normalize", action="store_true")
    ap.add_argument("--binary", default=None)
    ap.add_argument("--child-normalize", nargs="?", choices=["auto", "on", "off"], default="auto", const="on",
                    help="torch mode with --normalize: on, the child writes normalized float32 into the shm ring; "
                         "off, the host normalizes; auto (default): the loader's default (on with shm)")
    ap.add_argument("--transport", choices=["pipe", "shm"], default=None,
                    help="bytes mode: default pipe; torch mode: default the loader's")
    a = ap.parse_args()
    env = dict(os.environ)
    env.setdefault("GOMAXPROCS", str(a.workers))
    if a.mode == "torch":
        rate, cpu = torch_mode(a, env)
    elif a.transport == "shm":
        rate, cpu = bytes_shm_mode(a, env)
    else:
        rate, cpu = bytes_mode(a, env)
    print("RESULT mode=%s%s transport=%s size=%d workers=%d pairs/s=%.1f reader-cpu=%.1f%%" % (
        a.mode, ("+child-normalize" if getattr(a, "child_normalized", False) else "+normalize") if a.normalize else "", a.transport or ("pipe" if a.mode == "bytes" else "default"),
        a.size, a.workers, rate, 100 * cpu))


if __name__ == "__main__":
    main()
