package sources

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestParseCursor(t *testing.T) {
	tests := []struct {
		in      string
		want    Cursor
		wantErr bool
	}{
		{"0:0", Cursor{}, false},
		{"3:1234", Cursor{3, 1234}, false},
		{"3", Cursor{}, true},
		{"a:1", Cursor{}, true},
		{"1:b", Cursor{}, true},
		{"-1:0", Cursor{}, true},
		{"1:-5", Cursor{}, true},
		{"", Cursor{}, true},
	}
	for _, tt := range tests {
		got, err := ParseCursor(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseCursor(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err == nil {
			var c Cursor
			b, _ := got.MarshalText()
			if err := c.UnmarshalText(b); err != nil || c != got || string(b) != tt.in {
				t.Errorf("round trip of %v: %q, %v, %v", got, b, c, err)
			}
		}
	}
}

// testShards writes a small mixed dataset: Parquet and Arrow shards with
// uneven units. It returns the directory (a Discover spec) and the row count.
func testShards(t testing.TB) (string, int64) {
	t.Helper()
	dir := t.TempDir()
	writeFixture(t, dir, "a.parquet", fixture{Units: []int{7, 13, 2}})
	writeFixture(t, dir, "b.arrow", fixture{Units: []int{11, 5}, Arrow: true})
	writeFixture(t, dir, "c.parquet", fixture{Units: []int{16, 9, 1, 4}, Plain: true})
	writeFixture(t, dir, "d.arrow", fixture{Units: []int{6, 8}, Arrow: true, Stream: true})
	return dir, 7 + 13 + 2 + 11 + 5 + 16 + 9 + 1 + 4 + 6 + 8
}

var errStop = errors.New("stop")

// collect runs a source built from cfg and returns the samples it emits,
// stopping after limit samples (limit < 0: no limit).
func collect(t *testing.T, cfg ParquetConfig, limit int) []*Sample {
	t.Helper()
	src, err := NewSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out []*Sample
	err = src.Produce(context.Background(), func(s *Sample) error {
		if len(out) == limit {
			return errStop
		}
		out = append(out, s)
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		t.Fatal(err)
	}
	return out
}

func sameSample(a, b *Sample) bool {
	return a.ID == b.ID && a.Shard == b.Shard && a.Row == b.Row && a.Epoch == b.Epoch &&
		a.Position == b.Position && a.Label == b.Label && bytes.Equal(a.Bytes, b.Bytes)
}

// TestResume stops a source after k samples, resumes a new one from the last
// sample's cursor and checks that the two together emit exactly the
// uninterrupted sequence, for several k (inside the shuffle buffer's fill,
// steady and drain phases and at epoch boundaries), several ranks of a world
// of 3, with the shuffle buffer on, over 3 epochs.
func TestResume(t *testing.T) {
	dir, n := testShards(t)
	const world, epochs, buffer = 3, 3, 13
	q := n / world
	for rank := range world {
		for _, buf := range []int{buffer, 0} {
			cfg := ParquetConfig{Glob: dir, Seed: 11, Rank: rank, World: world, ShuffleBuffer: buf, Epochs: epochs, ReadAhead: 1}
			full := collect(t, cfg, -1)
			if int64(len(full)) != epochs*q {
				t.Fatalf("rank %d: %d samples, want %d", rank, len(full), epochs*q)
			}
			for _, k := range []int64{1, 2, 12, 13, 14, 20, q - buffer, q - 2, q - 1, q, q + 1, q + buffer + 1, 2*q - 1, 2 * q, 2*q + 5, 3*q - 1, 3 * q} {
				t.Run(fmt.Sprintf("rank=%d/buffer=%d/k=%d", rank, buf, k), func(t *testing.T) {
					head := collect(t, cfg, int(k))
					if int64(len(head)) != k {
						t.Fatalf("stopped after %d samples, want %d", len(head), k)
					}
					resumed := cfg
					resumed.Cursor = head[k-1].Cursor()
					tail := collect(t, resumed, -1)
					got := append(head, tail...)
					if len(got) != len(full) {
						t.Fatalf("%d + %d samples, want %d", len(head), len(tail), len(full))
					}
					for i := range full {
						if !sameSample(got[i], full[i]) {
							t.Fatalf("sample %d: resumed %+v, uninterrupted %+v", i, *got[i], *full[i])
						}
					}
				})
			}
		}
	}
}

// TestSourceMatchesPlan checks the samples a source emits against the plan's
// metadata-only order, and their content against the fixtures.
func TestSourceMatchesPlan(t *testing.T) {
	dir, _ := testShards(t)
	cfg := ParquetConfig{Glob: dir, Seed: 3, Rank: 1, World: 2, ShuffleBuffer: 6, Epochs: 2}
	src, err := NewSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, cfg, -1)
	plan := src.Plan()
	q := plan.EpochSize()
	for e := range 2 {
		for i, r := range plan.Order(e) {
			s := got[int64(e)*q+int64(i)]
			u := plan.Units()[r.Unit]
			sh := src.Shards()[u.Shard]
			row := u.FirstRow + r.Row
			if s.Shard != sh.Path || s.Row != row || s.Epoch != e || s.Position != int64(i) {
				t.Fatalf("epoch %d sample %d: %s#%d e%d p%d, plan says %s#%d", e, i, s.Shard, s.Row, s.Epoch, s.Position, sh.Path, row)
			}
			if s.ID != SampleID(s.Shard, s.Row) {
				t.Fatalf("sample %s#%d: id %#x, want SampleID", s.Shard, s.Row, s.ID)
			}
			if !bytes.Equal(s.Bytes, fixtureImage(baseName(s.Shard), s.Row, 64)) || s.Label != fixtureLabel(s.Row) {
				t.Fatalf("sample %s#%d: wrong bytes or label %d", s.Shard, s.Row, s.Label)
			}
			if c := s.Cursor(); c != (Cursor{e, int64(i) + 1}) {
				t.Fatalf("cursor %v", c)
			}
		}
	}
}

func TestSourceInOrder(t *testing.T) {
	dir, n := testShards(t)
	got := collect(t, ParquetConfig{Glob: dir, InOrder: true, Epochs: 2}, -1)
	if int64(len(got)) != 2*n {
		t.Fatalf("%d samples, want %d", len(got), 2*n)
	}
	files, _ := Discover(dir)
	i := 0
	for e := range 2 {
		for _, f := range files {
			s, _ := OpenShard(f, Columns{})
			for row := range s.Rows() {
				if got[i].Shard != f || got[i].Row != row || got[i].Epoch != e {
					t.Fatalf("sample %d: %s#%d, want %s#%d", i, got[i].Shard, got[i].Row, f, row)
				}
				i++
			}
		}
	}
}

func TestNewSourceErrors(t *testing.T) {
	dir, n := testShards(t)
	tests := []struct {
		name string
		cfg  ParquetConfig
		want string
	}{
		{"no files", ParquetConfig{Glob: dir + "/*.none"}, "matched no files"},
		{"cursor past epoch", ParquetConfig{Glob: dir, Cursor: Cursor{0, n + 1}}, "past the end of the epoch"},
		{"negative cursor", ParquetConfig{Glob: dir, Cursor: Cursor{-1, 0}}, "invalid cursor"},
		{"rank outside world", ParquetConfig{Glob: dir, Rank: 3, World: 3}, "outside world"},
		{"negative read-ahead", ParquetConfig{Glob: dir, ReadAhead: -1}, "read-ahead"},
		{"bad shard", ParquetConfig{Files: []string{dir + "/missing.parquet"}}, "missing.parquet"},
		{"first bad shard in file order", ParquetConfig{Files: []string{
			dir + "/a.parquet", dir + "/b.arrow", dir + "/c.parquet", dir + "/d.arrow", dir + "/a.parquet", dir + "/b.arrow",
			dir + "/c.parquet", dir + "/d.arrow", dir + "/a.parquet", dir + "/gone-1.parquet", dir + "/gone-2.parquet"}}, "gone-1.parquet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSource(tt.cfg)
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tt.want)) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
	// A cursor at the very end of an epoch is the start of the next one.
	got := collect(t, ParquetConfig{Glob: dir, Epochs: 2, Cursor: Cursor{0, n}}, -1)
	if int64(len(got)) != n || got[0].Epoch != 1 || got[0].Position != 0 {
		t.Errorf("cursor {0, n}: %d samples from %v", len(got), got[0].Cursor())
	}
	if got := collect(t, ParquetConfig{Glob: dir, Epochs: 2, Cursor: Cursor{2, 0}}, -1); len(got) != 0 {
		t.Errorf("cursor past the last epoch: %d samples", len(got))
	}
}

func baseName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}

// TestResumeIsCheap checks that a resumed source reads only the units it
// still needs: those of the samples waiting in the replayed shuffle buffer
// (once each) and those after the cursor, never the ones already consumed.
func TestResumeIsCheap(t *testing.T) {
	dir := t.TempDir()
	units := make([]int, 40)
	for i := range units {
		units[i] = 25
	}
	writeFixture(t, dir, "a.parquet", fixture{Units: units}) // 1,000 rows
	for _, buf := range []int{0, 30} {
		cfg := ParquetConfig{Glob: dir, Seed: 4, ShuffleBuffer: buf, Epochs: 1}
		all := collect(t, cfg, -1)
		const k = 900
		cfg.Cursor = all[k-1].Cursor()
		src, err := NewSource(cfg)
		if err != nil {
			t.Fatal(err)
		}
		rest := 0
		if err := src.Produce(context.Background(), func(*Sample) error { rest++; return nil }); err != nil {
			t.Fatal(err)
		}
		if rest != len(all)-k {
			t.Fatalf("buffer %d: resumed source emitted %d, want %d", buf, rest, len(all)-k)
		}
		u, rows := src.Reads()
		// Without a buffer the last 100 rows span 4 or 5 units; with one of
		// 30 samples at most 30 more units, and far from all 40.
		maxUnits := int64(5)
		if buf > 0 {
			maxUnits += int64(buf)
		}
		if u > maxUnits || u >= 40 || rows > 100+int64(buf)*25 {
			t.Errorf("buffer %d: resuming at %d of 1000 read %d units, %d rows", buf, k, u, rows)
		}
		t.Logf("buffer %d: resume at %d/1000 read %d units, %d rows", buf, k, u, rows)
	}
}
