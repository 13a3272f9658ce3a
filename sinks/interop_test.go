package sinks

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/contrastream/contrastream/internal/shardtest"
	"github.com/contrastream/contrastream/sources"
	cimage "github.com/contrastream/contrastream/stages/image"
)

// The interop checks run DuckDB (from npm: @duckdb/node-api), an
// independent Parquet implementation, through testdata/interop/interop.mjs.
// They need node and the package installed:
//
//	cd sinks/testdata/interop && npm ci
//
// Without them the tests skip, unless CONTRASTREAM_REQUIRE_INTEROP=1 (CI
// sets it), which turns the skip into a failure.
func duckdb(t *testing.T, args ...string) []byte {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", "interop"))
	if err != nil {
		t.Fatal(err)
	}
	missing := ""
	node, err := exec.LookPath("node")
	if err != nil {
		missing = "node is not installed"
	} else if _, err := os.Stat(filepath.Join(dir, "node_modules", "@duckdb", "node-api")); err != nil {
		missing = "@duckdb/node-api is not installed (cd sinks/testdata/interop && npm ci)"
	}
	if missing != "" {
		if os.Getenv("CONTRASTREAM_REQUIRE_INTEROP") == "1" {
			t.Fatalf("DuckDB interop check required but %s", missing)
		}
		t.Skipf("DuckDB interop check skipped: %s", missing)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{filepath.Join(dir, "interop.mjs")}, args...)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node interop.mjs %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// TestDuckDBReadsOurShards writes shards (real PNGs, labels with nulls,
// paths with nulls, several shards and row groups) and checks that DuckDB
// reads every row's image bytes (md5 and size), path and label, sees the
// Image struct and int64 label types, and finds our "huggingface" metadata.
func TestDuckDBReadsOurShards(t *testing.T) {
	dir := t.TempDir()
	names := []string{"circle", "square", "triangle", "cross", "ring", "stripes", "checker", "dots", "frame", "gradient"}
	w, err := NewShards(ShardsConfig{Dir: dir, MaxRows: 40, RowGroupRows: 16, ClassNames: names})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		md5   string
		size  int
		path  string // "" = null
		label int    // -1 = null
	}
	var want []row
	s := sources.Synth{Size: 16, Seed: 9}
	enc := &PNGEncoder{Level: PNGDefault}
	buf := make([]byte, 16*16*3)
	for i := 0; i < 100; i++ {
		label := s.Draw(buf, int64(i))
		img, err := enc.Encode(sources.RawImage{W: 16, H: 16, C: 3, Pix: buf})
		if err != nil {
			t.Fatal(err)
		}
		path := ""
		if i%3 == 0 {
			path = fmt.Sprintf("synth/%s/%04d.png", names[label], i)
		}
		if i%7 == 0 {
			label = -1
		}
		if err := w.Write(img, label, path); err != nil {
			t.Fatal(err)
		}
		sum := md5.Sum(img)
		want = append(want, row{hex.EncodeToString(sum[:]), len(img), path, label})
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var got struct {
		DuckDB string `json:"duckdb"`
		Rows   []struct {
			File  string  `json:"file"`
			Row   string  `json:"row"`
			MD5   string  `json:"md5"`
			Size  string  `json:"size"`
			Path  *string `json:"path"`
			Label *string `json:"label"`
		} `json:"rows"`
		Types       map[string]string `json:"types"`
		HuggingFace []struct {
			File  string `json:"file"`
			Value string `json:"value"`
		} `json:"huggingface"`
	}
	out := duckdb(t, "read", filepath.Join(dir, "*.parquet"))
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %.500s", err, out)
	}
	t.Logf("DuckDB %s read %d rows from %d files", got.DuckDB, len(got.Rows), len(got.HuggingFace))
	if len(got.Rows) != len(want) {
		t.Fatalf("DuckDB read %d rows, want %d", len(got.Rows), len(want))
	}
	for i, g := range got.Rows {
		wn := want[i]
		if wantFile := filepath.Join(dir, fmt.Sprintf("shard-%05d.parquet", i/40)); g.File != wantFile || g.Row != strconv.Itoa(i%40) {
			t.Fatalf("row %d is %s#%s, want %s#%d", i, g.File, g.Row, wantFile, i%40)
		}
		gotPath, gotLabel := "", -1
		if g.Path != nil {
			gotPath = *g.Path
		}
		if g.Label != nil {
			gotLabel, _ = strconv.Atoi(*g.Label)
		}
		if g.MD5 != wn.md5 || g.Size != strconv.Itoa(wn.size) || gotPath != wn.path || gotLabel != wn.label {
			t.Errorf("row %d: DuckDB sees md5 %s size %s path %q label %d; want %s %d %q %d",
				i, g.MD5, g.Size, gotPath, gotLabel, wn.md5, wn.size, wn.path, wn.label)
		}
	}
	if got.Types["image"] != "STRUCT(bytes BLOB, path VARCHAR)" || got.Types["label"] != "BIGINT" {
		t.Errorf("DuckDB types %v", got.Types)
	}
	wantMeta, _ := HuggingFaceMetadata(true, names)
	if len(got.HuggingFace) != 3 {
		t.Fatalf("huggingface metadata in %d files, want 3", len(got.HuggingFace))
	}
	for _, m := range got.HuggingFace {
		if m.Value != wantMeta {
			t.Errorf("%s: huggingface = %s, want %s", m.File, m.Value, wantMeta)
		}
	}
}

// TestWeReadDuckDBParquet has DuckDB write a Parquet file with a plain BLOB
// image column and an INTEGER label, and reads it with sources.OpenShard,
// the reader the training pipeline uses: the image column is found
// automatically and every byte and label comes back.
func TestWeReadDuckDBParquet(t *testing.T) {
	src := t.TempDir()
	for i := 0; i < 30; i++ {
		label := (i * 7) % 10
		// DuckDB reads the label from the name and writes rows in name order.
		name := fmt.Sprintf("%03d_%02d.png", label, i)
		if err := os.WriteFile(filepath.Join(src, name), shardtest.EncodeImage(t, "png", 3+i%5, 2+i%4), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "duckdb.parquet")
	var res struct {
		Rows  int               `json:"rows"`
		Types map[string]string `json:"types"`
	}
	if err := json.Unmarshal(duckdb(t, "write", src, out), &res); err != nil {
		t.Fatal(err)
	}
	if res.Rows != 30 || res.Types["image"] != "BLOB" || res.Types["label"] != "INTEGER" {
		t.Fatalf("DuckDB wrote %+v", res)
	}
	// The expected rows, in DuckDB's order (sorted file names).
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	sh, err := sources.OpenShard(out, sources.Columns{})
	if err != nil {
		t.Fatal(err)
	}
	if sh.ImageColumn != "image" || sh.LabelColumn != "label" || sh.Rows() != 30 {
		t.Fatalf("our reader found image %q label %q rows %d", sh.ImageColumn, sh.LabelColumn, sh.Rows())
	}
	i := 0
	for u := 0; u < sh.NumUnits(); u++ {
		err := sh.ReadUnit(u, 0, sh.UnitRows(u), func(row int64, img []byte, label int) error {
			name := entries[i].Name()
			data, _ := os.ReadFile(filepath.Join(src, name))
			wantLabel, _ := strconv.Atoi(name[:3])
			if !bytes.Equal(img, data) || label != wantLabel || row != int64(i) {
				t.Errorf("row %d (%s): %d bytes label %d, want %d bytes label %d", row, name, len(img), label, len(data), wantLabel)
			}
			if _, err := (cimage.DecodeOptions{}).Check(img); err != nil {
				t.Errorf("row %d: %v", row, err)
			}
			i++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if i != 30 {
		t.Fatalf("read %d rows", i)
	}
}
