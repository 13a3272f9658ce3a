package sinks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/apache/arrow/go/v15/parquet/file"

	"github.com/contrastream/contrastream/internal/shardtest"
	"github.com/contrastream/contrastream/pipeline"
)

// The shard readers of the tests live in internal/shardtest, shared with
// the importers' tests (sinks/idx, sinks/imagefolder).
type (
	shardRow  = shardtest.Row
	shardInfo = shardtest.Info
)

func readShard(t testing.TB, path string) shardInfo {
	t.Helper()
	return shardtest.Read(t, path)
}

// listDir returns the names in dir, sorted (hidden ones included).
func listDir(t testing.TB, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

func fakeImage(i int) []byte {
	// Not a real image: the writer stores bytes as they are.
	return []byte(fmt.Sprintf("img-%04d-%s", i, strings.Repeat("x", i%7)))
}

func TestShardsLayoutAndMetadata(t *testing.T) {
	dir := t.TempDir()
	w, err := NewShards(ShardsConfig{Dir: dir, ClassNames: []string{"cat", "dog"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []shardRow{
		{Image: []byte("\x89PNG a"), Label: 0, HasLabel: true, Path: "cat/1.png", HasPath: true},
		{Image: []byte("\xff\xd8 b"), Label: 1, HasLabel: true},
		{Image: []byte{}, HasLabel: false, Path: "x", HasPath: true}, // label -1 → null
	}
	for _, r := range want {
		l := int(r.Label)
		if !r.HasLabel {
			l = -1
		}
		if err := w.Write(r.Image, l, r.Path); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, dir); len(got) != 1 || got[0] != "shard-00000.parquet" {
		t.Fatalf("files = %v", got)
	}
	info := readShard(t, filepath.Join(dir, "shard-00000.parquet"))
	if len(info.Rows) != len(want) {
		t.Fatalf("rows = %d, want %d", len(info.Rows), len(want))
	}
	for i := range want {
		g := info.Rows[i]
		if !bytes.Equal(g.Image, want[i].Image) || g.Label != want[i].Label || g.HasLabel != want[i].HasLabel ||
			g.Path != want[i].Path || g.HasPath != want[i].HasPath {
			t.Errorf("row %d = %+v, want %+v", i, g, want[i])
		}
	}
	wantSchema := "image: struct<bytes: binary, path: utf8>, label: int64"
	var fs []string
	for _, f := range info.Schema.Fields() {
		fs = append(fs, f.Name+": "+f.Type.String())
	}
	if got := strings.Join(fs, ", "); got != wantSchema {
		t.Errorf("schema = %s, want %s", got, wantSchema)
	}
	var hf struct {
		Info struct {
			Features map[string]map[string]any `json:"features"`
		} `json:"info"`
	}
	if err := json.Unmarshal([]byte(info.Meta["huggingface"]), &hf); err != nil {
		t.Fatalf("huggingface metadata %q: %v", info.Meta["huggingface"], err)
	}
	if hf.Info.Features["image"]["_type"] != "Image" || hf.Info.Features["label"]["_type"] != "ClassLabel" {
		t.Errorf("features = %v", hf.Info.Features)
	}
	if names := fmt.Sprint(hf.Info.Features["label"]["names"]); names != "[cat dog]" {
		t.Errorf("class names = %s", names)
	}
	for i, c := range info.Codecs {
		if c != compress.Codecs.Zstd {
			t.Errorf("column %d codec = %v, want zstd", i, c)
		}
	}
	if st := w.Stats(); st.Rows != 3 || st.Shards != 1 || st.Bytes <= 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestHuggingFaceMetadata(t *testing.T) {
	for _, tc := range []struct {
		labels bool
		names  []string
		want   string
	}{
		{false, nil, `{"info":{"features":{"image":{"_type":"Image"}}}}`},
		{true, nil, `{"info":{"features":{"image":{"_type":"Image"},"label":{"dtype":"int64","_type":"Value"}}}}`},
		{false, []string{"a", "b\"c"}, `{"info":{"features":{"image":{"_type":"Image"},"label":{"names":["a","b\"c"],"_type":"ClassLabel"}}}}`},
	} {
		got, err := HuggingFaceMetadata(tc.labels, tc.names)
		if err != nil || got != tc.want {
			t.Errorf("HuggingFaceMetadata(%v, %q) = %s, %v; want %s", tc.labels, tc.names, got, err, tc.want)
		}
	}
}

func TestShardsRollover(t *testing.T) {
	for _, tc := range []struct {
		name       string
		cfg        ShardsConfig
		n          int
		wantShards []int // rows per shard
		wantGroups []int // row groups per shard
	}{
		{"rows", ShardsConfig{MaxRows: 4, RowGroupRows: 3}, 10, []int{4, 4, 2}, []int{2, 2, 1}},
		{"rows exact", ShardsConfig{MaxRows: 5}, 10, []int{5, 5}, []int{1, 1}},
		// Each fake image is 9..15 bytes: 40 bytes hold 3 rows at most.
		{"bytes", ShardsConfig{MaxBytes: 40, RowGroupRows: 2}, 7, nil, nil},
		{"row group bytes", ShardsConfig{RowGroupBytes: 20}, 6, []int{6}, []int{3}},
		{"one row over the byte limit", ShardsConfig{MaxBytes: 1}, 3, []int{1, 1, 1}, []int{1, 1, 1}},
		{"no labels, no limit", ShardsConfig{MaxBytes: -1}, 25, []int{25}, []int{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.cfg.Dir = dir
			tc.cfg.Labels = true
			w, err := NewShards(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < tc.n; i++ {
				if err := w.Write(fakeImage(i), i, ""); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			files := listDir(t, dir)
			st := w.Stats()
			if len(files) != st.Shards || st.Rows != int64(tc.n) {
				t.Fatalf("files %v, stats %+v", files, st)
			}
			next := 0
			for k, f := range files {
				if want := fmt.Sprintf("shard-%05d.parquet", k); f != want {
					t.Fatalf("file %d = %s, want %s", k, f, want)
				}
				info := readShard(t, filepath.Join(dir, f))
				if tc.wantShards != nil && len(info.Rows) != tc.wantShards[k] {
					t.Errorf("%s: %d rows, want %d", f, len(info.Rows), tc.wantShards[k])
				}
				if tc.wantGroups != nil && info.RowGroups != tc.wantGroups[k] {
					t.Errorf("%s: %d row groups, want %d", f, info.RowGroups, tc.wantGroups[k])
				}
				size := 0
				for _, r := range info.Rows {
					if !bytes.Equal(r.Image, fakeImage(next)) || r.Label != int64(next) {
						t.Fatalf("%s: row %d holds %q/%d, want image %d", f, next, r.Image, r.Label, next)
					}
					size += len(r.Image)
					next++
				}
				if tc.cfg.MaxBytes > 0 && size > int(tc.cfg.MaxBytes) && len(info.Rows) > 1 {
					t.Errorf("%s: %d image bytes > MaxBytes %d", f, size, tc.cfg.MaxBytes)
				}
			}
			if next != tc.n {
				t.Errorf("read %d rows, want %d", next, tc.n)
			}
			if tc.wantShards == nil && len(files) < 2 {
				t.Errorf("byte limit made no rollover: %v", files)
			}
		})
	}
}

func TestShardsTempFileUntilCommit(t *testing.T) {
	dir := t.TempDir()
	w, err := NewShards(ShardsConfig{Dir: dir, MaxRows: 2, RowGroupRows: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := w.Write(fakeImage(i), -1, ""); err != nil {
			t.Fatal(err)
		}
	}
	// Shard 0 is committed; shard 1 is being written under a hidden name.
	files := listDir(t, dir)
	if len(files) != 2 || files[1] != "shard-00000.parquet" || !strings.HasPrefix(files[0], ".shard-00001.parquet.") || !strings.HasSuffix(files[0], ".tmp") {
		t.Fatalf("while writing: %v", files)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.parquet")); len(m) != 1 {
		t.Fatalf("glob *.parquet sees %v", m)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if files := listDir(t, dir); len(files) != 1 || files[0] != "shard-00000.parquet" {
		t.Fatalf("after Abort: %v", files)
	}
	if err := w.Write(fakeImage(9), 0, ""); err == nil {
		t.Error("Write after Abort succeeded")
	}
	if err := w.Close(); err != nil {
		t.Errorf("Close after Abort: %v", err)
	}
}

func TestShardsRefusesToMix(t *testing.T) {
	dir := t.TempDir()
	w, err := NewShards(ShardsConfig{Dir: dir, MaxRows: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		w.Write(fakeImage(i), -1, "")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := NewShards(ShardsConfig{Dir: dir}); err == nil || !strings.Contains(err.Error(), "already holds 3 shard") {
		t.Fatalf("NewShards on a used folder: %v", err)
	}
	os.WriteFile(filepath.Join(dir, ".shard-00007.parquet.123.tmp"), []byte("crash"), 0o644)
	os.WriteFile(filepath.Join(dir, "other-00000.parquet"), []byte("keep"), 0o644)
	w, err = NewShards(ShardsConfig{Dir: dir, Overwrite: true})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(fakeImage(5), -1, "")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(listDir(t, dir)); got != "[other-00000.parquet shard-00000.parquet]" {
		t.Fatalf("after overwrite: %s", got)
	}
	if rows := readShard(t, filepath.Join(dir, "shard-00000.parquet")).Rows; len(rows) != 1 || string(rows[0].Image) != string(fakeImage(5)) {
		t.Fatalf("overwritten shard holds %v", rows)
	}
}

func TestShardsConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  ShardsConfig
		want string
	}{
		{ShardsConfig{}, "no output folder"},
		{ShardsConfig{Dir: "x", Prefix: "a/b"}, "plain name"},
		{ShardsConfig{Dir: "x", MaxRows: -1}, "negative MaxRows"},
	} {
		if _, err := NewShards(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "sinks: ") {
			t.Errorf("NewShards(%+v) = %v, want an error with %q", tc.cfg, err, tc.want)
		}
	}
}

func TestShardsFailedWriteIsSticky(t *testing.T) {
	dir := t.TempDir()
	w, err := NewShards(ShardsConfig{Dir: dir, MaxRows: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(fakeImage(0), -1, ""); err != nil {
		t.Fatal(err)
	}
	// Remove the folder: the next shard cannot be created (even as root).
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	err1 := w.Write(fakeImage(1), -1, "")
	if err1 == nil {
		t.Fatal("write into a read-only folder succeeded")
	}
	if err2 := w.Write(fakeImage(2), -1, ""); !errors.Is(err2, err1) && err2.Error() != err1.Error() {
		t.Errorf("second write: %v, want the first error %v", err2, err1)
	}
	if err := w.Close(); err == nil {
		t.Error("Close after a failed write returned nil")
	}
}

func TestShardsConcurrentWrites(t *testing.T) {
	dir := t.TempDir()
	w, err := NewShards(ShardsConfig{Dir: dir, MaxRows: 50, RowGroupRows: 7, Labels: true})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g * 100; i < g*100+100; i++ {
				if err := w.Write(fakeImage(i), i, ""); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for _, f := range w.Stats().Files {
		for _, r := range readShard(t, f).Rows {
			if seen[r.Label] || !bytes.Equal(r.Image, fakeImage(int(r.Label))) {
				t.Fatalf("row %d duplicated or wrong", r.Label)
			}
			seen[r.Label] = true
		}
	}
	if len(seen) != 400 || w.Stats().Shards != 8 {
		t.Fatalf("%d distinct rows in %d shards", len(seen), w.Stats().Shards)
	}
}

func TestShardsConsumerInPipeline(t *testing.T) {
	rows := make([]ImageRow, 25)
	for i := range rows {
		rows[i] = ImageRow{Image: fakeImage(i), Label: i % 3, Path: fmt.Sprintf("f%d", i)}
	}
	t.Run("complete", func(t *testing.T) {
		dir := t.TempDir()
		w, err := NewShards(ShardsConfig{Dir: dir, MaxRows: 10, Labels: true})
		if err != nil {
			t.Fatal(err)
		}
		p := pipeline.New("t")
		src := pipeline.Source(p, "rows", pipeline.ProducerFunc[ImageRow](func(ctx context.Context, emit func(ImageRow) error) error {
			for _, r := range rows {
				if err := emit(r); err != nil {
					return err
				}
			}
			return nil
		}))
		pipeline.Sink(p, "write", src, w.Consumer())
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if st := w.Stats(); st.Rows != 25 || st.Shards != 3 {
			t.Fatalf("stats %+v", st)
		}
		got := readShard(t, filepath.Join(dir, "shard-00002.parquet")).Rows
		if len(got) != 5 || got[4].Path != "f24" || got[4].Label != 24%3 {
			t.Fatalf("last shard %+v", got)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		dir := t.TempDir()
		w, err := NewShards(ShardsConfig{Dir: dir, MaxRows: 10})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		p := pipeline.New("t")
		src := pipeline.Source(p, "rows", pipeline.ProducerFunc[ImageRow](func(ctx context.Context, emit func(ImageRow) error) error {
			for i, r := range rows {
				if i == 15 {
					cancel()
					<-ctx.Done()
				}
				if err := emit(r); err != nil {
					return err
				}
			}
			return nil
		}))
		pipeline.Sink(p, "write", src, w.Consumer())
		if err := p.Run(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v, want context.Canceled", err)
		}
		// The full first shard is committed; the partial second one is not.
		if got := fmt.Sprint(listDir(t, dir)); got != "[shard-00000.parquet]" {
			t.Fatalf("after cancel: %s", got)
		}
	})
}

func ExampleShards() {
	dir, _ := os.MkdirTemp("", "shards")
	defer os.RemoveAll(dir)

	w, err := NewShards(ShardsConfig{Dir: dir, MaxRows: 2, ClassNames: []string{"cat", "dog"}})
	if err != nil {
		panic(err)
	}
	for i, b := range [][]byte{[]byte("png0"), []byte("png1"), []byte("png2")} {
		if err := w.Write(b, i%2, fmt.Sprintf("img%d.png", i)); err != nil {
			panic(err)
		}
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	st := w.Stats()
	fmt.Println(st.Rows, "rows in", st.Shards, "shards")
	for _, f := range st.Files {
		fmt.Println(filepath.Base(f))
	}
	// Output:
	// 3 rows in 2 shards
	// shard-00000.parquet
	// shard-00001.parquet
}

func ExampleShards_Consumer() {
	dir, _ := os.MkdirTemp("", "shards")
	defer os.RemoveAll(dir)

	w, err := NewShards(ShardsConfig{Dir: dir, Labels: true})
	if err != nil {
		panic(err)
	}
	p := pipeline.New("write")
	rows := pipeline.Source(p, "rows", pipeline.ProducerFunc[ImageRow](func(ctx context.Context, emit func(ImageRow) error) error {
		for i := 0; i < 5; i++ {
			if err := emit(ImageRow{Image: []byte{byte(i)}, Label: i % 2}); err != nil {
				return err
			}
		}
		return nil
	}))
	// Close(ctx) at the end of the input commits the last shard.
	pipeline.Sink(p, "shards", rows, w.Consumer())
	if err := p.Run(context.Background()); err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", w.Stats().Rows)
	// Output: 5
}

func BenchmarkShardsWrite(b *testing.B) {
	for _, size := range []int{2 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			img := make([]byte, size)
			for i := range img {
				img[i] = byte(i * 31 >> 3) // compressible like PNG is not; zstd does little
			}
			dir := b.TempDir()
			w, err := NewShards(ShardsConfig{Dir: dir, Labels: true, MaxRows: 20000})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := w.Write(img, i%10, ""); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// TestShardPagesStaySmall: a row group of large images is written as many
// data pages of about 1 MiB plus one image each, not one page per 1,024
// values (which a reader must hold whole, compressed and decompressed,
// whatever the row group's size).
func TestShardPagesStaySmall(t *testing.T) {
	dir := t.TempDir()
	w, err := NewShards(ShardsConfig{Dir: dir, RowGroupRows: 200, RowGroupBytes: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	img := make([]byte, 50<<10)
	for i := range 200 {
		for j := range img {
			img[j] = byte(uint32(i*7919+j*104729) >> 7) // little for zstd to find
		}
		if err := w.Write(img, -1, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := file.OpenParquetFile(filepath.Join(dir, "shard-00000.parquet"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.NumRowGroups() != 1 {
		t.Fatalf("%d row groups, want 1", r.NumRowGroups())
	}
	pr, err := r.RowGroup(0).GetColumnPageReader(0)
	if err != nil {
		t.Fatal(err)
	}
	pages, most := 0, 0
	for pr.Next() {
		pages++
		most = max(most, len(pr.Page().Data()))
	}
	if err := pr.Err(); err != nil {
		t.Fatal(err)
	}
	if limit := 1<<20 + len(img) + 4<<10; pages < 8 || most > limit {
		t.Errorf("200 images of 50 KiB in %d pages, the largest %d bytes; want >= 8 pages of <= %d", pages, most, limit)
	}
}
