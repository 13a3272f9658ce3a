package sources

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sync"

	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/golang/snappy"
	"github.com/klauspost/compress/zstd"
)

// This file is the fast path for reading Parquet column chunks: a
// file.PageReader over a column chunk held in one reused buffer. Compared
// with arrow/go's serialized page reader it reads a chunk with a single
// ReadAt, hands uncompressed pages to the decoders without copying, and
// decompresses snappy and zstd pages into reused buffers, so that reading a
// unit allocates (almost) nothing; arrow/go's own decoders still decode the
// levels and values. Other codecs go through arrow/go's codec (see
// fastCodec). It is the only page reader reads use (arrow/go's loops
// forever on some damaged pages; encrypted chunks are refused);
// TestParquetFastPathMatchesLibrary checks that it agrees with arrow/go's.

// fastCodec reports whether the fast path handles codec c: snappy and zstd
// into reused buffers, the others arrow/go has (gzip, brotli, lz4) through
// its codec; a chunk of any other codec is refused.
func fastCodec(c compress.Compression) bool {
	if c == compress.Codecs.Uncompressed || c == compress.Codecs.Snappy || c == compress.Codecs.Zstd {
		return true
	}
	_, err := compress.GetCodec(c)
	return err == nil
}

// pageBuffers holds the reusable buffers of one ReadUnit call: the window
// buffers of the chunk streams, decompressed page buffers, and the scratch
// where compressed page bytes that span two windows are joined.
type pageBuffers struct {
	windows [][]byte
	spare   [][]byte
}

var pageBufferPool = sync.Pool{New: func() any { return new(pageBuffers) }}

// maxSparePage is the largest page buffer kept for reuse across units: a
// shard with pages of tens of MB (written with arrow/go's default batch of
// 1,024 values) would otherwise leave such buffers in every pooled
// pageBuffers, on top of the ones in use.
const maxSparePage = 4 << 20

// trim drops the spare page buffers over maxSparePage (before the buffers
// go back to the pool, at the end of a unit).
func (b *pageBuffers) trim() {
	keep := b.spare[:0]
	for _, p := range b.spare {
		if cap(p) <= maxSparePage {
			keep = append(keep, p)
		}
	}
	clear(b.spare[len(keep):])
	b.spare = keep
}

// window returns a buffer of n bytes from the spare windows, or a new one.
func (b *pageBuffers) window(n int) []byte {
	for i, w := range b.windows {
		if cap(w) >= n {
			last := len(b.windows) - 1
			b.windows[i] = b.windows[last]
			b.windows = b.windows[:last]
			return w[:n]
		}
	}
	return make([]byte, n)
}

// page returns a buffer of capacity ≥ n from the spares, or a new one.
func (b *pageBuffers) page(n int) []byte {
	for i, p := range b.spare {
		if cap(p) >= n {
			last := len(b.spare) - 1
			b.spare[i] = b.spare[last]
			b.spare = b.spare[:last]
			return p[:0]
		}
	}
	return make([]byte, 0, n)
}

// Chunk streams read a column chunk in windows of at most chunkWindow bytes
// (one ReadAt each: one ranged GET for a remote shard) and keep up to
// chunkInFlight window reads in flight ahead of the one being decoded, so
// that a link with tens of milliseconds per request does not starve the
// decoder: at 20 ms per request, 4 reads of 2 MiB in flight deliver ~400 MB/s
// per stream, several times what decode consumes. Column chunks up to
// chunkWindow bytes are read whole (one request).
//
// Memory per stream: at most chunkInFlight+1 windows (the reads in flight
// and the window being decoded: 10 MiB) plus the join of a page that spans
// windows (about the page's size). Requests in flight per stream: at most
// chunkInFlight.
const (
	chunkWindow   = 2 << 20
	chunkInFlight = 4
)

// chunkStream reads the byte range [pos, end) of a shard sequentially in
// windows aligned at the range's start (the same windows every epoch, which
// the cache relies on). Each window is read by its own goroutine, owned by
// the stream: close waits for every read still in flight. The reads stop
// early when the context the shard's Object was opened with is cancelled
// (a remote object checks it on every request); a local file's reads are
// preads that finish on their own. Not safe for concurrent use.
type chunkStream struct {
	r          io.ReaderAt
	start, end int64
	pos        int64
	buf        []byte // bytes [bufOff, bufOff+len(buf)) of the shard
	bufOff     int64
	bufWindow  bool // buf is a window buffer (else the join scratch)
	join       []byte
	queue      []*windowRead // reads in flight or done, in offset order; at most chunkInFlight
	nextOff    int64         // offset of the first window not yet asked for
	bufs       *pageBuffers
}

type windowRead struct {
	data []byte
	off  int64
	err  error
	done chan struct{}
}

func newChunkStream(r io.ReaderAt, start, size int64, bufs *pageBuffers) *chunkStream {
	s := &chunkStream{r: r, start: start, end: start + size, pos: start, bufOff: start, nextOff: start, bufs: bufs}
	s.queue = make([]*windowRead, 0, chunkInFlight)
	s.prefetch()
	return s
}

// prefetch starts window reads until chunkInFlight are queued or the range
// is all asked for.
func (s *chunkStream) prefetch() {
	for len(s.queue) < chunkInFlight && s.nextOff < s.end {
		n := min(int64(chunkWindow), s.end-s.nextOff)
		w := &windowRead{data: s.bufs.window(int(n)), off: s.nextOff, done: make(chan struct{})}
		s.nextOff += n
		s.queue = append(s.queue, w)
		go func() {
			defer close(w.done)
			if _, err := s.r.ReadAt(w.data, w.off); err != nil {
				w.err = fmt.Errorf("reading bytes %d..%d: %w", w.off, w.off+int64(len(w.data)), err)
			}
		}()
	}
}

// take waits for the oldest window read and removes it from the queue; the
// caller recycles what it no longer needs, then calls prefetch.
func (s *chunkStream) take() (*windowRead, error) {
	if len(s.queue) == 0 {
		return nil, fmt.Errorf("column chunk ends at byte %d: %w", s.end, io.ErrUnexpectedEOF)
	}
	w := s.queue[0]
	<-w.done
	copy(s.queue, s.queue[1:])
	s.queue[len(s.queue)-1] = nil
	s.queue = s.queue[:len(s.queue)-1]
	if w.err != nil {
		s.bufs.windows = append(s.bufs.windows, w.data)
		return nil, w.err
	}
	return w, nil
}

// remaining returns the bytes left in the range after the read position.
func (s *chunkStream) remaining() int64 { return s.end - s.pos }

// peek returns the n bytes at the read position (n ≤ remaining()), valid
// until the next peek or close.
func (s *chunkStream) peek(n int) ([]byte, error) {
	if int64(n) > s.remaining() {
		return nil, fmt.Errorf("%d bytes wanted, %d left in the column chunk: %w", n, s.remaining(), io.ErrUnexpectedEOF)
	}
	for {
		at := int(s.pos - s.bufOff)
		if len(s.buf)-at >= n {
			return s.buf[at : at+n], nil
		}
		if at == len(s.buf) {
			// The current window is used up: hand it back before waiting,
			// so that the next read can reuse it.
			s.recycle()
		}
		w, err := s.take()
		if err != nil {
			return nil, err
		}
		if s.buf == nil {
			s.buf, s.bufOff, s.bufWindow = w.data, w.off, true
			s.prefetch()
			continue
		}
		s.join = append(append(s.join[:0], s.buf[at:]...), w.data...)
		s.recycle()
		s.bufs.windows = append(s.bufs.windows, w.data)
		s.buf, s.bufOff, s.bufWindow = s.join, s.pos, false
		s.prefetch()
	}
}

func (s *chunkStream) recycle() {
	if s.bufWindow && s.buf != nil {
		s.bufs.windows = append(s.bufs.windows, s.buf[:cap(s.buf)])
	}
	s.buf, s.bufWindow = nil, false
}

// advance moves the read position n bytes on (after a peek of ≥ n bytes).
func (s *chunkStream) advance(n int) { s.pos += int64(n) }

// skip moves the read position n bytes on (n ≤ remaining()), past bytes
// that need not have been peeked: the windows wholly before the new
// position are handed back as their reads complete (they are still read:
// the next page's header may lie in any of them).
func (s *chunkStream) skip(n int64) error {
	if n > s.remaining() {
		return fmt.Errorf("%d bytes skipped, %d left in the column chunk: %w", n, s.remaining(), io.ErrUnexpectedEOF)
	}
	s.pos += n
	if s.buf != nil && s.pos >= s.bufOff+int64(len(s.buf)) {
		s.recycle()
	}
	for s.buf == nil && len(s.queue) > 0 && s.queue[0].off+int64(len(s.queue[0].data)) <= s.pos {
		w, err := s.take()
		if err != nil {
			return err
		}
		s.bufs.windows = append(s.bufs.windows, w.data)
		s.prefetch()
	}
	return nil
}

// close waits for the reads in flight and returns the buffers.
func (s *chunkStream) close() {
	for _, w := range s.queue {
		<-w.done
		s.bufs.windows = append(s.bufs.windows, w.data)
	}
	clear(s.queue)
	s.queue = s.queue[:0]
	s.nextOff = s.end // nothing more is asked for
	s.recycle()
}

var (
	zstdOnce sync.Once
	zstdDec  *zstd.Decoder
	zstdErr  error
)

// zstdDecoder returns the shared zstd decoder (DecodeAll is safe for
// concurrent use). Its memory ceiling bounds what a malformed frame can make
// it allocate.
func zstdDecoder() (*zstd.Decoder, error) {
	zstdOnce.Do(func() {
		zstdDec, zstdErr = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(1<<31))
	})
	return zstdDec, zstdErr
}

// memPageReader implements file.PageReader over a column chunk read through
// a chunkStream: page by page, each page's bytes copied (or decompressed)
// into a reused page buffer.
type memPageReader struct {
	src   *chunkStream
	nvals int64 // values (levels) the chunk holds, from its metadata
	seen  int64
	codec compress.Compression
	limit int // largest page allowed
	bufs  *pageBuffers
	// Decompressed pages the current ReadBatch may still point into; the
	// dictionary page lives as long as the chunk.
	inUse [][]byte
	dict  []byte
	// The column's largest repetition and definition levels, its type (checkHeader, checkLevels).
	maxRep, maxDef int16
	phys           parquet.Type
	col            string // the column's path, for errors
	pages          int    // pages met so far, the current one included
	pageOff        int64  // chunk offset of the current page's header
	page           file.Page
	err            error
}

func (r *memPageReader) SetMaxPageHeaderSize(int) {}
func (r *memPageReader) Page() file.Page          { return r.page }
func (r *memPageReader) Err() error               { return r.err }
func (r *memPageReader) Reset(parquet.BufferedReader, int64, compress.Compression, *file.CryptoContext) {
	r.err = errors.New("sources: memPageReader cannot be reset")
}

// reclaim returns the buffers of pages before the current one to the spares:
// the caller has copied out every value read so far.
func (r *memPageReader) reclaim() {
	if len(r.inUse) <= 1 {
		return
	}
	last := len(r.inUse) - 1
	r.bufs.spare = append(r.bufs.spare, r.inUse[:last]...)
	r.inUse[0] = r.inUse[last]
	clear(r.inUse[1:])
	r.inUse = r.inUse[:1]
}

// release returns every buffer (at the end of the chunk's read).
func (r *memPageReader) release() {
	r.src.close()
	r.bufs.spare = append(r.bufs.spare, r.inUse...)
	if r.dict != nil {
		r.bufs.spare = append(r.bufs.spare, r.dict)
	}
	r.inUse, r.dict = nil, nil
}

// where names the page being read: its column, its number in the column
// chunk (from 1) and the offset of its header there.
func (r *memPageReader) where() string {
	return fmt.Sprintf("column %s: page %d at chunk offset %d", r.col, r.pages, r.pageOff)
}

// failErr records err (from reading the chunk's bytes) keeping its chain.
func (r *memPageReader) failErr(err error) bool {
	r.err = fmt.Errorf("%s: %w", r.where(), err)
	return false
}

func (r *memPageReader) fail(format string, args ...any) bool {
	r.err = fmt.Errorf("%s: "+format, append([]any{r.where()}, args...)...)
	return false
}

func (r *memPageReader) Next() bool {
	if r.page != nil {
		r.page.Release()
		r.page = nil
	}
	for r.seen < r.nvals && r.src.remaining() > 0 && r.err == nil {
		h, n, ok := r.header()
		if !ok {
			return false
		}
		if h.typ == pageData || h.typ == pageDataV2 {
			if err := r.checkHeader(h); err != nil {
				return r.fail("%v", err)
			}
		}
		r.src.advance(n)
		body, err := r.src.peek(h.compressed)
		if err != nil {
			return r.failErr(err)
		}
		r.src.advance(h.compressed)
		switch h.typ {
		case pageDictionary:
			if h.numValues < 0 {
				return r.fail("negative value count")
			}
			data, err := r.decompress(body, h.uncompressed, nil)
			if err != nil {
				return r.fail("%v", err)
			}
			r.inUse = r.inUse[:len(r.inUse)-1] // owned by the dictionary now
			if r.dict != nil {
				r.bufs.spare = append(r.bufs.spare, r.dict)
			}
			r.dict = data
			r.page = file.NewDictionaryPage(memory.NewBufferBytes(data), h.numValues, parquet.Encoding(h.encoding))
			return true
		case pageData:
			if h.numValues < 0 {
				return r.fail("negative value count")
			}
			data, err := r.decompress(body, h.uncompressed, nil)
			if err != nil {
				return r.fail("%v", err)
			}
			if err := r.checkLevels(data, h); err != nil {
				return r.fail("%v", err)
			}
			r.seen += int64(h.numValues)
			r.page = file.NewDataPageV1(memory.NewBufferBytes(data), h.numValues, parquet.Encoding(h.encoding),
				parquet.Encoding(h.defEncoding), parquet.Encoding(h.repEncoding), int32(h.uncompressed))
			return true
		case pageDataV2:
			if h.numValues < 0 || h.defLen < 0 || h.repLen < 0 || h.defLen+h.repLen > h.compressed || h.defLen+h.repLen > h.uncompressed {
				return r.fail("invalid v2 header")
			}
			levels := h.defLen + h.repLen
			var data []byte
			if h.v2Compressed {
				data, err = r.decompress(body[levels:], h.uncompressed-levels, body[:levels])
				if err != nil {
					return r.fail("%v", err)
				}
			} else {
				if h.compressed != h.uncompressed {
					return r.fail("uncompressed v2 page of %d bytes claims %d", h.compressed, h.uncompressed)
				}
				data = r.keep(body)
			}
			if err := r.checkLevels(data, h); err != nil {
				return r.fail("%v", err)
			}
			r.seen += int64(h.numValues)
			r.page = file.NewDataPageV2(memory.NewBufferBytes(data), h.numValues, h.numNulls, h.numRows, parquet.Encoding(h.encoding),
				int32(h.defLen), int32(h.repLen), int32(h.uncompressed), h.v2Compressed)
			return true
		default:
			// index pages and unknown types: skip
		}
	}
	return false
}

// header parses the page header at the read position (without moving past
// it) and checks its sizes: the header, its length in bytes, and false
// after recording the error.
func (r *memPageReader) header() (pageHeader, int, bool) {
	var h pageHeader
	var n int
	r.pages++
	r.pageOff = r.src.pos - r.src.start
	for want := int64(256); ; want *= 16 {
		b, err := r.src.peek(int(min(want, r.src.remaining())))
		if err != nil {
			return h, 0, r.failErr(err)
		}
		n, err = h.parse(b)
		if err == nil {
			break
		}
		if !errors.Is(err, errShortHeader) || int64(len(b)) == r.src.remaining() || want >= 1<<24 {
			return h, 0, r.fail("header: %v", err)
		}
	}
	if h.compressed < 0 || h.uncompressed < 0 || int64(h.compressed) > r.src.remaining()-int64(n) {
		return h, 0, r.fail("%d compressed bytes, %d uncompressed, %d left in the chunk", h.compressed, h.uncompressed, r.src.remaining()-int64(n))
	}
	if h.uncompressed > r.limit || h.compressed > r.limit {
		return h, 0, r.fail("page of %d bytes exceeds the limit of %d", max(h.uncompressed, h.compressed), r.limit)
	}
	return h, n, true
}

// skipPages moves past the data pages that lie wholly within the next n
// values of a flat column (one value or null per row, so a page's value
// count is its row count) without decompressing them, and returns the
// values it skipped; the column reader skips the rest (less than a page).
// It stops at the first other page (a dictionary page must reach the
// column reader). Reading rows [lo, hi) of a unit thus decompresses the
// pages of those rows only, not every page before lo as well.
func (r *memPageReader) skipPages(n int64) (int64, error) {
	var done int64
	for r.seen < r.nvals && r.src.remaining() > 0 && r.err == nil {
		h, hn, ok := r.header()
		if !ok {
			break
		}
		if (h.typ != pageData && h.typ != pageDataV2) || h.numValues < 0 || int64(h.numValues) > n-done {
			r.pages-- // Next reads this header again
			break
		}
		if err := r.src.skip(int64(hn + h.compressed)); err != nil {
			r.failErr(err)
			break
		}
		r.seen += int64(h.numValues)
		done += int64(h.numValues)
	}
	return done, r.err
}

// parquet.thrift's Encoding values that pages may carry.
const (
	encodingPlain          = 0
	encodingPlainDict      = 2
	encodingRLE            = 3 // levels: the hybrid of runs and bit-packed groups
	encodingBitPacked      = 4 // levels only (deprecated): w bits a level, no length
	encodingDeltaBinary    = 5
	encodingDeltaLength    = 6
	encodingDeltaByteArray = 7
	encodingRLEDict        = 8
)

// checkHeader checks a data page's header before its body is read: the
// encodings of its levels and values, and that it holds values while the
// chunk has values left.
//
// arrow/go's column reader (v15) keeps the value count of a page it fails
// to set up (an unknown level or value encoding), and its next ReadBatch
// decodes that page's levels with no decoder: no level and no value
// comes, no error, and its batch loop (columnChunkReader.readBatch) goes on
// forever. The FuzzParquetPages input 6596d2f1d935c3b4 (definition levels
// "in" PLAIN_DICTIONARY) hung it that way on both page readers.
func (r *memPageReader) checkHeader(h pageHeader) error {
	if h.numValues == 0 {
		return fmt.Errorf("data page of no values, %d of the chunk's %d left", r.nvals-r.seen, r.nvals)
	}
	if h.typ == pageData {
		for _, l := range r.levels(h) {
			if l.max > 0 && l.enc != encodingRLE && l.enc != encodingBitPacked {
				return fmt.Errorf("%s levels in encoding %s, want RLE or BIT_PACKED", l.name, encodingName(l.enc))
			}
		}
	}
	switch h.encoding {
	case encodingPlain, encodingDeltaBinary, encodingDeltaLength, encodingDeltaByteArray:
	case encodingRLE:
		if r.phys != parquet.Types.Boolean {
			return fmt.Errorf("%s values in encoding RLE (booleans only)", r.phys)
		}
	case encodingPlainDict, encodingRLEDict:
		if r.dict == nil {
			return fmt.Errorf("values in encoding %s and no dictionary page before", encodingName(h.encoding))
		}
	default:
		return fmt.Errorf("values in encoding %s, which is not read", encodingName(h.encoding))
	}
	return nil
}

// levelSpec is one of a data page's two level sections: its name, the
// column's largest level (0: the section is absent) and its encoding (v1
// pages).
type levelSpec struct {
	name string
	max  int16
	enc  int32
}

// levels returns h's repetition and definition level sections, in the
// order a v1 page stores them.
func (r *memPageReader) levels(h pageHeader) [2]levelSpec {
	return [2]levelSpec{{"repetition", r.maxRep, h.repEncoding}, {"definition", r.maxDef, h.defEncoding}}
}

// encodingName names a parquet.thrift Encoding value (or gives the number).
func encodingName(e int32) string {
	names := [...]string{"PLAIN", "GROUP_VAR_INT", "PLAIN_DICTIONARY", "RLE", "BIT_PACKED",
		"DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY", "RLE_DICTIONARY", "BYTE_STREAM_SPLIT"}
	if e >= 0 && int(e) < len(names) {
		return names[e]
	}
	return fmt.Sprintf("%d (unknown)", e)
}

// checkLevels checks that a data page's repetition and definition levels
// hold at least the page's value count. arrow/go's column reader does not
// check it: it reads what the levels give without an error, or loops
// forever (its readBatch makes no progress and does not stop: the
// FuzzParquetPages input c3351007a696eadb hangs it that way on arrow/go's
// own page reader).
func (r *memPageReader) checkLevels(data []byte, h pageHeader) error {
	type section struct {
		name string
		max  int16
		b    []byte
	}
	var sections []section
	if h.typ == pageDataV2 { // repetition then definition levels, lengths in the header
		sections = []section{{"repetition", r.maxRep, data[:h.repLen]}, {"definition", r.maxDef, data[h.repLen : h.repLen+h.defLen]}}
	} else { // each RLE section after its 4-byte length, BIT_PACKED ones without
		b := data
		for _, l := range r.levels(h) {
			if l.max == 0 {
				continue
			}
			if l.enc == encodingBitPacked {
				n := (int64(h.numValues)*int64(bits.Len16(uint16(l.max))) + 7) / 8
				if n > int64(len(b)) {
					return fmt.Errorf("%s levels: %d values of %d bits want %d bytes, %d left in the page", l.name, h.numValues, bits.Len16(uint16(l.max)), n, len(b))
				}
				b = b[n:]
				continue
			}
			if len(b) < 4 {
				return fmt.Errorf("%s levels: page of %d bytes", l.name, len(data))
			}
			n := int64(binary.LittleEndian.Uint32(b))
			if n > int64(len(b)-4) {
				return fmt.Errorf("%s levels of %d bytes in the %d left of the page", l.name, n, len(b)-4)
			}
			sections = append(sections, section{l.name, l.max, b[4 : 4+n]})
			b = b[4+n:]
		}
	}
	need := int64(h.numValues)
	for _, sc := range sections {
		if sc.max == 0 {
			continue
		}
		if got := hybridCount(sc.b, bits.Len16(uint16(sc.max)), need); got < need {
			return fmt.Errorf("%s levels for %d of the page's %d values", sc.name, got, need)
		}
	}
	return nil
}

// hybridCount counts the values of an RLE/bit-packed hybrid run sequence
// of bit width w (stopping once it reaches need).
func hybridCount(b []byte, w int, need int64) int64 {
	var n int64
	for len(b) > 0 && n < need {
		h, k := binary.Uvarint(b)
		if k <= 0 {
			break
		}
		b = b[k:]
		if h&1 == 1 { // bit-packed: h>>1 groups of 8 values, w bytes each
			groups := h >> 1
			if groups > uint64(len(b)) {
				n += int64(len(b)) * 8 / int64(w) // what is there
				break
			}
			nb := int(groups) * w
			if nb > len(b) {
				n += int64(len(b)) * 8 / int64(w)
				break
			}
			n += int64(groups) * 8
			b = b[nb:]
		} else { // a run: h>>1 copies of one value of ceil(w/8) bytes
			vb := (w + 7) / 8
			if vb > len(b) {
				break
			}
			if h>>1 > uint64(need) {
				return need
			}
			n += int64(h >> 1)
			b = b[vb:]
		}
	}
	return n
}

// keep returns a copy of b in a page buffer (body points into the stream's
// window, which the next read reuses).
func (r *memPageReader) keep(b []byte) []byte {
	out := append(r.bufs.page(len(b)), b...)
	r.inUse = append(r.inUse, out)
	return out
}

// decompress returns body decompressed to exactly size bytes, after prefix
// (copied as is), in a page buffer.
func (r *memPageReader) decompress(body []byte, size int, prefix []byte) ([]byte, error) {
	dst := append(r.bufs.page(len(prefix)+size), prefix...)
	var out []byte
	switch r.codec {
	case compress.Codecs.Uncompressed:
		if len(body) != size {
			return nil, fmt.Errorf("uncompressed page of %d bytes claims %d", len(body), size)
		}
		out = append(dst, body...)
	case compress.Codecs.Snappy:
		n, err := snappy.DecodedLen(body)
		if err != nil || n != size {
			return nil, fmt.Errorf("snappy page decodes to %d bytes, header says %d (%v)", n, size, err)
		}
		d, err := snappy.Decode(dst[len(prefix):len(prefix)+size], body)
		if err != nil {
			return nil, fmt.Errorf("snappy: %w", err)
		}
		out = dst[:len(prefix)+len(d)]
	case compress.Codecs.Zstd:
		dec, err := zstdDecoder()
		if err != nil {
			return nil, err
		}
		if out, err = dec.DecodeAll(body, dst); err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
	default:
		codec, err := compress.GetCodec(r.codec)
		if err != nil {
			return nil, fmt.Errorf("codec %s: %w", r.codec, err)
		}
		// arrow/go's codecs panic on bad data (ReadUnit recovers it as
		// ErrCorrupt); dst bounds what they may write.
		d := codec.Decode(dst[len(prefix):len(prefix)+size], body)
		if len(d) != size {
			return nil, fmt.Errorf("%s page decodes to %d bytes, header says %d", r.codec, len(d), size)
		}
		if size > 0 && &d[0] != &dst[len(prefix) : len(prefix)+size][0] {
			copy(dst[len(prefix):len(prefix)+size], d)
		}
		out = dst[:len(prefix)+size]
	}
	if len(out) != len(prefix)+size {
		return nil, fmt.Errorf("page decompressed to %d bytes, header says %d", len(out)-len(prefix), size)
	}
	r.inUse = append(r.inUse, out)
	return out, nil
}

// Parquet page types (parquet.thrift PageType).
const (
	pageData       = 0
	pageIndex      = 1
	pageDictionary = 2
	pageDataV2     = 3
)

// pageHeader holds the fields of a parquet.thrift PageHeader (and of its
// data, dictionary or v2 sub-header) that reading needs.
type pageHeader struct {
	typ, uncompressed, compressed int
	numValues, numNulls, numRows  int32
	encoding                      int32
	defEncoding, repEncoding      int32
	defLen, repLen                int
	v2Compressed                  bool
}

// parse decodes a Thrift compact-protocol PageHeader from b and returns its
// length in bytes.
func (h *pageHeader) parse(b []byte) (int, error) {
	h.v2Compressed = true // parquet.thrift default
	h.typ = -1
	d := compactDecoder{b: b}
	err := d.readStruct(0, func(id int16, typ byte) error {
		switch id {
		case 1, 2, 3:
			v, err := d.i32(typ)
			switch id {
			case 1:
				h.typ = int(v)
			case 2:
				h.uncompressed = int(v)
			case 3:
				h.compressed = int(v)
			}
			return err
		case 5, 7, 8:
			if typ != ctStruct {
				return d.skip(typ, 0)
			}
			sub := id
			return d.readStruct(1, func(id int16, typ byte) error {
				if typ == ctTrue || typ == ctFalse {
					if sub == 8 && id == 7 {
						h.v2Compressed = typ == ctTrue
					}
					return nil
				}
				if typ != ctI32 {
					return d.skip(typ, 1)
				}
				v, err := d.i32(typ)
				switch {
				case id == 1:
					h.numValues = v
				case sub == 5 && id == 2, sub == 7 && id == 2, sub == 8 && id == 4:
					h.encoding = v
				case sub == 5 && id == 3:
					h.defEncoding = v
				case sub == 5 && id == 4:
					h.repEncoding = v
				case sub == 8 && id == 2:
					h.numNulls = v
				case sub == 8 && id == 3:
					h.numRows = v
				case sub == 8 && id == 5:
					h.defLen = int(v)
				case sub == 8 && id == 6:
					h.repLen = int(v)
				}
				return err
			})
		default:
			return d.skip(typ, 0)
		}
	})
	if err != nil {
		return 0, err
	}
	if h.typ < 0 {
		return 0, errors.New("no page type")
	}
	return d.pos, nil
}

// Thrift compact protocol type codes.
const (
	ctStop   = 0
	ctTrue   = 1
	ctFalse  = 2
	ctByte   = 3
	ctI16    = 4
	ctI32    = 5
	ctI64    = 6
	ctDouble = 7
	ctBinary = 8
	ctList   = 9
	ctSet    = 10
	ctMap    = 11
	ctStruct = 12
)

// compactDecoder reads the Thrift compact protocol from a byte slice. Every
// read is bounds-checked; nesting is limited.
type compactDecoder struct {
	b   []byte
	pos int
}

var errShortHeader = errors.New("truncated thrift data")

func (d *compactDecoder) byte1() (byte, error) {
	if d.pos >= len(d.b) {
		return 0, errShortHeader
	}
	c := d.b[d.pos]
	d.pos++
	return c, nil
}

func (d *compactDecoder) uvarint() (uint64, error) {
	var v uint64
	for shift := 0; shift < 64; shift += 7 {
		c, err := d.byte1()
		if err != nil {
			return 0, err
		}
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, nil
		}
	}
	return 0, errors.New("varint too long")
}

func (d *compactDecoder) zigzag() (int64, error) {
	u, err := d.uvarint()
	return int64(u>>1) ^ -int64(u&1), err
}

func (d *compactDecoder) i32(typ byte) (int32, error) {
	if typ != ctI32 {
		return 0, d.skip(typ, 0)
	}
	v, err := d.zigzag()
	if v < -1<<31 || v >= 1<<31 {
		return 0, errors.New("i32 out of range")
	}
	return int32(v), err
}

// readStruct calls field for every field of a struct until its stop byte.
func (d *compactDecoder) readStruct(depth int, field func(id int16, typ byte) error) error {
	if depth > 16 {
		return errors.New("thrift nesting too deep")
	}
	var last int16
	for {
		c, err := d.byte1()
		if err != nil {
			return err
		}
		typ := c & 0x0f
		if typ == ctStop {
			return nil
		}
		id := last + int16(c>>4)
		if c>>4 == 0 {
			v, err := d.zigzag()
			if err != nil {
				return err
			}
			id = int16(v)
		}
		last = id
		if err := field(id, typ); err != nil {
			return err
		}
	}
}

// skip skips a value of type typ.
func (d *compactDecoder) skip(typ byte, depth int) error {
	if depth > 16 {
		return errors.New("thrift nesting too deep")
	}
	switch typ {
	case ctTrue, ctFalse:
		return nil
	case ctByte:
		_, err := d.byte1()
		return err
	case ctI16, ctI32, ctI64:
		_, err := d.uvarint()
		return err
	case ctDouble:
		if len(d.b)-d.pos < 8 {
			return errShortHeader
		}
		d.pos += 8
		return nil
	case ctBinary:
		n, err := d.uvarint()
		if err != nil {
			return err
		}
		if n > uint64(len(d.b)-d.pos) {
			return errShortHeader
		}
		d.pos += int(n)
		return nil
	case ctList, ctSet:
		c, err := d.byte1()
		if err != nil {
			return err
		}
		n := uint64(c >> 4)
		if n == 15 {
			if n, err = d.uvarint(); err != nil {
				return err
			}
		}
		et := c & 0x0f
		if n > uint64(len(d.b)-d.pos) {
			return errShortHeader // every element takes at least one byte
		}
		for range n {
			if et == ctTrue || et == ctFalse {
				if _, err := d.byte1(); err != nil {
					return err
				}
				continue
			}
			if err := d.skip(et, depth+1); err != nil {
				return err
			}
		}
		return nil
	case ctMap:
		n, err := d.uvarint()
		if err != nil || n == 0 {
			return err
		}
		kv, err := d.byte1()
		if err != nil {
			return err
		}
		if n > uint64(len(d.b)-d.pos) {
			return errShortHeader
		}
		for range n {
			if err := d.skip(kv>>4, depth+1); err != nil {
				return err
			}
			if err := d.skip(kv&0x0f, depth+1); err != nil {
				return err
			}
		}
		return nil
	case ctStruct:
		return d.readStruct(depth+1, func(_ int16, t byte) error { return d.skip(t, depth+1) })
	}
	return fmt.Errorf("thrift type %d", typ)
}
