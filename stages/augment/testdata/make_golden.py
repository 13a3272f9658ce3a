#!/usr/bin/python3
"""Golden outputs of torchvision 0.14 functional ops (PIL backend) for the
parity tests of package augment.

Run from this folder with Debian's interpreter (torch 1.13, torchvision 0.14,
PIL 9.4, skimage and sklearn sample images):

    cd stages/augment/testdata && /usr/bin/python3 make_golden.py

It writes:
  in_*.png            small crops of real photos and one of random colours
                      (the test inputs)
  golden/*.png        each op with FIXED parameters applied to each input
  golden/cases.json   the list of cases: input, op, parameters, output
  golden/normalize.bin  ToTensor+Normalize(ImageNet) of levels 0..255,
                        float32 little endian, [3][256]
The Go tests (parity_test.go) apply the same kernels with the same
parameters and compare within the per-op tolerances documented there.
"""
import json
import os

import numpy as np
import sklearn.datasets
import torch
import torchvision
import torchvision.transforms.functional as F
from PIL import Image
from torchvision.transforms import InterpolationMode

HERE = os.path.dirname(os.path.abspath(__file__))
SK = "/usr/lib/python3/dist-packages/skimage/data"


def small(img, box, size=(48, 40)):
    # crop a region of a photo and shrink it with a box filter: real texture,
    # small files
    return img.crop(box).resize(size, Image.BOX)


def inputs():
    china = Image.fromarray(sklearn.datasets.load_sample_image("china.jpg"))
    coffee = Image.open(os.path.join(SK, "coffee.png")).convert("RGB")
    camera = Image.open(os.path.join(SK, "camera.png")).convert("L")
    return {
        "in_china.png": small(china, (250, 120, 370, 220)),
        "in_coffee.png": small(coffee, (150, 60, 390, 260)),
        "in_camera.png": small(camera, (150, 60, 330, 210)),
        # uniform random colours: saturated, dark and extreme pixels that
        # photos rarely hold (hue and saturation corner cases)
        "in_noise.png": Image.fromarray(np.random.RandomState(0).randint(0, 256, (40, 48, 3), dtype=np.uint8)),
    }


def cases(rgb):
    c = []
    for interp in ("bilinear", "bicubic"):
        mode = InterpolationMode.BILINEAR if interp == "bilinear" else InterpolationMode.BICUBIC
        for (top, left, h, w, oh, ow) in [(3, 5, 30, 37, 16, 16), (10, 7, 12, 9, 24, 20),
                                          (0, 0, 40, 48, 40, 48), (2, 1, 37, 41, 29, 41), (5, 3, 21, 33, 33, 23)]:
            c.append(("resized_crop", dict(top=top, left=left, height=h, width=w, out_h=oh, out_w=ow, interp=interp),
                      lambda im, top=top, left=left, h=h, w=w, oh=oh, ow=ow, mode=mode:
                      F.resized_crop(im, top, left, h, w, [oh, ow], mode)))
    c.append(("hflip", {}, F.hflip))
    for f in (0.6, 1.37):
        c.append(("brightness", dict(factor=f), lambda im, f=f: F.adjust_brightness(im, f)))
    for f in (0.45, 1.7):
        c.append(("contrast", dict(factor=f), lambda im, f=f: F.adjust_contrast(im, f)))
    for (k, s) in [(3, 0.3), (5, 1.0), (9, 2.0), (23, 1.5), (23, 0.7)]:
        c.append(("blur", dict(kernel=k, sigma=s), lambda im, k=k, s=s: F.gaussian_blur(im, [k, k], [s, s])))
    for t in (128, 64.5):
        c.append(("solarize", dict(threshold=t), lambda im, t=t: F.solarize(im, t)))
    if rgb:
        for f in (0.3, 1.8):
            c.append(("saturation", dict(factor=f), lambda im, f=f: F.adjust_saturation(im, f)))
        for f in (-0.37, -0.1, 0.05, 0.33):
            c.append(("hue", dict(factor=f), lambda im, f=f: F.adjust_hue(im, f)))
        for n in (1, 3):
            c.append(("grayscale", dict(channels=n), lambda im, n=n: F.rgb_to_grayscale(im, n)))
    return c


def main():
    os.makedirs(os.path.join(HERE, "golden"), exist_ok=True)
    manifest = []
    for name, im in inputs().items():
        im.save(os.path.join(HERE, name))
        im = Image.open(os.path.join(HERE, name))  # exactly what Go reads
        stem = name[3:-4]
        for i, (op, params, fn) in enumerate(cases(im.mode == "RGB")):
            out = fn(im)
            assert isinstance(out, Image.Image)
            fname = "%s_%02d_%s.png" % (stem, i, op)
            out.save(os.path.join(HERE, "golden", fname))
            manifest.append(dict(input=name, op=op, params=params, output=fname))
    with open(os.path.join(HERE, "golden", "cases.json"), "w") as f:
        json.dump(dict(torch=torch.__version__, torchvision=torchvision.__version__,
                       pil=Image.__version__, cases=manifest), f, indent=1)
        f.write("\n")
    levels = torch.arange(256, dtype=torch.uint8).view(1, 1, 256).expand(3, 1, 256).contiguous()
    t = F.normalize(levels.float().div(255), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    t.numpy().astype("<f4").tofile(os.path.join(HERE, "golden", "normalize.bin"))
    print("wrote %d cases" % len(manifest))


if __name__ == "__main__":
    main()
