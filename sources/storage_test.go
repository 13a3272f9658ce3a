package sources

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/contrastream/contrastream/internal/s3test"
	"github.com/contrastream/contrastream/pipeline"
)

// fakeBucket serves the files of dir from an in-process S3 and returns the
// server and the bucket URL of the glob "shards/*" (every shard).
func fakeBucket(t *testing.T, dir string) (*s3test.Server, string) {
	t.Helper()
	s3test.Env(t.Setenv)
	srv, err := s3test.Start("data")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if _, err := srv.Upload("data", "shards/", dir); err != nil {
		t.Fatal(err)
	}
	return srv, srv.BucketURL("data", "shards/*")
}

// fastRetry keeps the fault tests quick.
var fastRetry = Retry{Attempts: 20, Base: time.Millisecond, Max: 20 * time.Millisecond, Timeout: 5 * time.Second}

// sameAsDisk checks that disk and bucket sources emit the same samples (ids,
// rows, labels, bytes, order), the shard names aside.
func sameAsDisk(t *testing.T, disk, bucket []*Sample) {
	t.Helper()
	if len(disk) != len(bucket) {
		t.Fatalf("%d samples from disk, %d from the bucket", len(disk), len(bucket))
	}
	for i := range disk {
		a, b := disk[i], bucket[i]
		if path.Base(strings.SplitN(b.Shard, "?", 2)[0]) != baseName(a.Shard) {
			t.Fatalf("sample %d: shard %s on disk, %s in the bucket", i, a.Shard, b.Shard)
		}
		bb := *b
		bb.Shard = a.Shard
		if !sameSample(a, &bb) {
			t.Fatalf("sample %d differs: disk %s row %d id %x, bucket %s row %d id %x", i, a.Shard, a.Row, a.ID, b.Shard, b.Row, b.ID)
		}
	}
}

func TestDiscoverBucket(t *testing.T) {
	dir, _ := testShards(t)
	writeFixture(t, dir, "notes.txt.parquet.bak", fixture{Units: []int{1}})
	srv, glob := fakeBucket(t, dir)
	st := NewStore(StoreConfig{})
	defer st.Close()
	ctx := context.Background()
	got, err := st.Discover(ctx, glob)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range got {
		loc, err := parseLocation(g)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, loc.key)
	}
	want := "shards/a.parquet shards/b.arrow shards/c.parquet shards/d.arrow shards/notes.txt.parquet.bak"
	if strings.Join(names, " ") != want {
		t.Fatalf("glob listed %v, want %s", names, want)
	}
	// A folder means its *.parquet and *.arrow objects; an object itself.
	got, err = st.Discover(ctx, srv.BucketURL("data", "shards")+","+srv.BucketURL("data", "shards/a.parquet"))
	if err != nil || len(got) != 4 {
		t.Fatalf("folder: %v, %v", got, err)
	}
	for _, spec := range []string{srv.BucketURL("data", "shards/*.png"), srv.BucketURL("data", "nothing"), srv.BucketURL("data", "shards/z.parquet")} {
		if _, err := st.Discover(ctx, spec); !errors.Is(err, ErrNoFiles) || !strings.Contains(err.Error(), "s3://data/") {
			t.Errorf("%s: %v, want ErrNoFiles naming it", spec, err)
		}
	}
	if _, err := st.Discover(ctx, "gs://bucket/x-*.parquet"); !errors.Is(err, ErrNoDriver) || !strings.Contains(err.Error(), "-tags gcs") {
		t.Errorf("gs without the tag: %v", err)
	}
}

// TestBucketMatchesDisk reads the same shards (Parquet, Arrow IPC file and
// stream) from disk and from the in-process S3, for every rank of worlds 1
// and 3, with a shuffle buffer, over two epochs.
func TestBucketMatchesDisk(t *testing.T) {
	dir, _ := testShards(t)
	_, glob := fakeBucket(t, dir)
	st := NewStore(StoreConfig{})
	defer st.Close()
	for _, world := range []int{1, 3} {
		for rank := range world {
			cfg := ParquetConfig{Seed: 7, Rank: rank, World: world, ShuffleBuffer: 9, Epochs: 2}
			cfg.Glob = dir
			disk := collect(t, cfg, -1)
			cfg.Glob, cfg.Store = glob, st
			bucket := collect(t, cfg, -1)
			sameAsDisk(t, disk, bucket)
		}
	}
	s := st.Stats()
	t.Logf("%d requests, %d bytes, %d retries", s.Requests, s.Bytes, s.Retries)
	if s.Retries != 0 || s.Requests == 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestBucketFaults injects random 500s, connection resets and slow answers:
// the source emits the same samples, and the retries are counted.
func TestBucketFaults(t *testing.T) {
	dir, _ := testShards(t)
	writeFixture(t, dir, "e.parquet", fixture{Units: []int{40, 30}, ImageSize: 3000})
	srv, glob := fakeBucket(t, dir)
	cfg := ParquetConfig{Glob: dir, Seed: 3, ShuffleBuffer: 5, Epochs: 2, World: 2, Rank: 1}
	disk := collect(t, cfg, -1)
	srv.SetFaults(s3test.Faults{ErrorRate: 0.15, ResetRate: 0.1, SlowRate: 0.1, Slow: 20 * time.Millisecond, Seed: 1, FailFirst: 2})
	st := NewStore(StoreConfig{Retry: fastRetry})
	defer st.Close()
	cfg.Glob, cfg.Store = glob, st
	bucket := collect(t, cfg, -1)
	sameAsDisk(t, disk, bucket)
	_, _, injected, _ := srv.Stats()
	s := st.Stats()
	t.Logf("%d faults injected; store: %d requests, %d retries", injected, s.Requests, s.Retries)
	if injected == 0 || s.Retries == 0 {
		t.Fatalf("%d faults injected, %d retries counted", injected, s.Retries)
	}
}

// TestBucketVanishedShard deletes a shard after the source opened it: the
// run fails with an error naming the shard's URL, and says "not found".
func TestBucketVanishedShard(t *testing.T) {
	dir, _ := testShards(t)
	srv, glob := fakeBucket(t, dir)
	st := NewStore(StoreConfig{Retry: fastRetry})
	defer st.Close()
	src, err := NewSource(ParquetConfig{Glob: glob, Store: st, Epochs: 1, InOrder: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetFaults(s3test.Faults{NotFound: func(key string) bool { return key == "shards/c.parquet" }})
	n := 0
	err = src.Produce(context.Background(), func(*Sample) error { n++; return nil })
	var se *StorageError
	if !errors.As(err, &se) || se.What != "not found" || !strings.Contains(err.Error(), "s3://data/shards/c.parquet") {
		t.Fatalf("after %d samples: %v, want a not-found StorageError naming s3://data/shards/c.parquet", n, err)
	}
	t.Logf("error after %d samples: %v", n, err)

	// A permission error (403) is not retried either.
	if _, err := srv.Backend.DeleteObject("data", "shards/a.parquet"); err != nil {
		t.Fatal(err)
	}
	srv.SetFaults(s3test.Faults{})
	err = src.Produce(context.Background(), func(*Sample) error { return nil })
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "shards/a.parquet") {
		t.Fatalf("deleted object: %v", err)
	}
}

// TestBucketCancel cancels a pipeline run while every request stalls: Run
// returns promptly, and no goroutine (lanes, window reads, HTTP) is left
// once the store's idle connections are closed.
func TestBucketCancel(t *testing.T) {
	dir, _ := testShards(t)
	srv, glob := fakeBucket(t, dir)
	st := NewStore(StoreConfig{})
	// Discover and open the shards first (those requests are not stalled).
	src, err := NewSource(ParquetConfig{Glob: glob, Store: st, ReadAhead: 3})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	before := runtime.NumGoroutine()
	srv.SetFaults(s3test.Faults{Latency: time.Hour})
	p := pipeline.New("cancel")
	var n atomic.Int64
	s := pipeline.Source(p, "parquet", pipeline.ProducerFunc[*Sample](func(ctx context.Context, emit func(*Sample) error) error {
		return src.Produce(ctx, emit)
	}))
	pipeline.Sink(p, "count", s, pipeline.ConsumerFunc[*Sample](func(context.Context, *Sample) error { n.Add(1); return nil }))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	var runErr error
	go func() { defer wg.Done(); runErr = p.Run(ctx) }()
	time.Sleep(100 * time.Millisecond) // the lanes' first requests are in flight
	start := time.Now()
	cancel()
	wg.Wait()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %v to return after cancel", d)
	}
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		t.Errorf("Run: %v", runErr)
	}
	if n.Load() != 0 {
		t.Errorf("%d samples arrived through stalled requests", n.Load())
	}
	srv.SetFaults(s3test.Faults{})
	st.Close()
	waitGoroutines(t, before)
}

// TestBucketResume stops a bucket source, resumes from the cursor of the
// last sample consumed and checks that both parts make the uninterrupted
// sequence.
func TestBucketResume(t *testing.T) {
	dir, _ := testShards(t)
	_, glob := fakeBucket(t, dir)
	st := NewStore(StoreConfig{})
	defer st.Close()
	cfg := ParquetConfig{Glob: glob, Store: st, Seed: 5, ShuffleBuffer: 11, Epochs: 2, World: 2, Rank: 1}
	full := collect(t, cfg, -1)
	for _, k := range []int{1, 17, len(full) / 2, len(full) - 3} {
		first := collect(t, cfg, k)
		c := cfg
		c.Cursor = first[len(first)-1].Cursor()
		rest := collect(t, c, -1)
		got := append(first, rest...)
		if len(got) != len(full) {
			t.Fatalf("k=%d: %d samples, want %d", k, len(got), len(full))
		}
		for i := range full {
			if !sameSample(full[i], got[i]) {
				t.Fatalf("k=%d: sample %d differs", k, i)
			}
		}
	}
}

// TestBucketCache reads two epochs through a cache: the second epoch makes
// no request (the two-epoch run makes as many as a one-epoch run), and two
// stores sharing a cache folder too small for the dataset (as two ranks on
// one node) read correct samples while they evict each other's entries.
func TestBucketCache(t *testing.T) {
	dir, _ := testShards(t)
	writeFixture(t, dir, "e.parquet", fixture{Units: []int{40, 30}, ImageSize: 3000})
	_, glob := fakeBucket(t, dir)
	run := func(epochs int, cache string, size int64) ([]*Sample, StoreStats) {
		st := NewStore(StoreConfig{CacheDir: cache, CacheSize: size})
		defer st.Close()
		s := collect(t, ParquetConfig{Glob: glob, Store: st, Seed: 1, Epochs: epochs}, -1)
		return s, st.Stats()
	}
	disk := collect(t, ParquetConfig{Glob: dir, Seed: 1, Epochs: 2}, -1)
	_, one := run(1, t.TempDir(), 0)
	two, s := run(2, t.TempDir(), 0)
	sameAsDisk(t, disk, two)
	t.Logf("1 epoch: %+v; 2 epochs: %+v", one, s)
	if s.Requests != one.Requests || s.CacheHits == 0 {
		t.Errorf("two epochs made %d requests (%d cache hits), one epoch %d", s.Requests, s.CacheHits, one.Requests)
	}
	// The second run on a warm cache reads no image bytes from the network.
	cache := t.TempDir()
	run(1, cache, 0)
	warm, ws := run(1, cache, 0)
	sameAsDisk(t, disk[:len(warm)], warm)
	if ws.Bytes != 0 {
		t.Errorf("warm cache: %d bytes from the network", ws.Bytes)
	}

	shared := t.TempDir()
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				got, _ := run(2, shared, 150<<10)
				sameAsDisk(t, disk, got)
			}
		}()
	}
	wg.Wait()
	c, err := OpenCache(shared, 150<<10)
	if err != nil {
		t.Fatal(err)
	}
	if used, _ := c.Usage(); used > 150<<10+(4<<20) {
		t.Errorf("shared cache holds %d bytes, limit 150 KiB (+ one entry)", used)
	}
}

// TestBucketBytesPerRank checks that a rank reads about 1/world of the
// image bytes: never more than its share plus the units it shares with a
// neighbour and the footers.
func TestBucketBytesPerRank(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"p0.parquet", "p1.parquet", "p2.parquet", "p3.parquet"} {
		writeFixture(t, dir, name, fixture{Units: []int{50, 50, 50, 50}, ImageSize: 2000})
	}
	_, glob := fakeBucket(t, dir)
	var total int64
	for _, world := range []int{1, 2, 4} {
		for rank := range world {
			st := NewStore(StoreConfig{})
			src, err := NewSource(ParquetConfig{Glob: glob, Store: st, Rank: rank, World: world, Epochs: 1, InOrder: true})
			if err != nil {
				t.Fatal(err)
			}
			open := st.Stats()
			if err := src.Produce(context.Background(), func(*Sample) error { return nil }); err != nil {
				t.Fatal(err)
			}
			s := st.Stats().Sub(open)
			st.Close()
			if world == 1 {
				total = s.Bytes
			}
			t.Logf("world %d rank %d: %d bytes in %d requests (open: %d bytes, %d requests)", world, rank, s.Bytes, s.Requests, open.Bytes, open.Requests)
			if limit := total/int64(world) + total/16; s.Bytes > limit {
				t.Errorf("world %d rank %d read %d bytes, more than %d (1/%d of %d plus one unit)", world, rank, s.Bytes, limit, world, total)
			}
		}
	}
}

// statusErr is an error with an HTTP status, as the AWS SDK's response
// errors are (status 0 when no response arrived).
type statusErr struct {
	code int
	err  error
}

func (e statusErr) Error() string       { return fmt.Sprintf("status %d: %v", e.code, e.err) }
func (e statusErr) Unwrap() error       { return e.err }
func (e statusErr) HTTPStatusCode() int { return e.code }

// TestTransient: 5xx, 429 and 408 answers and network failures are retried,
// other answers are not; a response error with status 0 (the connection
// reset before an answer) is judged by its cause.
func TestTransient(t *testing.T) {
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{statusErr{503, errors.New("slow down")}, true},
		{statusErr{500, errors.New("internal")}, true},
		{statusErr{429, errors.New("throttled")}, true},
		{statusErr{404, errors.New("no such key")}, false},
		{statusErr{403, errors.New("denied")}, false},
		{statusErr{0, fmt.Errorf("request send failed: %w", reset)}, true},
		{statusErr{0, io.ErrUnexpectedEOF}, true},
		{statusErr{0, errors.New("invalid endpoint")}, false},
		{reset, true},
		{ErrObjectChanged, false},
	} {
		if got := transient(context.Background(), tc.err); got != tc.want {
			t.Errorf("transient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestBucketOpenRoundTrips: opening a remote Parquet shard asks for its
// attributes, then for its magic bytes and its 64 KiB tail (the footer) at
// once: two round trips, three requests, no image bytes beyond the tail.
// (An Arrow IPC file also reads each record batch's message header.)
func TestBucketOpenRoundTrips(t *testing.T) {
	dir := t.TempDir()
	writeFixture(t, dir, "e.parquet", fixture{Units: []int{40, 30}, ImageSize: 3000})
	srv, _ := fakeBucket(t, dir)
	srv.SetFaults(s3test.Faults{Latency: 30 * time.Millisecond})
	for _, name := range []string{"e.parquet"} {
		st := NewStore(StoreConfig{})
		srv.ResetMaxInFlight()
		sh, err := st.OpenShard(context.Background(), srv.BucketURL("data", "shards/"+name), Columns{})
		if err != nil {
			t.Fatal(err)
		}
		s := st.Stats()
		st.Close()
		if s.Requests != 3 || s.Bytes > 64<<10+headBytes || srv.MaxInFlight() != 2 || sh.Rows() != 70 {
			t.Errorf("%s: %d requests, %d bytes, at most %d in flight, %d rows; want 3 requests, at most 64 KiB + %d bytes, 2 in flight, 70 rows",
				name, s.Requests, s.Bytes, srv.MaxInFlight(), sh.Rows(), headBytes)
		}
	}
}

// TestBucketReadAheadMemory reads row groups of 20 MiB (twice the window
// budget of a column chunk; 512 KiB images in pages of 1.5 MiB, as the
// shard writer makes them) from disk and from a bucket with the default
// read-ahead and a slow consumer, and checks that the live heap the source
// holds stays within the budget ParquetConfig.ReadAhead states: about 30 MiB
// per unit being read, 4 with the default, plus the piece being consumed.
// (Before the read batches were bounded by bytes, a unit's read held all
// the pages of its 40 images at once: 170 MiB.)
func TestBucketReadAheadMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 40 MB and reads it twice")
	}
	dir := t.TempDir()
	const img = 512 << 10
	writeFixture(t, dir, "big.parquet", fixture{Units: []int{40, 40}, ImageSize: img, NoLabel: true, SmallPgs: true})
	srv, glob := fakeBucket(t, dir)
	srv.SetFaults(s3test.Faults{Latency: 5 * time.Millisecond})
	var ms runtime.MemStats
	live := func() int64 {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	const budget = 4*30<<20 + pieceBytes
	for _, spec := range []string{dir, glob} {
		st := NewStore(StoreConfig{})
		src, err := NewSource(ParquetConfig{Glob: spec, Store: st, Epochs: 2})
		if err != nil {
			t.Fatal(err)
		}
		base := live()
		var peak int64
		n := 0
		err = src.Produce(context.Background(), func(s *Sample) error {
			if len(s.Bytes) != img {
				return fmt.Errorf("sample of %d bytes", len(s.Bytes))
			}
			n++
			time.Sleep(2 * time.Millisecond) // the reads run ahead of a slow consumer
			if n%4 == 0 {
				peak = max(peak, live()-base)
			}
			return nil
		})
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d samples; peak live heap held by the source %.1f MiB (budget %.1f MiB)", spec, n, float64(peak)/(1<<20), float64(budget)/(1<<20))
		if n != 160 || peak > budget {
			t.Errorf("%s: %d samples, peak live heap %d bytes over the budget of %d", spec, n, peak, budget)
		}
	}
}
