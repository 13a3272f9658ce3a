"""SimCLR in PyTorch, fed by contrastream: one `contrastream stream` per
torchrun rank makes the views; DDP trains (gloo on CPU, NCCL on GPUs).

    # CPU, 2 ranks (Debian's torchrun 1.13 needs --redirects/--tee/--log_dir on Python 3.11)
    torchrun --standalone --nproc_per_node 2 --redirects 2 --tee 2 --log_dir /tmp/tr \\
        python/examples/simclr_ddp.py --data shards/ --size 32 --batch 128 --epochs 10 --out run/
    # GPUs: one rank per GPU, views staged through pinned memory onto the device
    torchrun --nproc_per_node 8 python/examples/simclr_ddp.py --data 's3://bucket/shards/*.parquet' \\
        --size 224 --model resnet18 --batch 256 --optimizer lars --out run/
    # continue a stopped run bit-identically in its data (same world size):
    torchrun ... python/examples/simclr_ddp.py ... --out run/ --resume

The checkpoint (run/checkpoint.pt, written atomically by rank 0 every
--checkpoint-every steps and at each epoch's end) holds the model, the
optimizer, the step and every rank's loader state_dict, so a restart
continues with exactly the batches the stopped run would have seen next.
"""

import argparse
import math
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from contrastream.torch import ViewLoader  # noqa: E402


class Small(nn.Module):
    """4 × [conv3×3 → BN → ReLU → maxpool2] (32/64/128/256 ch), global average
    pool: the `small` encoder of contrastream's Go trainer and of
    shared/bench/train_step.py."""

    dim = 256

    def __init__(self):
        super().__init__()
        layers, c = [], 3
        for co in (32, 64, 128, 256):
            layers += [nn.Conv2d(c, co, 3, padding=1, bias=False), nn.BatchNorm2d(co), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            c = co
        self.features = nn.Sequential(*layers)

    def forward(self, x):
        return self.features(x).mean(dim=(2, 3))


def resnet18(size):
    """torchvision's ResNet-18 without its classifier; at 32/64 px with the
    CIFAR stem (3×3 conv, no max pool)."""
    import torchvision
    m = torchvision.models.resnet18()
    if size <= 64:
        m.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        m.maxpool = nn.Identity()
    m.fc = nn.Identity()
    m.dim = 512
    return m


class SimCLR(nn.Module):
    def __init__(self, encoder, proj=128):
        super().__init__()
        self.encoder = encoder
        d = encoder.dim
        self.head = nn.Sequential(nn.Linear(d, d, bias=False), nn.BatchNorm1d(d), nn.ReLU(inplace=True), nn.Linear(d, proj))

    def forward(self, x):
        return self.head(self.encoder(x))


def nt_xent(z, tau):
    """NT-Xent over z [2N, D] (rows i and i+N are the two views of image i):
    mean over the 2N anchors of −log softmax of the positive among the 2N−1
    others (cosine similarity / τ)."""
    n2 = z.shape[0]
    n = n2 // 2
    zn = F.normalize(z, dim=1)
    sim = (zn @ zn.t()) / tau
    sim = sim.masked_fill(torch.eye(n2, dtype=torch.bool, device=z.device), float("-inf"))
    target = torch.cat([torch.arange(n, n2), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, target)


class LARS(torch.optim.Optimizer):
    """SGD with momentum and layer-wise trust ratio (You et al. 2017), as
    SimCLR uses it: biases and batch-norm parameters (1-d) get neither weight
    decay nor the trust ratio."""

    def __init__(self, params, lr, momentum=0.9, weight_decay=1e-6, eta=1e-3):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, eta=eta))

    @torch.no_grad()
    def step(self):
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                d = p.grad
                if p.ndim > 1:
                    d = d.add(p, alpha=g["weight_decay"])
                    pn, dn = torch.norm(p), torch.norm(d)
                    trust = torch.where((pn > 0) & (dn > 0), g["eta"] * pn / dn, torch.ones_like(pn))
                    d = d.mul(trust)
                buf = self.state[p].setdefault("momentum", torch.zeros_like(p))
                buf.mul_(g["momentum"]).add_(d)
                p.add_(buf, alpha=-g["lr"])


def lr_at(step, total, warmup, peak):
    if step < warmup:
        return peak * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return peak * 0.5 * (1 + math.cos(math.pi * t))


def save_atomic(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="shards: glob, folder, list or bucket URL")
    ap.add_argument("--out", required=True, help="run folder (checkpoint.pt)")
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--batch", type=int, default=256, help="images per rank per step")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--model", choices=["small", "resnet18"], default="small")
    ap.add_argument("--optimizer", choices=["sgd", "lars"], default="sgd")
    ap.add_argument("--lr", type=float, default=0.3, help="peak lr for a global batch of 256 (scaled linearly)")
    ap.add_argument("--weight-decay", type=float, default=5e-4)
    ap.add_argument("--temperature", type=float, default=0.5)
    ap.add_argument("--warmup-epochs", type=float, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=None, help="contrastream's view goroutines (default GOMAXPROCS)")
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    ap.add_argument("--checkpoint-every", type=int, default=0, help="steps (0: each epoch's end)")
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps in all (0: no limit)")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--binary", default=None, help="the contrastream binary (default $CONTRASTREAM_BIN, then PATH)")
    a = ap.parse_args()

    use_cuda = (a.device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")
    dist.init_process_group("nccl" if use_cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    local = int(os.environ.get("LOCAL_RANK", 0))
    device = torch.device("cuda", local) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    else:
        # contrastream's child gets cores / LOCAL_WORLD_SIZE; leave the
        # trainer as many threads.
        torch.set_num_threads(max(1, (os.cpu_count() or 2) // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", 1)))))
    torch.manual_seed(a.seed)

    loader = ViewLoader(a.data, size=a.size, batch_size=a.batch, views=2, seed=a.seed, epochs=a.epochs,
                        device=device, normalize=True, workers=a.workers, binary=a.binary)
    enc = Small() if a.model == "small" else resnet18(a.size)
    model = SimCLR(enc).to(device)
    model = nn.SyncBatchNorm.convert_sync_batchnorm(model) if world > 1 and use_cuda else model
    ddp = DDP(model, device_ids=[local] if use_cuda else None)
    peak = a.lr * a.batch * world / 256
    decay, no_decay = [], []
    for p in model.parameters():
        (decay if p.ndim > 1 else no_decay).append(p)
    groups = [dict(params=decay, weight_decay=a.weight_decay), dict(params=no_decay, weight_decay=0.0)]
    opt = LARS(groups, lr=peak) if a.optimizer == "lars" else torch.optim.SGD(groups, lr=peak, momentum=0.9)

    steps_per_epoch = len(loader)  # the same on every rank
    total = steps_per_epoch * a.epochs
    warmup = int(a.warmup_epochs * steps_per_epoch)
    ckpt_path = os.path.join(a.out, "checkpoint.pt")
    step, start_epoch = 0, 0
    if a.resume:
        ck = torch.load(ckpt_path, map_location="cpu")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        step = ck["step"]
        if len(ck["loaders"]) != world:
            raise SystemExit("the checkpoint was saved with %d ranks, this job has %d" % (len(ck["loaders"]), world))
        loader.load_state_dict(ck["loaders"][rank])
        start_epoch = ck["loaders"][rank]["epoch"]
    os.makedirs(a.out, exist_ok=True)

    def checkpoint():
        states = [None] * world
        dist.all_gather_object(states, loader.state_dict())
        if rank == 0:
            save_atomic({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
                         "loaders": states, "args": vars(a)}, ckpt_path)

    t0, pairs = time.perf_counter(), 0
    for epoch in range(start_epoch, a.epochs):
        loader.set_epoch(epoch)
        for views, _, _ in loader:  # [B, 2, C, H, W] float32 on device, normalized
            for g in opt.param_groups:
                g["lr"] = lr_at(step, total, warmup, peak)
            x = torch.cat([views[:, 0], views[:, 1]]).contiguous(memory_format=torch.channels_last)
            loss = nt_xent(ddp(x), a.temperature)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            pairs += views.shape[0] * world
            if rank == 0 and step % 10 == 0:
                print("epoch %d step %d/%d loss %.4f lr %.4f %.0f pairs/s" % (
                    epoch, step, total, loss.item(), opt.param_groups[0]["lr"], pairs / (time.perf_counter() - t0)), flush=True)
            if a.checkpoint_every and step % a.checkpoint_every == 0:
                checkpoint()
            if a.max_steps and step >= a.max_steps:
                break
        checkpoint()
        if a.max_steps and step >= a.max_steps:
            break
    loader.close()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
