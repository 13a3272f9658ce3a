#!/usr/bin/python3
"""Peer for `contrastream import idx`: the per-image work of a Python importer.

Reads MNIST-format IDX files with gzip + numpy and encodes every image as a
grayscale PNG with PIL (zlib level 1 = our png.BestSpeed, or the level
given), keeping the bytes in memory. It writes no Parquet file (pyarrow is
not on this machine), so it is a lower bound on the time of a real Python
importer (PIL + pyarrow / datasets). One process, like a plain script.

    /usr/bin/python3 sinks/testdata/peer_import_idx.py IMAGES.gz LABELS.gz [level]

Prints one JSON line: rows, seconds (wall), cpu_seconds (process CPU),
rows_per_second (wall), png_bytes.
"""
import gzip
import io
import json
import sys
import time

import numpy as np
from PIL import Image


def read_idx(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    nd = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def main():
    level = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    t0, c0 = time.perf_counter(), time.process_time()
    images = read_idx(sys.argv[1])
    labels = read_idx(sys.argv[2])
    assert len(images) == len(labels)
    out, total = [], 0
    for i in range(len(images)):
        buf = io.BytesIO()
        Image.fromarray(images[i], mode="L").save(buf, format="PNG", compress_level=level)
        b = buf.getvalue()
        out.append((b, int(labels[i])))
        total += len(b)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"rows": len(out), "seconds": round(dt, 3), "cpu_seconds": round(cpu, 3),
                      "rows_per_second": round(len(out) / dt),
                      "png_bytes": total, "level": level}))


if __name__ == "__main__":
    main()
