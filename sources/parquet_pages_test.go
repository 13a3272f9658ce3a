package sources

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/parquet/compress"
)

type readRow struct {
	row   int64
	img   []byte
	label int
}

// readAll reads rows [lo, hi) of every unit, copying the images.
func readAll(t testing.TB, s *Shard, lo int64) ([]readRow, error) {
	var out []readRow
	for u := range s.NumUnits() {
		err := s.ReadUnit(u, min(lo, s.UnitRows(u)), s.UnitRows(u), func(row int64, img []byte, label int) error {
			out = append(out, readRow{row, bytes.Clone(img), label})
			return nil
		})
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func sameRows(a, b []readRow) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d rows vs %d", len(a), len(b))
	}
	for i := range a {
		if a[i].row != b[i].row || a[i].label != b[i].label || !bytes.Equal(a[i].img, b[i].img) || (a[i].img == nil) != (b[i].img == nil) {
			return fmt.Errorf("row %d: %d/%d/%d bytes vs %d/%d/%d bytes", i, a[i].row, a[i].label, len(a[i].img), b[i].row, b[i].label, len(b[i].img))
		}
	}
	return nil
}

// TestParquetFastPathMatchesLibrary reads shards of many page layouts with
// the fast page reader and with arrow/go's and checks they agree row by row
// (and with the fixture).
func TestParquetFastPathMatchesLibrary(t *testing.T) {
	gzip, none := compress.Codecs.Gzip, compress.Codecs.Uncompressed
	dir := t.TempDir()
	tests := []struct {
		name string
		fx   fixture
	}{
		{"snappy", fixture{Units: []int{20, 7}, ImageSize: 300}},
		{"zstd", fixture{Units: []int{20, 7}, ImageSize: 300, Zstd: true}},
		{"uncompressed", fixture{Units: []int{20, 7}, ImageSize: 300, Codec: &none}},
		{"gzip (library path)", fixture{Units: []int{20, 7}, ImageSize: 300, Codec: &gzip}},
		{"small pages snappy nulls", fixture{Units: []int{50, 13}, ImageSize: 200, SmallPgs: true, NullEvery: 5}},
		{"small pages uncompressed", fixture{Units: []int{50}, ImageSize: 200, SmallPgs: true, Codec: &none}},
		{"v2 pages zstd nulls", fixture{Units: []int{40, 9}, ImageSize: 200, PageV2: true, Zstd: true, NullEvery: 4, SmallPgs: true}},
		{"v2 pages uncompressed", fixture{Units: []int{40}, ImageSize: 200, PageV2: true, Codec: &none, SmallPgs: true}},
		{"dictionary snappy", fixture{Units: []int{60, 20}, ImageSize: 100, Dict: true, Repeat: 7}},
		{"dictionary zstd small pages nulls", fixture{Units: []int{60}, ImageSize: 100, Dict: true, Repeat: 5, Zstd: true, SmallPgs: true, NullEvery: 6}},
		{"dictionary v2 uncompressed", fixture{Units: []int{60}, ImageSize: 100, Dict: true, Repeat: 5, PageV2: true, Codec: &none}},
		{"plain int32 label", fixture{Units: []int{30}, ImageSize: 100, Plain: true, LabelType: arrow.PrimitiveTypes.Int32, SmallPgs: true}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("f%d.parquet", i)
			path := writeFixture(t, dir, name, tt.fx)
			fast, err := OpenShard(path, Columns{})
			if err != nil {
				t.Fatal(err)
			}
			lib, _ := OpenShard(path, Columns{})
			lib.pq.noFastPath = true
			// The fixture must have the page layout the case is about.
			dict, v1, v2 := pageCounts(t, fast)
			if tt.fx.Dict != (dict > 0) || tt.fx.PageV2 != (v2 > 0) || tt.fx.PageV2 == (v1 > 0) || tt.fx.SmallPgs != (v1+v2 > 2*len(tt.fx.Units)) {
				t.Fatalf("fixture has %d dictionary, %d v1 and %d v2 pages", dict, v1, v2)
			}
			for _, lo := range []int64{0, 3, 17} {
				a, err := readAll(t, fast, lo)
				if err != nil {
					t.Fatalf("fast path: %v", err)
				}
				b, err := readAll(t, lib, lo)
				if err != nil {
					t.Fatalf("library path: %v", err)
				}
				if err := sameRows(a, b); err != nil {
					t.Fatalf("from row %d: fast and library paths differ: %v", lo, err)
				}
				for _, r := range a {
					src := r.row
					if tt.fx.Repeat > 0 {
						src %= int64(tt.fx.Repeat)
					}
					null := tt.fx.NullEvery > 0 && r.row%int64(tt.fx.NullEvery) == int64(tt.fx.NullEvery-1)
					if !null && !bytes.Equal(r.img, fixtureImage(name, src, max(tt.fx.ImageSize, 64))) {
						t.Fatalf("row %d: wrong image", r.row)
					}
				}
			}
		})
	}
}

// FuzzParquetPages mutates valid shards of several page layouts and checks
// that the fast page reader never panics and, whenever arrow/go's reader
// also reads the file, returns the same rows.
func FuzzParquetPages(f *testing.F) {
	none := compress.Codecs.Uncompressed
	dir := f.TempDir()
	for i, fx := range []fixture{
		{Units: []int{6, 3}, ImageSize: 16},
		{Units: []int{9}, ImageSize: 16, SmallPgs: true, NullEvery: 3, Zstd: true},
		{Units: []int{8}, ImageSize: 16, PageV2: true, SmallPgs: true, Codec: &none},
		{Units: []int{10}, ImageSize: 16, Dict: true, Repeat: 3},
	} {
		b, err := os.ReadFile(writeFixture(f, dir, fmt.Sprintf("seed%d.parquet", i), fx))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint16(0), byte(0))
		f.Add(b, uint16(len(b)/2), byte(0x40))
	}
	path := filepath.Join(dir, "fuzz.parquet")
	f.Fuzz(func(t *testing.T, data []byte, at uint16, xor byte) {
		data = bytes.Clone(data)
		if int(at) < len(data) {
			data[at] ^= xor
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		fast, err := OpenShard(path, Columns{})
		if err != nil || fast.Format != FormatParquet {
			return
		}
		a, errA := readAll(t, fast, 0)
		lib, _ := OpenShard(path, Columns{})
		lib.pq.noFastPath = true
		b, errB := readAll(t, lib, 0)
		if errA == nil && errB == nil {
			if err := sameRows(a, b); err != nil {
				t.Fatalf("fast and library paths differ: %v", err)
			}
		}
	})
}

// pageCounts counts the image column's pages by type over all row groups.
func pageCounts(t *testing.T, s *Shard) (dict, v1, v2 int) {
	t.Helper()
	b, err := os.ReadFile(s.Path)
	if err != nil {
		t.Fatal(err)
	}
	for u := range s.NumUnits() {
		cc, _ := s.pq.meta.RowGroup(u).ColumnChunk(s.pq.imgLeaf)
		start := cc.DataPageOffset()
		if cc.HasDictionaryPage() && cc.DictionaryPageOffset() > 0 {
			start = min(start, cc.DictionaryPageOffset())
		}
		chunk := b[start : start+cc.TotalCompressedSize()]
		for len(chunk) > 0 {
			var h pageHeader
			n, err := h.parse(chunk)
			if err != nil {
				t.Fatal(err)
			}
			switch h.typ {
			case pageDictionary:
				dict++
			case pageData:
				v1++
			case pageDataV2:
				v2++
			}
			chunk = chunk[n+h.compressed:]
		}
	}
	return dict, v1, v2
}
