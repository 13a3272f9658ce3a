#!/usr/bin/python3
"""Generates the differential JPEG corpus (decode_jpeg_test.go compares the
pure-Go decoder with libjpeg-turbo on every file, tolerance 0).

Needs Debian's cjpeg (libjpeg-turbo-progs 2.1.5) and PIL (python3-pil).
Run from this folder: /usr/bin/python3 gen.py
"""
import io, os, subprocess
from PIL import Image

src = Image.open("../decode/jpg_china.jpg").convert("RGB")  # 200x150

def crop(w, h, x=13, y=7):
    return src.crop((x, y, x + w, y + h)) if (w, h) != src.size else src

def cjpeg(name, im, *args):
    buf = io.BytesIO()
    im.save(buf, "PPM")
    out = subprocess.run(["cjpeg", *args], input=buf.getvalue(), capture_output=True, check=True).stdout
    open(name + ".jpg", "wb").write(out)

sizes = [(1, 1), (7, 5), (17, 33), (61, 43), (129, 65)]
samplings = {"444": "1x1", "422": "2x1", "420": "2x2", "440": "1x2", "411": "4x1", "410": "4x2", "3x1": "3x1", "2x4": "2x4"}
for w, h in sizes:
    im = crop(w, h)
    for sn, s in samplings.items():
        cjpeg(f"cj_{sn}_{w}x{h}", im, "-quality", "90", "-sample", s)
    cjpeg(f"cj_420_opt_{w}x{h}", im, "-quality", "75", "-optimize")
    cjpeg(f"cj_420_prog_{w}x{h}", im, "-quality", "90", "-progressive")
    cjpeg(f"cj_444_prog_{w}x{h}", im, "-quality", "95", "-sample", "1x1", "-progressive")
    cjpeg(f"cj_440_prog_{w}x{h}", im, "-quality", "85", "-sample", "1x2", "-progressive")
    cjpeg(f"cj_gray_{w}x{h}", im, "-quality", "90", "-grayscale")
    cjpeg(f"cj_gray_prog_{w}x{h}", im, "-quality", "80", "-grayscale", "-progressive")
    cjpeg(f"cj_420_rst1_{w}x{h}", im, "-quality", "90", "-restart", "1")
    cjpeg(f"cj_422_rst3b_{w}x{h}", im, "-quality", "90", "-sample", "2x1", "-restart", "3B")
    cjpeg(f"cj_420_prog_rst2b_{w}x{h}", im, "-quality", "90", "-progressive", "-restart", "2B")
im = src
cjpeg("cj_420_q100_200x150", im, "-quality", "100")
cjpeg("cj_444_q100_200x150", im, "-quality", "100", "-sample", "1x1")
cjpeg("cj_420_q10_200x150", im, "-quality", "10")
cjpeg("cj_420_q97_prog_opt_200x150", im, "-quality", "97", "-progressive", "-optimize")
cjpeg("cj_rgb_200x150", im, "-quality", "90", "-rgb")
cjpeg("cj_gray_rst1b_200x150", im, "-quality", "90", "-grayscale", "-restart", "1B")
cjpeg("cj_420_smooth_200x150", im, "-quality", "90", "-smooth", "30", "-dct", "float")
# Non-interleaved sequential scans (one scan per component).
open("scans.txt", "w").write("0: 0 63 0 0;\n1: 0 63 0 0;\n2: 0 63 0 0;\n")
cjpeg("cj_420_3scans_61x43", crop(61, 43), "-quality", "90", "-scans", "scans.txt")
os.remove("scans.txt")
# PIL (libjpeg-turbo through Pillow 9.4): CMYK with an Adobe marker,
# progressive and optimised tables.
for w, h in [(17, 33), (61, 43)]:
    c = crop(w, h)
    c.convert("CMYK").save(f"pil_cmyk_{w}x{h}.jpg", quality=90)
    c.convert("CMYK").save(f"pil_cmyk_prog_{w}x{h}.jpg", quality=90, progressive=True)
    c.save(f"pil_420_prog_opt_{w}x{h}.jpg", quality=85, progressive=True, optimize=True)
    c.save(f"pil_444_{w}x{h}.jpg", quality=95, subsampling=0)
    c.save(f"pil_422_{w}x{h}.jpg", quality=95, subsampling=1)
# The TurboJPEG API refuses sampling layouts it has no name for; PIL goes
# through libjpeg itself, so its decodes are their reference.
for f in sorted(os.listdir(".")):
    if f.endswith(".jpg") and any(s in f for s in ("_3x1_", "_2x4_", "_410_")):
        Image.open(f).convert("RGB").save(f[:-4] + ".want.ppm")
