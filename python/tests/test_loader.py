"""Tests of the stream reader and of contrastream.torch.ViewLoader against
the Go side (the binary's own per-batch digests). Run with Debian's
interpreter, which has torch:

    CONTRASTREAM_BIN=/path/to/contrastream /usr/bin/python3 -m unittest discover -s python/tests -v
"""

import gc
import itertools
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

import _util  # noqa: F401  (puts the package on sys.path)
from _util import as_uint64, binary, go_stream, gone, sample_id, sha256, synth, views_sha256

import numpy as np
import torch

import contrastream
from contrastream import _arrow
from contrastream.torch import StreamError, ViewLoader, find_binary, shm_available

try:
    import pyarrow  # noqa: F401
    HAVE_PYARROW = True
except ImportError:
    HAVE_PYARROW = False

FLAGS = ("--size", 12, "--batch", 16, "--seed", 7, "--shuffle-buffer", 32)


def consume(ld, k, epochs):
    """Iterates ld through its epochs (set_epoch as a trainer calls it) and
    stops after the k-th batch, as a training loop killed there would."""
    seen = 0
    for e in range(epochs):
        ld.set_epoch(e)
        for _ in ld:
            seen += 1
            if seen == k:
                return


def loader(data, **kw):
    args = dict(size=12, batch_size=16, seed=7, shuffle_buffer=32, binary=binary())
    args.update(kw)
    return ViewLoader(data, **args)


class ReaderTest(unittest.TestCase):
    """The built-in Arrow IPC reader decodes what Go wrote."""

    def test_reader_matches_go(self):
        data = synth("r300", 300)
        path, digests = go_stream(data, *FLAGS, "--epochs", 2)
        with open(path, "rb", buffering=0) as f:
            r = contrastream.StreamReader(f)
            md = r.schema.metadata
            self.assertEqual(md["contrastream.format"], "1")
            self.assertEqual(md["contrastream.layout"], "BVHWC")
            self.assertEqual(md["contrastream.views"], "2")
            self.assertEqual(md["contrastream.seed"], "7")
            self.assertEqual(r.schema.names, ["views", "label", "id", "shard", "row", "epoch", "position"])
            views = r.schema.field("views")
            self.assertEqual(views.type, "FixedSizeList")
            self.assertEqual(views.list_size, 2 * 12 * 12 * 3)
            self.assertEqual(views.metadata["ARROW:extension:name"], "arrow.fixed_shape_tensor")
            self.assertTrue(r.schema.field("label").nullable)
            n = 0
            while True:
                b = r.next_batch()
                if b is None:
                    break
                d = digests[n]
                self.assertEqual(sha256(b["views"].values), d["pixels_sha256"], "batch %d pixels" % n)
                self.assertEqual([int(i) for i in b["id"].values], d["ids"])
                lab, valid = b["label"].masked()
                self.assertEqual([int(v) if ok else -1 for v, ok in zip(lab, valid)], d["labels"])
                shards, rows = b["shard"].strings(), b["row"].values
                self.assertEqual([sample_id(s, int(r)) for s, r in zip(shards, rows)], d["ids"])
                cur = "%d:%d" % (b["epoch"].values[0], b["position"].values[-1] + 1)
                self.assertEqual(cur, d["cursor"])
                # the pixels start the body, 8-byte aligned, as one buffer
                self.assertEqual(b["views"].values.ctypes.data, b.body.ctypes.data)
                n += 1
        self.assertEqual(n, len(digests))
        self.assertEqual(n, 2 * (300 // 16))

    def test_cut_or_bad_stream_raises(self):
        data = synth("r300", 300)
        path, _ = go_stream(data, *FLAGS)
        with open(path, "rb") as f:
            raw = f.read()
        cut = path + ".cut"
        with open(cut, "wb") as f:
            f.write(raw[: len(raw) // 2])
        with open(cut, "rb", buffering=0) as f:
            r = contrastream.StreamReader(f)
            with self.assertRaises(EOFError):
                while r.next_batch() is not None:
                    pass
        with open(cut, "wb") as f:
            f.write(b"PAR1" + raw[4:])
        with open(cut, "rb", buffering=0) as f, self.assertRaises(_arrow.ArrowFormatError):
            contrastream.StreamReader(f)

    @unittest.skipUnless(HAVE_PYARROW, "pyarrow is not installed")
    def test_pyarrow_reads_the_same(self):
        data = synth("r300", 300)
        a = [views_sha256(b.views) for b in loader(data, epochs=1)]
        b = [views_sha256(b.views) for b in loader(data, epochs=1, use_pyarrow=True)]
        self.assertEqual(a, b)


class LoaderTest(unittest.TestCase):
    def test_tensors_equal_go(self):
        """Loader tensors hold the pixels, labels, ids and cursors of Go's
        digests (made by another process, into a file, with another worker
        count). At 48 px a batch is 216 KiB, so the pipe gets the pixels by
        vmsplice: a buffer reused too early would show here."""
        data = synth("l250", 250)
        for size in (12, 48):
            flags = ("--size", size) + FLAGS[2:]
            _, digests = go_stream(data, *flags, "--epochs", 2, "--workers", 1)
            ld = loader(data, size=size, epochs=2, workers=3, prefetch=1)
            self.assertEqual(len(ld), 250 // 16)
            got = []
            for epoch in range(2):
                ld.set_epoch(epoch)
                for b in ld:
                    self.assertEqual(tuple(b.views.shape), (16, 2, 3, size, size))
                    self.assertEqual(b.views.dtype, torch.uint8)
                    # a view of the received [B,V,H,W,C] buffer, not a copy
                    self.assertTrue(b.views.permute(0, 1, 3, 4, 2).is_contiguous())
                    self.assertFalse(b.views.is_contiguous())
                    got.append(b)
                    time.sleep(0.002)  # a slow trainer: the child waits on the pipe
            self.assertEqual(len(got), len(digests))
            for b, d in zip(got, digests):
                self.assertEqual(views_sha256(b.views), d["pixels_sha256"], "size %d" % size)
                self.assertEqual([as_uint64(i) for i in b.ids], d["ids"])
                self.assertEqual(b.labels.tolist(), d["labels"])
                self.assertEqual(b.cursor, d["cursor"])
                self.assertEqual([sample_id(s, r) for s, r in b.keys], d["ids"])
            ld.close()

    def test_normalize_on_host(self):
        data = synth("l250", 250)
        ld = loader(data, epochs=1, normalize=True, child_normalize=False)
        b = next(iter(ld))
        self.assertEqual(b.views.dtype, torch.float32)
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 1, 3, 1, 1)
        want = (b.host_views.float() / 255 - mean) / std
        self.assertTrue(torch.allclose(b.views, want, atol=1e-5), (b.views - want).abs().max())
        ld.close()

    def test_normalized_batches_kept_are_never_overwritten(self):
        """Host normalization reuses its float32 outputs only once nothing
        references them: batches the trainer keeps stay as they were, and
        batches it drops are recycled."""
        data = synth("l250", 250)
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 1, 3, 1, 1)
        for transport in ("pipe", "shm"):
            kept, want = [], []
            for b in loader(data, epochs=1, normalize=True, child_normalize=False, transport=transport):
                kept.append(b.views)
                want.append(((b.host_views.float() / 255 - mean) / std).clone())
            self.assertEqual(len({v.data_ptr() for v in kept}), len(kept), transport)
            for k, (v, w) in enumerate(zip(kept, want)):
                self.assertTrue(torch.allclose(v, w, atol=1e-5), "%s batch %d changed after it was yielded" % (transport, k))
            ptrs = [b.views.data_ptr() for b in loader(data, epochs=1, normalize=True, child_normalize=False, transport=transport)]
            self.assertLess(len(set(ptrs)), len(ptrs) // 2, "%s: dropped batches' outputs are not reused" % transport)

    def test_resume_bit_identical(self):
        """state_dict is the cursor after the last *consumed* batch (not the
        buffered ones); a new loader continues bit-identically, mid-epoch and
        at an epoch's end."""
        data = synth("l250", 250)
        full = loader(data, epochs=2, prefetch=4)
        want = []
        for e in range(2):
            full.set_epoch(e)
            want += [(views_sha256(b.views), b.cursor) for b in full]
        full.close()
        bpe = 250 // 16
        for k in (3, bpe, bpe + 2):
            first = loader(data, epochs=2, prefetch=4)
            consume(first, k, epochs=2)
            time.sleep(0.2)  # let the reader thread buffer ahead
            state = first.state_dict()
            self.assertEqual(state["cursor"], want[k - 1][1], "k=%d: not the last consumed batch's cursor" % k)
            first.close()
            again = loader(data, epochs=2)
            again.load_state_dict(state)
            got = []
            for e in range(state["epoch"], 2):
                again.set_epoch(e)
                got += [(views_sha256(b.views), b.cursor) for b in again]
            again.close()
            self.assertEqual(got, want[k:], "resumed after %d batches" % k)

    def test_epochs_continue_without_set_epoch(self):
        data = synth("l250", 250)
        ld = loader(data, epochs=3)
        epochs = [[b.epoch for b in ld] for _ in range(3)]
        self.assertEqual([set(e) for e in epochs], [{0}, {1}, {2}])
        with self.assertRaisesRegex(ValueError, "epochs=3"):
            next(iter(ld))
        ld.close()

    def test_refuses_other_world_or_dataset(self):
        data = synth("l250", 250)
        ld = loader(data, epochs=1, rank=0, world_size=2)
        it = iter(ld)
        next(it)
        state = ld.state_dict()
        ld.close()
        with self.assertRaisesRegex(ValueError, "world size 2, this loader has 3"):
            loader(data, epochs=1, rank=0, world_size=3).load_state_dict(state)
        with self.assertRaisesRegex(ValueError, "seed 7, this loader has 8"):
            loader(data, epochs=1, rank=0, world_size=2, seed=8).load_state_dict(state)
        other = synth("l260", 260)
        with self.assertRaisesRegex(StreamError, "not the dataset the cursor was saved on"):
            loader(other, epochs=1, rank=0, world_size=2).load_state_dict(state)

    def test_ranks_disjoint_and_equal(self):
        data = synth("l250", 250)
        ids = []
        for r in range(3):
            ld = loader(data, epochs=1, rank=r, world_size=3)
            batches = list(ld)
            self.assertEqual(len(batches), (250 // 3) // 16)
            ids.append({as_uint64(i) for b in batches for i in b.ids})
            ld.close()
        self.assertFalse(ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])

    def test_socket_transport(self):
        data = synth("l250", 250)
        a = [views_sha256(b.views) for b in loader(data, epochs=1)]
        b = [views_sha256(b.views) for b in loader(data, epochs=1, transport="socket")]
        self.assertEqual(a, b)

    def test_child_failure_raises_its_message(self):
        with self.assertRaisesRegex(StreamError, "(?s)failed.*exit status 1.*no-such-folder"):
            len(loader("/nonexistent/no-such-folder/*.parquet", epochs=1))
        data = synth("l250", 250)
        with self.assertRaisesRegex(StreamError, "flag provided but not defined: -bogus"):
            len(loader(data, extra_args=["--bogus"]))
        with self.assertRaisesRegex(StreamError, "make no batch of 4096"):
            len(loader(data, batch_size=4096))
        with self.assertRaisesRegex(ValueError, "rank 2 is outside world size 2"):
            loader(data, rank=2, world_size=2)

    def test_binary_lookup(self):
        old = dict(os.environ)
        try:
            os.environ["CONTRASTREAM_BIN"] = binary()
            self.assertEqual(find_binary(), binary())
            os.environ["CONTRASTREAM_BIN"] = "/nonexistent/contrastream"
            with self.assertRaisesRegex(FileNotFoundError, "CONTRASTREAM_BIN"):
                find_binary()
            del os.environ["CONTRASTREAM_BIN"]
            d = tempfile.mkdtemp()
            os.symlink(binary(), os.path.join(d, "contrastream"))
            os.environ["PATH"] = d
            self.assertEqual(find_binary(), os.path.join(d, "contrastream"))
            os.environ["PATH"] = "/nonexistent"
            with self.assertRaisesRegex(FileNotFoundError, "binary="):
                find_binary()
        finally:
            os.environ.clear()
            os.environ.update(old)

    def test_gomaxprocs_per_local_rank(self):
        old = dict(os.environ)
        try:
            os.environ.pop("GOMAXPROCS", None)
            os.environ["LOCAL_WORLD_SIZE"] = "2"
            cores = len(os.sched_getaffinity(0))
            self.assertEqual(loader("x").gomaxprocs, max(1, cores // 2))
            os.environ["GOMAXPROCS"] = "5"
            self.assertEqual(loader("x").gomaxprocs, 5)
            self.assertEqual(loader("x", gomaxprocs=3).gomaxprocs, 3)
            os.environ["RANK"], os.environ["WORLD_SIZE"] = "1", "4"
            ld = loader("x")
            self.assertEqual((ld.rank, ld.world_size), (1, 4))
        finally:
            os.environ.clear()
            os.environ.update(old)


@unittest.skipUnless(shm_available(), "no memfd here (the shm transport is Linux-only)")
class ShmTest(unittest.TestCase):
    """transport="shm": the pixels in a shared-memory ring, the same batches."""

    def batches(self, ld, epochs=(0,), slow=0.0):
        """(pixels sha256, ids, labels, cursor) of every batch, hashed after
        the trainer's `slow` seconds of work: a slot handed back too early
        would show as other pixels."""
        out = []
        for e in epochs:
            ld.set_epoch(e)
            for b in ld:
                if slow:
                    time.sleep(slow)
                out.append((views_sha256(b.views), [as_uint64(i) for i in b.ids], b.labels.tolist(), b.cursor))
        return out

    def test_same_batches_as_pipe_and_go(self):
        data = synth("l250", 250)
        for size in (12, 48):
            flags = ("--size", size) + FLAGS[2:]
            _, digests = go_stream(data, *flags, "--epochs", 2, "--workers", 1)
            want = [(d["pixels_sha256"], d["ids"], d["labels"], d["cursor"]) for d in digests]
            pipe = loader(data, size=size, epochs=2, transport="pipe")
            self.assertEqual(self.batches(pipe, (0, 1)), want)
            pipe.close()
            ld = loader(data, size=size, epochs=2, workers=3, prefetch=1, transport="shm")
            self.assertEqual(ld.transport, "shm")
            self.assertEqual(ld.metadata["transport"], "shm")
            self.assertEqual(self.batches(ld, (0, 1), slow=0.003), want, "size %d" % size)
            ld.close()

    def in_ring(self, ld, t):
        ring = ld._child.ring
        return 0 <= t.data_ptr() - ring.ctypes.data < len(ring)

    def test_kept_views_never_change(self):
        """A yielded batch views the shared ring (no copy), and its slot goes
        back to the child only once nothing made from it is alive: tensors
        kept across many later batches (the batch, a view of one view, a
        numpy array of it) keep their pixels while the child runs ahead and
        reuses every other slot."""
        data = synth("l250", 250)
        for normalize in (False, True):  # uint8 slots; float32 written by the child
            ld = loader(data, epochs=1, transport="shm", prefetch=3, normalize=normalize)
            self.assertEqual(ld.child_normalize, normalize)
            it = iter(ld)
            b = next(it)
            flat = b.views.permute(0, 1, 3, 4, 2) if not normalize else b.views
            self.assertTrue(flat.is_contiguous())
            self.assertTrue(self.in_ring(ld, flat), "the views are not in the ring")
            first = views_sha256(b.views)
            part = b.views[3, 1]  # a view of the slot
            part_sum = float(part.double().sum())
            arr = b.views[5].numpy()  # a numpy view of the slot
            arr_copy = arr.copy()
            slot = (flat.data_ptr() - ld._child.ring.ctypes.data) // ld._child.slot_bytes
            self.assertIn(slot, ld._child.lent)
            del b, flat
            for later in itertools.islice(it, 12):  # every other slot is used and given back
                time.sleep(0.02)
                self.assertIn(slot, ld._child.lent, "a slot went back while a view of it is alive")
                self.assertEqual(float(part.double().sum()), part_sum)
                np.testing.assert_array_equal(arr, arr_copy)
            del later
            del part
            self.assertIn(slot, ld._child.lent, "arr still views the slot")
            del arr
            self.assertNotIn(slot, ld._child.lent, "the slot did not go back once nothing viewed it")
            ld.close()
        self.assertTrue(first)

    def test_kept_batches_past_the_lend_are_copies(self):
        """A trainer that keeps every batch: the first LEND stay in the ring,
        the rest are copies, every one keeps its pixels, and the child is
        never starved (the epoch completes with the same batches as the
        pipe's)."""
        from contrastream.torch import LEND
        data = synth("l250", 250)
        pipe = loader(data, epochs=1, transport="pipe")
        want = [views_sha256(b.views) for b in pipe]
        pipe.close()
        ld = loader(data, epochs=1, transport="shm")
        kept = list(ld)
        self.assertEqual([self.in_ring(ld, b.host_views) for b in kept],
                         [True] * LEND + [False] * (len(kept) - LEND))
        self.assertEqual([views_sha256(b.views) for b in kept], want)
        ld.close()

    def test_normalized_same_as_pipe(self):
        data = synth("l250", 250)
        ld = loader(data, epochs=1, normalize=True, child_normalize=False)
        self.assertEqual(ld.transport, "shm", "normalized host batches default to shm")
        pipe = loader(data, epochs=1, normalize=True, transport="pipe")
        for a, b in zip(ld, pipe):
            self.assertTrue(torch.equal(a.views, b.views))
            self.assertTrue(torch.equal(a.host_views, b.host_views))
        self.assertEqual(loader(data, epochs=1).transport, "shm", "raw uint8 batches default to shm too")
        self.assertTrue(loader(data, epochs=1, normalize=True, mean=(0.5, 0.5, 0.5)).child_normalize)
        self.assertFalse(loader(data, epochs=1, normalize=True, mean=(0.5, 0.5)).child_normalize)
        ld.close()
        pipe.close()

    def test_resume_same_as_pipe(self):
        data = synth("l250", 250)
        full = loader(data, epochs=2, transport="pipe")
        want = self.batches(full, (0, 1))
        full.close()
        bpe = 250 // 16
        for k in (3, bpe + 2):
            first = loader(data, epochs=2, prefetch=4, transport="shm")
            consume(first, k, epochs=2)
            time.sleep(0.2)
            state = first.state_dict()
            self.assertEqual(state["cursor"], want[k - 1][3])
            first.close()
            again = loader(data, epochs=2, transport="shm")
            again.load_state_dict(state)
            got = self.batches(again, range(state["epoch"], 2))
            again.close()
            self.assertEqual(got, want[k:], "resumed after %d batches" % k)

    def test_child_normalize(self):
        """child_normalize: the child writes normalized float32 [B,V,C,H,W]
        into the slots; the values are the host normalization's (to float32
        rounding: Go divides, numpy multiplies by reciprocals), the batches
        the same."""
        data = synth("l250", 250)
        ld = loader(data, epochs=1, transport="shm", normalize=True, child_normalize=True)
        pipe = loader(data, epochs=1, transport="pipe", normalize=True)
        n = 0
        for a, b in zip(ld, pipe):
            self.assertEqual(a.views.dtype, torch.float32)
            self.assertEqual(tuple(a.views.shape), (16, 2, 3, 12, 12))
            self.assertTrue(a.views.is_contiguous())
            self.assertTrue(torch.allclose(a.views, b.views, atol=2e-6, rtol=0), (a.views - b.views).abs().max())
            self.assertTrue(torch.equal(a.ids, b.ids) and torch.equal(a.labels, b.labels) and a.cursor == b.cursor)
            n += 1
        self.assertEqual(n, 250 // 16)
        self.assertEqual(ld.metadata["dtype"], "float32")
        ld.close()
        pipe.close()
        with self.assertRaisesRegex(ValueError, "child_normalize=True needs transport='shm'"):
            loader(data, transport="pipe", normalize=True, child_normalize=True)
        with self.assertRaisesRegex(ValueError, r"mean and std need 3 values each, or 1 with channels=1 \(and std > 0\), "
                                                r"not \(0.5, 0.5\)"):
            loader(data, transport="shm", normalize=True, child_normalize=True, mean=(0.5, 0.5))
        with self.assertRaisesRegex(ValueError, "and std > 0"):
            loader(data, transport="shm", normalize=True, child_normalize=True, std=(0.5, 0, 0.5))

    def test_child_normalize_with_other_stats(self):
        """Any mean/std go to the child (--mean/--std): its float32 views equal
        the host normalization's with the same statistics, for colour and
        for gray views (one value each)."""
        data = synth("l250", 250)
        for channels, mean, std in ((3, (0.5, 0.25, 0.125), (0.3, 0.6, 0.9)), (1, (0.5,), (0.25,))):
            ld = loader(data, epochs=1, normalize=True, channels=channels, mean=mean, std=std)
            self.assertTrue(ld.child_normalize)
            self.assertEqual(ld.metadata["mean"].split(",")[0], repr(mean[0]))
            host = loader(data, epochs=1, normalize=True, channels=channels, mean=mean, std=std, child_normalize=False)
            n = 0
            for a, b in zip(ld, host):
                self.assertEqual(tuple(a.views.shape), (16, 2, channels, 12, 12))
                self.assertTrue(torch.allclose(a.views, b.views, atol=4e-6, rtol=0), (a.views - b.views).abs().max())
                n += 1
            self.assertEqual(n, 250 // 16)
            ld.close()
            host.close()

    def test_refusals(self):
        data = synth("l250", 250)
        with self.assertRaisesRegex(ValueError, "not with use_pyarrow"):
            loader(data, transport="shm", use_pyarrow=True)
        with self.assertRaisesRegex(ValueError, "want 'pipe', 'shm' or 'socket'"):
            loader(data, transport="carrier-pigeon")
        with self.assertRaisesRegex(StreamError, "--shm-fd 1 is stdin, stdout or stderr"):
            len(loader(data, transport="pipe", extra_args=["--shm-fd", "1"]))


def memfd_holders(name):
    """Processes that hold or map the memfd called name (/proc/PID/fd, maps)."""
    out = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            for fd in os.listdir("/proc/%s/fd" % d):
                try:
                    if os.readlink("/proc/%s/fd/%s" % (d, fd)).startswith(name + " "):
                        out.add(int(d))
                except OSError:
                    pass
            with open("/proc/%s/maps" % d) as f:
                if (name + " ") in f.read():
                    out.add(int(d))
        except OSError:
            continue
    return out


SCRIPT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, %(pkg)r)
    from contrastream.torch import ViewLoader
    ld = ViewLoader(%(data)r, size=12, batch_size=16, binary=%(bin)r, transport=%(transport)r)
    for i, b in enumerate(ld):
        if i == 0:
            print(ld.pid, getattr(ld._child, "shm_name", ""), flush=True)
        time.sleep(0.05)
    time.sleep(60)
""")


class HygieneTest(unittest.TestCase):
    """The child never outlives its reader."""

    def spawn(self, transport="pipe"):
        data = synth("h300", 300)
        pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        p = subprocess.Popen([sys.executable, "-c", SCRIPT % dict(pkg=pkg, data=data, bin=binary(), transport=transport)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        if not line.strip():
            p.kill()
            self.fail("script failed: " + p.stderr.read())
        if transport == "shm":
            pid, name = line.split()
            return p, int(pid), name
        return p, int(line)

    @unittest.skipUnless(shm_available(), "no memfd here")
    def test_killed_parent_leaves_no_child_and_no_memfd(self):
        """shm: the memfd is held by the parent and the child only; killing
        the parent stops the child, and then nothing holds or maps it (the
        kernel frees it)."""
        p, child, name = self.spawn("shm")
        self.assertTrue(name.startswith("memfd:contrastream-%d-" % p.pid), name)
        self.assertEqual(memfd_holders(name), {p.pid, child}, "the memfd should be the parent's and the child's")
        os.kill(p.pid, signal.SIGKILL)
        p.communicate()
        self.assertTrue(gone(child), "contrastream %d outlived its killed parent" % child)
        deadline = time.monotonic() + 10
        while memfd_holders(name) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(memfd_holders(name), set(), "%s outlived both processes" % name)

    def test_killed_parent_leaves_no_child(self):
        p, child = self.spawn()
        self.assertFalse(gone(child, 0.1))
        os.kill(p.pid, signal.SIGKILL)
        p.communicate()
        self.assertTrue(gone(child), "contrastream %d outlived its killed parent" % child)

    def test_ctrl_c_stops_child(self):
        p, child = self.spawn()
        os.kill(p.pid, signal.SIGINT)
        p.communicate(timeout=20)
        self.assertTrue(gone(child), "contrastream %d outlived Ctrl-C" % child)

    def test_gc_and_close_stop_child(self):
        data = synth("h300", 300)
        ld = loader(data)
        it = iter(ld)
        next(it)
        pid = ld.pid
        del it, ld
        gc.collect()
        self.assertTrue(gone(pid), "contrastream %d outlived its garbage-collected loader" % pid)
        ld = loader(data)
        next(iter(ld))
        pid = ld.pid
        ld.close()
        self.assertTrue(gone(pid, 1))
        self.assertIsNone(ld.pid)


if __name__ == "__main__":
    unittest.main()
