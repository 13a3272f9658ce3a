#!/usr/bin/python3
"""safetensors interop check for sinks (Go) <-> PyTorch, without the
`safetensors` package (Debian has none): a small reader and writer that follow
the format (8-byte little-endian header length, JSON header padded with spaces
to 8 bytes, data laid out by decreasing element size then name).

  safetensors_interop.py read FILE    -> prints JSON {metadata, tensors: {name: {dtype, shape, values}}}
  safetensors_interop.py write FILE   -> writes the fixture tensors (see fixture())
If the `safetensors` package is importable, `read` also loads FILE with it and
checks that both readers agree.
"""
import json
import struct
import sys

import torch

DT = {"F64": torch.float64, "F32": torch.float32, "I64": torch.int64, "I32": torch.int32,
      "U8": torch.uint8, "I8": torch.int8, "I16": torch.int16, "F16": torch.float16,
      "BF16": torch.bfloat16, "BOOL": torch.bool}
NAME = {v: k for k, v in DT.items()}


def load(path):
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = bytearray(buf[8 + n:])
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        t = torch.frombuffer(data[b:end], dtype=DT[e["dtype"]]) if end > b else torch.empty(0, dtype=DT[e["dtype"]])
        out[name] = t.reshape(e["shape"]).clone()
    return out, meta


def save(path, tensors, meta):
    order = sorted(tensors, key=lambda k: (-tensors[k].element_size(), k))
    header, off, blobs = {}, 0, []
    if meta:
        header["__metadata__"] = dict(sorted(meta.items()))
    for k in order:
        t = tensors[k].contiguous()
        b = t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes()
        header[k] = {"dtype": NAME[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def fixture():
    return {
        "encoder.0.weight": (torch.arange(24, dtype=torch.float32).reshape(2, 3, 4) - 7.5) / 3,
        "encoder.1.num_batches_tracked": torch.tensor(12345678901, dtype=torch.int64),
        "x.f64": torch.tensor([[1.0 / 3, -2.5e300], [float("inf"), -0.0]], dtype=torch.float64),
        "x.i32": torch.tensor([-2147483648, 2147483647, 0], dtype=torch.int32),
        "x.u8": torch.tensor([0, 1, 254, 255, 7], dtype=torch.uint8),
    }, {"format": "pt", "note": "written by python ✓"}


def values(t):
    if t.dtype in (torch.float32, torch.float64):
        return [repr(float(v)) for v in t.flatten().tolist()]
    return [int(v) for v in t.flatten().tolist()]


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    if cmd == "write":
        save(path, *fixture())
        return
    tensors, meta = load(path)
    try:
        from safetensors.torch import load_file  # optional cross-check
        ref = load_file(path)
        assert ref.keys() == tensors.keys()
        for k in ref:
            assert torch.equal(ref[k], tensors[k]), k
    except ImportError:
        pass
    out = {"metadata": meta, "tensors": {k: {"dtype": NAME[t.dtype], "shape": list(t.shape), "values": values(t)}
                                         for k, t in tensors.items()}}
    json.dump(out, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
