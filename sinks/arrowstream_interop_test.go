package sinks

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/contrastream/contrastream/sources"
)

// labeledShards writes n 16×16 PNGs into shards of 25 rows, every fifth
// label null, and returns the folder.
func labeledShards(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	w, err := NewShards(ShardsConfig{Dir: dir, RowGroupRows: 10, MaxRows: 25})
	if err != nil {
		t.Fatal(err)
	}
	enc := &PNGEncoder{Level: PNGDefault}
	pix := make([]byte, 16*16*3)
	for i := range n {
		label := sources.Synth{Size: 16, Seed: 4}.Draw(pix, int64(i))
		img, err := enc.Encode(sources.RawImage{W: 16, H: 16, C: 3, Pix: pix})
		if err != nil {
			t.Fatal(err)
		}
		if i%5 == 0 {
			label = -1
		}
		if err := w.Write(img, label, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestApacheArrowJSReadsOurStream: the apache-arrow npm package (the
// JavaScript Arrow implementation, independent of arrow/go) reads a stream
// written by Stream and finds the schema (types, nullability, the tensor
// extension, our metadata), and per batch the pixel checksum, ids, labels
// (nulls as nulls), keys, epochs and positions that Go sent. Like the DuckDB
// check it needs node and `npm ci` in testdata/arrowjs, and skips without
// them unless CONTRASTREAM_REQUIRE_INTEROP=1.
func TestApacheArrowJSReadsOurStream(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("testdata", "arrowjs"))
	if err != nil {
		t.Fatal(err)
	}
	missing := ""
	node, err := exec.LookPath("node")
	if err != nil {
		missing = "node is not installed"
	} else if _, err := os.Stat(filepath.Join(dir, "node_modules", "apache-arrow")); err != nil {
		missing = "apache-arrow is not installed (cd sinks/testdata/arrowjs && npm ci)"
	}
	if missing != "" {
		if os.Getenv("CONTRASTREAM_REQUIRE_INTEROP") == "1" {
			t.Fatalf("apache-arrow interop check required but %s", missing)
		}
		t.Skipf("apache-arrow interop check skipped: %s", missing)
	}

	data := labeledShards(t, 90)
	streamFile := filepath.Join(t.TempDir(), "views.arrow")
	f, err := os.Create(streamFile)
	if err != nil {
		t.Fatal(err)
	}
	var dig bytes.Buffer
	cfg := streamConfig(data, 8, 2)
	cfg.View.Source.World, cfg.View.Source.Rank = 2, 1
	cfg.W, cfg.Digests = f, &dig
	rep, err := Stream(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "read.mjs"), streamFile)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node read.mjs: %v\n%s", err, stderr.String())
	}
	var js struct {
		Fields []struct {
			Name, Type string
			Nullable   bool
			Metadata   map[string]string
		}
		Metadata map[string]string
		Batches  []struct {
			Rows         int
			PixelsSHA256 string `json:"pixels_sha256"`
			PixelBytes   int    `json:"pixel_bytes"`
			IDs          []string
			Labels       []*int
			Shards       []string
			RowsInShard  []int64 `json:"rows_in_shard"`
			Epochs       []int
			Positions    []int64
		}
	}
	if err := json.Unmarshal(out, &js); err != nil {
		t.Fatalf("%v: %.300s", err, out)
	}
	wantFields := []struct {
		name, typ string
		nullable  bool
	}{
		{"views", "FixedSizeList[864]<Uint8>", false}, {"label", "Int64", true}, {"id", "Uint64", false},
		{"shard", "Utf8", false}, {"row", "Int64", false}, {"epoch", "Int32", false}, {"position", "Int64", false},
	}
	if len(js.Fields) != len(wantFields) {
		t.Fatalf("fields %+v", js.Fields)
	}
	for i, w := range wantFields {
		if g := js.Fields[i]; g.Name != w.name || g.Type != w.typ || g.Nullable != w.nullable {
			t.Errorf("field %d: %+v, want %+v", i, g, w)
		}
	}
	if js.Fields[0].Metadata["ARROW:extension:name"] != "arrow.fixed_shape_tensor" {
		t.Errorf("views metadata %v", js.Fields[0].Metadata)
	}
	for k, v := range map[string]string{"format": "1", "rank": "1", "world": "2", "views": "2", "size": "12",
		"fingerprint": rep.Meta.Fingerprint, "batches_per_epoch": strconv.Itoa(rep.Meta.BatchesPerEpoch)} {
		if js.Metadata["contrastream."+k] != v {
			t.Errorf("metadata %s = %q, want %q", k, js.Metadata["contrastream."+k], v)
		}
	}
	sc := bufio.NewScanner(&dig)
	sc.Buffer(nil, 1<<20)
	nulls := 0
	for i, b := range js.Batches {
		if !sc.Scan() {
			t.Fatalf("node read %d batches, Go wrote %d", len(js.Batches), i)
		}
		var d BatchDigest
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		if b.PixelsSHA256 != d.Pixels || b.PixelBytes != 8*2*12*12*3 || b.Rows != 8 {
			t.Fatalf("batch %d: pixels %s (%d bytes, %d rows), Go sent %s", i, b.PixelsSHA256, b.PixelBytes, b.Rows, d.Pixels)
		}
		for j := range b.Rows {
			id, err := strconv.ParseUint(b.IDs[j], 10, 64)
			if err != nil || id != d.IDs[j] || id != sources.SampleID(b.Shards[j], b.RowsInShard[j]) {
				t.Fatalf("batch %d row %d: id %s, Go sent %d", i, j, b.IDs[j], d.IDs[j])
			}
			if (b.Labels[j] == nil) != (d.Labels[j] == -1) || (b.Labels[j] != nil && *b.Labels[j] != d.Labels[j]) {
				t.Fatalf("batch %d row %d: label %v, Go sent %d", i, j, b.Labels[j], d.Labels[j])
			}
			if b.Labels[j] == nil {
				nulls++
			}
			if b.Epochs[j] != d.Epoch {
				t.Fatalf("batch %d: epoch %d, want %d", i, b.Epochs[j], d.Epoch)
			}
		}
		if c := strconv.Itoa(b.Epochs[0]) + ":" + strconv.FormatInt(b.Positions[b.Rows-1]+1, 10); c != d.Cursor {
			t.Fatalf("batch %d: cursor %s, Go sent %s", i, c, d.Cursor)
		}
	}
	if len(js.Batches) != rep.Batches || rep.Batches != 2*(45/8) || sc.Scan() {
		t.Fatalf("node read %d batches, Go wrote %d (want %d)", len(js.Batches), rep.Batches, 2*(45/8))
	}
	if nulls == 0 {
		t.Fatal("no null label reached node")
	}
}
