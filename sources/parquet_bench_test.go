package sources

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
	"github.com/contrastream/contrastream/internal/cputime"
	"github.com/contrastream/contrastream/pipeline"
)

// benchShards caches the benchmark datasets across benchmarks of one run;
// benchTemp lists the temporary ones, removed when the tests end.
var benchShards, benchTemp sync.Map // key -> string (directory)

// benchDataset writes (once per process) shards of about total bytes of
// random images of the given size, zstd-compressed, in row groups of
// rowGroupBytes, four files.
func benchDataset(b *testing.B, imageSize, total, rowGroupBytes int, arrowFormat bool) (string, int64) {
	b.Helper()
	key := fmt.Sprint(imageSize, total, rowGroupBytes, arrowFormat)
	rows := total / imageSize
	perRG := max(1, rowGroupBytes/imageSize)
	if d, ok := benchShards.Load(key); ok {
		return d.(string), int64(rows)
	}
	// SOURCES_BENCH_DIR keeps the datasets (for peers to read the same
	// files, see testdata/peer_duckdb_scan.cjs); else a temporary folder.
	var dir string
	if keep := os.Getenv("SOURCES_BENCH_DIR"); keep != "" {
		dir = filepath.Join(keep, fmt.Sprintf("img%d-rg%d-arrow%v", imageSize, rowGroupBytes, arrowFormat))
		if _, err := os.Stat(filepath.Join(dir, "done")); err == nil {
			benchShards.Store(key, dir)
			return dir, int64(rows / 4 * 4)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
	} else {
		var err error
		if dir, err = os.MkdirTemp("", "sources-bench"); err != nil {
			b.Fatal(err)
		}
	}
	const files = 4
	for f := range files {
		var units []int
		for left := rows / files; left > 0; left -= perRG {
			units = append(units, min(left, perRG))
		}
		name := fmt.Sprintf("shard-%d.parquet", f)
		if arrowFormat {
			name = fmt.Sprintf("shard-%d.arrow", f)
		}
		writeFixture(b, dir, name, fixture{Units: units, ImageSize: imageSize, Zstd: true, Arrow: arrowFormat})
	}
	if os.Getenv("SOURCES_BENCH_DIR") != "" {
		if err := os.WriteFile(filepath.Join(dir, "done"), nil, 0o644); err != nil {
			b.Fatal(err)
		}
	} else {
		benchTemp.Store(key, dir)
	}
	benchShards.Store(key, dir)
	return dir, int64(rows / files * files)
}

func TestMain(m *testing.M) {
	code := m.Run()
	benchTemp.Range(func(_, d any) bool { os.RemoveAll(d.(string)); return true })
	os.Exit(code)
}

// BenchmarkParquetSource streams image bytes from page cache: one op is one
// sample, SetBytes its image size, so MB/s is image bytes per second. Run
// with -cpu 1 for the one-core figure. "direct" calls Produce, "pipeline"
// runs Parquet into a counting sink (one channel hand-off per sample).
func BenchmarkParquetSource(b *testing.B) {
	for _, c := range []struct {
		name                     string
		imageSize                int
		shuffle                  int
		arrow, pipeline, library bool
	}{
		{"100KB/direct", 100 << 10, 0, false, false, false},
		{"100KB/library-pages/direct", 100 << 10, 0, false, false, true},
		{"100KB/shuffle=1000/direct", 100 << 10, 1000, false, false, false},
		{"100KB/pipeline", 100 << 10, 0, false, true, false},
		{"1KB/direct", 1 << 10, 0, false, false, false},
		{"1KB/library-pages/direct", 1 << 10, 0, false, false, true},
		{"1KB/shuffle=10000/direct", 1 << 10, 10000, false, false, false},
		{"1KB/pipeline", 1 << 10, 0, false, true, false},
		{"100KB/arrow/direct", 100 << 10, 0, true, false, false},
		{"1KB/arrow/direct", 1 << 10, 0, true, false, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			dir, rows := benchDataset(b, c.imageSize, 64<<20, 32<<20, c.arrow)
			cfg := ParquetConfig{Glob: dir, Seed: 1, ShuffleBuffer: c.shuffle, Epochs: int(int64(b.N)/rows + 1)}
			b.SetBytes(int64(c.imageSize))
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cputime.Now()
			var n int
			count := func(s *Sample) error {
				if len(s.Bytes) != c.imageSize {
					return fmt.Errorf("%d bytes", len(s.Bytes))
				}
				n++
				if n == b.N {
					return errStop
				}
				return nil
			}
			var err error
			if c.pipeline {
				p := pipeline.New("bench")
				pipeline.Sink(p, "count", Parquet(p, cfg), pipeline.ConsumerFunc[*Sample](func(_ context.Context, s *Sample) error {
					if err := count(s); err != nil {
						p.Stop()
					}
					return nil
				}))
				err = p.Run(context.Background())
			} else {
				var src *Source
				if src, err = NewSource(cfg); err == nil {
					for _, sh := range src.Shards() {
						if sh.pq != nil {
							sh.pq.noFastPath = c.library
						}
					}
					err = src.Produce(context.Background(), count)
				}
			}
			if err != nil && !errors.Is(err, errStop) {
				b.Fatal(err)
			}
			if n < b.N {
				b.Fatalf("%d samples, want %d", n, b.N)
			}
			reportCPU(b, cputime.Now()-cpu0, int64(c.imageSize)*int64(b.N))
		})
	}
}

// BenchmarkPqarrowBaseline is the straightforward reader a peer would write
// with arrow/go alone: pqarrow.FileReader.ReadRowGroups of the image column,
// one row group at a time, copying every value out of the arrow.Table. Same
// datasets and metrics as BenchmarkParquetSource.
func BenchmarkPqarrowBaseline(b *testing.B) {
	for _, size := range []int{100 << 10, 1 << 10} {
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			dir, _ := benchDataset(b, size, 64<<20, 32<<20, false)
			files, err := Discover(dir)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cputime.Now()
			n := 0
			for n < b.N {
				for _, path := range files {
					if n >= b.N {
						break
					}
					n += pqarrowReadFile(b, path, b.N-n, size)
				}
			}
			reportCPU(b, cputime.Now()-cpu0, int64(size)*int64(b.N))
		})
	}
}

// pqarrowReadFile reads up to limit image values of path with pqarrow.
func pqarrowReadFile(b *testing.B, path string, limit, size int) int {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	pr, err := file.NewParquetReader(f)
	if err != nil {
		b.Fatal(err)
	}
	fr, err := pqarrow.NewFileReader(pr, pqarrow.ArrowReadProperties{BatchSize: 1 << 16}, memory.DefaultAllocator)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for rg := 0; rg < pr.NumRowGroups() && n < limit; rg++ {
		tbl, err := fr.ReadRowGroups(context.Background(), []int{0}, []int{rg}) // leaf 0: image.bytes
		if err != nil {
			b.Fatal(err)
		}
		for _, chunk := range tbl.Column(0).Data().Chunks() {
			bin := chunk.(*array.Struct).Field(0).(*array.Binary)
			for i := 0; i < bin.Len() && n < limit; i++ {
				if v := append([]byte(nil), bin.Value(i)...); len(v) != size {
					b.Fatalf("%d bytes", len(v))
				}
				n++
			}
		}
		tbl.Release()
	}
	return n
}

// reportCPU reports CPU nanoseconds per op and bytes per CPU-second (all
// threads of the process, GC included).
func reportCPU(b *testing.B, cpu time.Duration, bytes int64) {
	if cpu <= 0 {
		return
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(bytes)/cpu.Seconds()/1e9, "GB/cpu-s")
}

// memStats are heap figures per quarter of a streaming run, in bytes above
// the live heap before the run: the peak of HeapInuse sampled every 64
// samples (live data plus garbage the GC has not yet collected) and the
// largest live heap measured after a forced GC, 16 times per run.
type memStats struct {
	peak, live [4]uint64
}

// memoryRun streams total samples through a source with a shuffle buffer of
// buffer samples and measures the heap.
func memoryRun(tb testing.TB, dir string, buffer, epochs int, total int64) memStats {
	tb.Helper()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	above := func(v uint64) uint64 { return v - min(v, base) }
	src, err := NewSource(ParquetConfig{Glob: dir, Seed: 2, ShuffleBuffer: buffer, Epochs: epochs})
	if err != nil {
		tb.Fatal(err)
	}
	var st memStats
	var n int64
	every := max(1, total/16)
	err = src.Produce(context.Background(), func(s *Sample) error {
		q := min(3, int(4*n/total))
		if n%64 == 0 {
			runtime.ReadMemStats(&ms)
			st.peak[q] = max(st.peak[q], above(ms.HeapInuse))
		}
		if n%every == every-1 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			st.live[q] = max(st.live[q], above(ms.HeapAlloc))
		}
		n++
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	if n != total {
		tb.Fatalf("%d samples, want %d", n, total)
	}
	return st
}

// BenchmarkSourceMemory streams 20× more rows than the shuffle buffer holds
// and reports the peak heap in use (above the heap before the run) in each
// quarter of the stream: flat quarters mean memory does not grow with the
// data streamed.
func BenchmarkSourceMemory(b *testing.B) {
	const imageSize, buffer = 100 << 10, 256 // 25 MiB in the buffer; 500 MiB streamed
	dir, rows := benchDataset(b, imageSize, 20*buffer*imageSize, 8<<20, false)
	b.SetBytes(rows * imageSize)
	b.ReportAllocs()
	var st memStats
	b.ResetTimer()
	for range b.N {
		st = memoryRun(b, dir, buffer, 1, rows)
	}
	for i := range 4 {
		b.ReportMetric(float64(st.peak[i])/(1<<20), fmt.Sprintf("MiB-peak-q%d", i+1))
		b.ReportMetric(float64(st.live[i])/(1<<20), fmt.Sprintf("MiB-live-q%d", i+1))
	}
	b.ReportMetric(float64(buffer*imageSize)/(1<<20), "MiB-buffer")
	b.ReportMetric(float64(rows)/buffer, "rows/buffer")
}

// TestSourceMemoryFlat is the small version of BenchmarkSourceMemory that
// runs with the tests: 20× the buffer streamed, the heap peak of the last
// quarter no higher than that of the first (plus GC slack) and bounded by
// the buffer, the read-ahead and the GC's growth target.
func TestSourceMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 16 MB")
	}
	const imageSize, buffer, rowGroup = 8 << 10, 100, 16 << 10 * 8
	dir := t.TempDir()
	rows := 20 * buffer
	var units []int
	for left := rows; left > 0; left -= rowGroup / imageSize {
		units = append(units, min(left, rowGroup/imageSize))
	}
	writeFixture(t, dir, "mem.parquet", fixture{Units: units, ImageSize: imageSize})
	st := memoryRun(t, filepath.Join(dir, "mem.parquet"), buffer, 1, int64(rows))
	bufBytes := uint64(buffer * imageSize)
	// Live: the buffer, (ReadAhead + 2) units and 4 MiB for the runtime,
	// the source's metadata and pooled reader buffers (a constant: it does
	// not grow with the rows streamed). Peak: the GC lets the heap grow to
	// twice the live data, and to at least 4 MiB.
	liveBound := bufBytes + 4*rowGroup + 4<<20
	peakBound := 2*liveBound + 4<<20
	for i := range 4 {
		t.Logf("quarter %d: live heap %.1f MiB, peak %.1f MiB above base (buffer %.1f MiB, streamed %.1f MiB)",
			i+1, float64(st.live[i])/(1<<20), float64(st.peak[i])/(1<<20), float64(bufBytes)/(1<<20), float64(rows*imageSize)/(1<<20))
		if st.live[i] > liveBound || st.peak[i] > peakBound {
			t.Errorf("quarter %d: live %d, peak %d bytes; bounds %d, %d", i+1, st.live[i], st.peak[i], liveBound, peakBound)
		}
	}
	if st.live[3] > st.live[0]+bufBytes/2 {
		t.Errorf("live heap grows: first quarter %d, last %d", st.live[0], st.live[3])
	}
}
