package sources

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/metadata"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
)

// parquetMeta is what a Parquet shard keeps between reads: the parsed footer
// (reused so that reads do not parse it again) and the leaf columns to read.
type parquetMeta struct {
	meta           *metadata.FileMetaData
	imgLeaf        int
	imgMaxDef      int16
	labelLeaf      int // -1 for none
	labelMaxDef    int16
	labelPhys      parquet.Type
	labelUnsigned  bool
	dataEnd        int64 // offset where the footer starts
	allocLimit     int
	readBufferSize int64
	noFastPath     bool      // tests: arrow/go's page reader, as the reference
	levelBufs      sync.Pool // scratch buffers of the column readers
}

// parquet816Padding is how far past its stated size a chunk of a
// pre-PARQUET-816 writer may reach (arrow/go's maxDictHeaderSize).
const parquet816Padding = 100

// parquetBatch is the number of values read per ReadBatch call.
const parquetBatch = 256

func (s *Shard) openParquet(f io.ReaderAt, cols Columns) (err error) {
	defer recoverCorrupt(s.Path, &err)
	var tail [8]byte
	if s.size < 12 {
		return fmt.Errorf("sources: shard %s: %d bytes, too short for a Parquet footer: %w", s.Path, s.size, ErrTruncated)
	}
	if _, err := f.ReadAt(tail[:], s.size-8); err != nil {
		return fmt.Errorf("sources: shard %s: %w", s.Path, err)
	}
	if string(tail[4:]) != "PAR1" {
		return fmt.Errorf("sources: shard %s: Parquet file does not end with its footer magic: %w", s.Path, ErrTruncated)
	}
	footerLen := int64(binary.LittleEndian.Uint32(tail[:4]))
	if footerLen > s.size-12 {
		return fmt.Errorf("sources: shard %s: footer of %d bytes in a %d-byte file: %w", s.Path, footerLen, s.size, ErrTruncated)
	}
	pm := &parquetMeta{dataEnd: s.size - 8 - footerLen, allocLimit: allocLimit(s.size), readBufferSize: 1 << 20}
	pm.levelBufs.New = func() any { return memory.NewResizableBuffer(memory.DefaultAllocator) }
	rdr, err := file.NewParquetReader(io.NewSectionReader(f, 0, s.size), file.WithReadProps(pm.props()))
	if err != nil {
		return fmt.Errorf("sources: shard %s: %w: %w", s.Path, ErrCorrupt, err)
	}
	meta := rdr.MetaData()
	pm.meta = meta
	if err := checkArrowSchemaMeta(meta.KeyValueMetadata().FindValue("ARROW:schema")); err != nil {
		return fmt.Errorf("sources: shard %s: its ARROW:schema metadata: %w", s.Path, err)
	}
	man, err := pqarrow.NewSchemaManifest(meta.Schema, meta.KeyValueMetadata(), &pqarrow.ArrowReadProperties{})
	if err != nil {
		return fmt.Errorf("sources: shard %s: schema: %w: %w", s.Path, ErrCorrupt, err)
	}
	fields := make([]arrow.Field, len(man.Fields))
	for i, sf := range man.Fields {
		fields[i] = *sf.Field
	}
	img, child, label, err := pickColumns(s.Path, fields, cols)
	if err != nil {
		return err
	}
	s.setColumnNames(fields, img, child, label)
	leaf := man.Fields[img]
	if child >= 0 {
		leaf = leaf.Children[child]
	}
	if !leaf.IsLeaf() {
		return fmt.Errorf("sources: shard %s: image column %s is not a leaf column: %w", s.Path, s.ImageColumn, ErrNoImageColumn)
	}
	pm.imgLeaf = leaf.ColIndex
	descr := meta.Schema.Column(pm.imgLeaf)
	if descr.PhysicalType() != parquet.Types.ByteArray || descr.MaxRepetitionLevel() != 0 {
		return fmt.Errorf("sources: shard %s: image column %s is %s (repetition %d), want a non-repeated BYTE_ARRAY: %w",
			s.Path, s.ImageColumn, descr.PhysicalType(), descr.MaxRepetitionLevel(), ErrNoImageColumn)
	}
	pm.imgMaxDef = descr.MaxDefinitionLevel()
	pm.labelLeaf = -1
	if label >= 0 {
		lf := man.Fields[label]
		ld := meta.Schema.Column(lf.ColIndex)
		if !lf.IsLeaf() || ld.MaxRepetitionLevel() != 0 ||
			(ld.PhysicalType() != parquet.Types.Int32 && ld.PhysicalType() != parquet.Types.Int64) {
			return fmt.Errorf("sources: shard %s: label column %s is not a plain integer column: %w", s.Path, s.LabelColumn, ErrLabelColumn)
		}
		pm.labelLeaf = lf.ColIndex
		pm.labelMaxDef = ld.MaxDefinitionLevel()
		pm.labelPhys = ld.PhysicalType()
		id := lf.Field.Type.ID()
		pm.labelUnsigned = id == arrow.UINT32 || id == arrow.UINT64
	}
	n := len(meta.RowGroups)
	s.unitRows = make([]int64, n)
	for i := range n {
		rg := meta.RowGroup(i)
		rows := rg.NumRows()
		if rows < 0 {
			return fmt.Errorf("sources: shard %s: row group %d has %d rows: %w", s.Path, i, rows, ErrCorrupt)
		}
		s.unitRows[i] = rows
		for _, c := range []int{pm.imgLeaf, pm.labelLeaf} {
			if c < 0 {
				continue
			}
			if err := pm.checkChunk(s.Path, rg, i, c); err != nil {
				return err
			}
		}
	}
	s.pq = pm
	return nil
}

// checkChunk verifies that column chunk c of row group i lies inside the
// file's data area, so that a truncated file is reported as such up front
// (and no read allocates more than the file holds).
func (pm *parquetMeta) checkChunk(path string, rg *metadata.RowGroupMetaData, i, c int) error {
	cc, err := rg.ColumnChunk(c)
	if err != nil {
		return fmt.Errorf("sources: shard %s: row group %d: %w: %w", path, i, ErrCorrupt, err)
	}
	start := cc.DataPageOffset()
	if cc.HasDictionaryPage() && cc.DictionaryPageOffset() > 0 && cc.DictionaryPageOffset() < start {
		start = cc.DictionaryPageOffset()
	}
	size := cc.TotalCompressedSize()
	if start < 0 || size < 0 {
		return fmt.Errorf("sources: shard %s: row group %d column %d at offset %d, %d bytes: %w", path, i, c, start, size, ErrCorrupt)
	}
	if start+size > pm.dataEnd {
		return fmt.Errorf("sources: shard %s: row group %d column %d ends at byte %d, past the data end %d: %w", path, i, c, start+size, pm.dataEnd, ErrTruncated)
	}
	return nil
}

func (pm *parquetMeta) props() *parquet.ReaderProperties {
	props := parquet.NewReaderProperties(&limitAllocator{limit: pm.allocLimit})
	props.BufferedStreamEnabled = true
	props.BufferSize = pm.readBufferSize
	return props
}

func (s *Shard) readParquet(ctx context.Context, u int, lo, hi int64, fn func(row int64, image []byte, label int) error) error {
	pm := s.pq
	f, err := s.object(ctx)
	if err != nil {
		return err
	}
	defer f.Close()
	rdr, err := file.NewParquetReader(io.NewSectionReader(f, 0, s.size), file.WithMetadata(pm.meta), file.WithReadProps(pm.props()))
	if err != nil {
		return fmt.Errorf("sources: shard %s: %w: %w", s.Path, ErrCorrupt, err)
	}
	bufs := pageBufferPool.Get().(*pageBuffers)
	defer func() { bufs.trim(); pageBufferPool.Put(bufs) }()
	cr, imgPages, err := pm.column(f, rdr, u, pm.imgLeaf, 0, bufs)
	if err != nil {
		return s.chunkErr(u, err)
	}
	if imgPages != nil {
		defer imgPages.release()
	}
	imgs, ok := cr.(*file.ByteArrayColumnChunkReader)
	if !ok {
		return fmt.Errorf("sources: shard %s: image column is %T: %w", s.Path, cr, ErrCorrupt)
	}
	var lab labelReader
	var labPages *memPageReader
	if pm.labelLeaf >= 0 {
		lc, pages, err := pm.column(f, rdr, u, pm.labelLeaf, 1, bufs)
		if err != nil {
			return s.chunkErr(u, err)
		}
		if labPages = pages; pages != nil {
			defer pages.release()
		}
		lab = labelReader{maxDef: pm.labelMaxDef, unsigned: pm.labelUnsigned}
		switch c := lc.(type) {
		case *file.Int32ColumnChunkReader:
			lab.i32 = c
		case *file.Int64ColumnChunkReader:
			lab.i64 = c
		default:
			return fmt.Errorf("sources: shard %s: label column is %T: %w", s.Path, lc, ErrCorrupt)
		}
	}
	var (
		vals   [parquetBatch]parquet.ByteArray
		defs   [parquetBatch]int16
		labels [parquetBatch]int
	)
	if lo > 0 {
		// Whole pages before lo are passed over undecompressed; the rest
		// (within one page) is read and dropped.
		imgLo, labLo := lo, lo
		if imgPages != nil && pm.meta.Schema.Column(pm.imgLeaf).MaxRepetitionLevel() == 0 {
			n, err := imgPages.skipPages(lo)
			if err != nil {
				return s.shortUnit(imgPages, labPages, u, n, lo, err)
			}
			imgLo -= n
		}
		if labPages != nil && pm.meta.Schema.Column(pm.labelLeaf).MaxRepetitionLevel() == 0 {
			n, err := labPages.skipPages(lo)
			if err != nil {
				return s.shortUnit(imgPages, labPages, u, n, lo, err)
			}
			labLo -= n
		}
		if imgLo > 0 {
			if n, err := discardImages(imgs, imgPages, imgLo, vals[:], defs[:]); err != nil || n != imgLo {
				return s.shortUnit(imgPages, labPages, u, lo-imgLo+n, lo, err)
			}
		}
		if labLo > 0 {
			if err := lab.skip(labLo, labels[:]); err != nil {
				return s.shortUnit(imgPages, labPages, u, 0, lo, err)
			}
		}
	}
	if lo > 0 && imgPages != nil {
		imgPages.reclaim() // the pages skipped over
	}
	// A ReadBatch's values point into the pages it read, which stay in use
	// until the values are handed over: read about a piece's bytes
	// (pieceBytes) at a time, not parquetBatch large images.
	batch := int64(parquetBatch)
	if cc, err := pm.meta.RowGroup(u).ColumnChunk(pm.imgLeaf); err == nil && s.unitRows[u] > 0 {
		if avg := cc.TotalUncompressedSize() / s.unitRows[u]; avg > 0 {
			batch = min(max(pieceBytes/avg, 1), parquetBatch)
		}
	}
	row := lo
	first := s.first[u]
	for row < hi {
		// arrow/go's column reader keeps the value count of a page it
		// failed to set up, and its next ReadBatch then loops forever
		// (see checkHeader): its error is looked at before each batch.
		if err := imgs.Err(); err != nil {
			return s.shortUnit(imgPages, labPages, u, row, hi, err)
		}
		want := min(batch, hi-row)
		// On an error, the rows read before it are handed over first.
		total, nv, readErr := imgs.ReadBatch(want, vals[:], defs[:], nil)
		if total == 0 {
			return s.shortUnit(imgPages, labPages, u, row, hi, readErr)
		}
		if err := lab.read(total, labels[:total]); err != nil {
			return s.shortUnit(imgPages, labPages, u, row, hi, err)
		}
		vi := 0
		for i := range int(total) {
			var v []byte
			if pm.imgMaxDef == 0 || defs[i] == pm.imgMaxDef {
				if vi >= nv {
					return fmt.Errorf("sources: shard %s: row group %d: levels and values disagree: %w", s.Path, u, ErrCorrupt)
				}
				v = vals[vi]
				vi++
			}
			if err := fn(first+row+int64(i), v, labels[i]); err != nil {
				return err
			}
		}
		row += total
		if readErr != nil {
			return s.shortUnit(imgPages, labPages, u, row, hi, readErr)
		}
		// Every value read so far has been handed over: earlier pages'
		// buffers can be reused.
		if imgPages != nil {
			imgPages.reclaim()
		}
		if labPages != nil {
			labPages.reclaim()
		}
	}
	return nil
}

// column returns a reader of leaf column leaf of row group u: the fast path
// (a memPageReader over a chunkStream: the chunk read in windows of at most
// chunkWindow bytes, up to chunkInFlight of them in flight) when it applies,
// else arrow/go's own (and a nil page reader).
func (pm *parquetMeta) column(f io.ReaderAt, rdr *file.Reader, u, leaf, slot int, bufs *pageBuffers) (file.ColumnChunkReader, *memPageReader, error) {
	_ = slot
	cc, err := pm.meta.RowGroup(u).ColumnChunk(leaf)
	if err != nil {
		return nil, nil, err
	}
	// Every chunk a read can take goes through our page reader: arrow/go's
	// loops forever on some damaged pages (FuzzParquetPages' seeds
	// c3351007a696eadb and 61ad66a121dadd04, in its page header parsing
	// and its batch loop), which no check of ours can reach. Only tests
	// use it, as the reference.
	if pm.noFastPath {
		cr, err := rdr.RowGroup(u).Column(leaf)
		return cr, nil, err
	}
	if cc.CryptoMetadata() != nil {
		// No decryption keys are ever given to arrow/go's reader either.
		return nil, nil, errors.New("column chunk is encrypted (Parquet modular encryption is not read)")
	}
	if !fastCodec(cc.Compression()) {
		return nil, nil, fmt.Errorf("column chunk compressed with %s, which is not read", cc.Compression())
	}
	start := cc.DataPageOffset()
	if cc.HasDictionaryPage() && cc.DictionaryPageOffset() > 0 && cc.DictionaryPageOffset() < start {
		start = cc.DictionaryPageOffset()
	}
	size := cc.TotalCompressedSize()
	if start < 0 || size < 0 || start+size > pm.dataEnd {
		return nil, nil, fmt.Errorf("column chunk at %d, %d bytes, outside the data", start, size)
	}
	if pm.meta.WriterVersion().LessThan(metadata.Parquet816FixedVersion) {
		// parquet-mr up to 1.2.8 left the dictionary page's header out of
		// a chunk's size (PARQUET-816, IMPALA-694): allow what arrow/go
		// does, up to 100 bytes more (the page reader stops at the chunk's
		// value count, not at its end).
		size += min(parquet816Padding, pm.dataEnd-(start+size))
	}
	descr := pm.meta.Schema.Column(leaf)
	pr := &memPageReader{src: newChunkStream(f, start, size, bufs), nvals: cc.NumValues(), codec: cc.Compression(), limit: pm.allocLimit, bufs: bufs,
		maxRep: descr.MaxRepetitionLevel(), maxDef: descr.MaxDefinitionLevel(), phys: descr.PhysicalType(), col: descr.Path()}
	mem := memory.DefaultAllocator
	return file.NewColumnReader(pm.meta.Schema.Column(leaf), pr, mem, &pm.levelBufs), pr, nil
}

// chunkErr wraps an error of reading a column chunk: a storage error (a
// vanished or unreadable object, a cancelled read) as it is, anything else
// as corruption.
func (s *Shard) chunkErr(u int, err error) error {
	var se *StorageError
	if errors.As(err, &se) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("sources: shard %s: row group %d: %w", s.Path, u, err)
	}
	return fmt.Errorf("sources: shard %s: row group %d: %w: %w", s.Path, u, ErrCorrupt, err)
}

func (s *Shard) shortUnit(img, lab *memPageReader, u int, got, want int64, err error) error {
	// arrow/go's column readers stop at a page reader error without
	// returning it: take it from the page readers.
	for _, pr := range []*memPageReader{img, lab} {
		if err == nil && pr != nil && pr.err != nil {
			err = pr.err
		}
	}
	if err != nil {
		return s.chunkErr(u, err)
	}
	return fmt.Errorf("sources: shard %s: row group %d ended at row %d of %d: %w", s.Path, u, got, want, ErrCorrupt)
}

// labelReader reads an optional Parquet integer label column in step with
// the image column. The zero value (no column) yields -1 labels.
type labelReader struct {
	i32      *file.Int32ColumnChunkReader
	i64      *file.Int64ColumnChunkReader
	maxDef   int16
	unsigned bool
	b32      [parquetBatch]int32
	b64      [parquetBatch]int64
	defs     [parquetBatch]int16
}

// discardImages reads and drops the next n rows of the image column. Not
// with the column reader's Skip: arrow/go's skipValues retries a page whose
// values fail to decode without end (its loop looks at the error only once
// it is over), which would hang a read from a row within such a page of a
// required column.
func discardImages(imgs *file.ByteArrayColumnChunkReader, pages *memPageReader, n int64, vals []parquet.ByteArray, defs []int16) (int64, error) {
	var done int64
	for done < n {
		if err := imgs.Err(); err != nil {
			return done, err
		}
		total, _, err := imgs.ReadBatch(min(n-done, int64(len(vals))), vals, defs, nil)
		done += total
		if err != nil || total == 0 {
			return done, err
		}
		if pages != nil {
			pages.reclaim()
		}
	}
	return done, nil
}

// skip reads and drops the next n labels (scratch holds a batch), with
// ReadBatch for the reason discardImages gives.
func (l *labelReader) skip(n int64, scratch []int) error {
	if l.i32 == nil && l.i64 == nil {
		return nil
	}
	for done := int64(0); done < n; {
		k := min(n-done, int64(len(scratch)))
		if err := l.read(k, scratch[:k]); err != nil {
			return fmt.Errorf("label column, %d rows into %d skipped: %w", done, n, err)
		}
		done += k
	}
	return nil
}

// read fills dst (len n ≤ parquetBatch) with the next n labels.
func (l *labelReader) read(n int64, dst []int) error {
	if l.i32 == nil && l.i64 == nil {
		for i := range dst {
			dst[i] = -1
		}
		return nil
	}
	var total int64
	var nv int
	var err error
	// The column reader's error first (see readParquet's batch loop).
	if l.i32 != nil {
		if err := l.i32.Err(); err != nil {
			return err
		}
		total, nv, err = l.i32.ReadBatch(n, l.b32[:], l.defs[:], nil)
	} else {
		if err := l.i64.Err(); err != nil {
			return err
		}
		total, nv, err = l.i64.ReadBatch(n, l.b64[:], l.defs[:], nil)
	}
	if err != nil {
		return err
	}
	if total != n {
		return fmt.Errorf("label column has %d rows where the image column has %d", total, n)
	}
	vi := 0
	for i := range dst {
		if l.maxDef != 0 && l.defs[i] != l.maxDef {
			dst[i] = -1
			continue
		}
		if vi >= nv {
			return fmt.Errorf("label levels and values disagree")
		}
		switch {
		case l.i32 != nil && l.unsigned:
			dst[i] = int(uint32(l.b32[vi]))
		case l.i32 != nil:
			dst[i] = int(l.b32[vi])
		default:
			dst[i] = int(l.b64[vi])
		}
		vi++
	}
	return nil
}

// allocLimit is the largest single allocation a read of a file of the given
// size may make: far above what a sane shard needs (a page or record batch
// buffer expands at most ~16× when decompressed for image data), and low
// enough that a malformed length field fails instead of exhausting memory.
func allocLimit(size int64) int {
	return int(max(64<<20, min(16*size, 1<<34)))
}

// limitAllocator is a Go allocator that panics (recovered into ErrCorrupt by
// the readers) on an allocation larger than limit.
type limitAllocator struct {
	memory.GoAllocator
	limit int
}

func (a *limitAllocator) Allocate(size int) []byte {
	if size > a.limit || size < 0 {
		panic(fmt.Sprintf("allocation of %d bytes exceeds the limit of %d", size, a.limit))
	}
	return a.GoAllocator.Allocate(size)
}

func (a *limitAllocator) Reallocate(size int, b []byte) []byte {
	if size > a.limit || size < 0 {
		panic(fmt.Sprintf("allocation of %d bytes exceeds the limit of %d", size, a.limit))
	}
	return a.GoAllocator.Reallocate(size, b)
}

// checkArrowSchemaMeta checks the Arrow schema a Parquet writer may store
// in the footer (key "ARROW:schema": base64 of an IPC schema message),
// which pqarrow hands to arrow/go's IPC reader unchecked: the FuzzParquetPages
// input 834029b4956ba913 declared a field count that made it ask for 144 GB
// (the same flaw checkMessageBytes guards Arrow IPC shards against).
func checkArrowSchemaMeta(serialized *string) error {
	if serialized == nil {
		return nil
	}
	// As pqarrow decodes it: standard base64, else unpadded.
	b, err := base64.StdEncoding.DecodeString(*serialized)
	if len(b) == 0 || err != nil {
		b, err = base64.RawStdEncoding.DecodeString(*serialized)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return checkMessageBytes(b)
}
