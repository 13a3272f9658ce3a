package sinks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/contrastream/contrastream/internal/s3test"
	"github.com/contrastream/contrastream/sources"
)

// TestShardsToBucket writes shards to an in-process S3 through a link that
// fails one request in five: every shard appears whole (read back through
// sources), an aborted shard never appears, and an existing dataset is
// refused without Overwrite.
func TestShardsToBucket(t *testing.T) {
	s3test.Env(t.Setenv)
	srv, err := s3test.Start("out")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	st := sources.NewStore(sources.StoreConfig{Retry: sources.Retry{Attempts: 30, Base: time.Millisecond, Max: 10 * time.Millisecond}})
	defer st.Close()
	dir := srv.BucketURL("out", "ds")
	srv.SetFaults(s3test.Faults{ErrorRate: 0.2, Seed: 4})
	w, err := NewShards(ShardsConfig{Dir: dir, Store: st, MaxRows: 7, RowGroupRows: 3, Labels: true, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 17 {
		if err := w.Write([]byte(fmt.Sprintf("image-%03d", i)), i%4, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	stats := w.Stats()
	if stats.Shards != 3 || stats.Rows != 17 || !strings.HasPrefix(stats.Files[0], "s3://out/ds/shard-00000.parquet?") {
		t.Fatalf("stats %+v", stats)
	}
	srv.SetFaults(s3test.Faults{})
	files, err := st.Discover(context.Background(), srv.BucketURL("out", "ds/*.parquet"))
	if err != nil || len(files) != 3 {
		t.Fatalf("listed %v, %v", files, err)
	}
	row := 0
	for _, f := range files {
		sh, err := st.OpenShard(context.Background(), f, sources.Columns{})
		if err != nil {
			t.Fatal(err)
		}
		for u := range sh.NumUnits() {
			err := sh.ReadUnit(u, 0, sh.UnitRows(u), func(_ int64, img []byte, label int) error {
				if string(img) != fmt.Sprintf("image-%03d", row) || label != row%4 {
					return fmt.Errorf("row %d: %q label %d", row, img, label)
				}
				row++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if row != 17 {
		t.Fatalf("read back %d rows", row)
	}

	// An aborted writer leaves nothing; an existing dataset needs Overwrite.
	if _, err := NewShards(ShardsConfig{Dir: dir, Store: st}); err == nil || !strings.Contains(err.Error(), "already holds 3 shard(s)") {
		t.Fatalf("no overwrite: %v", err)
	}
	w, err = NewShards(ShardsConfig{Dir: dir, Store: st, Overwrite: true, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write([]byte("x"), 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Discover(context.Background(), srv.BucketURL("out", "ds/*.parquet")); !errors.Is(err, sources.ErrNoFiles) {
		t.Fatalf("after overwrite + abort: %v", err)
	}
}
