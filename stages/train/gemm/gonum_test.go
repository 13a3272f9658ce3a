package gemm

import (
	"testing"

	"github.com/contrastream/contrastream/internal/cputime"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// BenchmarkGonum measures gonum's pure-Go SGEMM (the peer the issue cites,
// ~5 GFLOP/s per core) on the square shapes and one conv shape, at
// GOMAXPROCS threads (gonum parallelises internally).
func BenchmarkGonum(b *testing.B) {
	var impl gonum.Implementation
	for _, s := range benchShapes {
		if s.name != "square256" && s.name != "square512" && s.name != "square1024" && s.name != "conv3_fwd" {
			continue
		}
		b.Run(s.name, func(b *testing.B) {
			a, bb, c, lda, ldb, ldc := benchOperands(s)
			tA, tB := blas.NoTrans, blas.NoTrans
			if s.transA {
				tA = blas.Trans
			}
			if s.transB {
				tB = blas.Trans
			}
			b.ReportAllocs()
			b.SetBytes(int64(4 * (len(a) + len(bb) + len(c))))
			cpu0 := cputime.Now().Seconds()
			for i := 0; i < b.N; i++ {
				impl.Sgemm(tA, tB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, ldc)
			}
			cpu := cputime.Now().Seconds() - cpu0
			flop := 2 * float64(s.m) * float64(s.n) * float64(s.k) * float64(b.N)
			b.ReportMetric(flop/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			if cpu > 0 {
				b.ReportMetric(flop/cpu/1e9, "GFLOP/cpu-s")
			}
		})
	}
}
