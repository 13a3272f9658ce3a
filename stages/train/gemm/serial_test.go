package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestSgemmSerial checks that SgemmSerial gives the same bits as the native
// multi-threaded path, for all four transpose cases and with beta ≠ 0.
func TestSgemmSerial(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, sh := range []struct{ m, n, k int }{{64, 1024, 32}, {256, 256, 128}, {33, 70, 300}, {1, 1, 1}} {
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			t.Run(fmt.Sprintf("%dx%dx%d_%v", sh.m, sh.n, sh.k, tr), func(t *testing.T) {
				a := randSlice(rng, sh.m*sh.k)
				b := randSlice(rng, sh.k*sh.n)
				lda, ldb := sh.k, sh.n
				if tr[0] {
					lda = sh.m
				}
				if tr[1] {
					ldb = sh.k
				}
				c0 := randSlice(rng, sh.m*sh.n)
				c1 := append([]float32(nil), c0...)
				SgemmSerial(tr[0], tr[1], sh.m, sh.n, sh.k, 1.5, a, lda, b, ldb, 0.5, c0, sh.n)
				native(best, 4, params{tr[0], tr[1], sh.m, sh.n, sh.k, 1.5, 0.5, a, lda, b, ldb, c1, sh.n})
				for i := range c0 {
					if math.Float32bits(c0[i]) != math.Float32bits(c1[i]) {
						t.Fatalf("element %d: serial %v, threaded %v", i, c0[i], c1[i])
					}
				}
			})
		}
	}
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}
