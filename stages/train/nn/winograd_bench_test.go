package nn

import (
	"fmt"
	"testing"

	"github.com/contrastream/contrastream/internal/cputime"
)

// BenchmarkConv2D3x3 times one forward and backward (weight and input
// gradients) of a 3×3 stride-1 pad-1 convolution on 2 threads, through
// Winograd and through im2col, at the `small` model's shapes (batch 64) and
// at few input channels (where winoMinC is decided). cpu-ms/op is the
// process's user+system CPU time per op (steadier than wall time on a busy
// machine).
//
//	go test -run '^$' -bench Conv2D3x3 ./stages/train/nn/
func BenchmarkConv2D3x3(b *testing.B) {
	for _, s := range []struct{ n, ci, co, side int }{
		{64, 3, 32, 32}, {64, 8, 32, 32}, {64, 16, 32, 32}, {64, 8, 64, 16}, {64, 16, 64, 16},
		{64, 32, 64, 16}, {64, 64, 128, 8}, {64, 128, 256, 4}, {64, 64, 128, 7},
	} {
		for _, mode := range []int8{1, -1} {
			name := fmt.Sprintf("%dx%dx%dx%d_to_%d/im2col", s.n, s.ci, s.side, s.side, s.co)
			if mode > 0 {
				name = name[:len(name)-len("im2col")] + "winograd"
			}
			b.Run(name, func(b *testing.B) {
				pool := NewPool(2)
				defer pool.Close()
				c := NewConv2D("c", s.ci, s.co, 3, 1, 1, false, testRNG(), pool)
				c.wino = mode
				x := filled(1, 1, s.n, s.ci, s.side, s.side)
				dy := filled(2, 1, s.n, s.co, s.side, s.side)
				c.Forward(x, true)
				c.Backward(dy)
				b.ReportAllocs()
				b.SetBytes(int64(4 * s.n * s.ci * s.side * s.side))
				cpu0 := cputime.Now().Seconds()
				b.ResetTimer()
				for range b.N {
					c.Forward(x, true)
					c.Backward(dy)
				}
				b.StopTimer()
				b.ReportMetric((cputime.Now().Seconds()-cpu0)/float64(b.N)*1e3, "cpu-ms/op")
			})
		}
	}
}
