package stages

import (
	"fmt"
	"os"
	"testing"
)

// BenchmarkBench runs the whole view pipeline of `contrastream bench`
// (source → decode → views → tensorize) over the shards named by
// CONTRASTREAM_BENCH_SHARDS at CONTRASTREAM_BENCH_SIZE px (default 96), for
// profiling it with -cpuprofile. One iteration is one second of the
// pipeline; the pairs/s metric is what Bench reports.
//
//	CONTRASTREAM_BENCH_SHARDS=/tmp/bshards/jpg96 go test -run XXX -bench 'Bench$' -benchtime 5x -cpuprofile /tmp/cpu.out ./stages/
func BenchmarkBench(b *testing.B) {
	glob := os.Getenv("CONTRASTREAM_BENCH_SHARDS")
	if glob == "" {
		b.Skip("set CONTRASTREAM_BENCH_SHARDS to a folder of image shards")
	}
	size := 96
	if s := os.Getenv("CONTRASTREAM_BENCH_SIZE"); s != "" {
		if _, err := fmt.Sscan(s, &size); err != nil {
			b.Fatal(err)
		}
	}
	rep, err := Bench(b.Context(), BenchConfig{Glob: glob, Size: size, Seconds: float64(b.N), Warmup: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(rep.PairsPerS, "pairs/s")
	b.ReportMetric(0, "ns/op")
}
