package sources

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/apache/arrow/go/v15/arrow"
)

// Errors that shard discovery and reading wrap (test with errors.Is); the
// message always names the file.
var (
	// ErrNoFiles: a glob, directory or list matched no shard file.
	ErrNoFiles = errors.New("no shard files")
	// ErrNotShard: the file is neither Parquet nor Arrow IPC (bad magic).
	ErrNotShard = errors.New("not a Parquet or Arrow IPC file")
	// ErrTruncated: the file ends before its footer or its data.
	ErrTruncated = errors.New("truncated file")
	// ErrCorrupt: the file's metadata or data cannot be decoded.
	ErrCorrupt = errors.New("corrupt file")
	// ErrNoImageColumn: the schema has no usable image column.
	ErrNoImageColumn = errors.New("no image column")
	// ErrLabelColumn: the label column asked for is missing or not integer.
	ErrLabelColumn = errors.New("bad label column")
)

func discoverOne(item string) ([]string, error) {
	if strings.ContainsAny(item, "*?[") {
		matches, err := filepath.Glob(item)
		if err != nil {
			return nil, fmt.Errorf("sources: glob %q: %w", item, err)
		}
		var files []string
		for _, m := range matches {
			if st, err := os.Stat(m); err == nil && st.Mode().IsRegular() {
				files = append(files, m)
			}
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("sources: glob %q matched no files: %w", item, ErrNoFiles)
		}
		return files, nil
	}
	st, err := os.Stat(item)
	if err != nil {
		return nil, fmt.Errorf("sources: shard %w", err)
	}
	if !st.IsDir() {
		return []string{item}, nil
	}
	entries, err := os.ReadDir(item)
	if err != nil {
		return nil, fmt.Errorf("sources: shard directory %w", err)
	}
	var files []string
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if (ext == ".parquet" || ext == ".arrow") && e.Type().IsRegular() {
			files = append(files, filepath.Join(item, e.Name()))
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("sources: directory %s holds no *.parquet or *.arrow files: %w", item, ErrNoFiles)
	}
	return files, nil
}

// Format is a shard file format. Units are Parquet row groups or Arrow
// record batches.
type Format int

// The shard formats, detected from a file's magic bytes (not its name).
const (
	FormatParquet Format = iota + 1 // Apache Parquet ("PAR1")
	FormatArrow                     // Arrow IPC file format ("ARROW1")
	// FormatArrowStream is the Arrow IPC streaming format (what Hugging Face
	// datasets keeps in its cache as *.arrow), recognised by its first
	// message's continuation marker 0xFFFFFFFF. It has no footer: opening
	// one walks its message headers (not the bodies) to index the batches.
	FormatArrowStream
)

func (f Format) String() string {
	switch f {
	case FormatParquet:
		return "parquet"
	case FormatArrow:
		return "arrow"
	case FormatArrowStream:
		return "arrow-stream"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Columns names the columns to read. The zero value finds them
// automatically.
type Columns struct {
	// Image is the image column: a struct with a binary "bytes" child (the
	// Hugging Face Image layout struct<bytes: binary, path: string>) or a
	// binary / large_binary column. "" picks the first Image-layout column,
	// else the first binary column.
	Image string
	// Label is an integer label column (any width, signed or not). ""
	// means "label" if the shard has an integer column of that name, and no
	// labels otherwise; a name given here must exist and be integer.
	Label string
}

// Shard is an opened shard's metadata: its format, work units and resolved
// columns. It holds no open file (ReadUnit opens the file for each call), so
// it is cheap to keep thousands; it is immutable and safe for concurrent use.
type Shard struct {
	// Path is the file's path or the object's URL, as given to OpenShard.
	Path string
	// Format is the detected format.
	Format Format
	// ImageColumn and LabelColumn are the resolved column names ("" when
	// the shard has no label column); for an Image-layout struct the image
	// column is "name.bytes".
	ImageColumn, LabelColumn string

	size     int64
	etag     string
	store    *Store
	unitRows []int64
	first    []int64 // first row of every unit
	rows     int64
	idHash   uint64 // fnv1a64 of the base name

	pq  *parquetMeta
	ipc *arrowMeta
}

// OpenShard reads the metadata of the shard at path, a local file or a bucket
// URL read through the default store (see OpenShardStore).
func OpenShard(path string, cols Columns) (*Shard, error) {
	return DefaultStore().OpenShard(context.Background(), path, cols)
}

// OpenShard reads the metadata of the shard at name (a local path or a URL):
// the Parquet footer, or the Arrow IPC footer and record batch headers, and
// resolves cols. Errors name the shard and wrap ErrNotShard, ErrTruncated,
// ErrCorrupt, ErrNoImageColumn, ErrLabelColumn, the os error or the storage
// error; a malformed file never panics. It reads no image bytes for Parquet
// files; for a URL it makes three requests (attributes, head, tail) plus,
// for an Arrow IPC file, one per record batch (their headers hold the row
// counts).
func (st *Store) OpenShard(ctx context.Context, name string, cols Columns) (*Shard, error) {
	st.footers.Add(1)
	obj, err := st.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	s := &Shard{Path: name, size: obj.Size(), idHash: fnv1a64(idName(name)), store: st}
	if ro, ok := obj.(*remoteObject); ok {
		s.etag = ro.etag
	}
	var f io.ReaderAt = obj
	if _, remote := obj.(*remoteObject); remote {
		// One request for the tail, where both formats keep their footer.
		f, err = withTail(obj, 64<<10)
		if err != nil {
			return nil, err
		}
	}
	var head [8]byte
	n, err := f.ReadAt(head[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("sources: shard %s: %w", name, err)
	}
	switch {
	case n >= 4 && string(head[:4]) == "PAR1":
		s.Format = FormatParquet
		err = s.openParquet(f, cols)
	case n >= 6 && string(head[:6]) == "ARROW1":
		s.Format = FormatArrow
		err = s.openArrow(f, cols)
	case n >= 8 && head[0] == 0xff && head[1] == 0xff && head[2] == 0xff && head[3] == 0xff:
		s.Format = FormatArrowStream
		err = s.openArrowStream(f, cols)
	default:
		return nil, fmt.Errorf("sources: shard %s: %w (bad magic)", name, ErrNotShard)
	}
	if err != nil {
		return nil, err
	}
	s.first = make([]int64, len(s.unitRows))
	for i, r := range s.unitRows {
		s.first[i] = s.rows
		s.rows += r
	}
	return s, nil
}

// object opens the shard's bytes for a read bounded by ctx (no request for a
// remote shard).
func (s *Shard) object(ctx context.Context) (Object, error) {
	st := s.store
	if st == nil {
		st = DefaultStore()
	}
	return st.reopen(ctx, s.Path, s.size, s.etag)
}

// tailReader serves reads inside the object's first bytes (the format's
// magic) and last bytes (where both formats keep their footer) from memory.
type tailReader struct {
	Object
	off  int64
	tail []byte
	head []byte
}

// headBytes is how much of an object's start withTail keeps: enough for
// every format's magic.
const headBytes = 8

// withTail reads the last n bytes of obj and its first headBytes, at once
// (two requests in flight, one round trip, for a remote object; one when
// the tail covers the whole object).
func withTail(obj Object, n int64) (*tailReader, error) {
	n = min(n, obj.Size())
	t := &tailReader{Object: obj, off: obj.Size() - n, tail: make([]byte, n)}
	var headErr error
	var wg sync.WaitGroup
	if t.off > 0 {
		t.head = make([]byte, min(headBytes, t.off))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := obj.ReadAt(t.head, 0); err != nil && !errors.Is(err, io.EOF) {
				headErr = err
			}
		}()
	}
	_, err := obj.ReadAt(t.tail, t.off)
	wg.Wait()
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if headErr != nil {
		return nil, headErr
	}
	return t, nil
}

func (t *tailReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= t.off && off+int64(len(p)) <= t.off+int64(len(t.tail)) {
		return copy(p, t.tail[off-t.off:]), nil
	}
	if off >= 0 && off+int64(len(p)) <= int64(len(t.head)) {
		return copy(p, t.head[off:]), nil
	}
	return t.Object.ReadAt(p, off)
}

// Rows returns the shard's row count.
func (s *Shard) Rows() int64 { return s.rows }

// NumUnits returns the number of work units (row groups or record batches).
func (s *Shard) NumUnits() int { return len(s.unitRows) }

// UnitRows returns the row count of unit u.
func (s *Shard) UnitRows(u int) int64 { return s.unitRows[u] }

// UnitFirstRow returns the shard row of unit u's first row.
func (s *Shard) UnitFirstRow(u int) int64 { return s.first[u] }

// HasLabels reports whether the shard has a label column.
func (s *Shard) HasLabels() bool { return s.LabelColumn != "" }

// ReadUnit reads rows [lo, hi) of unit u (row numbers within the unit) and
// calls fn for each in order with the row's number within the shard, its
// image bytes (nil for a null image) and its label (-1 for none). image
// points into the reader's buffers and is valid only during the call: copy
// it to keep it. Only the image and label columns are read. An error from
// fn stops the read and is returned as is; other errors name the file. It
// is safe for concurrent use (each call opens the file).
func (s *Shard) ReadUnit(u int, lo, hi int64, fn func(row int64, image []byte, label int) error) error {
	return s.ReadUnitContext(context.Background(), u, lo, hi, fn)
}

// ReadUnitContext is ReadUnit with the remote reads bounded by ctx: a
// cancelled ctx stops the requests in flight.
func (s *Shard) ReadUnitContext(ctx context.Context, u int, lo, hi int64, fn func(row int64, image []byte, label int) error) (err error) {
	if u < 0 || u >= len(s.unitRows) || lo < 0 || hi > s.unitRows[u] || lo > hi {
		return fmt.Errorf("sources: shard %s: rows [%d,%d) of unit %d are out of range", s.Path, lo, hi, u)
	}
	if lo == hi {
		return nil
	}
	var fnErr error
	wrapped := func(row int64, image []byte, label int) error {
		if e := fn(row, image, label); e != nil {
			fnErr = e
			return e
		}
		return nil
	}
	defer func() {
		if fnErr != nil {
			err = fnErr
		}
	}()
	defer recoverCorrupt(s.Path, &err)
	switch s.Format {
	case FormatParquet:
		return s.readParquet(ctx, u, lo, hi, wrapped)
	default:
		return s.readArrow(ctx, u, lo, hi, wrapped)
	}
}

// recoverCorrupt turns a panic inside the arrow libraries (which panic on
// some malformed inputs) into an error wrapping ErrCorrupt.
func recoverCorrupt(path string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("sources: shard %s: %w: %v", path, ErrCorrupt, r)
	}
}

// pickColumns resolves cols against a schema's top-level fields. It returns
// the image field, the index of its "bytes" child (-1 for a plain binary
// column) and the label field (-1 for none).
func pickColumns(path string, fields []arrow.Field, cols Columns) (img, child, label int, err error) {
	img, child, label = -1, -1, -1
	bytesChild := func(f arrow.Field) int {
		st, ok := f.Type.(*arrow.StructType)
		if !ok {
			return -1
		}
		i, ok := st.FieldIdx("bytes")
		if !ok || !isBinary(st.Field(i).Type) {
			return -1
		}
		return i
	}
	if cols.Image != "" {
		for i, f := range fields {
			if f.Name != cols.Image {
				continue
			}
			if c := bytesChild(f); c >= 0 {
				img, child = i, c
			} else if isBinary(f.Type) {
				img = i
			} else {
				return -1, -1, -1, fmt.Errorf("sources: shard %s: column %q is %s, not binary or struct<bytes: binary>: %w", path, cols.Image, f.Type, ErrNoImageColumn)
			}
			break
		}
		if img < 0 {
			return -1, -1, -1, fmt.Errorf("sources: shard %s: no column %q (columns: %s): %w", path, cols.Image, fieldNames(fields), ErrNoImageColumn)
		}
	} else {
		for i, f := range fields {
			if c := bytesChild(f); c >= 0 {
				img, child = i, c
				break
			}
		}
		if img < 0 {
			for i, f := range fields {
				if isBinary(f.Type) {
					img = i
					break
				}
			}
		}
		if img < 0 {
			return -1, -1, -1, fmt.Errorf("sources: shard %s: want struct<bytes: binary, path: string> or a binary column, have %s: %w", path, fieldNames(fields), ErrNoImageColumn)
		}
	}
	name := cols.Label
	if name == "" {
		name = "label"
	}
	for i, f := range fields {
		if f.Name == name && i != img {
			if isInteger(f.Type) {
				label = i
			} else if cols.Label != "" {
				return -1, -1, -1, fmt.Errorf("sources: shard %s: label column %q is %s, not integer: %w", path, name, f.Type, ErrLabelColumn)
			}
			break
		}
	}
	if label < 0 && cols.Label != "" {
		return -1, -1, -1, fmt.Errorf("sources: shard %s: no integer label column %q (columns: %s): %w", path, name, fieldNames(fields), ErrLabelColumn)
	}
	return img, child, label, nil
}

func (s *Shard) setColumnNames(fields []arrow.Field, img, child, label int) {
	s.ImageColumn = fields[img].Name
	if child >= 0 {
		s.ImageColumn += ".bytes"
	}
	if label >= 0 {
		s.LabelColumn = fields[label].Name
	}
}

func isBinary(t arrow.DataType) bool {
	return t.ID() == arrow.BINARY || t.ID() == arrow.LARGE_BINARY
}

func isInteger(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return true
	}
	return false
}

func fieldNames(fields []arrow.Field) string {
	if len(fields) == 0 {
		return "no columns"
	}
	var b strings.Builder
	for i, f := range fields {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s", f.Name, f.Type)
	}
	return b.String()
}
