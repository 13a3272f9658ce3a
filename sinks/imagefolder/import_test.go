package imagefolder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/contrastream/contrastream/internal/shardtest"
	"github.com/contrastream/contrastream/sinks"
)

func TestImport(t *testing.T) {
	src := t.TempDir()
	files := map[string][]byte{
		"cat/a.png":     shardtest.EncodeImage(t, "png", 4, 3),
		"cat/b.jpg":     shardtest.EncodeImage(t, "jpg", 8, 8),
		"dog/c.jpeg":    shardtest.EncodeImage(t, "jpg", 5, 7),
		"dog/bad.png":   []byte("this is not a png"),
		"dog/trunc.png": shardtest.EncodeImage(t, "png", 4, 4)[:20],
		"zebra/d.PNG":   shardtest.EncodeImage(t, "png", 2, 2),
	}
	for p, b := range files {
		os.MkdirAll(filepath.Join(src, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(src, p), b, 0o644)
	}
	out := t.TempDir()
	dl := filepath.Join(out, "bad.jsonl")
	sum, err := Import(context.Background(), Source{Dir: src}, sinks.ShardsConfig{Dir: out},
		sinks.ImportOptions{DeadLetters: dl, Workers: 2})
	if !errors.Is(err, sinks.ErrRejected) || !strings.Contains(err.Error(), "2 of 6 records") {
		t.Fatalf("err = %v, want sinks.ErrRejected for 2 of 6", err)
	}
	if sum.Rows != 4 || sum.Rejected != 2 || fmt.Sprint(sum.Classes) != "[cat dog zebra]" {
		t.Fatalf("summary %+v", sum)
	}
	info := shardtest.Read(t, sum.Files[0])
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
	recs, err := sinks.ReadDeadLetters(dl)
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
	sum, err = Import(context.Background(), Source{Dir: src}, sinks.ShardsConfig{Dir: out, Overwrite: true},
		sinks.ImportOptions{BadRecordBudget: 0.5})
	if err != nil || sum.Rows != 4 {
		t.Fatalf("with budget 0.5: %+v, %v", sum, err)
	}
	// A flat folder: no label column.
	flat := t.TempDir()
	os.WriteFile(filepath.Join(flat, "x.png"), files["cat/a.png"], 0o644)
	sum, err = Import(context.Background(), Source{Dir: flat}, sinks.ShardsConfig{Dir: t.TempDir()}, sinks.ImportOptions{})
	if err != nil || sum.Rows != 1 || sum.Classes != nil {
		t.Fatalf("flat: %+v, %v", sum, err)
	}
	if info := shardtest.Read(t, sum.Files[0]); len(info.Schema.Fields()) != 1 || info.Rows[0].Path != "x.png" {
		t.Errorf("flat shard schema %v rows %+v", info.Schema, info.Rows)
	}
}

// TestImportVerifiesByDecoding: by default every file is decoded as
// training will decode it, so a PNG cut inside its pixel data (its header
// intact) and a tiny PNG declaring 20000×20000 are rejected, each with its
// reason, and the good files are still written. HeaderOnly lets the
// truncated one in, but never the one over the pixel limit.
func TestImportVerifiesByDecoding(t *testing.T) {
	src := t.TempDir()
	whole := shardtest.EncodeImage(t, "png", 64, 64)
	bomb := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x4e\x20\x00\x00\x4e\x20\x08\x02\x00\x00\x00")
	bomb = append(bomb, 0, 0, 0, 0) // CRC not checked by the header reader
	files := map[string][]byte{
		"a/good.png":  whole,
		"a/good2.jpg": shardtest.EncodeImage(t, "jpg", 16, 16),
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
		sum, err := Import(t.Context(), Source{Dir: src}, sinks.ShardsConfig{Dir: out},
			sinks.ImportOptions{DeadLetters: dl, Workers: 2, HeaderOnly: c.headerOnly})
		if !errors.Is(err, sinks.ErrRejected) || sum.Rows != c.rows {
			t.Fatalf("HeaderOnly %v: %d rows, err %v; want %d rows and sinks.ErrRejected", c.headerOnly, sum.Rows, err, c.rows)
		}
		recs, err := sinks.ReadDeadLetters(dl)
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
