package eval_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/sinks"
	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages/eval"
)

// badSet writes 40 synthetic images in two shards of 20, rows 7 and 30 (in
// discovery order: shard 0 row 7, shard 1 row 10) with corrupt bytes and
// row 25 (shard 1 row 5) with a null label; it returns the folder and the
// clean set's samples.
func badSet(t *testing.T) (string, []*sources.Sample) {
	t.Helper()
	clean := filepath.Join(t.TempDir(), "clean")
	if _, err := sinks.WriteSynth(t.Context(), sources.Synth{N: 40, Size: 16, Seed: 3}, sinks.ShardsConfig{Dir: clean}, sinks.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	src, err := sources.NewSource(sources.ParquetConfig{Glob: clean, InOrder: true, Epochs: 1})
	if err != nil {
		t.Fatal(err)
	}
	var samples []*sources.Sample
	if err := src.Produce(t.Context(), func(s *sources.Sample) error { samples = append(samples, s); return nil }); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "bad")
	w, err := sinks.NewShards(sinks.ShardsConfig{Dir: dir, Labels: true, MaxRows: 20})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range samples {
		b, l := s.Bytes, s.Label
		switch i {
		case 7, 30:
			b = b[:len(b)/3] // truncated
		case 25:
			l = -1 // null
		}
		if err := w.Write(b, l, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, samples
}

type letters []pipeline.DeadLetter

func (l *letters) WriteDeadLetter(d pipeline.DeadLetter) error { *l = append(*l, d); return nil }

// TestLoadRoutesBadImages: bad images go to the dead letters and are left
// out (the rest keep their order and pixels) within MaxBad; beyond it, the
// error names the first bad image in discovery order for any worker count.
func TestLoadRoutesBadImages(t *testing.T) {
	dir, samples := badSet(t)
	clean := make([]*sources.Sample, 0, len(samples))
	for i, s := range samples {
		if i != 7 && i != 25 && i != 30 {
			clean = append(clean, s)
		}
	}
	var want *eval.Labeled
	for _, workers := range []int{1, 3, 8} {
		var dl letters
		set, err := eval.Load(t.Context(), eval.LoadConfig{Glob: dir, Side: 16, Channels: 3, Workers: workers, MaxBad: 0.1, DeadLetters: &dl})
		if err != nil {
			t.Fatalf("workers %d: %v", workers, err)
		}
		if set.Len() != 37 || len(set.Pix) != 37*16*16*3 || len(dl) != 3 {
			t.Fatalf("workers %d: %d images (%d bytes), %d dead letters; want 37 and 3", workers, set.Len(), len(set.Pix), len(dl))
		}
		for i, s := range clean {
			if set.Labels[i] != s.Label {
				t.Fatalf("workers %d: label %d is %d, want %d", workers, i, set.Labels[i], s.Label)
			}
		}
		if want == nil {
			want = set
		} else if !bytes.Equal(set.Pix, want.Pix) {
			t.Fatalf("workers %d: the pixels differ from one worker's", workers)
		}
		stages := map[string]int{}
		for _, d := range dl {
			stages[d.Stage]++
		}
		if stages["decode"] != 2 || stages["resize"] != 1 {
			t.Errorf("workers %d: dead letters by stage %v, want 2 decode and 1 resize", workers, stages)
		}

		_, err = eval.Load(t.Context(), eval.LoadConfig{Glob: dir, Side: 16, Channels: 3, Workers: workers})
		if !errors.Is(err, pipeline.ErrBadRecordBudget) || !strings.Contains(err.Error(), "shard-00000.parquet#7: ") ||
			!strings.Contains(err.Error(), "3 of 40 images bad") {
			t.Errorf("workers %d, no bad image allowed: %v; want shard-00000.parquet#7 named, 3 of 40", workers, err)
		}
	}
	// The set without its bad images is the clean set's images.
	cleanDir := filepath.Join(t.TempDir(), "clean")
	w, err := sinks.NewShards(sinks.ShardsConfig{Dir: cleanDir, Labels: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range clean {
		if err := w.Write(s.Bytes, s.Label, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	c, err := eval.LoadLabeled(t.Context(), cleanDir, 16, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c.Pix, want.Pix) {
		t.Error("the pixels of the images kept differ from the same images loaded alone")
	}
}

// TestLoadFromOpenedShards reads no footer again.
func TestLoadFromOpenedShards(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "set")
	if _, err := sinks.WriteSynth(t.Context(), sources.Synth{N: 30, Size: 16}, sinks.ShardsConfig{Dir: dir, MaxRows: 10}, sinks.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	st := sources.NewStore(sources.StoreConfig{})
	src, err := sources.NewSource(sources.ParquetConfig{Glob: dir, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if f := st.Stats().Footers; f != 3 {
		t.Fatalf("opening 3 shards read %d footers", f)
	}
	set, err := eval.Load(t.Context(), eval.LoadConfig{Shards: src.Shards(), Side: 16, Channels: 1, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if f := st.Stats().Footers; f != 3 || set.Len() != 30 || set.C != 1 {
		t.Errorf("Load of opened shards: %d footers read in all (want 3), %d images of %d channels", f, set.Len(), set.C)
	}
}
