package idx

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// IDX element type codes (the third byte of an IDX magic number).
const (
	Uint8   = 0x08
	Int8    = 0x09
	Int16   = 0x0B
	Int32   = 0x0C
	Float32 = 0x0D
	Float64 = 0x0E
)

// ErrTruncated is returned (wrapped) when an IDX file ends before the
// number of items its header promises.
var ErrTruncated = errors.New("idx: file is truncated")

// maxItemSize bounds one item (e.g. one image) so that a corrupt header
// cannot make the reader allocate gigabytes: 256 MiB.
const maxItemSize = 256 << 20

// Reader streams the items of an IDX file (the MNIST format: a big-endian
// magic 0x0000TTDD, where TT is the element type and DD the number of
// dimensions, then DD big-endian uint32 sizes, then the items). The first
// dimension counts items; an item is the product of the others (an image of
// Dims[1]×Dims[2] for 0x0803, a single byte label for 0x0801).
//
// Gzipped files are detected by their magic bytes (1f 8b) and decompressed on
// the fly, so the file name does not matter. The reader holds one bufio
// buffer and, with gzip, one decompressor; Next allocates nothing when dst is
// large enough. It is not safe for concurrent use.
type Reader struct {
	Type byte  // element type, one of the IDX* constants
	Dims []int // dimension sizes, Dims[0] is the number of items

	name     string
	r        *bufio.Reader
	gz       *gzip.Reader
	closer   io.Closer
	itemSize int // bytes per item
	next     int // index of the next item
}

// NewReader parses the IDX header at the start of r and returns a reader
// positioned at the first item. name is used in error messages only (a file
// name, for example). It returns an error naming the file when the header is
// not IDX, declares an unknown element type, zero dimensions or an item
// larger than 256 MiB, or is cut short.
func NewReader(r io.Reader, name string) (*Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	x := &Reader{name: name, r: br}
	if head, err := br.Peek(2); err == nil && head[0] == 0x1f && head[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("idx: %s: gzip header: %w", name, err)
		}
		x.gz = gz
		x.r = bufio.NewReaderSize(gz, 64<<10)
	}
	var magic [4]byte
	if _, err := io.ReadFull(x.r, magic[:]); err != nil {
		return nil, x.headerErr(err)
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, fmt.Errorf("idx: %s: not an IDX file (magic % x, want 00 00 TT DD)", name, magic)
	}
	x.Type = magic[2]
	elem := elemSize(x.Type)
	if elem == 0 {
		return nil, fmt.Errorf("idx: %s: unknown element type 0x%02x", name, x.Type)
	}
	nd := int(magic[3])
	if nd == 0 {
		return nil, fmt.Errorf("idx: %s: zero dimensions", name)
	}
	x.Dims = make([]int, nd)
	item := uint64(elem)
	var b [4]byte
	for i := range x.Dims {
		if _, err := io.ReadFull(x.r, b[:]); err != nil {
			return nil, x.headerErr(err)
		}
		d := binary.BigEndian.Uint32(b[:])
		if d > math.MaxInt32 {
			return nil, fmt.Errorf("idx: %s: dimension %d is too large (%d)", name, i, d)
		}
		x.Dims[i] = int(d)
		if i > 0 {
			item *= uint64(d)
			if item > maxItemSize {
				return nil, fmt.Errorf("idx: %s: item of %v exceeds %d bytes", name, x.Dims[1:i+1], maxItemSize)
			}
		}
	}
	if item == 0 {
		// Zero-size items would let a 16-byte file "hold" 2^31 items.
		return nil, fmt.Errorf("idx: %s: items of size zero (dimensions %v)", name, x.Dims)
	}
	x.itemSize = int(item)
	return x, nil
}

// Open opens the IDX file at path (gzipped or not); Close closes it. An
// uncompressed file shorter than its header declares is refused here, with
// an error wrapping ErrTruncated that names both sizes; a gzipped one is
// found truncated only when Next reaches its end.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("idx: %w", err)
	}
	x, err := NewReader(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	x.closer = f
	if x.gz == nil {
		// Uncompressed: the header's promise can be checked against the
		// file's size before a single item is read, so that a truncated
		// file is refused at the start, not after an epoch.
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			need := x.HeaderSize() + int64(x.Dims[0])*int64(x.itemSize)
			if st.Size() < need {
				x.Close()
				return nil, fmt.Errorf("idx: %s: header declares %d items of %d bytes (%d bytes with the header) but the file holds %d: %w",
					path, x.Dims[0], x.itemSize, need, st.Size(), ErrTruncated)
			}
		}
	}
	return x, nil
}

// HeaderSize returns the size of the IDX header in bytes (4 for the magic
// number and 4 per dimension), before decompression.
func (x *Reader) HeaderSize() int64 { return 4 + 4*int64(len(x.Dims)) }

// Gzipped reports whether the file is gzipped.
func (x *Reader) Gzipped() bool { return x.gz != nil }

func (x *Reader) headerErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("idx: %s: header cut short: %w", x.name, ErrTruncated)
	}
	return fmt.Errorf("idx: %s: reading header: %w", x.name, err)
}

func elemSize(t byte) int {
	switch t {
	case Uint8, Int8:
		return 1
	case Int16:
		return 2
	case Int32, Float32:
		return 4
	case Float64:
		return 8
	}
	return 0
}

// Len returns the number of items the header declares (Dims[0]).
func (x *Reader) Len() int { return x.Dims[0] }

// ItemSize returns the size of one item in bytes.
func (x *Reader) ItemSize() int { return x.itemSize }

// Next reads the next item's raw big-endian bytes into dst (grown if too
// small) and returns the filled slice. It returns io.EOF after the last item,
// and an error wrapping ErrTruncated, naming the file and item, when the
// data ends early. It allocates only when dst is too small.
func (x *Reader) Next(dst []byte) ([]byte, error) {
	if x.next >= x.Dims[0] {
		return dst[:0], io.EOF
	}
	var err error
	if cap(dst) >= x.itemSize || x.itemSize <= 1<<20 {
		if cap(dst) < x.itemSize {
			dst = make([]byte, x.itemSize)
		}
		dst = dst[:x.itemSize]
		_, err = io.ReadFull(x.r, dst)
	} else {
		// A large item: grow with the data, so that a corrupt header on a
		// short file cannot make us allocate the whole declared size.
		var b bytes.Buffer
		var n int64
		n, err = b.ReadFrom(io.LimitReader(x.r, int64(x.itemSize)))
		if err == nil && n < int64(x.itemSize) {
			err = io.ErrUnexpectedEOF
		}
		dst = b.Bytes()
	}
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return dst[:0], fmt.Errorf("idx: %s: item %d of %d: %w", x.name, x.next, x.Dims[0], ErrTruncated)
		}
		return dst[:0], fmt.Errorf("idx: %s: item %d: %w", x.name, x.next, err)
	}
	x.next++
	return dst, nil
}

// Close releases the decompressor and closes the file when the reader was
// made by Open. It does not check for trailing bytes.
func (x *Reader) Close() error {
	var err error
	if x.gz != nil {
		err = x.gz.Close()
	}
	if x.closer != nil {
		if cerr := x.closer.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
