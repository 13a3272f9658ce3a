"""How long a GPU waits for its SimCLR views: contrastream's ViewLoader vs
torchvision's DataLoader, same images, same recipe, same step.

One process, one GPU. Each step takes the next batch from the loader (the
time spent there is the GPU's wait: the step before it has been synchronized),
copies it to the device, converts it to normalized float and runs one SimCLR
training step (encoder + projection head, NT-Xent, SGD, bf16 autocast on
CUDA). Prints one RESULT line per loader:

    RESULT loader=ours model=resnet50 size=224 batch=256 pairs/s=... wait=...% step_ms=...

pairs/s counts images whose views reached GPU memory per second of the
timed window; wait is the fraction of that window spent waiting for data.

    # ours: the contrastream binary ($CONTRASTREAM_BIN or PATH), shards made by `contrastream import images`
    python3 python/examples/gpu_wait.py --loader ours --data SHARDS --size 224 --model resnet50
    # peer: the same images as files, torchvision's DataLoader with 15 worker processes
    python3 python/examples/gpu_wait.py --loader torchvision --images DIR --size 224 --model resnet50 --workers 15

docs/gpu-bench.sh runs the whole comparison (ResNet-50 at 224 px and a CIFAR
ResNet-18 at 32 px, both loaders) on a machine with a GPU.
"""

import argparse
import io
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def encoder(model, size):
    import torchvision

    if model == "resnet50":
        net = torchvision.models.resnet50()
        dim = 2048
    else:  # CIFAR ResNet-18: 3x3 stem, no max-pool
        net = torchvision.models.resnet18()
        net.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        net.maxpool = nn.Identity()
        dim = 512
    net.fc = nn.Identity()
    head = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(inplace=True), nn.Linear(dim, 128))
    return nn.Sequential(net, head)


def nt_xent(z, tau=0.2):
    z = F.normalize(z.float(), dim=1)
    n = z.shape[0] // 2
    sim = z @ z.t() / tau
    sim.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, target)


def ours(a, device):
    from contrastream.torch import ViewLoader

    loader = ViewLoader(a.data, size=a.size, batch_size=a.batch, views=2, seed=1, device=device,
                        normalize=True, binary=a.binary, workers=a.workers or None)
    while True:  # each iteration is the next epoch; the measurement decides when to stop
        for b in loader:
            yield b.views if device.type == "cuda" else b.views.to(device)  # normalized float [B, V, C, H, W]


class Pairs(torch.utils.data.Dataset):
    def __init__(self, folder, size):
        from torchvision import transforms as T

        self.files = sorted(os.path.join(folder, f) for f in os.listdir(folder)
                            if f.lower().endswith((".jpg", ".jpeg", ".png")))
        if not self.files:
            raise SystemExit("--images %s: no .jpg/.png files" % folder)
        ops = [T.RandomResizedCrop(size, scale=(0.08, 1.0)), T.RandomHorizontalFlip(),
               T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8), T.RandomGrayscale(p=0.2)]
        if size >= 224:
            ops.append(T.RandomApply([T.GaussianBlur(23, sigma=(0.1, 2.0))], p=0.5))
        self.tf = T.Compose(ops + [T.ToTensor(), T.Normalize(MEAN, STD)])

    def __len__(self):
        return 1 << 30  # endless: the measurement decides when to stop

    def __getitem__(self, i):
        from PIL import Image

        with open(self.files[i % len(self.files)], "rb") as f:
            im = Image.open(io.BytesIO(f.read())).convert("RGB")
        return torch.stack([self.tf(im), self.tf(im)])


def torchvision_loader(a, device):
    def init(_):
        torch.set_num_threads(1)

    dl = torch.utils.data.DataLoader(Pairs(a.images, a.size), batch_size=a.batch, shuffle=False,
                                     num_workers=a.workers, pin_memory=device.type == "cuda",
                                     worker_init_fn=init, persistent_workers=a.workers > 0,
                                     prefetch_factor=4 if a.workers > 0 else None, drop_last=True)
    for v in dl:
        yield v.to(device, non_blocking=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loader", choices=["ours", "torchvision"], required=True)
    ap.add_argument("--data", help="shards for --loader ours")
    ap.add_argument("--images", help="folder of image files for --loader torchvision")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--model", choices=["resnet50", "resnet18"], default="resnet50")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--workers", type=int, default=15, help="DataLoader processes / contrastream view goroutines")
    ap.add_argument("--warmup", type=int, default=10, help="untimed steps")
    ap.add_argument("--steps", type=int, default=50, help="timed steps")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--binary", default=None)
    a = ap.parse_args()
    if (a.loader == "ours") != (a.data is not None) or (a.loader == "torchvision") != (a.images is not None):
        ap.error("--loader ours takes --data SHARDS; --loader torchvision takes --images DIR")
    device = torch.device(a.device)
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
    model = encoder(a.model, a.size).to(device).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9, weight_decay=1e-6)
    batches = ours(a, device) if a.loader == "ours" else torchvision_loader(a, device)
    sync = torch.cuda.synchronize if cuda else (lambda: None)

    wait = 0.0
    n = 0
    t0 = None
    for step in range(a.warmup + a.steps):
        if step == a.warmup:
            sync()
            t0, wait, n = time.perf_counter(), 0.0, 0
        tw = time.perf_counter()
        v = next(batches)
        x = v.flatten(0, 1).contiguous(memory_format=torch.channels_last)  # [B*V, C, H, W], pairs adjacent
        sync()  # the batch is in device memory
        wait += time.perf_counter() - tw
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            z = model(x)
        # views of one image are adjacent in x: reorder to [view 0 of all, view 1 of all]
        b = v.shape[0]
        z = z.view(b, 2, -1).transpose(0, 1).reshape(2 * b, -1)
        loss = nt_xent(z)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sync()
        n += b
    dt = time.perf_counter() - t0
    print("RESULT loader=%s model=%s size=%d batch=%d workers=%d device=%s pairs/s=%.1f wait=%.1f%% step_ms=%.1f"
          % (a.loader, a.model, a.size, a.batch, a.workers, device, n / dt, 100 * wait / dt, 1e3 * dt / a.steps))


if __name__ == "__main__":
    main()
