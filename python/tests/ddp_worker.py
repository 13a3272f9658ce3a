"""One torchrun rank of test_ddp.py: a DDP-style loop (gloo, CPU) over the
ViewLoader that records every batch, saves the loader's state after each
step, and can kill itself after k batches or resume from the saved state."""

import argparse
import json
import os
import signal
import sys

import torch
import torch.distributed as dist

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from contrastream.torch import ViewLoader  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--kill-after", type=int, default=0, help="rank 0 SIGKILLs itself after this many batches")
    ap.add_argument("--resume", action="store_true")
    a = ap.parse_args()
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    loader = ViewLoader(a.data, size=12, batch_size=16, seed=3, shuffle_buffer=64, epochs=a.epochs, binary=a.binary)
    assert (loader.rank, loader.world_size) == (rank, world), "rank/world not taken from torchrun's environment"
    state_path = os.path.join(a.out, "state-rank%d.pt" % rank)
    start = 0
    if a.resume:
        state = torch.load(state_path)
        loader.load_state_dict(state)
        start = state["epoch"]
    records = []
    steps = 0
    for epoch in range(start, a.epochs):
        loader.set_epoch(epoch)
        for b in loader:
            v = b.views.permute(0, 1, 3, 4, 2).contiguous()
            records.append({
                "epoch": b.epoch, "index": b.index, "cursor": b.cursor,
                "sha": __import__("hashlib").sha256(v.numpy()).hexdigest(),
                "ids": [int(i) & (2**64 - 1) for i in b.ids], "keys": b.keys,
            })
            # a DDP step's collective: a rank with fewer batches would hang here
            t = torch.tensor([float(v.float().mean())])
            dist.all_reduce(t)
            steps += 1
            tmp = state_path + ".tmp"
            torch.save(loader.state_dict(), tmp)
            os.replace(tmp, state_path)
            if a.kill_after and rank == 0 and steps == a.kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
    counts = torch.tensor([float(len(records))])
    gathered = [torch.zeros(1) for _ in range(world)]
    dist.all_gather(gathered, counts)
    with open(os.path.join(a.out, "rank%d%s.json" % (rank, "-resumed" if a.resume else "")), "w") as f:
        json.dump({"rank": rank, "world": world, "records": records, "counts": [int(c) for c in gathered],
                   "batches_per_epoch": len(loader), "gomaxprocs": loader.gomaxprocs}, f)
    loader.close()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
