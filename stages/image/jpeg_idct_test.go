package image

import (
	"math/rand/v2"
	"testing"
)

// idctCases returns coefficient blocks and quantisation tables: typical
// sparse blocks, dense ones, a single AC term at each position, and blocks
// over the whole int16 range of coefficients and steps (16-bit DQT entries
// above 32767 are negative steps here), whose int32 arithmetic overflows.
func idctCases() (coefs, qs [][64]int16) {
	rng := rand.New(rand.NewPCG(13, 1))
	for i := 0; i < 6000; i++ {
		var c, q [64]int16
		for k := range q {
			if i%6 == 5 {
				q[k] = int16(rng.Uint32())
			} else {
				q[k] = int16(1 + rng.IntN(1+[]int{2, 16, 100, 255, 32767}[i%6]))
			}
		}
		switch i % 9 {
		case 0: // DC only
			c[0] = int16(rng.IntN(4096) - 2048)
		case 1: // row 0 only
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
		case 5: // DC and one AC term (the all-zero test must see each)
			c[0] = int16(rng.Uint32())
			c[1+(i/9)%63] = int16(rng.IntN(2001) - 1000)
		case 6: // DC only, any value
			c[0] = int16(rng.Uint32())
		case 7: // dense, any values
			for k := range c {
				c[k] = int16(rng.Uint32())
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

// TestIDCTAsmMatchesGo: the assembly kernel and idctGo agree on every
// sample, overflowing blocks included, and idctDC on blocks without AC
// terms.
func TestIDCTAsmMatchesGo(t *testing.T) {
	coefs, qs := idctCases()
	const stride = 13
	for i := range coefs {
		c, q := coefs[i], qs[i]
		var want, got [7*stride + 8]uint8
		idctGo(want[:], stride, &c, &q)
		if useAVX2 {
			for k := range got {
				got[k] = 0x5a
			}
			want2 := want
			for y := 0; y < 8; y++ {
				for x := 8; x < stride && y*stride+x < len(want2); x++ {
					want2[y*stride+x] = 0x5a
				}
			}
			idctBlock(got[:], stride, &c, &q)
			if got != want2 {
				t.Fatalf("block %d: asm\n%v\nGo\n%v\ncoef %v q %v", i, got, want2, c, q)
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
		t.Log("no assembly kernel here: idctDC checked against idctGo only")
	}
}

// idctFull is idctGo without its shortcuts: jidctint.c's two passes
// written once, as a 1-D transform applied to every column and row.
func idctFull(dst []uint8, stride int, coef, q *[64]int16) {
	var ws [64]int32
	for c := 0; c < 8; c++ {
		var x [8]int32
		for r := range x {
			x[r] = int32(coef[8*r+c]) * int32(q[8*r+c])
		}
		o := idct1D(x, 1<<(idctShift1-1))
		for r := range o {
			ws[8*r+c] = o[r] >> idctShift1
		}
	}
	for r := 0; r < 8; r++ {
		o := idct1D([8]int32(ws[8*r:8*r+8]), 1<<(idctShift2-1))
		for c := range o {
			dst[r*stride+c] = clamp8(o[c] >> idctShift2)
		}
	}
}

// idct1D is jidctint.c's 1-D transform of x before the descale, with the
// rounding term rnd added to every output.
func idct1D(x [8]int32, rnd int32) [8]int32 {
	z1 := (x[2] + x[6]) * fix0_541196100
	tmp2 := z1 - x[6]*fix1_847759065
	tmp3 := z1 + x[2]*fix0_765366865
	tmp0 := (x[0]+x[4])<<idctConstBits + rnd
	tmp1 := (x[0]-x[4])<<idctConstBits + rnd
	tmp10, tmp13 := tmp0+tmp3, tmp0-tmp3
	tmp11, tmp12 := tmp1+tmp2, tmp1-tmp2

	t0, t1, t2, t3 := x[7], x[5], x[3], x[1]
	z1, z2, z3, z4 := t0+t3, t1+t2, t0+t2, t1+t3
	z5 := (z3 + z4) * fix1_175875602
	t0 = t0*fix0_298631336 - z1*fix0_899976223 + z3*-fix1_961570560 + z5
	t1 = t1*fix2_053119869 - z2*fix2_562915447 + z4*-fix0_390180644 + z5
	t2 = t2*fix3_072711026 - z2*fix2_562915447 + z3*-fix1_961570560 + z5
	t3 = t3*fix1_501321110 - z1*fix0_899976223 + z4*-fix0_390180644 + z5
	return [8]int32{tmp10 + t3, tmp11 + t2, tmp12 + t1, tmp13 + t0,
		tmp13 - t0, tmp12 - t1, tmp11 - t2, tmp10 - t3}
}

// TestIDCTShortcutsExact: idctGo's shortcuts for zero columns and rows give
// what the full computation gives, int32 wrap included (the assembly has no
// such shortcut and must agree with idctGo on every input).
func TestIDCTShortcutsExact(t *testing.T) {
	coefs, qs := idctCases()
	rng := rand.New(rand.NewPCG(13, 2))
	for i := 0; i < 20000; i++ {
		// Large DC terms whose <<13 wraps, with sparse AC terms.
		var c, q [64]int16
		c[0], q[0] = int16(rng.Uint32()), int16(rng.Uint32())
		for n := rng.IntN(3); n > 0; n-- {
			k := rng.IntN(64)
			c[k], q[k] = int16(rng.Uint32()), int16(rng.Uint32())
		}
		coefs, qs = append(coefs, c), append(qs, q)
	}
	const stride = 11
	for i := range coefs {
		var want, got [7*stride + 8]uint8
		idctFull(want[:], stride, &coefs[i], &qs[i])
		idctGo(got[:], stride, &coefs[i], &qs[i])
		if got != want {
			t.Fatalf("block %d: idctGo\n%v\nfull\n%v\ncoef %v q %v", i, got, want, coefs[i], qs[i])
		}
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
