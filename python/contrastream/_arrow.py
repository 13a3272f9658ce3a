"""A small reader for the Arrow IPC streams that ``contrastream stream`` writes.

It reads the Arrow IPC *stream* format (https://arrow.apache.org/docs/format/
Columnar.html#serialization-and-interprocess-communication-ipc): messages
framed as ``0xFFFFFFFF``, an int32 metadata length, a FlatBuffer ``Message``
(padded to 8 bytes) and a body of ``bodyLength`` bytes; ``0xFFFFFFFF 0`` ends
the stream. It decodes the FlatBuffers by hand (no flatbuffers package) and
knows the column types our stream uses: fixed-size lists, integers of every
width, booleans, UTF-8 strings and binaries, without compression or
dictionaries. Anything else is refused with an error naming it.

Each record batch's body is read into one buffer supplied by the caller
(``alloc(n)`` returns a writable buffer of n bytes, e.g. a pinned torch
tensor's storage), and the columns are returned as numpy arrays that *view*
that buffer: nothing is copied.
"""

import struct

import numpy as np

CONTINUATION = 0xFFFFFFFF
MAX_METADATA = 64 << 20

# MessageHeader union
_HEADER_SCHEMA, _HEADER_DICTIONARY, _HEADER_RECORD_BATCH = 1, 2, 3
# Type union
_T_INT, _T_FLOAT, _T_BINARY, _T_UTF8, _T_BOOL = 2, 3, 4, 5, 6
_T_FIXED_SIZE_BINARY, _T_FIXED_SIZE_LIST = 15, 16
_TYPE_NAMES = {
    1: "Null", 2: "Int", 3: "FloatingPoint", 4: "Binary", 5: "Utf8", 6: "Bool",
    7: "Decimal", 8: "Date", 9: "Time", 10: "Timestamp", 11: "Interval", 12: "List",
    13: "Struct", 14: "Union", 15: "FixedSizeBinary", 16: "FixedSizeList", 17: "Map",
    18: "Duration", 19: "LargeBinary", 20: "LargeUtf8", 21: "LargeList",
}


class ArrowFormatError(ValueError):
    """The bytes are not an Arrow IPC stream this reader understands."""


class _Table:
    """A FlatBuffers table at position pos of buf."""

    __slots__ = ("buf", "pos", "vt", "vt_len")

    def __init__(self, buf, pos):
        self.buf, self.pos = buf, pos
        if pos < 0 or pos + 4 > len(buf):
            raise ArrowFormatError("flatbuffer table out of range")
        vt = pos - struct.unpack_from("<i", buf, pos)[0]
        if vt < 0 or vt + 4 > len(buf):
            raise ArrowFormatError("flatbuffer vtable out of range")
        self.vt = vt
        self.vt_len = struct.unpack_from("<H", buf, vt)[0]

    def _field(self, i):
        o = 4 + 2 * i
        if o + 2 > self.vt_len:
            return 0
        return struct.unpack_from("<H", self.buf, self.vt + o)[0]

    def scalar(self, i, fmt, default=0):
        o = self._field(i)
        if not o:
            return default
        return struct.unpack_from("<" + fmt, self.buf, self.pos + o)[0]

    def _indirect(self, i):
        o = self._field(i)
        if not o:
            return None
        p = self.pos + o
        return p + struct.unpack_from("<I", self.buf, p)[0]

    def table(self, i):
        p = self._indirect(i)
        return None if p is None else _Table(self.buf, p)

    def string(self, i):
        p = self._indirect(i)
        if p is None:
            return None
        n = struct.unpack_from("<I", self.buf, p)[0]
        return bytes(self.buf[p + 4:p + 4 + n]).decode("utf-8")

    def vector(self, i):
        """(count, position of element 0) of a vector field, or (0, 0)."""
        p = self._indirect(i)
        if p is None:
            return 0, 0
        return struct.unpack_from("<I", self.buf, p)[0], p + 4

    def tables(self, i):
        n, p = self.vector(i)
        return [_Table(self.buf, p + 4 * k + struct.unpack_from("<I", self.buf, p + 4 * k)[0]) for k in range(n)]


def _key_values(t, i):
    return {kv.string(0): kv.string(1) for kv in t.tables(i)}


class Field:
    """One field of a schema: name, type (a Type union name), its settings,
    children and metadata."""

    def __init__(self, t):
        self.name = t.string(0) or ""
        self.nullable = bool(t.scalar(1, "B"))
        self.type_id = t.scalar(2, "B")
        self.type = _TYPE_NAMES.get(self.type_id, "type %d" % self.type_id)
        if t.table(4) is not None:
            raise ArrowFormatError("field %r is dictionary-encoded: not supported" % self.name)
        tt = t.table(3)
        self.children = [Field(c) for c in t.tables(5)]
        self.metadata = _key_values(t, 6)
        self.dtype = None  # numpy dtype of the values
        self.list_size = 0
        if self.type_id == _T_INT:
            bits, signed = tt.scalar(0, "i"), bool(tt.scalar(1, "B"))
            if bits not in (8, 16, 32, 64):
                raise ArrowFormatError("field %r: int of %d bits" % (self.name, bits))
            self.dtype = np.dtype(("<i%d" if signed else "<u%d") % (bits // 8))
        elif self.type_id == _T_FLOAT:
            prec = tt.scalar(0, "h")
            self.dtype = np.dtype({0: "<f2", 1: "<f4", 2: "<f8"}[prec])
        elif self.type_id == _T_FIXED_SIZE_LIST:
            self.list_size = tt.scalar(0, "i")
            if len(self.children) != 1:
                raise ArrowFormatError("field %r: fixed-size list with %d children" % (self.name, len(self.children)))
        elif self.type_id == _T_FIXED_SIZE_BINARY:
            self.list_size = tt.scalar(0, "i")
        elif self.type_id not in (_T_BINARY, _T_UTF8, _T_BOOL):
            raise ArrowFormatError("field %r has type %s: not supported by this reader" % (self.name, self.type))

    def __repr__(self):
        return "Field(%r, %s%s)" % (self.name, self.type, ", nullable" if self.nullable else "")


class Schema:
    def __init__(self, fields, metadata):
        self.fields = fields
        self.metadata = metadata
        self.names = [f.name for f in fields]

    def field(self, name):
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


class Column:
    """A decoded column: values (numpy, viewing the body), validity (a numpy
    bool array or None when no value is null) and, for strings and binaries,
    the offsets. For a fixed-size list, child is the values' column."""

    __slots__ = ("field", "length", "null_count", "values", "validity", "offsets", "child")

    def __init__(self, field, length, null_count):
        self.field, self.length, self.null_count = field, length, null_count
        self.values = self.validity = self.offsets = self.child = None

    def strings(self):
        """The values of a Utf8 column as a list of str (None for nulls)."""
        data = self.values.tobytes()
        off = self.offsets
        out = [data[off[i]:off[i + 1]].decode("utf-8") for i in range(self.length)]
        if self.validity is not None:
            out = [s if v else None for s, v in zip(out, self.validity)]
        return out

    def masked(self):
        """values with nulls replaced: returns (values, valid) where valid is a bool array."""
        if self.validity is None:
            return self.values, np.ones(self.length, dtype=bool)
        return self.values, self.validity


class RecordBatch:
    """One record batch: length, columns by name, and the body buffer they view."""

    def __init__(self, length, columns, body, body_len):
        self.length = length
        self.columns = columns
        self.body = body
        self.body_len = body_len

    def __getitem__(self, name):
        return self.columns[name]


def _read_exact(f, n):
    b = bytearray(n)
    _readinto_exact(f, memoryview(b), n)
    return b


def _readinto_exact(f, mv, n):
    got = 0
    while got < n:
        k = f.readinto(mv[got:n])
        if not k:
            raise EOFError("the stream ended after %d of %d bytes" % (got, n))
        got += k


def _bits(buf, offset, n):
    """The first n bits (LSB first) of the bitmap at buf[offset:] as bools."""
    raw = np.frombuffer(buf, dtype=np.uint8, count=(n + 7) // 8, offset=offset)
    return np.unpackbits(raw, bitorder="little", count=n).astype(bool)


class StreamReader:
    """Reads an Arrow IPC stream from a binary file object f (anything with
    readinto). The schema is read at construction (.schema); then next_batch()
    returns the record batches one by one and None at the end-of-stream
    marker. A stream that stops without the marker raises EOFError.

    alloc(n) returns a writable buffer (supporting the buffer protocol) of at
    least n bytes for a body; the default allocates a new numpy array. The
    returned columns view it.
    """

    def __init__(self, f, alloc=None):
        self.f = f
        self.alloc = alloc or (lambda n: np.empty(n, dtype=np.uint8))
        self.ended = False
        kind, msg, body_len = self._message()
        if kind is None:
            raise ArrowFormatError("the stream ended before its schema")
        if kind != _HEADER_SCHEMA:
            raise ArrowFormatError("the stream starts with message type %d, not a schema" % kind)
        if body_len:
            _read_exact(self.f, body_len)
        self.schema = Schema([Field(t) for t in msg.tables(1)], _key_values(msg, 2))

    def _message(self):
        """(header type, header table, body length), or (None,)*3 at the end."""
        head = bytearray(4)
        n = 0
        while n < 4:
            k = self.f.readinto(memoryview(head)[n:])
            if not k:
                if n == 0:
                    raise EOFError("the stream ended without its end-of-stream marker")
                raise EOFError("the stream ended inside a message header")
            n += k
        (size,) = struct.unpack("<I", bytes(head))
        if size == CONTINUATION:
            (size,) = struct.unpack("<i", bytes(_read_exact(self.f, 4)))
        if size == 0:
            self.ended = True
            return None, None, 0
        if size < 0 or size > MAX_METADATA:
            raise ArrowFormatError("message metadata of %d bytes" % size)
        meta = _read_exact(self.f, size)
        root = struct.unpack_from("<I", meta, 0)[0]
        msg = _Table(meta, root)
        version = msg.scalar(0, "h")
        if version < 4:
            raise ArrowFormatError("metadata version V%d is too old (want V4 or V5)" % (version + 1))
        kind = msg.scalar(1, "B")
        header = msg.table(2)
        body_len = msg.scalar(3, "q")
        if header is None:
            raise ArrowFormatError("message without a header")
        return kind, header, body_len

    def next_batch(self):
        if self.ended:
            return None
        while True:
            kind, rb, body_len = self._message()
            if kind is None:
                return None
            if kind == _HEADER_DICTIONARY:
                raise ArrowFormatError("dictionary batches are not supported")
            if kind != _HEADER_RECORD_BATCH:
                if body_len:
                    _read_exact(self.f, body_len)
                continue
            break
        if rb.table(3) is not None:
            raise ArrowFormatError("compressed record batches are not supported")
        length = rb.scalar(0, "q")
        nn, npos = rb.vector(1)
        nb, bpos = rb.vector(2)
        nodes = [struct.unpack_from("<qq", rb.buf, npos + 16 * i) for i in range(nn)]
        bufs = [struct.unpack_from("<qq", rb.buf, bpos + 16 * i) for i in range(nb)]
        body = self.alloc(body_len)
        mv = memoryview(body).cast("B")
        if len(mv) < body_len:
            raise ValueError("alloc(%d) returned %d bytes" % (body_len, len(mv)))
        _readinto_exact(self.f, mv, body_len)
        state = [0, 0]  # next node, next buffer
        cols = {}
        for fld in self.schema.fields:
            cols[fld.name] = self._column(fld, nodes, bufs, state, body, body_len)
        if state[0] != len(nodes) or state[1] != len(bufs):
            raise ArrowFormatError("record batch has %d nodes and %d buffers, the schema uses %d and %d"
                                   % (len(nodes), len(bufs), state[0], state[1]))
        return RecordBatch(length, cols, body, body_len)

    def _column(self, fld, nodes, bufs, state, body, body_len):
        if state[0] >= len(nodes):
            raise ArrowFormatError("record batch has too few field nodes")
        length, nulls = nodes[state[0]]
        state[0] += 1

        def buf():
            if state[1] >= len(bufs):
                raise ArrowFormatError("record batch has too few buffers")
            off, n = bufs[state[1]]
            state[1] += 1
            if off < 0 or n < 0 or off + n > body_len:
                raise ArrowFormatError("buffer [%d, %d) is outside the body of %d bytes" % (off, off + n, body_len))
            return off, n

        col = Column(fld, length, nulls)
        voff, vlen = buf()
        if nulls and vlen:
            col.validity = _bits(body, voff, length)
        if fld.type_id == _T_FIXED_SIZE_LIST:
            col.child = self._column(fld.children[0], nodes, bufs, state, body, body_len)
            if col.child.length < length * fld.list_size:
                raise ArrowFormatError("field %r: %d values for %d lists of %d" % (fld.name, col.child.length, length, fld.list_size))
            col.values = col.child.values
        elif fld.type_id in (_T_UTF8, _T_BINARY):
            ooff, olen = buf()
            doff, dlen = buf()
            if olen < 4 * (length + 1):
                raise ArrowFormatError("field %r: short offsets" % fld.name)
            col.offsets = np.frombuffer(body, dtype="<i4", count=length + 1, offset=ooff)
            col.values = np.frombuffer(body, dtype=np.uint8, count=dlen, offset=doff)
        elif fld.type_id == _T_BOOL:
            doff, dlen = buf()
            col.values = _bits(body, doff, length)
        elif fld.type_id == _T_FIXED_SIZE_BINARY:
            doff, dlen = buf()
            col.values = np.frombuffer(body, dtype=np.uint8, count=length * fld.list_size, offset=doff)
        else:
            doff, dlen = buf()
            if dlen < length * fld.dtype.itemsize:
                raise ArrowFormatError("field %r: %d bytes for %d values" % (fld.name, dlen, length))
            col.values = np.frombuffer(body, dtype=fld.dtype, count=length, offset=doff)
        return col
