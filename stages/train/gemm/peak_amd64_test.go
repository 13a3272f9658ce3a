//go:build amd64 && !purego

package gemm

import (
	"testing"

	"github.com/contrastream/contrastream/internal/cputime"
)

// BenchmarkFMAPeak measures one core's float32 FMA throughput with 512-bit
// and 256-bit vectors (12 independent accumulators, no memory traffic).
func BenchmarkFMAPeak(b *testing.B) {
	for _, v := range []struct {
		name  string
		ok    bool
		f     func(int)
		lanes int
	}{{"zmm", hasAVX512, fmaPeakZ, 16}, {"ymm", hasAVX2, fmaPeakY, 8}} {
		b.Run(v.name, func(b *testing.B) {
			if !v.ok {
				b.Skip("not supported by this CPU")
			}
			const iters = 1 << 20
			cpu0 := cputime.Now().Seconds()
			for i := 0; i < b.N; i++ {
				v.f(iters)
			}
			flop := float64(b.N) * iters * 12 * 2 * float64(v.lanes)
			b.ReportMetric(flop/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			if cpu := cputime.Now().Seconds() - cpu0; cpu > 0 {
				b.ReportMetric(flop/cpu/1e9, "GFLOP/cpu-s")
			}
		})
	}
}
