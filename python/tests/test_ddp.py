"""torchrun with 2 ranks (gloo, CPU) over the ViewLoader: disjoint ids that
cover the epoch, equal batch counts, and a rank killed after k batches and
restarted from its saved state_dict continuing bit-identically.

Debian's torchrun (torch 1.13) crashes on Python 3.11 with its default
arguments (AttributeError: 'NoneType' object has no attribute 'get');
``--redirects 2 --tee 2 --log_dir DIR`` avoids that, so the test uses them.
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

import _util  # noqa: F401
from _util import binary, sample_id, synth, wait_no_contrastream

N = 256  # rows: 128 per rank, 8 batches of 16 per epoch
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ddp_worker.py")


def torchrun(data, out, *extra):
    logs = tempfile.mkdtemp(dir=out)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "--redirects", "2", "--tee", "2", "--log_dir", logs,
           WORKER, "--data", data, "--binary", binary(), "--out", out] + list(extra)
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)


def load(out, rank, suffix=""):
    with open(os.path.join(out, "rank%d%s.json" % (rank, suffix))) as f:
        return json.load(f)


class TorchrunTest(unittest.TestCase):
    def test_two_ranks(self):
        data = synth("ddp%d" % N, N)
        full = tempfile.mkdtemp()
        p = torchrun(data, full)
        self.assertEqual(p.returncode, 0, p.stdout[-3000:])
        ranks = [load(full, r) for r in range(2)]
        cores = len(os.sched_getaffinity(0))
        for r in ranks:
            self.assertEqual(r["counts"], [16, 16], "batches per rank (2 epochs)")
            self.assertEqual(r["batches_per_epoch"], 8)
            self.assertEqual(r["gomaxprocs"], max(1, cores // 2), "GOMAXPROCS = cores / LOCAL_WORLD_SIZE")
        for epoch in range(2):
            keys = [set(), set()]
            for rank in range(2):
                recs = [x for x in ranks[rank]["records"] if x["epoch"] == epoch]
                self.assertEqual([x["index"] for x in recs], list(range(8)))
                for x in recs:
                    for i, (shard, row) in zip(x["ids"], x["keys"]):
                        self.assertEqual(i, sample_id(shard, row))
                        keys[rank].add((os.path.basename(shard), row))
            self.assertFalse(keys[0] & keys[1], "epoch %d: ranks share samples" % epoch)
            every = keys[0] | keys[1]
            self.assertEqual(len(every), N, "epoch %d: the ranks do not cover the epoch" % epoch)
            per_shard = {}
            for shard, row in every:
                per_shard.setdefault(shard, []).append(row)
            for shard, rows in per_shard.items():
                self.assertEqual(sorted(rows), list(range(len(rows))), shard)
        self.assertNotEqual(ranks[0]["records"][0]["sha"], ranks[0]["records"][8]["sha"])

        # Kill rank 0 after 3 batches (SIGKILL: no cleanup), then restart
        # both ranks from their saved loader states.
        cut = tempfile.mkdtemp()
        p = torchrun(data, cut, "--kill-after", "3")
        self.assertNotEqual(p.returncode, 0, "the killed run should fail")
        self.assertEqual(wait_no_contrastream(data), [], "contrastream processes outlived the killed job")
        p = torchrun(data, cut, "--resume")
        self.assertEqual(p.returncode, 0, p.stdout[-3000:])
        for rank in range(2):
            resumed = load(cut, rank, "-resumed")["records"]
            want = ranks[rank]["records"]
            done = len(want) - len(resumed)
            self.assertGreaterEqual(done, 3, "rank %d resumed from before its 3rd batch" % rank)
            self.assertLessEqual(done, 4)
            self.assertEqual([x["sha"] for x in resumed], [x["sha"] for x in want[done:]],
                             "rank %d: batches after the restart differ from the uninterrupted run" % rank)
            self.assertEqual([x["cursor"] for x in resumed], [x["cursor"] for x in want[done:]])
        self.assertEqual(wait_no_contrastream(data), [])


if __name__ == "__main__":
    unittest.main()
