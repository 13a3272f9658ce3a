"""PyTorch loader: runs ``contrastream stream`` for this rank and yields torch
tensors of SimCLR views.

    from contrastream.torch import ViewLoader

    loader = ViewLoader("shards/", size=96, batch_size=256, seed=0)
    for epoch in range(epochs):
        loader.set_epoch(epoch)
        for views, labels, ids in loader:      # views: uint8 [B, V, C, H, W]
            ...
        torch.save({"model": model.state_dict(), "data": loader.state_dict()}, path)

See ``ViewLoader`` for the settings, resume and the GPU path.
"""

import collections
import itertools
import math
import mmap
import os
import queue
import shutil
import signal
import socket as _socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import weakref

import numpy as np
import torch

from . import _arrow

FORMAT_VERSION = 1
STATE_VERSION = 1
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_COLUMNS = ("views", "label", "id", "shard", "row", "epoch", "position")
_SHM_SEQ = itertools.count()
# shm: slots the child itself needs (one being filled, one being sent); the
# rest of the ring is what this side holds (see ring_slots).
CHILD_SLOTS = 2
# shm: batches the trainer may keep alive (views, host_views or anything made
# from them that shares their memory) while the next one is made; past that,
# batches are copied out of the ring so the child never waits for a slot.
LEND = 3


def ring_slots(prefetch):
    """The shm ring's slots for a reader that reads prefetch batches ahead:
    the child's own, the prefetch queue, the one the reader thread waits to
    queue, and the LEND the trainer may keep alive (8 for prefetch 2: at
    224 px, batch 256, float32, 308 MB each)."""
    return CHILD_SLOTS + prefetch + 1 + LEND


def shm_available():
    """Whether transport="shm" can work here (Linux: os.memfd_create)."""
    return hasattr(os, "memfd_create") and sys.platform.startswith("linux")


class StreamError(RuntimeError):
    """The ``contrastream stream`` child failed; the message carries its own
    (its last lines on stderr) and its exit status."""


class Batch:
    """One batch of views.

    views   torch tensor [B, V, C, H, W]: uint8 viewing the received buffer
            (channels-last memory, no copy; with transport="shm" the ring
            slot, which the child reuses only once nothing made from the
            batch is alive), or normalized float32 with ``normalize=True``
            (on ``device``; on the host with shm, written by the child into
            the slot, contiguous).
    labels  int64 tensor [B]; -1 where the shard has no label (null).
    ids     int64 tensor [B]: the stable sample ids (uint64 bits as int64).
    epoch   the epoch of the batch; index its place in the epoch (0-based).
    cursor  "epoch:position" after the batch: where a restart continues.
    repeat  True for a batch repeated to pad an epoch that came up short
            (bad records were skipped), so every rank sees as many batches.

    Unpacks as ``views, labels, ids``; ``keys`` gives (shard, row) pairs.
    """

    __slots__ = ("views", "labels", "ids", "epoch", "index", "cursor", "repeat", "_keys", "_host")

    def __init__(self, views, labels, ids, epoch, index, cursor, keys, repeat=False, host=None):
        self.views, self.labels, self.ids = views, labels, ids
        self.epoch, self.index, self.cursor, self.repeat = epoch, index, cursor, repeat
        self._keys = keys
        self._host = host

    def __iter__(self):
        return iter((self.views, self.labels, self.ids))

    def __len__(self):
        return int(self.ids.shape[0])

    @property
    def keys(self):
        """[(shard path, row)] per sample."""
        k = self._keys
        if callable(k):
            self._keys = k = k()
        return k

    @property
    def host_views(self):
        """The uint8 [B, V, C, H, W] views as received (on the host; with a
        GPU device its pinned buffer is reused a few batches later; with
        transport="shm" it is the ring slot, reused only once nothing made
        from this batch is alive). None when the child normalized the views
        (child_normalize)."""
        return self._host


def find_binary(binary=None):
    """The contrastream executable: binary, else $CONTRASTREAM_BIN, else
    ``contrastream`` on PATH."""
    for cand, where in ((binary, "binary="), (os.environ.get("CONTRASTREAM_BIN"), "$CONTRASTREAM_BIN")):
        if cand:
            path = cand if os.sep in cand else shutil.which(cand)
            if not path or not os.path.isfile(path) or not os.access(path, os.X_OK):
                raise FileNotFoundError("contrastream: %s %r is not an executable file" % (where, cand))
            return path
    path = shutil.which("contrastream")
    if not path:
        raise FileNotFoundError(
            "contrastream: no `contrastream` binary: pass binary=, set $CONTRASTREAM_BIN, or put it on PATH "
            "(go install github.com/contrastream/contrastream/cmd/contrastream@latest)")
    return path


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _parse_cursor(s):
    e, _, p = str(s).partition(":")
    try:
        e, p = int(e), int(p)
    except ValueError:
        raise ValueError("contrastream: cursor %r: want epoch:position" % (s,)) from None
    if e < 0 or p < 0:
        raise ValueError("contrastream: cursor %r: want non-negative epoch:position" % (s,))
    return e, p


def _kill(proc, streams):
    """Stop the child (close(), garbage collection, interpreter exit)."""
    if proc.poll() is None:
        try:
            proc.terminate()
        except OSError:
            pass
    for s in streams:
        try:
            s.close()
        except OSError:
            pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stderr is not None:
        try:
            proc.stderr.close()
        except OSError:
            pass


def _give_back(returns, lent, slot):
    """Write shm slot's index on the child's return channel (from any thread:
    4 bytes to a pipe are one atomic write)."""
    if lent is not None:
        lent.discard(slot)
    try:
        returns.write(struct.pack("<I", slot))
    except (OSError, ValueError):  # the child is gone: its error surfaces on the stream
        pass


class _Child:
    """One ``contrastream stream`` process and the thread that reads it."""

    def __init__(self, argv, env, prefetch, alloc, transport, echo_stderr, use_pyarrow, shm_slots=None):
        self.argv = argv
        self.tail = collections.deque(maxlen=40)
        self.sockdir = None
        self.ring = None  # shm: the shared pixel ring (numpy uint8), once mapped
        self.slot_bytes = 0
        self.lent = set()  # shm: slots whose batch the trainer may still hold
        shm_fd = None
        stdin, pass_fds = subprocess.DEVNULL, ()
        if transport == "socket":
            self.sockdir = tempfile.mkdtemp(prefix="contrastream-")
            path = os.path.join(self.sockdir, "stream.sock")
            argv = argv + ["--socket", path]
        elif transport == "shm":
            if not shm_available():
                raise OSError("contrastream: transport='shm' needs Linux and os.memfd_create (Python 3.8+); use 'pipe'")
            # The memfd lives while a process holds it or maps it: it goes
            # with this process and the child, whatever way they end.
            name = "contrastream-%d-%d" % (os.getpid(), next(_SHM_SEQ))
            shm_fd = os.memfd_create(name, os.MFD_CLOEXEC)
            self.shm_name = "memfd:" + name  # as /proc/PID/fd and /proc/PID/maps show it
            argv = argv + ["--shm-fd", str(shm_fd), "--shm-slots", str(int(shm_slots))]
            stdin, pass_fds = subprocess.PIPE, (shm_fd,)
        elif transport != "pipe":
            raise ValueError("contrastream: transport %r: want 'pipe', 'shm' or 'socket'" % (transport,))
        self.argv = argv
        try:
            self.proc = subprocess.Popen(
                argv, stdin=stdin, stdout=subprocess.PIPE if transport != "socket" else subprocess.DEVNULL,
                stderr=subprocess.PIPE, bufsize=0, env=env, close_fds=True, pass_fds=pass_fds)
        except BaseException:
            if shm_fd is not None:
                os.close(shm_fd)
            raise
        self._echo = echo_stderr
        self._err_thread = threading.Thread(target=self._drain_stderr, name="contrastream-stderr", daemon=True)
        self._err_thread.start()
        self.stream = self.proc.stdout
        # The child's stdin is the shm return channel: closing it (here, or
        # by the kernel when this process dies) stops the child.
        self._returns = self.proc.stdin
        self._streams = [s for s in (self.proc.stdout, self.proc.stdin) if s is not None]
        self._finalizer = weakref.finalize(self, _kill, self.proc, self._streams)
        if transport in ("pipe", "shm"):
            try:  # a larger pipe: fewer wake-ups per batch (Linux)
                import fcntl
                fcntl.fcntl(self.stream.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
            except (ImportError, OSError):
                pass
        else:
            self.stream = self._connect(path)
        self.queue = queue.Queue(maxsize=max(1, prefetch))
        self._stop = threading.Event()
        try:
            try:
                self.reader = _make_reader(self.stream, None if shm_fd is not None else alloc, use_pyarrow)
            except (EOFError, OSError, _arrow.ArrowFormatError) as e:
                err = self.error("before sending its schema", e)
                self.close()
                raise err from None
            self.meta = {k[len("contrastream."):]: v for k, v in self.reader.schema.metadata.items()
                         if k.startswith("contrastream.")}
            if shm_fd is not None:
                self._map(shm_fd)
        finally:
            if shm_fd is not None:
                os.close(shm_fd)  # the mapping keeps the memory
        self._thread = threading.Thread(target=self._read, name="contrastream-reader", daemon=True)
        self._thread.start()

    def _map(self, fd):
        m = self.meta
        if m.get("transport") != "shm":
            self.close()
            raise StreamError("contrastream: asked for the shm transport, the stream says transport %r: "
                              "use matching versions of the binary and the Python package" % (m.get("transport"),))
        slots, self.slot_bytes = int(m["shm_slots"]), int(m["shm_slot_bytes"])
        size = os.fstat(fd).st_size
        if size < slots * self.slot_bytes:
            self.close()
            raise StreamError("contrastream: the shared memory holds %d bytes, the stream says %d slots of %d"
                              % (size, slots, self.slot_bytes))
        # Mapped writable: the yielded tensors are then writable too (no
        # warning from torch.from_numpy), and the slot is the trainer's
        # until it is handed back.
        self.ring = np.frombuffer(mmap.mmap(fd, slots * self.slot_bytes, mmap.MAP_SHARED), dtype=np.uint8)

    def release(self, slot):
        """Hand shm slot back to the child (it may then write a new batch there)."""
        _give_back(self._returns, None, slot)

    def lend(self, slot, arr):
        """Lend shm slot to the trainer as arr (the array the yielded tensors
        were made from: each of them, and every view of those, keeps it
        alive). The slot goes back to the child when arr is garbage-collected,
        never earlier. (The finalizer holds the return pipe, not self: a kept
        batch does not keep this object alive.)"""
        self.lent.add(slot)
        f = weakref.finalize(arr, _give_back, self._returns, self.lent, slot)
        f.atexit = False  # at exit the child goes anyway

    def _connect(self, path):
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise self.error("before listening on its socket")
            if os.path.exists(path):
                s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
                try:
                    s.connect(path)
                    f = s.makefile("rb", buffering=0)
                    self._streams += [f, s]
                    return f
                except OSError:
                    s.close()
            if time.monotonic() > deadline:
                raise StreamError("contrastream stream did not listen on %s within 60 s" % path)
            time.sleep(0.01)

    def _drain_stderr(self):
        for line in iter(self.proc.stderr.readline, b""):
            text = line.decode("utf-8", "replace").rstrip("\n")
            self.tail.append(text)
            if self._echo:
                print(text, file=sys.stderr)

    def error(self, when, cause=None):
        """A StreamError with the child's exit status and last stderr lines."""
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            rc = None
        if rc is not None:
            self._err_thread.join(timeout=5)
        msg = "\n".join(self.tail).strip()
        status = "still running" if rc is None else ("exit status %d" % rc if rc >= 0 else "killed by signal %d" % -rc)
        text = "contrastream stream failed %s (%s)" % (when, status)
        if msg:
            text += ":\n" + msg
        elif cause is not None:
            text += ": %s" % cause
        text += "\n  command: " + " ".join(self.argv)
        return StreamError(text)

    def _read(self):
        q = self.queue
        try:
            while not self._stop.is_set():
                rb = self.reader.next_batch()
                if rb is None:
                    rc = self.proc.wait()
                    q.put(self.error("at the end of its stream") if rc != 0 else None)
                    return
                while not self._stop.is_set():
                    try:
                        q.put(rb, timeout=0.2)
                        break
                    except queue.Full:
                        continue
        except BaseException as e:  # a cut stream: the child failed or was stopped
            if self._stop.is_set():
                return
            if isinstance(e, (EOFError, OSError, ValueError)):
                q.put(self.error("while streaming", e))
            else:
                q.put(e)

    def get(self):
        """The next record batch, None at the end of the stream; raises the
        child's failure."""
        while True:
            try:
                item = self.queue.get(timeout=0.5)
                break
            except queue.Empty:
                if not self._thread.is_alive() and self.queue.empty():
                    raise self.error("while streaming")
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self):
        if hasattr(self, "_stop"):
            self._stop.set()
        self._finalizer()
        if hasattr(self, "_thread"):
            self._thread.join(timeout=5)
        if self.sockdir:
            shutil.rmtree(self.sockdir, ignore_errors=True)

    @property
    def pid(self):
        return self.proc.pid


def _make_reader(stream, alloc, use_pyarrow):
    if use_pyarrow:
        return _PyArrowReader(stream)
    return _arrow.StreamReader(stream, alloc)


class _PyArrowReader:
    """The interface of _arrow.StreamReader on pyarrow.ipc (optional path)."""

    def __init__(self, stream):
        import pyarrow.ipc
        self._r = pyarrow.ipc.open_stream(stream)
        sch = self._r.schema
        md = {k.decode(): v.decode() for k, v in (sch.metadata or {}).items()}
        self.schema = _arrow.Schema([], md)
        self.schema.names = sch.names

    def next_batch(self):
        try:
            b = self._r.read_next_batch()
        except StopIteration:
            return None
        cols = {}
        for name in _COLUMNS:
            arr = b.column(name)
            col = _arrow.Column(None, len(arr), arr.null_count)
            if name == "views":
                storage = getattr(arr, "storage", arr)
                vals = storage.values  # offset-adjusted child array
                col.values = np.frombuffer(vals.buffers()[1], dtype=np.uint8)[vals.offset:vals.offset + len(vals)]
            elif name == "shard":
                col._strings = arr.to_pylist()
            elif arr.null_count:
                col.validity = np.asarray(arr.is_valid())
                col.values = arr.fill_null(0).to_numpy()
            else:
                col.values = arr.to_numpy()
            cols[name] = col
        return _arrow.RecordBatch(b.num_rows, cols, None, 0)


def _strings(col):
    s = getattr(col, "_strings", None)
    return s if s is not None else col.strings()


class ViewLoader:
    """Iterable of SimCLR view batches made by a ``contrastream stream`` child.

    Each iteration yields one epoch of ``Batch`` (``views, labels, ids``):
    views are uint8 [B, V, C, H, W] viewing the received buffer (no copy;
    memory is channels-last), or normalized float32 with ``normalize=True``.

    data          shards: a glob, a folder, a comma-separated list, or a URL.
    size, views, batch_size, seed, recipe, min_scale, color_strength, blur,
    shuffle_buffer, channels   as ``contrastream stream`` has them.
    rank, world_size   default from $RANK and $WORLD_SIZE (torchrun), else 0, 1.
                  Every rank yields the same number of batches per epoch
                  (len(loader)); ranks' samples are disjoint.
    epochs        epochs the child makes (None: until stopped).
    device        None/"cpu": host tensors. "cuda[:i]" (or a torch.device):
                  each body is read into pinned host memory (a ring of
                  buffers), copied with non_blocking=True on a side stream
                  while the trainer works on the previous batch, and
                  converted to normalized float on the device in one fused
                  op; the trainer's stream waits for exactly its batch.
    normalize     convert to float32, (x/255 - mean)/std per channel
                  (default: True on a GPU, False on the host).
    workers       the child's goroutines for decode and for views (default:
                  GOMAXPROCS). gomaxprocs: the child's GOMAXPROCS (default:
                  $GOMAXPROCS, else the node's cores / $LOCAL_WORLD_SIZE).
    binary        the contrastream executable (default $CONTRASTREAM_BIN,
                  else PATH).
    prefetch      batches read ahead of the trainer (default 2).
    transport     how the pixels come: "pipe" (in the Arrow IPC stream on
                  the child's stdout; every batch gets its own buffer),
                  "shm" (Linux: in a shared-memory ring, a memfd this
                  process makes and the child writes the views into; the
                  stream on stdout carries the rest, slots go back on the
                  child's stdin; no copy at all: at 96 px the reader's
                  CPU falls from ~13% of a core to ~1.6%) or
                  "socket" (the stream on a Unix socket in a private
                  temporary folder). Default: "shm" for host tensors where
                  memfd exists, else "pipe".
                  Ownership with "shm": a batch's views (uint8, or float32
                  written by the child) and host_views *are* its ring slot.
                  The slot goes back to the child only when nothing made
                  from them is alive any more (the batch, its tensors and
                  their views garbage-collected), so a kept tensor never
                  changes. While the trainer keeps 3 batches alive, the
                  next ones are copied out of the ring instead (slower, but
                  the child never waits). The ring holds prefetch + 6
                  batches (2 the child's: one being filled, one being
                  sent). With a GPU, "shm" copies each batch from the ring
                  (pageable memory) and waits for that copy; "pipe" reads
                  into pinned buffers and overlaps the copies.
    child_normalize  normalize in the child (``stream --float32``): with
                  transport="shm", normalize=True and host tensors, the
                  child writes the views normalized, float32 [B,V,C,H,W]
                  (contiguous), into the ring slots, so nothing is
                  converted here; host_views is then None. Default (None):
                  on wherever it can be (shm, normalize on the host; any
                  mean/std, passed as --mean/--std). Values are torchvision's
                  ToTensor+Normalize bit for bit; the host normalization
                  (child_normalize=False) multiplies by reciprocals and is
                  within 2e-6 of them. 96 px on 2 cores: 10,436 pairs/s
                  against 7,542 with the host normalization.
    use_pyarrow   read with pyarrow.ipc instead of the built-in reader.
    echo_stderr   copy the child's stderr to ours (default: keep its last
                  lines for error messages).
    extra_args    more ``contrastream stream`` flags (strings).

    ``set_epoch(e)`` picks the epoch the next iteration yields (as
    DistributedSampler's); without it each iteration continues with the next
    epoch, and an interrupted one (a break, a resume) is continued.
    ``state_dict()`` is the cursor after the last batch you *consumed* (the
    last one the iterator returned), with the seed, world size and dataset
    fingerprint; ``load_state_dict`` continues exactly there: the batches that
    follow are bit-identical to an uninterrupted run's. The child stops on
    close(), garbage collection, interpreter exit and Ctrl-C, and stops
    itself when this process dies or stops reading.
    """

    def __init__(self, data, size=224, batch_size=256, views=2, seed=0, recipe="simclr", rank=None,
                 world_size=None, device=None, binary=None, *, epochs=None, normalize=None,
                 mean=IMAGENET_MEAN, std=IMAGENET_STD, min_scale=None, color_strength=None, blur=None,
                 shuffle_buffer=None, channels=3, workers=None, gomaxprocs=None, prefetch=2,
                 transport=None, child_normalize=None, use_pyarrow=False, echo_stderr=False, extra_args=()):
        if isinstance(data, (list, tuple)):
            data = ",".join(str(d) for d in data)
        self.data = str(data)
        self.size, self.batch_size, self.views, self.seed = int(size), int(batch_size), int(views), int(seed)
        self.recipe = recipe
        self.rank = int(os.environ.get("RANK", 0)) if rank is None else int(rank)
        self.world_size = int(os.environ.get("WORLD_SIZE", 1)) if world_size is None else int(world_size)
        if not 0 <= self.rank < self.world_size:
            raise ValueError("contrastream: rank %d is outside world size %d" % (self.rank, self.world_size))
        self.device = torch.device(device) if device is not None else None
        if normalize is None:
            normalize = self.device is not None and self.device.type == "cuda"
        self.normalize = bool(normalize)
        self.mean, self.std = tuple(float(m) for m in mean), tuple(float(s) for s in std)
        self.channels = int(channels)
        self.epochs = None if epochs is None else int(epochs)
        self.binary = find_binary(binary)
        self.prefetch = int(prefetch)
        host = self.device is None or self.device.type == "cpu"
        if transport is None:
            # shm on the host (no copy; a slot goes back once its batch is
            # dead); the pipe for a GPU (pinned buffers, copies overlapped
            # with the step).
            transport = "shm" if host and shm_available() and not use_pyarrow else "pipe"
        if transport not in ("pipe", "shm", "socket"):
            raise ValueError("contrastream: transport %r: want 'pipe', 'shm' or 'socket'" % (transport,))
        if transport == "shm" and use_pyarrow:
            raise ValueError("contrastream: transport='shm' reads with the built-in reader: not with use_pyarrow=True")
        self.transport = transport
        self._stats_args = self._stats_flags()
        if child_normalize is None:
            child_normalize = transport == "shm" and self.normalize and host and self._stats_args is not None
        self.child_normalize = bool(child_normalize)
        if self.child_normalize:
            if transport != "shm" or not self.normalize or self._gpu_device():
                raise ValueError("contrastream: child_normalize=True needs transport='shm', normalize=True and host tensors")
            if self._stats_args is None:
                raise ValueError("contrastream: child_normalize=True: mean and std need 3 values each, or 1 with "
                                 "channels=1 (and std > 0), not %r and %r" % (self.mean, self.std))
        self.use_pyarrow = bool(use_pyarrow)
        self.echo_stderr = bool(echo_stderr)
        args = ["--size", str(self.size), "--batch", str(self.batch_size), "--views", str(self.views),
                "--seed", str(self.seed), "--recipe", str(recipe), "--rank", str(self.rank),
                "--world", str(self.world_size), "--epochs", str(0 if epochs is None else int(epochs)),
                "--channels", str(self.channels), "--parent-pid", str(os.getpid())]
        if child_normalize:
            args += ["--float32"] + self._stats_args
        for flag, val in (("--min-scale", min_scale), ("--color-strength", color_strength),
                          ("--shuffle-buffer", shuffle_buffer), ("--workers", workers)):
            if val is not None:
                args += [flag, str(val)]
        if blur is not None:
            args += ["--blur", blur if isinstance(blur, str) else ("on" if blur else "off")]
        self._args = args + [str(a) for a in extra_args]
        env = dict(os.environ)
        if gomaxprocs is not None:
            env["GOMAXPROCS"] = str(int(gomaxprocs))
        elif "GOMAXPROCS" not in env:
            local = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", 1)))
            env["GOMAXPROCS"] = str(max(1, _cores() // local))
        self._env = env

        self._child = None
        self._child_next = None  # the cursor the child's next batch follows
        self._child_ended = False
        self._peek = None  # a batch read from the child but not yet yielded
        self._meta = None
        self._epoch = 0  # the epoch the next iteration yields
        self._epoch_set = False
        self._consumed = (0, 0)  # cursor after the last consumed batch
        self._consumed_epoch = 0  # the epoch of that batch
        self._consumed_n = 0  # batches consumed in it
        self._expect_fp = None
        self._last = None  # the last yielded batch (for padding a short epoch)
        self._gpu = None
        self._norm_pool = []  # float32 outputs of host normalization, reused once unreferenced
        if self.device is not None and self.device.type == "cuda":
            self._gpu = _GPUStager(self.device, self.prefetch)

    def _stats_flags(self):
        """The child's --mean/--std flags for self.mean/std ([] for
        ImageNet's, which it defaults to), or None where it cannot take
        them."""
        if (self.mean, self.std) == (IMAGENET_MEAN, IMAGENET_STD):
            return []
        n = {len(self.mean), len(self.std)}
        if n != {3} and not (self.channels == 1 and n <= {1, 3}):
            return None
        if not all(math.isfinite(m) for m in self.mean) or not all(math.isfinite(x) and x > 0 for x in self.std):
            return None
        return ["--mean", ",".join(repr(m) for m in self.mean), "--std", ",".join(repr(x) for x in self.std)]

    def _gpu_device(self):
        return self.device is not None and self.device.type == "cuda"

    # -- child management -------------------------------------------------

    @property
    def gomaxprocs(self):
        """The GOMAXPROCS the child runs with."""
        return int(self._env["GOMAXPROCS"])

    def _start(self, cursor):
        self._stop_child()
        argv = [self.binary, "stream", "--data", self.data, "--cursor", "%d:%d" % cursor] + self._args
        if self._expect_fp:
            argv += ["--expect-fingerprint", self._expect_fp]
        alloc = self._gpu.alloc if self._gpu else _host_alloc
        child = _Child(argv, self._env, self.prefetch, alloc, self.transport, self.echo_stderr, self.use_pyarrow,
                       shm_slots=ring_slots(self.prefetch))
        self._child = child
        self._check_meta(child)
        self._child_next = cursor
        self._child_ended = False
        self._peek = None

    def _check_meta(self, child):
        m = child.meta
        if m.get("format") != str(FORMAT_VERSION):
            self._stop_child()
            raise StreamError("contrastream: the stream's format version is %r, this loader reads %d: "
                              "use matching versions of the binary and the Python package" % (m.get("format"), FORMAT_VERSION))
        if int(m["world"]) != self.world_size or int(m["rank"]) != self.rank:
            self._stop_child()
            raise StreamError("contrastream: the stream is rank %s of %s, want %d of %d" % (m["rank"], m["world"], self.rank, self.world_size))
        if self.child_normalize:
            c = self.channels
            want = [np.float32(x) for x in self.mean[:c]], [np.float32(x) for x in self.std[:c]]
            got = tuple([np.float32(x) for x in m.get(k, "").split(",")[:c] if x] for k in ("mean", "std"))
            if "mean" not in m and not self._stats_args:
                got = want  # a binary from before --mean/--std: ImageNet's, as asked
            if m.get("dtype") != "float32" or got != want:
                self._stop_child()
                raise StreamError("contrastream: the child normalizes with mean %s, std %s (dtype %s), asked for %r, %r: "
                                  "use matching versions of the binary and the Python package"
                                  % (m.get("mean"), m.get("std"), m.get("dtype"), self.mean, self.std))
        if self._expect_fp and m["fingerprint"] != self._expect_fp:
            self._stop_child()
            raise ValueError("contrastream: the dataset is not the one the state was saved on (fingerprint %s, saved %s)"
                             % (m["fingerprint"], self._expect_fp))
        self._meta = m

    def _stop_child(self):
        if self._child is not None:
            self._child.close()
            self._child = None
            self._peek = None

    def close(self):
        """Stop the child process (iterating again starts a new one)."""
        self._stop_child()

    def __del__(self):
        try:
            self._stop_child()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def metadata(self):
        """The stream's schema metadata (recipe, size, views, seed, rank/world,
        fingerprint, batches_per_epoch, ...), starting the child if needed."""
        if self._meta is None:
            self._start(self._start_cursor())
        return dict(self._meta)

    @property
    def pid(self):
        """The child's process id (None when none runs)."""
        return self._child.pid if self._child else None

    def __len__(self):
        """Batches per epoch: the same on every rank."""
        return self._bpe()

    # -- epochs and state ---------------------------------------------------

    def set_epoch(self, epoch):
        """Make the next iteration yield epoch ``epoch`` (continuing it if it
        was interrupted, e.g. after load_state_dict)."""
        epoch = int(epoch)
        if epoch < 0:
            raise ValueError("contrastream: epoch %d" % epoch)
        self._epoch, self._epoch_set = epoch, True

    def state_dict(self):
        """Where the trainer is: the cursor after the last batch it consumed,
        with what must match on resume."""
        meta = self.metadata
        return {
            "version": STATE_VERSION,
            "cursor": "%d:%d" % self._consumed,
            "epoch": self._consumed_epoch,
            "batches_in_epoch": self._consumed_n,
            "seed": self.seed,
            "world_size": self.world_size,
            "rank": self.rank,
            "batch_size": self.batch_size,
            "recipe": meta["recipe"],
            "views": self.views,
            "fingerprint": meta["fingerprint"],
        }

    def load_state_dict(self, state):
        """Continue from a state_dict(): the batches that follow are those an
        uninterrupted run would have yielded. A different world size, seed,
        batch size, views, recipe or dataset is refused."""
        if state.get("version") != STATE_VERSION:
            raise ValueError("contrastream: state version %r, this loader reads %d" % (state.get("version"), STATE_VERSION))
        if int(state["world_size"]) != self.world_size:
            raise ValueError(
                "contrastream: the state was saved with world size %d, this loader has %d: a cursor is a position in "
                "one world size's epoch plan and does not carry over to another (start the epoch afresh instead)"
                % (state["world_size"], self.world_size))
        for key, mine in (("seed", self.seed), ("batch_size", self.batch_size), ("views", self.views)):
            if int(state[key]) != mine:
                raise ValueError("contrastream: the state was saved with %s %s, this loader has %s" % (key, state[key], mine))
        cursor = _parse_cursor(state["cursor"])
        self._stop_child()
        self._expect_fp = state["fingerprint"]
        self._meta = None
        self._consumed = cursor
        self._consumed_epoch = int(state["epoch"])
        self._consumed_n = int(state["batches_in_epoch"])
        self._epoch, self._epoch_set = self._consumed_epoch, False
        self._last = None
        meta = self.metadata  # starts the child, which checks the fingerprint
        if meta["recipe"] != state["recipe"]:
            self._stop_child()
            raise ValueError("contrastream: the state was saved with recipe %r, this loader makes %r" % (state["recipe"], meta["recipe"]))

    def _start_cursor(self):
        if self._consumed_epoch == self._epoch:
            return self._consumed
        return (self._epoch, 0)

    # -- iteration -------------------------------------------------------------

    def _next_raw(self):
        """(record batch, cursor before, cursor after) of the child's next
        batch, or None at the end of its stream."""
        if self._peek is not None:
            item, self._peek = self._peek, None
            return item
        if self._child_ended:
            return None
        rb = self._child.get()
        if rb is None:
            self._child_ended = True
            return None
        n = rb.length
        epoch = int(rb["epoch"].values[0]) if n else self._child_next[0]
        pos = int(rb["position"].values[n - 1]) + 1 if n else self._child_next[1]
        prev = self._child_next
        self._child_next = (epoch, pos)
        return rb, prev, (epoch, pos)

    def __iter__(self):
        if not self._epoch_set and self._consumed != (0, 0) and self._consumed_n >= self._bpe():
            # the last epoch was finished: continue with the next
            self._epoch = max(self._epoch, self._consumed_epoch + 1)
        self._epoch_set = False
        epoch = self._epoch
        if self.epochs is not None and epoch >= int(self.epochs):
            raise ValueError("contrastream: epoch %d: the loader was made for epochs=%d" % (epoch, self.epochs))
        if self._consumed_epoch == epoch:
            start, done = self._consumed, self._consumed_n
        else:
            start, done = (epoch, 0), 0
            self._last = None
        if self._child is None or not self._continues(start):
            self._start(start)
        bpe = self._bpe()
        if self._consumed_epoch != epoch:
            self._consumed, self._consumed_epoch, self._consumed_n = start, epoch, 0
        try:
            while done < bpe:
                item = self._next_raw()
                if item is None or item[2][0] != epoch:
                    # The child's epoch came up short (bad records were
                    # skipped): repeat the last batch so every rank yields bpe.
                    if item is not None:
                        self._peek = item
                    if self._last is None:
                        raise StreamError("contrastream: epoch %d ended after %d of %d batches and there is no batch to repeat"
                                          % (epoch, done, bpe))
                    b = self._last
                    out = Batch(b.views, b.labels, b.ids, epoch, done, b.cursor, b._keys, repeat=True, host=b._host)
                else:
                    rb, _, cur = item
                    out = self._batch(rb, epoch, done, "%d:%d" % cur)
                    self._last = out
                    self._consumed = cur
                done += 1
                self._consumed_n = done
                yield out
        except KeyboardInterrupt:
            self._stop_child()
            raise
        self._epoch = epoch + 1

    def _continues(self, start):
        """Whether the running child's next batch is the one after start."""
        nxt = self._next_prev()
        if nxt is None:
            return False
        if nxt == start:
            return True
        # (e, p) with less than a batch left in epoch e is (e+1, 0): the
        # child drops the partial batch and goes on with epoch e+1.
        size = int(self._meta["epoch_size"])
        return start == (nxt[0] + 1, 0) and size - nxt[1] < self.batch_size and not self._child_ended

    def _next_prev(self):
        """The cursor the child's next batch follows."""
        if self._peek is not None:
            return self._peek[1]
        return self._child_next

    def _bpe(self):
        return int(self.metadata["batches_per_epoch"])

    def _batch(self, rb, epoch, index, cursor):
        n = rb.length
        v, c, s = self.views, self.channels, self.size
        child, slot = self._child, None
        floats = child.meta.get("dtype") == "float32"
        if child.ring is not None:
            per = v * s * s * c * (4 if floats else 1)
            offs = rb["views_offset"].values
            off = int(offs[0]) if n else 0
            slot = off // child.slot_bytes
            if n and (np.any(offs != off + per * np.arange(n, dtype=np.uint64))
                      or off + n * per > (slot + 1) * child.slot_bytes):
                raise _arrow.ArrowFormatError("views_offset: the batch's samples are not adjacent in one slot")
            pix = child.ring[off:off + n * per]
            if len(child.lent) >= LEND:
                # The trainer keeps LEND batches alive: this one is copied,
                # its slot goes back now, and the child goes on.
                pix = pix.copy()
                child.release(slot)
                slot = None
            if floats:  # normalized by the child, [B,V,C,H,W]: nothing to convert
                arr = pix.view(np.float32)
                views = torch.from_numpy(arr).view(n, v, c, s, s)
                if slot is not None:
                    child.lend(slot, arr)
                return self._finish_batch(rb, views, None, epoch, index, cursor)
        else:
            pix = rb["views"].values
        arr = pix[: n * v * s * s * c]
        host = torch.from_numpy(arr).view(n, v, s, s, c).permute(0, 1, 4, 2, 3)
        if self._gpu is not None:
            views = self._gpu.stage(host, rb.body, self.normalize, self.mean, self.std, pageable=slot is not None)
        elif self.normalize:
            views = _normalize_host(arr, n, v, s, c, self.mean, self.std, self._norm_pool)
        else:
            views = host
        if slot is not None:
            # host (and views unless normalized) live in the slot: it goes
            # back to the child once nothing made from them is alive.
            child.lend(slot, arr)
        return self._finish_batch(rb, views, host, epoch, index, cursor)

    def _finish_batch(self, rb, views, host, epoch, index, cursor):
        lab = rb["label"]
        labels = torch.from_numpy(lab.values.astype(np.int64, copy=True))
        if lab.validity is not None:
            labels[torch.from_numpy(~lab.validity)] = -1
        ids = torch.from_numpy(rb["id"].values.view(np.int64).copy())
        shard, row = rb["shard"], rb["row"]
        keys = lambda: list(zip(_strings(shard), (int(r) for r in row.values)))  # noqa: E731
        return Batch(views, labels, ids, epoch, index, cursor, keys, host=host)


def _host_alloc(n):
    # np.empty, not bytearray: no zero-fill of a buffer about to be overwritten
    return np.empty(n, dtype=np.uint8)


_NORM = {}


_POOL_MAX = 8


def _pooled(pool, shape):
    """A float32 array of shape from pool that nothing else references any
    more (no tensor, view or batch made from it is alive), else a new one
    (pooled while the pool has room). Reusing one saves the page faults of
    fresh memory: the normalization runs ~1.4x faster."""
    if pool is None:
        return np.empty(shape, dtype=np.float32)
    for i in range(len(pool)):
        # references: the pool's list and getrefcount's argument
        if pool[i].shape == shape and sys.getrefcount(pool[i]) == 2:
            return pool[i]
    a = np.empty(shape, dtype=np.float32)
    if len(pool) < _POOL_MAX:
        pool.append(a)
    return a


def _normalize_host(pix, n, v, s, c, mean, std, pool=None):
    """The host path: (x/255 - mean)/std of the received [B,V,H,W,C] uint8
    pixels into a float32 array of the same layout, returned as a
    [B, V, C, H, W] tensor view (channels-last memory). The array is new or
    one of pool's that nothing references any more: a yielded normalized
    batch is never overwritten while it is alive. numpy's ufuncs (a
    converting copy, then an in-place multiply and add, over rows of W·C
    values) run 2-3x faster here than torch 1.13's mixed-dtype addcmul."""
    key = ("host", s, c, mean, std)
    t = _NORM.get(key)
    if t is None:
        scale = np.tile(np.array([1.0 / (255.0 * x) for x in std[:c]], dtype=np.float32), s)
        bias = np.tile(np.array([-m / x for m, x in zip(mean[:c], std[:c])], dtype=np.float32), s)
        _NORM[key] = t = (scale, bias)
    rows = pix.reshape(n * v * s, s * c)
    out = _pooled(pool, rows.shape)
    np.copyto(out, rows, casting="unsafe")  # exact: uint8 -> float32
    np.multiply(out, t[0], out=out)
    np.add(out, t[1], out=out)
    return torch.from_numpy(out).view(n, v, s, s, c).permute(0, 1, 4, 2, 3)


def _normalize(x, mean, std):
    """(x/255 - mean)/std per channel of a [B, V, C, H, W] uint8 tensor as
    one fused op (addcmul: bias + x·scale, float32), on x's device."""
    c = x.shape[2]
    key = (x.device, c, mean, std)
    t = _NORM.get(key)
    if t is None:
        scale = torch.tensor([1.0 / (255.0 * s) for s in std[:c]], dtype=torch.float32, device=x.device).view(1, 1, c, 1, 1)
        bias = torch.tensor([-m / s for m, s in zip(mean[:c], std[:c])], dtype=torch.float32, device=x.device).view(1, 1, c, 1, 1)
        _NORM[key] = t = (scale, bias)
    return torch.addcmul(t[1], x, t[0])


class _GPUStager:
    """Pinned host buffers for the bodies (a ring), a side stream for the
    host-to-device copies (non_blocking) and the conversion, and an event per
    batch so the trainer's stream waits for exactly its batch."""

    def __init__(self, device, prefetch):
        self.device = device
        self.stream = torch.cuda.Stream(device=device)
        self.free = queue.Queue()
        self.busy = collections.deque()  # (event, buffer) copies in flight
        self.slots = prefetch + 3
        self.made = 0
        self.lock = threading.Lock()

    def alloc(self, n):
        # Called by the reader thread: reuse a pinned buffer whose copy has
        # completed, or make one while fewer than `slots` exist.
        while True:
            with self.lock:
                while self.busy and self.busy[0][0].query():
                    self.free.put(self.busy.popleft()[1])
            try:
                buf = self.free.get_nowait()
                if buf.numel() >= n:
                    return buf.numpy()[:n]
            except queue.Empty:
                buf = None
            with self.lock:
                if self.made < self.slots or buf is not None:
                    if buf is None:
                        self.made += 1
                    return torch.empty(n, dtype=torch.uint8, pin_memory=True).numpy()
            time.sleep(0.0005)

    def stage(self, host, body, normalize, mean, std, pageable=False):
        """The batch on the device. pageable: host is not one of our pinned
        buffers (an shm slot): wait until the copy is done, so the caller
        may hand the slot back at once."""
        cur = torch.cuda.current_stream(self.device)
        with torch.cuda.stream(self.stream):
            dev = host.to(self.device, non_blocking=not pageable)
            out = _normalize(dev, mean, std) if normalize else dev
            ev = torch.cuda.Event()
            ev.record(self.stream)
        cur.wait_event(ev)
        out.record_stream(cur)
        if pageable:
            ev.synchronize()
            return out
        with self.lock:
            self.busy.append((ev, torch.from_numpy(body) if isinstance(body, np.ndarray) else body))
        return out
