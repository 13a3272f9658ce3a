#!/usr/bin/python3
"""Generate the decode test fixtures and their expected pixels.

Run from this folder with Debian's interpreter: /usr/bin/python3 gen.py
(needs python3-pil, python3-numpy, python3-skimage, python3-sklearn; the
photos are Debian's sample photos). Deterministic.

For every fixture NAME.{png,jpg} it writes NAME.want.pnm (P5 gray or P6 RGB):
- PNG: the ground truth (the 8-bit source the file was made from; 16-bit
  samples are v = 257*s + noise, so the expected 8-bit value is v >> 8, the
  high byte, as libpng's strip_16 and PIL keep it).
- JPEG: what PIL 9.4 (libjpeg-turbo 2.1.5, islow IDCT, fancy upsampling)
  decodes, via convert("RGB") or "L" for grayscale files.
"""
import io
import os
import struct
import subprocess
import zlib

import numpy as np
from PIL import Image

SK = "/usr/lib/python3/dist-packages/skimage/data"
SL = "/usr/lib/python3/dist-packages/sklearn/datasets/images"
W, H = 61, 43  # odd on purpose: exercises chroma edges


def photo(path, size=(W, H), box=None):
    im = Image.open(path)
    if box:
        im = im.crop(box)
    return im.resize(size, Image.LANCZOS)


def pnm(name, a):
    a = np.ascontiguousarray(a, dtype=np.uint8)
    if a.ndim == 2:
        hdr = b"P5\n%d %d\n255\n" % (a.shape[1], a.shape[0])
    else:
        hdr = b"P6\n%d %d\n255\n" % (a.shape[1], a.shape[0])
    with open(name + ".want.pnm", "wb") as f:
        f.write(hdr + a.tobytes())


def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(path, a, colortype, depth, interlace=False, extra=b""):
    """Minimal PNG writer (filter type cycles 0..4 per row) for the layouts PIL cannot write."""
    a = np.asarray(a)
    h, w = a.shape[:2]
    ch = {0: 1, 2: 3, 4: 2, 6: 4}[colortype]
    a = a.reshape(h, w, ch)
    dt = ">u2" if depth == 16 else "u1"
    bpp = ch * (2 if depth == 16 else 1)

    def rows(sub):
        out = b""
        prev = None
        for i, r in enumerate(sub):
            raw = np.frombuffer(r.astype(dt).tobytes(), np.uint8).astype(np.int32)
            ft = i % 5
            p = prev if prev is not None else np.zeros_like(raw)
            left = np.concatenate([np.zeros(bpp, np.int32), raw[:-bpp]])
            ul = np.concatenate([np.zeros(bpp, np.int32), p[:-bpp]])
            if ft == 0:
                f = raw
            elif ft == 1:
                f = raw - left
            elif ft == 2:
                f = raw - p
            elif ft == 3:
                f = raw - (left + p) // 2
            else:
                # Paeth: a=left, b=up, c=upleft; pick a if pa<=pb and pa<=pc
                pa2, pb2, pc2 = abs(p - ul), abs(left - ul), abs(left + p - 2 * ul)
                pr = np.where((pa2 <= pb2) & (pa2 <= pc2), left, np.where(pb2 <= pc2, p, ul))
                f = raw - pr
            out += bytes([ft]) + (f & 0xff).astype(np.uint8).tobytes()
            prev = raw
        return out

    if interlace:
        data = b""
        for x0, y0, dx, dy in ADAM7:
            sub = a[y0::dy, x0::dx]
            if sub.shape[0] and sub.shape[1]:
                data += rows(sub)
    else:
        data = rows(a)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, colortype, 0, 0, 1 if interlace else 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(data, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def main():
    rng = np.random.default_rng(7)
    rgb = photo(os.path.join(SK, "astronaut.png"), box=(100, 0, 400, 220)).convert("RGB")
    cat = photo(os.path.join(SK, "chelsea.png")).convert("RGB")
    gray = photo(os.path.join(SK, "camera.png")).convert("L")
    china = photo(os.path.join(SL, "china.jpg"), size=(200, 150)).convert("RGB")
    a_rgb, a_cat, a_gray = np.asarray(rgb), np.asarray(cat), np.asarray(gray)
    alpha = (np.add.outer(np.arange(H) * 3, np.arange(W) * 2) % 256).astype(np.uint8)

    # --- PNG: PIL writes these
    gray.save("png_gray8.png"); pnm("png_gray8", a_gray)
    rgb.save("png_rgb8.png"); pnm("png_rgb8", a_rgb)
    Image.fromarray(np.dstack([a_cat, alpha]), "RGBA").save("png_rgba8.png"); pnm("png_rgba8", a_cat)
    Image.fromarray(np.dstack([a_gray, alpha]), "LA").save("png_la8.png"); pnm("png_la8", a_gray)
    pal = cat.quantize(64)
    pal.save("png_pal.png"); pnm("png_pal", np.asarray(pal.convert("RGB")))
    palt = rgb.quantize(16)
    palt.info["transparency"] = bytes(range(0, 256, 16))
    palt.save("png_pal_trns.png", transparency=bytes(range(0, 256, 16))); pnm("png_pal_trns", np.asarray(palt.convert("RGB")))
    bw = gray.point(lambda v: 255 if v > 110 else 0).convert("1")
    bw.save("png_gray1.png"); pnm("png_gray1", np.asarray(bw.convert("L")))
    # --- PNG: 16-bit, interlaced, tRNS (own writer)
    g16 = (a_gray.astype(np.uint32) * 256 + rng.integers(0, 256, a_gray.shape)).astype(np.uint16)
    write_png("png_gray16.png", g16, 0, 16); pnm("png_gray16", g16 >> 8)
    c16 = (a_rgb.astype(np.uint32) * 256 + rng.integers(0, 256, a_rgb.shape)).astype(np.uint16)
    write_png("png_rgb16.png", c16, 2, 16); pnm("png_rgb16", c16 >> 8)
    a16 = (alpha.astype(np.uint32) * 257).astype(np.uint16)
    write_png("png_rgba16.png", np.dstack([c16, a16]), 6, 16); pnm("png_rgba16", c16 >> 8)
    write_png("png_rgb8_adam7.png", a_cat, 2, 8, interlace=True); pnm("png_rgb8_adam7", a_cat)
    write_png("png_gray8_adam7.png", a_gray, 0, 8, interlace=True); pnm("png_gray8_adam7", a_gray)
    write_png("png_rgb8_trns.png", a_rgb, 2, 8, extra=chunk(b"tRNS", struct.pack(">HHH", *a_rgb[0, 0])))
    pnm("png_rgb8_trns", a_rgb)

    # --- JPEG: PIL writes, PIL's decode is the expectation
    def jpg(name, im, want=True, **kw):
        im.save(name + ".jpg", "JPEG", **kw)
        if not want:
            return
        dec = Image.open(name + ".jpg")
        dec = dec.convert("L" if dec.mode == "L" else "RGB")
        pnm(name, np.asarray(dec))

    jpg("jpg_420", cat, quality=90)
    jpg("jpg_422", rgb, quality=90, subsampling=1)
    jpg("jpg_444", cat, quality=90, subsampling=0)
    jpg("jpg_420_prog", rgb, quality=85, progressive=True)
    jpg("jpg_420_opt", cat, quality=75, optimize=True)
    jpg("jpg_gray", gray, quality=90)
    jpg("jpg_cmyk", cat.convert("CMYK"), quality=90)
    jpg("jpg_china", china, want=False, quality=85)  # 200x150, for reduced-scale decoding
    # a 5x3 image: chroma only 3x2 samples (edge cases of the upsampler)
    jpg("jpg_420_tiny", cat.resize((5, 3)), quality=90)
    # YCCK: PIL cannot write it; gen_ycck.c re-encodes jpg_cmyk's pixels with
    # libjpeg-turbo (needs gcc and libturbojpeg0-dev).
    subprocess.run("gcc -O2 -o /tmp/gen_ycck gen_ycck.c -lturbojpeg && /tmp/gen_ycck", shell=True, check=True)
    dec = Image.open("jpg_ycck.jpg")
    assert dec.mode == "CMYK" and dec.info.get("adobe_transform") == 2
    pnm("jpg_ycck", np.asarray(dec.convert("RGB")))


if __name__ == "__main__":
    main()
