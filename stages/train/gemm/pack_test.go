package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestPack checks packA and packB (the vector transposes and row copies
// with their scalar tails and zero padding) against direct indexing of
// op(A) and op(B), for every panel width the kernels use.
func TestPack(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, w := range []int{4, 6, 8, 12, 14, 16, 32} {
		for _, trans := range []bool{false, true} {
			for _, n := range []int{1, 3, 4, 5, 7, 8, 9, 13, 27, 33, 64, 70} {
				for _, kc := range []int{1, 3, 4, 7, 8, 9, 16, 31} {
					name := fmt.Sprintf("w%d/trans=%v/n%d/kc%d", w, trans, n, kc)
					ld := kc + 3 // lane-major storage: n rows of kc (+pad)
					rows := n
					if !trans {
						ld, rows = n+2, kc // step-major: kc rows of n (+pad)
					}
					src := make([]float32, rows*ld)
					for i := range src {
						src[i] = rng.Float32()
					}
					at := func(p, j int) float32 { // op(X)[step p][lane j]
						if trans {
							return src[j*ld+p]
						}
						return src[p*ld+j]
					}
					panels := (n + w - 1) / w
					for _, isA := range []bool{true, false} {
						dst := make([]float32, panels*w*kc)
						for i := range dst {
							dst[i] = -1 // packing must overwrite every slot
						}
						if isA {
							// op(A) with lanes = rows of op(A): transA stores it step-major.
							packA(dst, !trans, src, ld, 0, 0, n, kc, w)
						} else {
							packB(dst, trans, src, ld, 0, 0, kc, n, w)
						}
						for q := 0; q < panels; q++ {
							for p := 0; p < kc; p++ {
								for j := 0; j < w; j++ {
									want := float32(0)
									if q*w+j < n {
										want = at(p, q*w+j)
									}
									if got := dst[q*w*kc+p*w+j]; got != want {
										t.Fatalf("%s isA=%v: panel %d step %d lane %d = %v, want %v", name, isA, q, p, j, got, want)
									}
								}
							}
						}
					}
				}
			}
		}
	}
}
