"""Helpers for the Python tests: the contrastream binary, synthetic shards,
the Go side's per-batch digests, and the stable sample id."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))  # the package, without installing it

_tmp = tempfile.mkdtemp(prefix="contrastream-pytest-")
_bin = None


def binary():
    """$CONTRASTREAM_BIN, else a binary built from this checkout (once)."""
    global _bin
    if _bin is None:
        env = os.environ.get("CONTRASTREAM_BIN")
        if env:
            _bin = env
        else:
            go = shutil.which("go")
            if not go:
                raise RuntimeError("set CONTRASTREAM_BIN or install Go to build the binary")
            _bin = os.path.join(_tmp, "contrastream")
            subprocess.run([go, "build", "-o", _bin, "./cmd/contrastream"], cwd=ROOT, check=True)
    return _bin


def synth(name, n, size=16, shards=3, seed=1):
    """A folder of n synthetic labeled PNG shards (made once per name)."""
    out = os.path.join(_tmp, name)
    if not os.path.isdir(out):
        subprocess.run([binary(), "synth", "--out", out, "--n", str(n), "--size", str(size), "--shards", str(shards),
                        "--seed", str(seed)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return out


def go_stream(data, *flags, digests=True):
    """Run `contrastream stream` into a file; returns (stream path, digests)."""
    fd, path = tempfile.mkstemp(dir=_tmp, suffix=".arrow")
    dpath = path + ".digests"
    with os.fdopen(fd, "wb") as f:
        subprocess.run([binary(), "stream", "--data", data, "--digests", dpath] + [str(x) for x in flags],
                       stdout=f, stderr=subprocess.PIPE, check=True)
    with open(dpath) as f:
        return path, [json.loads(line) for line in f]


def sha256(a):
    return hashlib.sha256(memoryview(a).cast("B")).hexdigest()


def views_sha256(views):
    """SHA-256 of a [B,V,C,H,W] uint8 tensor's pixels in the stream's
    [B,V,H,W,C] order (what the Go side hashes)."""
    return sha256(views.permute(0, 1, 3, 4, 2).contiguous().numpy())


def _mix64(x):
    m = (1 << 64) - 1
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & m
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & m
    x ^= x >> 31
    return x


def sample_id(shard, row):
    """sources.SampleID: splitmix64(fnv1a64(base name) XOR splitmix64(row))."""
    h = 14695981039346656037
    for b in os.path.basename(shard).encode():
        h ^= b
        h = (h * 1099511628211) & ((1 << 64) - 1)
    return _mix64(h ^ _mix64(row))


def as_uint64(i):
    return int(i) & ((1 << 64) - 1)


def gone(pid, timeout=10.0):
    """Wait until process pid has exited (gone, or a zombie nobody reaped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/stat" % pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            if state in ("Z", "X"):
                return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def contrastream_pids(marker):
    """PIDs of running contrastream processes whose command line holds marker."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().split(b"\0")
            with open("/proc/%s/stat" % d) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in ("Z", "X") and cmd and cmd[0].endswith(b"contrastream") and marker.encode() in b" ".join(cmd):
            out.append(int(d))
    return out


def wait_no_contrastream(marker, timeout=10.0):
    """The contrastream processes on marker still running after timeout s."""
    deadline = time.monotonic() + timeout
    while True:
        pids = contrastream_pids(marker)
        if not pids or time.monotonic() > deadline:
            return pids
        time.sleep(0.05)
