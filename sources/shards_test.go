package sources

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
)

func TestDiscover(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"b.parquet", "a.parquet", "c.arrow", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "z.parquet"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	p := func(names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, filepath.Join(dir, n))
		}
		return out
	}
	tests := []struct {
		name, spec string
		want       []string
		err        error // errors.Is target; nil with wantErr means any
		wantErr    string
	}{
		{name: "glob", spec: filepath.Join(dir, "*.parquet"), want: p("a.parquet", "b.parquet")},
		{name: "directory", spec: dir, want: p("a.parquet", "b.parquet", "c.arrow")},
		{name: "list sorted and deduplicated", spec: filepath.Join(sub, "z.parquet") + ", " + dir + "," + filepath.Join(dir, "a.parquet"),
			want: p("a.parquet", "b.parquet", "c.arrow", "sub/z.parquet")},
		{name: "file", spec: filepath.Join(dir, "notes.txt"), want: p("notes.txt")},
		{name: "glob matches nothing", spec: filepath.Join(dir, "*.arrow2"), err: ErrNoFiles, wantErr: "matched no files"},
		{name: "empty directory", spec: empty, err: ErrNoFiles, wantErr: empty},
		{name: "missing file", spec: filepath.Join(dir, "gone.parquet"), err: os.ErrNotExist, wantErr: "gone.parquet"},
		{name: "empty spec", spec: " , ", err: ErrNoFiles},
		{name: "bad glob", spec: filepath.Join(dir, "[.parquet"), err: filepath.ErrBadPattern},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Discover(tt.spec)
			if tt.err != nil || tt.wantErr != "" {
				if err == nil {
					t.Fatalf("Discover(%q) = %v, want error", tt.spec, got)
				}
				if tt.err != nil && !errors.Is(err, tt.err) {
					t.Errorf("error %v is not %v", err, tt.err)
				}
				if !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "sources: ") {
					t.Errorf("error %q does not start with sources: and name %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Discover(%q) = %v, want %v", tt.spec, got, tt.want)
			}
		})
	}
}

func TestOpenShardErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeFixture(t, dir, "good.parquet", fixture{Units: []int{5, 5}, ImageSize: 100})
	goodArrow := writeFixture(t, dir, "good.arrow", fixture{Units: []int{5, 5}, ImageSize: 100, Arrow: true})
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	gb, _ := os.ReadFile(good)
	ab, _ := os.ReadFile(goodArrow)
	sb, _ := os.ReadFile(writeFixture(t, dir, "good-stream.arrow", fixture{Units: []int{5, 5}, ImageSize: 100, Arrow: true, Stream: true}))
	noImage := writeFixture(t, dir, "noimage.parquet", fixture{Units: []int{3}, Plain: true})
	// Overwrite the binary column's name with a non-binary schema: write a
	// shard whose only columns are integers.
	intsOnly := write("ints.parquet", nil)
	writeIntsOnly(t, intsOnly)
	strLabel := writeFixture(t, dir, "strlabel.parquet", fixture{Units: []int{3}, LabelType: arrow.BinaryTypes.String})
	tests := []struct {
		name string
		path string
		cols Columns
		err  error
	}{
		{"missing", filepath.Join(dir, "missing.parquet"), Columns{}, os.ErrNotExist},
		{"text file", write("text.parquet", []byte("hello, this is not a shard at all")), Columns{}, ErrNotShard},
		{"empty file", write("empty.parquet", nil), Columns{}, ErrNotShard},
		{"directory", dir, Columns{}, ErrNotShard},
		{"parquet cut in half", write("half.parquet", gb[:len(gb)/2]), Columns{}, ErrTruncated},
		{"parquet without last byte", write("short.parquet", gb[:len(gb)-1]), Columns{}, ErrTruncated},
		{"parquet magic only", write("magic.parquet", []byte("PAR1")), Columns{}, ErrTruncated},
		{"arrow cut in half", write("half.arrow", ab[:len(ab)/2]), Columns{}, ErrTruncated},
		{"arrow stream without schema", write("stream.arrow", []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}), Columns{}, ErrCorrupt},
		{"arrow stream cut in half", write("halfstream.arrow", sb[:len(sb)/2]), Columns{}, ErrTruncated},
		{"no image column", intsOnly, Columns{}, ErrNoImageColumn},
		{"named image column missing", good, Columns{Image: "picture"}, ErrNoImageColumn},
		{"named image column not binary", noImage, Columns{Image: "id"}, ErrNoImageColumn},
		{"named label missing", good, Columns{Label: "class"}, ErrLabelColumn},
		{"named label not integer", strLabel, Columns{Label: "label"}, ErrLabelColumn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := OpenShard(tt.path, tt.cols)
			if err == nil {
				t.Fatalf("OpenShard = %+v, want error", s)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("error %v is not %v", err, tt.err)
			}
			if !strings.HasPrefix(err.Error(), "sources: ") || !strings.Contains(err.Error(), tt.path) {
				t.Errorf("error %q does not start with sources: and name %s", err, tt.path)
			}
		})
	}
	// A default "label" column that is not integer is ignored, not an error.
	s, err := OpenShard(strLabel, Columns{})
	if err != nil || s.HasLabels() {
		t.Errorf("string label column: shard %+v, err %v; want no labels and no error", s, err)
	}
}

func TestReadUnit(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name      string
		fx        fixture
		wantImage string
		wantLabel string
	}{
		{"parquet hf layout", fixture{Units: []int{7, 1, 12}}, "image.bytes", "label"},
		{"parquet zstd", fixture{Units: []int{3, 9}, Zstd: true, ImageSize: 3000}, "image.bytes", "label"},
		{"parquet plain binary with nulls", fixture{Units: []int{10, 10}, Plain: true, NullEvery: 4}, "jpeg", "label"},
		{"parquet large_binary", fixture{Units: []int{4, 4}, Large: true}, "image.bytes", "label"},
		{"parquet hf nulls int8 label", fixture{Units: []int{9}, NullEvery: 3, LabelType: arrow.PrimitiveTypes.Int8}, "image.bytes", "label"},
		{"parquet uint32 label", fixture{Units: []int{5}, LabelType: arrow.PrimitiveTypes.Uint32}, "image.bytes", "label"},
		{"parquet uint64 label", fixture{Units: []int{5}, LabelType: arrow.PrimitiveTypes.Uint64}, "image.bytes", "label"},
		{"parquet no label", fixture{Units: []int{5, 6}, NoLabel: true}, "image.bytes", ""},
		{"arrow hf layout", fixture{Units: []int{7, 1, 12}, Arrow: true}, "image.bytes", "label"},
		{"arrow plain with nulls", fixture{Units: []int{10, 3}, Arrow: true, Plain: true, NullEvery: 4}, "jpeg", "label"},
		{"arrow large_binary int16 label", fixture{Units: []int{6}, Arrow: true, Large: true, LabelType: arrow.PrimitiveTypes.Int16}, "image.bytes", "label"},
		{"arrow uint8 label no nulls", fixture{Units: []int{6, 2}, Arrow: true, LabelType: arrow.PrimitiveTypes.Uint8}, "image.bytes", "label"},
		{"arrow stream hf layout", fixture{Units: []int{7, 1, 12}, Arrow: true, Stream: true}, "image.bytes", "label"},
		{"arrow stream plain with nulls", fixture{Units: []int{10, 3}, Arrow: true, Stream: true, Plain: true, NullEvery: 4}, "jpeg", "label"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ext := ".parquet"
			if tt.fx.Arrow {
				ext = ".arrow"
			}
			name := "shard" + string(rune('a'+i)) + ext
			path := writeFixture(t, dir, name, tt.fx)
			s, err := OpenShard(path, Columns{})
			if err != nil {
				t.Fatal(err)
			}
			wantFormat := FormatParquet
			if tt.fx.Arrow && tt.fx.Stream {
				wantFormat = FormatArrowStream
			} else if tt.fx.Arrow {
				wantFormat = FormatArrow
			}
			if s.Format != wantFormat {
				t.Errorf("format %v, want %v", s.Format, wantFormat)
			}
			if s.ImageColumn != tt.wantImage || s.LabelColumn != tt.wantLabel {
				t.Errorf("columns %q, %q; want %q, %q", s.ImageColumn, s.LabelColumn, tt.wantImage, tt.wantLabel)
			}
			if s.NumUnits() != len(tt.fx.Units) {
				t.Fatalf("%d units, want %d", s.NumUnits(), len(tt.fx.Units))
			}
			var total int64
			for u, n := range tt.fx.Units {
				if s.UnitRows(u) != int64(n) || s.UnitFirstRow(u) != total {
					t.Errorf("unit %d: %d rows from %d, want %d from %d", u, s.UnitRows(u), s.UnitFirstRow(u), n, total)
				}
				total += int64(n)
			}
			if s.Rows() != total {
				t.Errorf("Rows() = %d, want %d", s.Rows(), total)
			}
			size := max(tt.fx.ImageSize, 64)
			check := func(u int, lo, hi int64) {
				next := s.UnitFirstRow(u) + lo
				err := s.ReadUnit(u, lo, hi, func(row int64, img []byte, label int) error {
					if row != next {
						t.Fatalf("unit %d: row %d, want %d", u, row, next)
					}
					next++
					null := tt.fx.NullEvery > 0 && row%int64(tt.fx.NullEvery) == int64(tt.fx.NullEvery-1)
					wantLabel := fixtureLabel(row)
					if null || tt.fx.NoLabel {
						wantLabel = -1
					}
					if label != wantLabel {
						t.Errorf("row %d: label %d, want %d", row, label, wantLabel)
					}
					if null {
						if img != nil {
							t.Errorf("row %d: null image read as %d bytes", row, len(img))
						}
						return nil
					}
					if !bytes.Equal(img, fixtureImage(name, row, size)) {
						t.Errorf("row %d: image bytes differ", row)
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if next != s.UnitFirstRow(u)+hi {
					t.Errorf("unit %d [%d,%d): stopped at row %d", u, lo, hi, next)
				}
			}
			for u := range s.NumUnits() {
				n := s.UnitRows(u)
				check(u, 0, n)
				check(u, n/2, n)
				check(u, n/3, n/3+1)
				check(u, 1, 1)
			}
			if err := s.ReadUnit(0, 0, s.UnitRows(0)+1, func(int64, []byte, int) error { return nil }); err == nil {
				t.Error("reading past the unit: no error")
			}
			stop := errors.New("stop")
			if err := s.ReadUnit(0, 0, s.UnitRows(0), func(int64, []byte, int) error { return stop }); err != stop { //nolint:errorlint // must be returned as is
				t.Errorf("callback error returned as %v", err)
			}
		})
	}
}

func TestSampleID(t *testing.T) {
	if SampleID("/a/b/train-0.parquet", 7) != SampleID("train-0.parquet", 7) {
		t.Error("id depends on the directory")
	}
	seen := map[uint64]bool{}
	for _, name := range []string{"a.parquet", "b.parquet", "a.arrow"} {
		for row := range int64(1000) {
			id := SampleID(name, row)
			if seen[id] {
				t.Fatalf("id collision at %s row %d", name, row)
			}
			seen[id] = true
		}
	}
	// Pinned so that a change of derivation (which would change every
	// augmentation of every resumed run) is noticed.
	if got := SampleID("train-00000-of-00001.parquet", 42); got != 0xdb6e4ebded516093 {
		t.Errorf("SampleID = %#x, want 0xdb6e4ebded516093", got)
	}
}
