package sources

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/pipeline/pipelinetest"
)

// waitGoroutines waits until the goroutine count is back to at most n.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, started with %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestParquetCancel cancels a forever-running source in a pipeline and checks
// that Run returns and no goroutine (the read-ahead one included) is left.
func TestParquetCancel(t *testing.T) {
	dir, _ := testShards(t)
	before := runtime.NumGoroutine()
	for _, stop := range []bool{false, true} {
		p := pipeline.New("cancel")
		s := Parquet(p, ParquetConfig{Glob: dir, ShuffleBuffer: 5, ReadAhead: 3})
		ctx, cancel := context.WithCancel(context.Background())
		var n atomic.Int64
		pipeline.Sink(p, "count", s, pipeline.ConsumerFunc[*Sample](func(context.Context, *Sample) error {
			if n.Add(1) == 500 {
				if stop {
					p.Stop()
				} else {
					cancel()
				}
			}
			return nil
		}))
		err := p.Run(ctx)
		cancel()
		if stop && err != nil {
			t.Errorf("Run after Stop: %v", err)
		}
		if !stop && !errors.Is(err, context.Canceled) {
			t.Errorf("Run after cancel: %v, want context.Canceled", err)
		}
		if n.Load() < 500 {
			t.Errorf("only %d samples before stopping", n.Load())
		}
	}
	waitGoroutines(t, before)
}

// TestParquetFatal checks that a shard error fails the run with the file's
// name, and that a read error in the middle of a run does too.
func TestParquetFatal(t *testing.T) {
	dir := t.TempDir()
	good := writeFixture(t, dir, "a.parquet", fixture{Units: []int{20, 20}, ImageSize: 5000})
	p := pipeline.New("fatal")
	got := pipelinetest.Collect(p, "collect", Parquet(p, ParquetConfig{Glob: filepath.Join(dir, "*.none")}))
	if err := p.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "*.none") {
		t.Errorf("Run = %v, want an error naming the glob", err)
	}
	if len(got.Items()) != 0 {
		t.Error("samples from a failed source")
	}

	// Corrupt the second row group's data after the footer was read: the
	// source opens fine and fails when it reaches it.
	src, err := NewSource(ParquetConfig{Files: []string{good}, InOrder: true, Epochs: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(good)
	cc, _ := src.Shards()[0].pq.meta.RowGroup(1).ColumnChunk(src.Shards()[0].pq.imgLeaf)
	for i := cc.DataPageOffset(); i < cc.DataPageOffset()+64; i++ {
		b[i] ^= 0x5a
	}
	if err := os.WriteFile(good, b, 0o644); err != nil {
		t.Fatal(err)
	}
	n := 0
	err = src.Produce(context.Background(), func(*Sample) error { n++; return nil })
	if err == nil || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), good) {
		t.Errorf("Produce over a corrupt row group = %v after %d samples, want ErrCorrupt naming %s", err, n, good)
	}
	if n != 20 {
		t.Errorf("%d samples before the corrupt row group, want 20", n)
	}
}
