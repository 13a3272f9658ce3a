package image

import (
	"math/rand/v2"
	"testing"
)

// idctCases returns coefficient blocks and quantisation tables: typical
// sparse blocks, dense ones, and extremes that overflow the kernel's 16-bit
// arithmetic (where only the exact emulation of its widths agrees).
func idctCases() (coefs, qs [][64]int16) {
	rng := rand.New(rand.NewPCG(13, 1))
	for i := 0; i < 4000; i++ {
		var c, q [64]int16
		for k := range q {
			q[k] = int16(1 + rng.IntN(1+[]int{2, 16, 100, 255, 32767}[i%5]))
		}
		switch i % 8 {
		case 0: // DC only
			c[0] = int16(rng.IntN(4096) - 2048)
		case 1: // row 0 only (the kernel's pass-1 shortcut)
			for k := 0; k < 8; k++ {
				c[k] = int16(rng.IntN(512) - 256)
			}
		case 2: // a few low frequencies
			for n := rng.IntN(6); n >= 0; n-- {
				c[rng.IntN(24)] = int16(rng.IntN(128) - 64)
			}
		case 3: // dense
			for k := range c {
				c[k] = int16(rng.IntN(64) - 32)
			}
		case 4: // one column
			col := rng.IntN(8)
			for r := 0; r < 8; r++ {
				c[8*r+col] = int16(rng.IntN(256) - 128)
			}
		default: // anything a corrupt file may hold
			for n := rng.IntN(64); n >= 0; n-- {
				c[rng.IntN(64)] = int16(rng.Uint32())
			}
		}
		coefs, qs = append(coefs, c), append(qs, q)
	}
	return coefs, qs
}

// TestIDCTAsmMatchesGo: the AVX2 kernel (libjpeg-turbo's, transcribed) and
// idctGo agree on every sample, overflowing blocks included, and idctDC on
// blocks without AC terms.
func TestIDCTAsmMatchesGo(t *testing.T) {
	coefs, qs := idctCases()
	const stride = 13
	for i := range coefs {
		c, q := coefs[i], qs[i]
		var want, got [7*stride + 8]uint8
		idctGo(want[:], stride, &c, &q)
		if useAVX2 {
			idctBlock(got[:], stride, &c, &q)
			if got != want {
				t.Fatalf("block %d: asm\n%v\nGo\n%v\ncoef %v q %v", i, got, want, c, q)
			}
		}
		ac := false
		for _, v := range c[1:] {
			ac = ac || v != 0
		}
		if !ac {
			var dc [7*stride + 8]uint8
			idctDC(dc[:], stride, c[0], q[0])
			for y := 0; y < 8; y++ {
				for x := 0; x < 8; x++ {
					if dc[y*stride+x] != want[y*stride+x] {
						t.Fatalf("block %d: idctDC %d, idctGo %d (dc %d q %d)", i, dc[y*stride+x], want[y*stride+x], c[0], q[0])
					}
				}
			}
		}
	}
	if !useAVX2 {
		t.Log("no AVX2 kernel here: idctDC checked against idctGo only")
	}
}

func BenchmarkIDCT(b *testing.B) {
	coefs, qs := idctCases()
	var dst [8 * 64]uint8
	for _, impl := range []struct {
		name string
		f    func([]uint8, int, *[64]int16, *[64]int16)
	}{{"go", idctGo}, {"asm", idctBlock}} {
		b.Run(impl.name, func(b *testing.B) {
			if impl.name == "asm" && !useAVX2 {
				b.Skip("no AVX2 kernel")
			}
			for i := 0; i < b.N; i++ {
				j := i % len(coefs)
				impl.f(dst[:], 64, &coefs[j], &qs[j])
			}
		})
	}
}
