package sources

import (
	"fmt"
	"os"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
)

// arrowMeta is what an Arrow IPC shard keeps between reads.
type arrowMeta struct {
	img, child, label int
	allocLimit        int
}

func (s *Shard) openArrow(f *os.File, cols Columns) (err error) {
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
	r, err := ipc.NewFileReader(f, ipc.WithAllocator(&limitAllocator{limit: am.allocLimit}))
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
	// The IPC footer lists record batches without their lengths; reading
	// each batch's header gives them. arrow/go reads the body with it, so
	// opening an Arrow shard reads the file once (Parquet reads the footer
	// only).
	n := r.NumRecords()
	s.unitRows = make([]int64, n)
	for i := range n {
		rec, err := r.RecordAt(i)
		if err != nil {
			return fmt.Errorf("sources: shard %s: record batch %d: %w: %w", s.Path, i, ErrCorrupt, err)
		}
		s.unitRows[i] = rec.NumRows()
		rec.Release()
	}
	s.ipc = am
	return nil
}

func (s *Shard) readArrow(u int, lo, hi int64, fn func(row int64, image []byte, label int) error) error {
	am := s.ipc
	f, err := os.Open(s.Path)
	if err != nil {
		return fmt.Errorf("sources: shard %w", err)
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f, ipc.WithAllocator(&limitAllocator{limit: am.allocLimit}))
	if err != nil {
		return fmt.Errorf("sources: shard %s: %w: %w", s.Path, ErrCorrupt, err)
	}
	defer r.Close()
	if u >= r.NumRecords() {
		return fmt.Errorf("sources: shard %s: record batch %d of %d: changed since opened: %w", s.Path, u, r.NumRecords(), ErrCorrupt)
	}
	rec, err := r.RecordAt(u)
	if err != nil {
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
