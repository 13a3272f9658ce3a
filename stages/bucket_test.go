package stages_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/contrastream/contrastream/internal/s3test"
	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/sinks"
	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages"
)

// bucketShards writes 3 synthetic shards (row groups of 9 rows) to a folder
// and serves them from an in-process S3; it returns the folder, the server
// and the bucket URL of the glob of the shards.
func bucketShards(t *testing.T) (string, *s3test.Server, string) {
	t.Helper()
	dir := t.TempDir()
	if _, err := sinks.WriteSynth(context.Background(), sources.Synth{N: 90, Size: 16}, sinks.ShardsConfig{Dir: dir, RowGroupRows: 9},
		sinks.ImportOptions{Shards: 3, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	s3test.Env(t.Setenv)
	srv, err := s3test.Start("data")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if _, err := srv.Upload("data", "ds/", dir); err != nil {
		t.Fatal(err)
	}
	return dir, srv, srv.BucketURL("data", "ds/*.parquet")
}

func sameBatches(t *testing.T, what string, disk, bucket [][][][]byte) {
	t.Helper()
	if len(disk) != len(bucket) || len(disk) == 0 {
		t.Fatalf("%s: %d batches from disk, %d from the bucket", what, len(disk), len(bucket))
	}
	for b := range disk {
		if len(disk[b]) != len(bucket[b]) {
			t.Fatalf("%s: batch %d: %d samples from disk, %d from the bucket", what, b, len(disk[b]), len(bucket[b]))
		}
		for i := range disk[b] {
			for v := range disk[b][i] {
				if !bytes.Equal(disk[b][i][v], bucket[b][i][v]) {
					t.Fatalf("%s: batch %d sample %d view %d differs", what, b, i, v)
				}
			}
		}
	}
}

// TestViewStreamFromBucket: the view batches (decoded, augmented, batched)
// made from shards in a bucket are bit-identical to those made from the same
// shards on disk, for every rank of worlds 1 and 3, over two epochs with a
// shuffle buffer; through a link injecting 500s, connection resets and slow
// answers they are still identical, and the store counts the retries.
func TestViewStreamFromBucket(t *testing.T) {
	dir, srv, glob := bucketShards(t)
	cfg := func(glob string, st *sources.Store, rank, world int) stages.ViewStreamConfig {
		return stages.ViewStreamConfig{
			Source: sources.ParquetConfig{Glob: glob, Store: st, Seed: 4, Rank: rank, World: world, Epochs: 2, ShuffleBuffer: 10},
			Recipe: stages.Recipe{Size: 12}, Views: 2, Batch: 8, Workers: 2, Output: stages.Uint8,
		}
	}
	st := sources.NewStore(sources.StoreConfig{})
	defer st.Close()
	for _, world := range []int{1, 3} {
		for rank := range world {
			disk, _ := runViews(t, cfg(dir, nil, rank, world))
			bucket, _ := runViews(t, cfg(glob, st, rank, world))
			sameBatches(t, fmt.Sprintf("world %d rank %d", world, rank), disk, bucket)
		}
	}
	if s := st.Stats(); s.Requests == 0 || s.Retries != 0 {
		t.Errorf("clean link: %+v", s)
	}

	srv.SetFaults(s3test.Faults{ErrorRate: 0.15, ResetRate: 0.1, SlowRate: 0.1, Slow: 30 * time.Millisecond, Seed: 9, FailFirst: 2})
	faulty := sources.NewStore(sources.StoreConfig{Retry: sources.Retry{Attempts: 30, Base: time.Millisecond, Max: 20 * time.Millisecond, Timeout: 5 * time.Second}})
	defer faulty.Close()
	disk, _ := runViews(t, cfg(dir, nil, 1, 3))
	bucket, _ := runViews(t, cfg(glob, faulty, 1, 3))
	sameBatches(t, "faulty link", disk, bucket)
	_, _, injected, _ := srv.Stats()
	s := faulty.Stats()
	t.Logf("faulty link: %d faults injected, store %+v", injected, s)
	if injected == 0 || s.Retries == 0 || s.Retries > injected {
		t.Fatalf("%d faults injected, %d retries counted", injected, s.Retries)
	}
}

// TestViewStreamBucketShardVanishes: a shard that answers 404 after the run
// opened it fails the pipeline run with an error naming its URL (no hang,
// no silent skip), after the batches of the shards before it.
func TestViewStreamBucketShardVanishes(t *testing.T) {
	_, srv, glob := bucketShards(t)
	st := sources.NewStore(sources.StoreConfig{Retry: sources.Retry{Attempts: 5, Base: time.Millisecond, Max: 5 * time.Millisecond}})
	defer st.Close()
	vs, err := stages.NewViewStream(stages.ViewStreamConfig{
		Source: sources.ParquetConfig{Glob: glob, Store: st, Epochs: 1, InOrder: true, ReadAhead: 2},
		Recipe: stages.Recipe{Size: 12}, Batch: 6, Workers: 1, Output: stages.Uint8,
	})
	if err != nil {
		t.Fatal(err)
	}
	const gone = "ds/shard-00001.parquet"
	srv.SetFaults(s3test.Faults{NotFound: func(key string) bool { return key == gone }})
	p := pipeline.New("vanish")
	batches := 0
	pipeline.Sink(p, "count", vs.Add(p), pipeline.ConsumerFunc[*stages.Batch](func(_ context.Context, b *stages.Batch) error {
		b.Release()
		batches++
		return nil
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = p.Run(ctx)
	var se *sources.StorageError
	if !errors.As(err, &se) || se.What != "not found" || !strings.Contains(err.Error(), "s3://data/"+gone) || ctx.Err() != nil {
		t.Fatalf("after %d batches: %v; want a not-found StorageError naming s3://data/%s", batches, err, gone)
	}
	if se.Attempts != 1 {
		t.Errorf("a 404 was tried %d times", se.Attempts)
	}
	t.Logf("after %d batches: %v", batches, err)
}
