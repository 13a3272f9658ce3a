package stages

import (
	"fmt"
	"os"
	"testing"

	"github.com/contrastream/contrastream/internal/cputime"
)

// BenchmarkBench runs the whole view pipeline of `contrastream bench`
// (source → decode → views → tensorize) over the shards named by
// CONTRASTREAM_BENCH_SHARDS at CONTRASTREAM_BENCH_SIZE px (default 96), for
// profiling it with -cpuprofile. One iteration is one second of the
// pipeline; the pairs/s metric is what Bench reports, cpu-µs/pair the
// process's CPU time (user+sys) per pair.
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
	c0 := cputime.Now()
	rep, err := Bench(b.Context(), BenchConfig{Glob: glob, Size: size, Seconds: float64(b.N), Warmup: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(rep.PairsPerS, "pairs/s")
	if n := rep.Stages.Stages; len(n) > 0 {
		// CPU per pair over the whole run (the pipeline ran a little
		// longer than the measured window, so this slightly overstates it)
		for _, s := range n {
			if s.Name == "views" && s.Out > 0 {
				b.ReportMetric(float64((cputime.Now()-c0).Microseconds())/float64(s.Out), "cpu-µs/pair")
			}
		}
	}
	for _, s := range rep.Stages.Stages {
		if s.In > 0 {
			b.Logf("%-10s busy %6.1f µs per input record, %3.0f%% of its workers' time",
				s.Name, float64(s.Busy.Microseconds())/float64(s.In), 100*s.Utilization(rep.Stages.Elapsed))
		}
	}
	b.ReportMetric(0, "ns/op")
}
