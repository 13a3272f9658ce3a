package sources

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
)

// arrowMeta is what an Arrow IPC shard keeps between reads.
type arrowMeta struct {
	img, child, label int
	allocLimit        int
	stream            *streamIndex // nil for the IPC file format
}

func (s *Shard) openArrow(f io.ReaderAt, cols Columns) (err error) {
	defer recoverCorrupt(s.Path, &err)
	var tail [6]byte
	if s.size < 18 {
		return fmt.Errorf("sources: shard %s: %d bytes, too short for an Arrow IPC file: %w", s.Path, s.size, ErrTruncated)
	}
	if _, err := f.ReadAt(tail[:], s.size-6); err != nil {
		return fmt.Errorf("sources: shard %s: %w", s.Path, err)
	}
	if string(tail[:]) != "ARROW1" {
		return fmt.Errorf("sources: shard %s: Arrow IPC file does not end with its footer magic: %w", s.Path, ErrTruncated)
	}
	am := &arrowMeta{allocLimit: allocLimit(s.size)}
	// The IPC footer lists the record batches' blocks without their row
	// counts; each batch's metadata message (a few hundred bytes) has it.
	// The footer, its schema and every message's metadata are checked
	// (arrow_check.go) before arrow's reader is given the file.
	ix, rows, err := arrowFileIndex(f, s.size)
	if err != nil {
		return fmt.Errorf("sources: shard %s: %w", s.Path, err)
	}
	if err := ix.loadPrefix(f); err != nil {
		return fmt.Errorf("sources: shard %s: %w", s.Path, err)
	}
	am.stream = ix
	r, err := ipc.NewFileReader(io.NewSectionReader(f, 0, s.size), ipc.WithAllocator(&limitAllocator{limit: am.allocLimit}))
	if err != nil {
		return fmt.Errorf("sources: shard %s: %w: %w", s.Path, ErrCorrupt, err)
	}
	defer r.Close()
	fields := r.Schema().Fields()
	am.img, am.child, am.label, err = pickColumns(s.Path, fields, cols)
	if err != nil {
		return err
	}
	s.setColumnNames(fields, am.img, am.child, am.label)
	if len(rows) != r.NumRecords() {
		return fmt.Errorf("sources: shard %s: footer lists %d record batches, reader %d: %w", s.Path, len(rows), r.NumRecords(), ErrCorrupt)
	}
	s.unitRows = rows
	s.ipc = am
	return nil
}

func (s *Shard) openArrowStream(f io.ReaderAt, cols Columns) (err error) {
	defer recoverCorrupt(s.Path, &err)
	ix, rows, err := indexStream(f, s.size)
	if err != nil {
		return fmt.Errorf("sources: shard %s: Arrow IPC stream: %w", s.Path, err)
	}
	if err := ix.loadPrefix(f); err != nil {
		return fmt.Errorf("sources: shard %s: %w", s.Path, err)
	}
	am := &arrowMeta{allocLimit: allocLimit(s.size), stream: ix}
	r, err := ix.reader(f, -1, ipc.WithAllocator(&limitAllocator{limit: am.allocLimit}))
	if err != nil {
		return fmt.Errorf("sources: shard %s: Arrow IPC stream schema: %w: %w", s.Path, ErrCorrupt, err)
	}
	defer r.Release()
	fields := r.Schema().Fields()
	am.img, am.child, am.label, err = pickColumns(s.Path, fields, cols)
	if err != nil {
		return err
	}
	s.setColumnNames(fields, am.img, am.child, am.label)
	s.unitRows = rows
	s.ipc = am
	return nil
}

func (s *Shard) readArrow(ctx context.Context, u int, lo, hi int64, fn func(row int64, image []byte, label int) error) error {
	am := s.ipc
	f, err := s.object(ctx)
	if err != nil {
		return err
	}
	defer f.Close()
	alloc := ipc.WithAllocator(&limitAllocator{limit: am.allocLimit})
	rec, err := am.stream.record(f, u, alloc)
	if err != nil {
		var se *StorageError
		if errors.As(err, &se) || ctx.Err() != nil {
			return fmt.Errorf("sources: shard %s: record batch %d: %w", s.Path, u, err)
		}
		return fmt.Errorf("sources: shard %s: record batch %d: %w: %w", s.Path, u, ErrCorrupt, err)
	}
	defer rec.Release()
	if rec.NumRows() != s.unitRows[u] || int(rec.NumCols()) <= max(am.img, am.label) {
		return fmt.Errorf("sources: shard %s: record batch %d changed since opened: %w", s.Path, u, ErrCorrupt)
	}
	col := rec.Column(am.img)
	var parent arrow.Array
	if am.child >= 0 {
		st, ok := col.(*array.Struct)
		if !ok {
			return fmt.Errorf("sources: shard %s: image column is %s: %w", s.Path, col.DataType(), ErrCorrupt)
		}
		parent, col = st, st.Field(am.child)
	}
	value, err := binaryGetter(col)
	if err != nil {
		return fmt.Errorf("sources: shard %s: %w: %w", s.Path, ErrCorrupt, err)
	}
	label := func(int) int { return -1 }
	if am.label >= 0 {
		if label, err = intGetter(rec.Column(am.label)); err != nil {
			return fmt.Errorf("sources: shard %s: %w: %w", s.Path, ErrCorrupt, err)
		}
	}
	first := s.first[u]
	for i := int(lo); i < int(hi); i++ {
		var v []byte
		if (parent == nil || parent.IsValid(i)) && col.IsValid(i) {
			v = value(i)
		}
		if err := fn(first+int64(i), v, label(i)); err != nil {
			return err
		}
	}
	return nil
}

func binaryGetter(a arrow.Array) (func(int) []byte, error) {
	switch b := a.(type) {
	case *array.Binary:
		return b.Value, nil
	case *array.LargeBinary:
		return b.Value, nil
	}
	return nil, fmt.Errorf("image column is %s, not binary", a.DataType())
}

func intGetter(a arrow.Array) (func(int) int, error) {
	null := func(get func(int) int) func(int) int {
		return func(i int) int {
			if a.IsNull(i) {
				return -1
			}
			return get(i)
		}
	}
	switch c := a.(type) {
	case *array.Int8:
		return null(func(i int) int { return int(c.Value(i)) }), nil
	case *array.Int16:
		return null(func(i int) int { return int(c.Value(i)) }), nil
	case *array.Int32:
		return null(func(i int) int { return int(c.Value(i)) }), nil
	case *array.Int64:
		return null(func(i int) int { return int(c.Value(i)) }), nil
	case *array.Uint8:
		return null(func(i int) int { return int(c.Value(i)) }), nil
	case *array.Uint16:
		return null(func(i int) int { return int(c.Value(i)) }), nil
	case *array.Uint32:
		return null(func(i int) int { return int(c.Value(i)) }), nil
	case *array.Uint64:
		return null(func(i int) int { return int(c.Value(i)) }), nil
	}
	return nil, fmt.Errorf("label column is %s, not integer", a.DataType())
}

// arrowFileIndex reads the row count and byte range of every record batch of
// an Arrow IPC file from its footer and the batches' metadata messages,
// without reading the batches' bodies, and locates the schema message (after
// the leading magic) and the dictionary batches, so that a batch is read like
// one of an IPC stream.
func arrowFileIndex(f io.ReaderAt, size int64) (*streamIndex, []int64, error) {
	rows, blocks, dicts, err := arrowBatchRows(f, size)
	if err != nil {
		return nil, nil, err
	}
	var hdr [8]byte
	if _, err := f.ReadAt(hdr[:], 8); err != nil {
		return nil, nil, err
	}
	start, metaLen := int64(8), int64(int32(binary.LittleEndian.Uint32(hdr[:4])))
	hl := int64(4)
	if uint32(metaLen) == 0xffffffff {
		metaLen, hl = int64(int32(binary.LittleEndian.Uint32(hdr[4:]))), 8
	}
	if metaLen <= 0 || start+hl+metaLen > size {
		return nil, nil, fmt.Errorf("schema message of %d bytes at 8: %w", metaLen, ErrCorrupt)
	}
	ix := &streamIndex{prefix: append([]byteRange{{start, hl + metaLen}}, dicts...), batches: blocks}
	for range blocks {
		ix.dictAt = append(ix.dictAt, len(ix.prefix))
	}
	return ix, rows, nil
}

// arrowBatchRows reads the row count and block of every record batch, and the
// dictionary blocks, of an Arrow IPC file.
func arrowBatchRows(f io.ReaderAt, size int64) (rows []int64, blocks, dicts []byteRange, err error) {
	fail := func(e error) ([]int64, []byteRange, []byteRange, error) { return nil, nil, nil, e }
	var tail [10]byte
	if _, err := f.ReadAt(tail[:], size-10); err != nil {
		return fail(err)
	}
	footerLen := int64(int32(binary.LittleEndian.Uint32(tail[:4])))
	if footerLen <= 0 || footerLen > size-18 {
		return fail(fmt.Errorf("footer of %d bytes in a %d-byte file: %w", footerLen, size, ErrTruncated))
	}
	footer := make([]byte, footerLen)
	if _, err := f.ReadAt(footer, size-10-footerLen); err != nil {
		return fail(err)
	}
	root, err := fbRoot(footer)
	if err != nil {
		return fail(err)
	}
	if err := checkFooterSchema(root); err != nil {
		return fail(fmt.Errorf("footer schema: %w", err))
	}
	vec, ok, err := root.vector(3, 24) // recordBatches: [Block]
	if err != nil || !ok {
		return fail(fmt.Errorf("footer without record batches: %w", ErrCorrupt))
	}
	rows = make([]int64, vec.n)
	blocks = make([]byteRange, vec.n)
	if dv, ok, err := root.vector(2, 24); err != nil {
		return fail(fmt.Errorf("footer dictionaries: %w", ErrCorrupt))
	} else if ok {
		for i := range dv.n {
			blk := footer[dv.pos+24*i:]
			off := int64(binary.LittleEndian.Uint64(blk))
			n := int64(int32(binary.LittleEndian.Uint32(blk[8:]))) + int64(binary.LittleEndian.Uint64(blk[16:]))
			if off < 8 || n < 8 || off+n > size-10-footerLen {
				return fail(fmt.Errorf("dictionary batch %d is outside the file: %w", i, ErrTruncated))
			}
			dicts = append(dicts, byteRange{off, n})
		}
	}
	var meta []byte
	for i := range vec.n {
		blk := footer[vec.pos+24*i:]
		off := int64(binary.LittleEndian.Uint64(blk))
		metaLen := int64(int32(binary.LittleEndian.Uint32(blk[8:])))
		bodyLen := int64(binary.LittleEndian.Uint64(blk[16:]))
		if off < 8 || metaLen < 8 || bodyLen < 0 || metaLen > size || bodyLen > size || off+metaLen+bodyLen > size-10-footerLen {
			return fail(fmt.Errorf("record batch %d at %d (%d+%d bytes) is outside the file: %w", i, off, metaLen, bodyLen, ErrTruncated))
		}
		if int64(cap(meta)) < metaLen {
			meta = make([]byte, metaLen)
		}
		meta = meta[:metaLen]
		if _, err := f.ReadAt(meta, off); err != nil {
			return fail(err)
		}
		msg := meta[4:]
		if binary.LittleEndian.Uint32(meta) == 0xffffffff {
			msg = meta[8:]
		}
		m, err := fbRoot(msg)
		if err == nil {
			err = checkMessage(m)
		}
		if err != nil {
			return fail(fmt.Errorf("record batch %d: %w", i, err))
		}
		if typ, _, err := m.scalar(1, 1); err != nil || typ != 3 { // header_type: RecordBatch
			return fail(fmt.Errorf("record batch %d: message type %d: %w", i, typ, ErrCorrupt))
		}
		rb, ok, err := m.table(2)
		if err != nil || !ok {
			return fail(fmt.Errorf("record batch %d: no header: %w", i, ErrCorrupt))
		}
		n, _, err := rb.scalar(0, 8) // length
		if err != nil || int64(n) < 0 {
			return fail(fmt.Errorf("record batch %d: bad length: %w", i, ErrCorrupt))
		}
		rows[i] = int64(n)
		blocks[i] = byteRange{off, metaLen + bodyLen}
	}
	return rows, blocks, dicts, nil
}

// fbTable is a bounds-checked view of a FlatBuffers table.
type fbTable struct {
	b          []byte
	pos        int // table start
	vt, vtSize int // vtable start and size
}

var errFlatbuf = fmt.Errorf("bad flatbuffer: %w", ErrCorrupt)

func fbU32(b []byte, at int) (uint32, bool) {
	if at < 0 || at > len(b)-4 {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b[at:]), true
}

func fbTableAt(b []byte, pos int) (fbTable, error) {
	so, ok := fbU32(b, pos)
	if !ok {
		return fbTable{}, errFlatbuf
	}
	vt := pos - int(int32(so))
	if vt < 0 || vt > len(b)-4 {
		return fbTable{}, errFlatbuf
	}
	vtSize := int(binary.LittleEndian.Uint16(b[vt:]))
	if vtSize < 4 || vt+vtSize > len(b) {
		return fbTable{}, errFlatbuf
	}
	return fbTable{b: b, pos: pos, vt: vt, vtSize: vtSize}, nil
}

func fbRoot(b []byte) (fbTable, error) {
	root, ok := fbU32(b, 0)
	if !ok {
		return fbTable{}, errFlatbuf
	}
	return fbTableAt(b, int(root))
}

// field returns the absolute position of field i, or false if absent.
func (t fbTable) field(i int) (int, bool) {
	slot := 4 + 2*i
	if slot+2 > t.vtSize {
		return 0, false
	}
	off := int(binary.LittleEndian.Uint16(t.b[t.vt+slot:]))
	if off == 0 {
		return 0, false
	}
	return t.pos + off, true
}

// scalar reads field i as a little-endian unsigned integer of size bytes.
func (t fbTable) scalar(i, size int) (uint64, bool, error) {
	at, ok := t.field(i)
	if !ok {
		return 0, false, nil
	}
	if at+size > len(t.b) {
		return 0, false, errFlatbuf
	}
	var v uint64
	for k := size - 1; k >= 0; k-- {
		v = v<<8 | uint64(t.b[at+k])
	}
	return v, true, nil
}

func (t fbTable) ref(i int) (int, bool, error) {
	at, ok := t.field(i)
	if !ok {
		return 0, false, nil
	}
	off, ok := fbU32(t.b, at)
	if !ok {
		return 0, false, errFlatbuf
	}
	return at + int(off), true, nil
}

func (t fbTable) table(i int) (fbTable, bool, error) {
	at, ok, err := t.ref(i)
	if err != nil || !ok {
		return fbTable{}, ok, err
	}
	sub, err := fbTableAt(t.b, at)
	return sub, err == nil, err
}

type fbVector struct{ pos, n int }

// vector returns field i as a vector of elemSize-byte elements.
func (t fbTable) vector(i, elemSize int) (fbVector, bool, error) {
	at, ok, err := t.ref(i)
	if err != nil || !ok {
		return fbVector{}, ok, err
	}
	n, ok := fbU32(t.b, at)
	if !ok || int64(n)*int64(elemSize) > int64(len(t.b)-at-4) {
		return fbVector{}, false, errFlatbuf
	}
	return fbVector{pos: at + 4, n: int(n)}, true, nil
}

// streamIndex locates the messages of an Arrow IPC stream (no footer, no
// random access of its own): the schema and dictionary messages every read
// needs, and each record batch's byte range.
type streamIndex struct {
	prefix  []byteRange // schema, then dictionary batches, in stream order
	batches []byteRange
	dictAt  []int    // number of prefix entries that precede each batch
	data    [][]byte // the prefix messages' bytes, read at open
}

// maxPrefix is the most schema and dictionary bytes a shard may hold (they
// are kept in memory).
const maxPrefix = 256 << 20

// loadPrefix reads the schema and dictionary messages into memory, so that a
// record batch read is one read of the batch's block.
func (ix *streamIndex) loadPrefix(f io.ReaderAt) error {
	var total int64
	for _, r := range ix.prefix {
		total += r.n
	}
	if total > maxPrefix {
		return fmt.Errorf("%d bytes of schema and dictionaries, more than %d: %w", total, maxPrefix, ErrCorrupt)
	}
	ix.data = make([][]byte, len(ix.prefix))
	for i, r := range ix.prefix {
		ix.data[i] = make([]byte, r.n)
		if _, err := f.ReadAt(ix.data[i], r.off); err != nil {
			return err
		}
		if err := checkMessageBytes(ix.data[i]); err != nil {
			return fmt.Errorf("message at %d: %w", r.off, err)
		}
	}
	return nil
}

type byteRange struct{ off, n int64 }

// indexStream walks the messages of the IPC stream in f, reading their
// metadata only (bodies are skipped), and returns the index and the rows of
// each record batch.
func indexStream(f io.ReaderAt, size int64) (*streamIndex, []int64, error) {
	ix := &streamIndex{}
	var rows []int64
	var hdr [8]byte
	var meta []byte
	for pos := int64(0); pos < size; {
		if size-pos < 4 {
			return nil, nil, fmt.Errorf("stream ends inside a message header at %d: %w", pos, ErrTruncated)
		}
		if _, err := f.ReadAt(hdr[:4], pos); err != nil {
			return nil, nil, err
		}
		start := pos
		metaLen := int64(int32(binary.LittleEndian.Uint32(hdr[:4])))
		pos += 4
		if uint32(metaLen) == 0xffffffff {
			if size-pos < 4 {
				return nil, nil, fmt.Errorf("stream ends inside a message header at %d: %w", pos, ErrTruncated)
			}
			if _, err := f.ReadAt(hdr[4:8], pos); err != nil {
				return nil, nil, err
			}
			metaLen = int64(int32(binary.LittleEndian.Uint32(hdr[4:8])))
			pos += 4
		}
		if metaLen == 0 {
			break // end-of-stream marker
		}
		if metaLen < 0 || metaLen > size-pos {
			return nil, nil, fmt.Errorf("message at %d with %d bytes of metadata: %w", start, metaLen, ErrTruncated)
		}
		if int64(cap(meta)) < metaLen {
			meta = make([]byte, metaLen)
		}
		meta = meta[:metaLen]
		if _, err := f.ReadAt(meta, pos); err != nil {
			return nil, nil, err
		}
		pos += metaLen
		m, err := fbRoot(meta)
		if err == nil {
			err = checkMessage(m)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("message at %d: %w", start, err)
		}
		typ, _, err := m.scalar(1, 1)
		if err != nil {
			return nil, nil, fmt.Errorf("message at %d: %w", start, err)
		}
		body, _, err := m.scalar(3, 8)
		if err != nil || int64(body) < 0 || int64(body) > size-pos {
			return nil, nil, fmt.Errorf("message at %d: body of %d bytes past the end: %w", start, int64(body), ErrTruncated)
		}
		pos += int64(body)
		r := byteRange{start, pos - start}
		switch typ {
		case 1, 2: // Schema, DictionaryBatch
			if typ == 1 && len(ix.prefix) > 0 {
				return nil, nil, fmt.Errorf("second schema message at %d: %w", start, ErrCorrupt)
			}
			if typ == 2 && len(ix.prefix) == 0 {
				return nil, nil, fmt.Errorf("dictionary before the schema at %d: %w", start, ErrCorrupt)
			}
			ix.prefix = append(ix.prefix, r)
		case 3: // RecordBatch
			if len(ix.prefix) == 0 {
				return nil, nil, fmt.Errorf("record batch before the schema at %d: %w", start, ErrCorrupt)
			}
			rb, ok, err := m.table(2)
			if err != nil || !ok {
				return nil, nil, fmt.Errorf("record batch at %d: no header: %w", start, ErrCorrupt)
			}
			n, _, err := rb.scalar(0, 8)
			if err != nil || int64(n) < 0 {
				return nil, nil, fmt.Errorf("record batch at %d: bad length: %w", start, ErrCorrupt)
			}
			ix.batches = append(ix.batches, r)
			ix.dictAt = append(ix.dictAt, len(ix.prefix))
			rows = append(rows, int64(n))
		default:
			return nil, nil, fmt.Errorf("message type %d at %d: %w", typ, start, ErrCorrupt)
		}
	}
	if len(ix.prefix) == 0 {
		return nil, nil, fmt.Errorf("stream without a schema: %w", ErrCorrupt)
	}
	return ix, rows, nil
}

// reader returns an IPC stream reader over the schema and dictionaries
// followed by record batch u (u < 0: no batch), whose block is read with one
// ReadAt.
func (ix *streamIndex) reader(f io.ReaderAt, u int, opts ...ipc.Option) (*ipc.Reader, error) {
	n := len(ix.prefix)
	if u >= 0 {
		n = ix.dictAt[u]
	}
	parts := make([]io.Reader, 0, n+1)
	for i, r := range ix.prefix[:n] {
		if ix.data != nil {
			parts = append(parts, bytes.NewReader(ix.data[i]))
		} else {
			parts = append(parts, io.NewSectionReader(f, r.off, r.n))
		}
	}
	if u >= 0 {
		r := ix.batches[u]
		buf := make([]byte, r.n)
		if _, err := f.ReadAt(buf, r.off); err != nil {
			return nil, err
		}
		// Checked again: the file may have changed since it was indexed.
		if err := checkMessageBytes(buf); err != nil {
			return nil, err
		}
		parts = append(parts, bytes.NewReader(buf))
	}
	return ipc.NewReader(io.MultiReader(parts...), opts...)
}

// record reads record batch u; the caller releases it.
func (ix *streamIndex) record(f io.ReaderAt, u int, opts ...ipc.Option) (arrow.Record, error) {
	if u >= len(ix.batches) {
		return nil, fmt.Errorf("record batch %d of %d", u, len(ix.batches))
	}
	r, err := ix.reader(f, u, opts...)
	if err != nil {
		return nil, err
	}
	defer r.Release()
	if !r.Next() {
		if err := r.Err(); err != nil {
			return nil, err
		}
		return nil, errors.New("no record batch")
	}
	rec := r.Record()
	rec.Retain()
	return rec, nil
}
