package idx

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/contrastream/contrastream/internal/shardtest"
	"github.com/contrastream/contrastream/sinks"
)

// writeIDX writes an IDX file of unsigned bytes, gzipped or not.
func writeIDX(t testing.TB, path string, dims []uint32, data []byte, gzipped bool) {
	t.Helper()
	b := idxBytes(Uint8, dims, data)
	if gzipped {
		b = gz(b)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestImport(t *testing.T) {
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
	sum, err := Import(context.Background(), Source{Images: ip, Labels: lp},
		sinks.ShardsConfig{Dir: filepath.Join(dir, "out")},
		sinks.ImportOptions{Shards: 4, Workers: 3, Progress: func(done, total int64) {
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
	imgs, labels := shardtest.Rows(t, sum.Files)
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
	info := shardtest.Read(t, sum.Files[0])
	if !strings.Contains(info.Meta["huggingface"], `"label":{"dtype":"int64","_type":"Value"}`) {
		t.Errorf("metadata %s", info.Meta["huggingface"])
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
		sum, err := Import(context.Background(), Source{
			Images: filepath.Join(dir, sp.prefix+"-images-idx3-ubyte.gz"),
			Labels: filepath.Join(dir, sp.prefix+"-labels-idx1-ubyte.gz"),
		}, sinks.ShardsConfig{Dir: out}, sinks.ImportOptions{Shards: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d rows in %d shards, %d bytes, %.2fs (%.0f rows/s)", sp.prefix, sum.Rows, sum.Shards, sum.Bytes, sum.Seconds, sum.RowsPerSec)
		if sum.Rows != sp.n || sum.Shards != 2 {
			t.Fatalf("%s: %+v", sp.prefix, sum)
		}
		imgs, labels := shardtest.Rows(t, sum.Files)
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
