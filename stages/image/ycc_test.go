package image

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestYCCRowVBMIMatchesGo converts random rows of every length up to 70
// (whole 16-pixel blocks and tails) with the AVX-512 kernel and with the
// table loop, and requires the same bytes, including the extreme chroma.
func TestYCCRowVBMIMatchesGo(t *testing.T) {
	if !hasVBMI {
		t.Skip("no AVX-512 VBMI kernel on this machine or build")
	}
	defer func() { useVBMI = hasVBMI }()
	rng := rand.New(rand.NewPCG(4, 5))
	for n := 1; n <= 70; n++ {
		for range 20 {
			y, cb, cr := make([]uint8, n), make([]uint8, n), make([]uint8, n)
			for i := range n {
				y[i], cb[i], cr[i] = uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256))
				if rng.IntN(4) == 0 { // extremes, where the clamp acts
					cb[i], cr[i] = uint8(255*rng.IntN(2)), uint8(255*rng.IntN(2))
				}
			}
			got, want := make([]uint8, 3*n+4), make([]uint8, 3*n+4)
			useVBMI = true
			yccRow(got, y, cb, cr)
			useVBMI = false
			yccRow(want, y, cb, cr)
			if !bytes.Equal(got, want) {
				t.Fatalf("n=%d: AVX-512 %v, Go %v", n, got, want)
			}
		}
	}
}
