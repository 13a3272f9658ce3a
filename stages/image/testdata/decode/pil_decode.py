#!/usr/bin/python3
"""PIL decode cost per image, wall and CPU time, 1 thread, from bytes in memory.

The same method as ../shared/bench/jpeg_decode_pil.py (every image of a set in
turn, runs of at least --min seconds, median of --runs), for png32, jpg96 and
jpg500, and it also reports process CPU time per image, which is what to
compare on a shared, loaded machine (BenchmarkDecode reports cpu-us/op).

Usage: BENCH_DATA=/tmp/bench-data /usr/bin/python3 pil_decode.py [--runs 5] [--sets png32,jpg96,jpg500]
"""
import argparse
import io
import os
import statistics
import time

import PIL
from PIL import Image, features

DATA = os.environ.get("BENCH_DATA", os.path.join(os.getcwd(), "bench-data"))


def convert(b):
    # what aug_bench.py does, and the equivalent of Decode(..., Channels: 3)
    return Image.open(io.BytesIO(b)).convert("RGB")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--min", type=float, default=0.7, help="min seconds per run")
    ap.add_argument("--sets", default="png32,jpg96,jpg500")
    a = ap.parse_args()
    print("PIL %s, libjpeg-turbo %s" % (PIL.__version__, features.version("libjpeg_turbo")))
    for name in a.sets.split(","):
        d = os.path.join(DATA, name)
        blobs = [open(os.path.join(d, f), "rb").read() for f in sorted(os.listdir(d))]
        for b in blobs[:10]:
            convert(b)
        wall, cpu = [], []
        for _ in range(a.runs):
            n = 0
            t0, c0 = time.perf_counter(), time.process_time()
            while time.perf_counter() - t0 < a.min:
                for b in blobs:
                    convert(b)
                n += len(blobs)
            wall.append((time.perf_counter() - t0) / n * 1e6)
            cpu.append((time.process_time() - c0) / n * 1e6)
        print("RESULT pil convert set=%-6s wall %8.1f us/image  cpu %8.1f us/image  (cpu runs: %s)"
              % (name, statistics.median(wall), statistics.median(cpu), " ".join("%.1f" % x for x in sorted(cpu))))


if __name__ == "__main__":
    main()
