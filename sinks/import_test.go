package sinks

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/contrastream/contrastream/sources"
)

// readBack reads every row of the shards with the project's own reader
// (sources.OpenShard), in shard and row order.
func readBack(t testing.TB, files []string) (imgs [][]byte, labels []int) {
	t.Helper()
	for _, f := range files {
		sh, err := sources.OpenShard(f, sources.Columns{})
		if err != nil {
			t.Fatal(err)
		}
		for u := 0; u < sh.NumUnits(); u++ {
			err := sh.ReadUnit(u, 0, sh.UnitRows(u), func(row int64, img []byte, label int) error {
				imgs = append(imgs, bytes.Clone(img))
				labels = append(labels, label)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return imgs, labels
}

func writeIDX(t testing.TB, path string, dims []uint32, data []byte, gzipped bool) {
	t.Helper()
	var b bytes.Buffer
	typ := byte(0x08)
	b.Write([]byte{0, 0, typ, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, d)
	}
	b.Write(data)
	out := b.Bytes()
	if gzipped {
		var z bytes.Buffer
		w := gzip.NewWriter(&z)
		w.Write(out)
		w.Close()
		out = z.Bytes()
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestImportIDX(t *testing.T) {
	dir := t.TempDir()
	const n, h, w = 57, 6, 5
	pix := make([]byte, n*h*w)
	for i := range pix {
		pix[i] = byte(i * 13)
	}
	labs := make([]byte, n)
	for i := range labs {
		labs[i] = byte(i % 10)
	}
	ip, lp := filepath.Join(dir, "img.gz"), filepath.Join(dir, "lab")
	writeIDX(t, ip, []uint32{n, h, w}, pix, true)
	writeIDX(t, lp, []uint32{n}, labs, false)
	var calls []int64
	sum, err := ImportIDX(context.Background(), sources.IDX{Images: ip, Labels: lp},
		ShardsConfig{Dir: filepath.Join(dir, "out")},
		ImportOptions{Shards: 4, Workers: 3, Progress: func(done, total int64) {
			if total != n {
				t.Errorf("progress total %d", total)
			}
			calls = append(calls, done)
		}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Rows != n || sum.Shards != 4 || len(sum.Files) != 4 || sum.Rejected != 0 || sum.Bytes <= 0 {
		t.Fatalf("summary %+v", sum)
	}
	if len(calls) == 0 || calls[len(calls)-1] != n {
		t.Errorf("progress calls %v", calls)
	}
	imgs, labels := readBack(t, sum.Files)
	if len(imgs) != n {
		t.Fatalf("read back %d rows", len(imgs))
	}
	for i, b := range imgs {
		m, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		g, ok := m.(*image.Gray)
		if !ok || g.Rect.Dx() != w || g.Rect.Dy() != h {
			t.Fatalf("row %d: %T %v", i, m, m.Bounds())
		}
		if !bytes.Equal(g.Pix, pix[i*h*w:(i+1)*h*w]) || labels[i] != i%10 {
			t.Fatalf("row %d: pixels or label %d differ", i, labels[i])
		}
	}
	// The label feature names the classes "0".."9"? No: IDX has no names,
	// so the label is a plain int64 Value.
	info := readShard(t, sum.Files[0])
	if !strings.Contains(info.Meta["huggingface"], `"label":{"dtype":"int64","_type":"Value"}`) {
		t.Errorf("metadata %s", info.Meta["huggingface"])
	}
}

func TestWriteSynthWorkersInvariant(t *testing.T) {
	s := sources.Synth{N: 150, Size: 16, Seed: 5}
	var ref [][]byte
	for _, workers := range []int{1, 2, 5} {
		dir := t.TempDir()
		sum, err := WriteSynth(context.Background(), s, ShardsConfig{Dir: dir, RowGroupRows: 40}, ImportOptions{Workers: workers, Shards: 2})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Rows != 150 || sum.Shards != 2 || fmt.Sprint(sum.Classes) != fmt.Sprint(sources.SynthClasses[:]) {
			t.Fatalf("summary %+v", sum)
		}
		imgs, labels := readBack(t, sum.Files)
		buf := make([]byte, 16*16*3)
		for i, b := range imgs {
			m, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			nrgba, ok := m.(*image.RGBA)
			if !ok {
				t.Fatalf("decoded as %T, want an opaque RGB PNG", m)
			}
			want := s.Label(int64(i))
			s.Draw(buf, int64(i))
			for p := 0; p < 16*16; p++ {
				if !bytes.Equal(nrgba.Pix[4*p:4*p+3], buf[3*p:3*p+3]) {
					t.Fatalf("workers=%d row %d pixel %d differs from Synth.Draw", workers, i, p)
				}
			}
			if labels[i] != want {
				t.Fatalf("row %d label %d want %d", i, labels[i], want)
			}
		}
		if ref == nil {
			ref = imgs
		} else {
			for i := range imgs {
				if !bytes.Equal(imgs[i], ref[i]) {
					t.Fatalf("workers=%d: row %d bytes differ from workers=1", workers, i)
				}
			}
		}
		info := readShard(t, sum.Files[0])
		if !strings.Contains(info.Meta["huggingface"], `"names":["circle","square",`) {
			t.Errorf("metadata %s", info.Meta["huggingface"])
		}
	}
}

func encodeTestImage(t testing.TB, format string, w, h int) []byte {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = byte(i)
	}
	m.Set(0, 0, color.RGBA{1, 2, 3, 255})
	var b bytes.Buffer
	var err error
	if format == "png" {
		err = png.Encode(&b, m)
	} else {
		err = jpeg.Encode(&b, m, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestImportImages(t *testing.T) {
	src := t.TempDir()
	files := map[string][]byte{
		"cat/a.png":     encodeTestImage(t, "png", 4, 3),
		"cat/b.jpg":     encodeTestImage(t, "jpg", 8, 8),
		"dog/c.jpeg":    encodeTestImage(t, "jpg", 5, 7),
		"dog/bad.png":   []byte("this is not a png"),
		"dog/trunc.png": encodeTestImage(t, "png", 4, 4)[:20],
		"zebra/d.PNG":   encodeTestImage(t, "png", 2, 2),
	}
	for p, b := range files {
		os.MkdirAll(filepath.Join(src, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(src, p), b, 0o644)
	}
	out := t.TempDir()
	dl := filepath.Join(out, "bad.jsonl")
	sum, err := ImportImages(context.Background(), sources.Folder{Dir: src}, ShardsConfig{Dir: out},
		ImportOptions{DeadLetters: dl, Workers: 2})
	if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "2 of 6 records") {
		t.Fatalf("err = %v, want ErrRejected for 2 of 6", err)
	}
	if sum.Rows != 4 || sum.Rejected != 2 || fmt.Sprint(sum.Classes) != "[cat dog zebra]" {
		t.Fatalf("summary %+v", sum)
	}
	info := readShard(t, sum.Files[0])
	var got []string
	for _, r := range info.Rows {
		if !bytes.Equal(r.Image, files[r.Path]) {
			t.Errorf("%s: bytes changed", r.Path)
		}
		got = append(got, fmt.Sprintf("%s:%d", r.Path, r.Label))
	}
	if fmt.Sprint(got) != "[cat/a.png:0 cat/b.jpg:0 dog/c.jpeg:1 zebra/d.PNG:2]" {
		t.Errorf("rows %v", got)
	}
	if !strings.Contains(info.Meta["huggingface"], `"names":["cat","dog","zebra"]`) {
		t.Errorf("metadata %s", info.Meta["huggingface"])
	}
	recs, err := ReadDeadLetters(dl)
	if err != nil {
		t.Fatal(err)
	}
	var bad []string
	for _, r := range recs {
		bad = append(bad, fmt.Sprintf("%s %s#%d", r.Stage, r.Shard, r.Row))
	}
	if fmt.Sprint(bad) != "[check dog/bad.png#2 check dog/trunc.png#4]" {
		t.Errorf("dead letters %v", bad)
	}
	// With a budget, the same rejections are within limits: no error.
	sum, err = ImportImages(context.Background(), sources.Folder{Dir: src}, ShardsConfig{Dir: out, Overwrite: true},
		ImportOptions{BadRecordBudget: 0.5})
	if err != nil || sum.Rows != 4 {
		t.Fatalf("with budget 0.5: %+v, %v", sum, err)
	}
	// A flat folder: no label column.
	flat := t.TempDir()
	os.WriteFile(filepath.Join(flat, "x.png"), files["cat/a.png"], 0o644)
	sum, err = ImportImages(context.Background(), sources.Folder{Dir: flat}, ShardsConfig{Dir: t.TempDir()}, ImportOptions{})
	if err != nil || sum.Rows != 1 || sum.Classes != nil {
		t.Fatalf("flat: %+v, %v", sum, err)
	}
	if info := readShard(t, sum.Files[0]); len(info.Schema.Fields()) != 1 || info.Rows[0].Path != "x.png" {
		t.Errorf("flat shard schema %v rows %+v", info.Schema, info.Rows)
	}
}

func TestImportCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	sum, err := WriteSynth(ctx, sources.Synth{N: 5000, Size: 16}, ShardsConfig{Dir: dir, MaxRows: 1000},
		ImportOptions{Progress: func(done, _ int64) {
			if done >= 1500 {
				cancel()
			}
		}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	// Only full shards were committed, and no temporary file is left.
	names := listDir(t, dir)
	for _, n := range names {
		if strings.HasPrefix(n, ".") {
			t.Errorf("left %s behind", n)
		}
	}
	if sum.Rows%1000 != 0 || sum.Rows == 0 || len(names) != sum.Shards {
		t.Errorf("after cancel: %+v, files %v", sum, names)
	}
}

// TestImportFashionMNIST imports the real dataset when Debian's
// dataset-fashion-mnist package is installed (CI installs it).
func TestImportFashionMNIST(t *testing.T) {
	const dir = "/usr/share/datasets/fashion-mnist"
	if _, err := os.Stat(filepath.Join(dir, "t10k-images-idx3-ubyte.gz")); err != nil {
		t.Skipf("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist): %v", err)
	}
	splits := []struct {
		prefix string
		n      int64
	}{{"t10k", 10000}, {"train", 60000}}
	if testing.Short() {
		splits = splits[:1]
	}
	for _, sp := range splits {
		out := t.TempDir()
		sum, err := ImportIDX(context.Background(), sources.IDX{
			Images: filepath.Join(dir, sp.prefix+"-images-idx3-ubyte.gz"),
			Labels: filepath.Join(dir, sp.prefix+"-labels-idx1-ubyte.gz"),
		}, ShardsConfig{Dir: out}, ImportOptions{Shards: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d rows in %d shards, %d bytes, %.2fs (%.0f rows/s)", sp.prefix, sum.Rows, sum.Shards, sum.Bytes, sum.Seconds, sum.RowsPerSec)
		if sum.Rows != sp.n || sum.Shards != 2 {
			t.Fatalf("%s: %+v", sp.prefix, sum)
		}
		imgs, labels := readBack(t, sum.Files)
		var hist [10]int
		for _, l := range labels {
			hist[l]++
		}
		for c, k := range hist {
			if k != int(sp.n/10) {
				t.Errorf("%s: class %d has %d rows, want %d", sp.prefix, c, k, sp.n/10)
			}
		}
		m, err := png.Decode(bytes.NewReader(imgs[len(imgs)-1]))
		if err != nil || m.Bounds().Dx() != 28 || m.Bounds().Dy() != 28 {
			t.Errorf("%s: last image: %v %v", sp.prefix, m.Bounds(), err)
		}
	}
}

func BenchmarkWriteSynth(b *testing.B) {
	b.ReportAllocs()
	const n = 2000
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		sum, err := WriteSynth(context.Background(), sources.Synth{N: n, Seed: 1}, ShardsConfig{Dir: dir}, ImportOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(sum.Bytes) // shard bytes per run
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "images/s")
}

// TestImportImagesVerifiesByDecoding: by default every file is decoded as
// training will decode it, so a PNG cut inside its pixel data (its header
// intact) and a tiny PNG declaring 20000×20000 are rejected, each with its
// reason, and the good files are still written. HeaderOnly lets the
// truncated one in, but never the one over the pixel limit.
func TestImportImagesVerifiesByDecoding(t *testing.T) {
	src := t.TempDir()
	whole := encodeTestImage(t, "png", 64, 64)
	bomb := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x4e\x20\x00\x00\x4e\x20\x08\x02\x00\x00\x00")
	bomb = append(bomb, 0, 0, 0, 0) // CRC not checked by the header reader
	files := map[string][]byte{
		"a/good.png":  whole,
		"a/good2.jpg": encodeTestImage(t, "jpg", 16, 16),
		"a/cut.png":   whole[:len(whole)-40],
		"a/bomb.png":  bomb,
	}
	for p, b := range files {
		os.MkdirAll(filepath.Join(src, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(src, p), b, 0o644)
	}
	for _, c := range []struct {
		headerOnly bool
		rows       int64
		bad        string
	}{
		{false, 2, "[a/bomb.png:too many pixels a/cut.png:corrupt]"},
		{true, 3, "[a/bomb.png:too many pixels]"},
	} {
		out := t.TempDir()
		dl := filepath.Join(out, "bad.jsonl")
		sum, err := ImportImages(t.Context(), sources.Folder{Dir: src}, ShardsConfig{Dir: out},
			ImportOptions{DeadLetters: dl, Workers: 2, HeaderOnly: c.headerOnly})
		if !errors.Is(err, ErrRejected) || sum.Rows != c.rows {
			t.Fatalf("HeaderOnly %v: %d rows, err %v; want %d rows and ErrRejected", c.headerOnly, sum.Rows, err, c.rows)
		}
		recs, err := ReadDeadLetters(dl)
		if err != nil {
			t.Fatal(err)
		}
		var bad []string
		for _, r := range recs {
			reason := "?"
			for _, w := range []string{"too many pixels", "corrupt"} {
				if strings.Contains(r.Reason, w) {
					reason = w
				}
			}
			bad = append(bad, r.Shard+":"+reason)
		}
		slices.Sort(bad)
		if fmt.Sprint(bad) != c.bad {
			t.Errorf("HeaderOnly %v: rejected %v, want %s (%+v)", c.headerOnly, bad, c.bad, recs)
		}
	}
}
