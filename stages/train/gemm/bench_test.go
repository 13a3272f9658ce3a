package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/contrastream/contrastream/internal/cputime"
)

type benchShape struct {
	name           string
	transA, transB bool
	m, n, k        int
}

// benchShapes are the square sizes and the GEMMs of the `small` SimCLR model
// (4 × conv3×3, 32/64/128/256 channels) on 32×32 input, batch 512, with the
// convolutions as im2col GEMMs: forward C[Cout, B·H·W] = W[Cout, Cin·9]·col,
// weight gradient dW = dY·colᵀ (NT, the reduction runs over B·H·W) and input
// gradient dcol = Wᵀ·dY (TN); the same per im2col chunk as nn.Conv2D issues
// them; plus the projection head 512×256×256.
var benchShapes = func() []benchShape {
	s := []benchShape{
		{"square256", false, false, 256, 256, 256},
		{"square512", false, false, 512, 512, 512},
		{"square1024", false, false, 1024, 1024, 1024},
	}
	layers := []struct{ cout, k, n int }{
		{32, 27, 512 * 32 * 32}, {64, 288, 512 * 16 * 16}, {128, 576, 512 * 8 * 8}, {256, 1152, 512 * 4 * 4},
	}
	for i, l := range layers {
		s = append(s,
			benchShape{fmt.Sprintf("conv%d_fwd", i+1), false, false, l.cout, l.n, l.k},
			benchShape{fmt.Sprintf("conv%d_dW", i+1), false, true, l.cout, l.k, l.n},
			benchShape{fmt.Sprintf("conv%d_dX", i+1), true, false, l.k, l.n, l.cout},
		)
	}
	// The products nn.Conv2D actually issues: one im2col chunk of images
	// giving about 2,048 columns (one image at 32×32).
	for i, l := range []struct{ cout, k, n int }{
		{32, 27, 1024}, {64, 288, 2048}, {128, 576, 2048}, {256, 1152, 2048},
	} {
		s = append(s,
			benchShape{fmt.Sprintf("chunk_conv%d_fwd", i+1), false, false, l.cout, l.n, l.k},
			benchShape{fmt.Sprintf("chunk_conv%d_dW", i+1), false, true, l.cout, l.k, l.n},
			benchShape{fmt.Sprintf("chunk_conv%d_dX", i+1), true, false, l.k, l.n, l.cout},
		)
	}
	return append(s,
		benchShape{"head_fwd", false, true, 512, 256, 256},
		benchShape{"head_dW", true, false, 256, 256, 512},
		benchShape{"head_dX", false, false, 512, 256, 256},
	)
}()

func benchOperands(s benchShape) (a, b, c []float32, lda, ldb, ldc int) {
	rng := rand.New(rand.NewPCG(1, 1))
	fill := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = rng.Float32() - 0.5
		}
		return x
	}
	lda, ldb, ldc = s.k, s.n, s.n
	if s.transA {
		lda = s.m
	}
	if s.transB {
		ldb = s.k
	}
	return fill(s.m * s.k), fill(s.k * s.n), fill(s.m * s.n), lda, ldb, ldc
}

// BenchmarkSgemm measures Sgemm (the native kernel, or OpenBLAS with the
// openblas tag) at Threads() goroutines, which is GOMAXPROCS, so
// -cpu 1,2 gives one and two threads. It reports GFLOP/s (2·m·n·k per call,
// wall clock) and GFLOP/cpu-s (per second of process CPU time: on a shared,
// loaded machine this one is less disturbed by time slicing; OpenBLAS
// threads that spin while waiting count against it).
func BenchmarkSgemm(b *testing.B) {
	for _, s := range benchShapes {
		b.Run(s.name, func(b *testing.B) {
			a, bb, c, lda, ldb, ldc := benchOperands(s)
			b.ReportAllocs()
			b.SetBytes(int64(4 * (len(a) + len(bb) + len(c))))
			Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, ldc)
			b.ResetTimer()
			cpu0 := cputime.Now().Seconds()
			for i := 0; i < b.N; i++ {
				Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, ldc)
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

// BenchmarkKernels compares the native kernels this CPU runs, one thread.
func BenchmarkKernels(b *testing.B) {
	for _, kern := range kernels() {
		for _, s := range benchShapes {
			if kern == kernGo && s.m*s.n*s.k > 1<<26 {
				continue
			}
			b.Run(kern.name+"/"+s.name, func(b *testing.B) {
				a, bb, c, lda, ldb, ldc := benchOperands(s)
				p := params{s.transA, s.transB, s.m, s.n, s.k, 1, 0, a, lda, bb, ldb, c, ldc}
				b.ReportAllocs()
				b.SetBytes(int64(4 * (len(a) + len(bb) + len(c))))
				native(kern, 1, p)
				b.ResetTimer()
				cpu0 := cputime.Now().Seconds()
				for i := 0; i < b.N; i++ {
					native(kern, 1, p)
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
}
