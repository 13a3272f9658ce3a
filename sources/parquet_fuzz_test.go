package sources

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
)

// fuzzShard opens path as a shard and reads every unit; any error is fine
// as long as it is an error (named, prefixed) and not a panic or a hang.
func fuzzShard(t *testing.T, path string) {
	s, err := OpenShard(path, Columns{})
	if err != nil {
		if !strings.HasPrefix(err.Error(), "sources: ") || !strings.Contains(err.Error(), path) {
			t.Fatalf("error %q does not name the shard", err)
		}
		return
	}
	for u := range min(s.NumUnits(), 64) {
		n := min(s.UnitRows(u), 1<<12)
		err := s.ReadUnit(u, 0, n, func(row int64, image []byte, label int) error { return nil })
		if err != nil && (!strings.HasPrefix(err.Error(), "sources: ") || !strings.Contains(err.Error(), path)) {
			t.Fatalf("error %q does not name the shard", err)
		}
	}
}

// fuzzSeeds adds valid shards of several layouts and damaged copies of them.
func fuzzSeeds(f *testing.F, arrowFormat bool) {
	dir := f.TempDir()
	for i, fx := range []fixture{
		{Units: []int{3, 2}, ImageSize: 16},
		{Units: []int{4}, ImageSize: 40, Plain: true, NullEvery: 2, LabelType: arrow.PrimitiveTypes.Int32},
		{Units: []int{2, 1, 2}, ImageSize: 24, Large: true, NoLabel: true},
		{Units: []int{5}, ImageSize: 16, Zstd: true},
		{Units: []int{2, 3}, ImageSize: 16, Stream: true},
	} {
		fx.Arrow = arrowFormat
		p := writeFixture(f, dir, "seed"+string(rune('a'+i)), fx)
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
		f.Add(b[:len(b)-3])
		c := append([]byte(nil), b...)
		for j := len(c) / 3; j < len(c)-8; j += 7 {
			c[j] ^= 0xff
		}
		f.Add(c)
	}
}

// FuzzParquetReader feeds arbitrary bytes to OpenShard and ReadUnit as a
// Parquet file: they must return errors, never panic.
func FuzzParquetReader(f *testing.F) {
	fuzzSeeds(f, false)
	f.Add([]byte("PAR1"))
	f.Add([]byte("PAR1\x00\x00\x00\x00PAR1"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "fuzz.parquet")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		fuzzShard(t, path)
	})
}
