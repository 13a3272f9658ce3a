package image

import "encoding/binary"

// islow IDCT, libjpeg's jidctint.c jpeg_idct_islow (the Loeffler-
// Ligtenberg-Moschytz factorisation with 13-bit fixed point constants, two
// passes with PASS1_BITS of extra precision in the workspace), in int32
// arithmetic throughout: coefficients are dequantised by int32 products,
// sums and products wrap as Go's int32 does, and the samples are saturated
// to 0..255 as the SIMD kernels do (libjpeg's C code wraps values beyond
// ±512 through its range-limit table; no encoder produces such). On valid
// files no intermediate overflows and this is libjpeg-turbo's islow result;
// internal/simd.IDCT computes the same in vector lanes, bit for bit on
// every input. The shortcuts for columns and rows whose AC terms are zero
// give the value of the full computation (its wrap included).

const (
	idctConstBits = 13
	idctPass1Bits = 2

	fix0_298631336 = 2446
	fix0_390180644 = 3196
	fix0_541196100 = 4433
	fix0_765366865 = 6270
	fix0_899976223 = 7373
	fix1_175875602 = 9633
	fix1_501321110 = 12299
	fix1_847759065 = 15137
	fix1_961570560 = 16069
	fix2_053119869 = 16819
	fix2_562915447 = 20995
	fix3_072711026 = 25172
)

const (
	idctShift1 = idctConstBits - idctPass1Bits     // pass-1 descale
	idctShift2 = idctConstBits + idctPass1Bits + 3 // pass-2 descale
)

func clamp8(v int32) uint8 {
	v += 128
	if uint32(v) > 255 {
		if v < 0 {
			return 0
		}
		return 255
	}
	return uint8(v)
}

// idctDCValue is the sample of a block whose only non-zero coefficient is
// the DC: pass 1 gives (in0<<13 + rnd1) >> 11 down column 0 (0 elsewhere),
// pass 2 the same form with its own descale.
func idctDCValue(dc, q int16) uint8 {
	w := (int32(dc)*int32(q)<<idctConstBits + 1<<(idctShift1-1)) >> idctShift1
	return clamp8((w<<idctConstBits + 1<<(idctShift2-1)) >> idctShift2)
}

// idctDC writes the block whose AC coefficients are all zero: dc and q are
// the quantised DC and its quantisation step.
func idctDC(dst []uint8, stride int, dc, q int16) {
	x := uint64(idctDCValue(dc, q)) * 0x0101010101010101
	_ = dst[7*stride+7]
	for y := 0; y < 8; y++ {
		binary.LittleEndian.PutUint64(dst[y*stride:], x)
	}
}

// idctGo is the portable islow IDCT: coef holds the quantised coefficients
// in natural order, q the quantisation steps; the 8×8 samples go to dst
// with the given stride.
func idctGo(dst []uint8, stride int, coef, q *[64]int16) {
	var ws [64]int32
	// Pass 1: columns from input, into the workspace.
	for c := 0; c < 8; c++ {
		in0 := int32(coef[c]) * int32(q[c])
		if coef[8+c]|coef[16+c]|coef[24+c]|coef[32+c]|coef[40+c]|coef[48+c]|coef[56+c] == 0 {
			dc := (in0<<idctConstBits + 1<<(idctShift1-1)) >> idctShift1
			ws[c], ws[8+c], ws[16+c], ws[24+c] = dc, dc, dc, dc
			ws[32+c], ws[40+c], ws[48+c], ws[56+c] = dc, dc, dc, dc
			continue
		}
		x0 := in0
		x1, x2, x3 := int32(coef[8+c])*int32(q[8+c]), int32(coef[16+c])*int32(q[16+c]), int32(coef[24+c])*int32(q[24+c])
		x4, x5, x6 := int32(coef[32+c])*int32(q[32+c]), int32(coef[40+c])*int32(q[40+c]), int32(coef[48+c])*int32(q[48+c])
		x7 := int32(coef[56+c]) * int32(q[56+c])
		const rnd = 1 << (idctShift1 - 1)
		// Even part.
		z1 := (x2 + x6) * fix0_541196100
		tmp2 := z1 + x6*(-fix1_847759065)
		tmp3 := z1 + x2*fix0_765366865
		tmp0 := (x0+x4)<<idctConstBits + rnd
		tmp1 := (x0-x4)<<idctConstBits + rnd
		tmp10, tmp13 := tmp0+tmp3, tmp0-tmp3
		tmp11, tmp12 := tmp1+tmp2, tmp1-tmp2
		// Odd part.
		t0, t1, t2, t3 := x7, x5, x3, x1
		z1, z2, z3, z4 := t0+t3, t1+t2, t0+t2, t1+t3
		z5 := (z3 + z4) * fix1_175875602
		t0 *= fix0_298631336
		t1 *= fix2_053119869
		t2 *= fix3_072711026
		t3 *= fix1_501321110
		z1 *= -fix0_899976223
		z2 *= -fix2_562915447
		z3 = z3*(-fix1_961570560) + z5
		z4 = z4*(-fix0_390180644) + z5
		t0 += z1 + z3
		t1 += z2 + z4
		t2 += z2 + z3
		t3 += z1 + z4
		ws[c] = (tmp10 + t3) >> idctShift1
		ws[56+c] = (tmp10 - t3) >> idctShift1
		ws[8+c] = (tmp11 + t2) >> idctShift1
		ws[48+c] = (tmp11 - t2) >> idctShift1
		ws[16+c] = (tmp12 + t1) >> idctShift1
		ws[40+c] = (tmp12 - t1) >> idctShift1
		ws[24+c] = (tmp13 + t0) >> idctShift1
		ws[32+c] = (tmp13 - t0) >> idctShift1
	}
	// Pass 2: rows from the workspace, into dst.
	_ = dst[7*stride+7]
	for r := 0; r < 8; r++ {
		w := ws[8*r : 8*r+8 : 8*r+8]
		out := dst[r*stride : r*stride+8 : r*stride+8]
		if w[1]|w[2]|w[3]|w[4]|w[5]|w[6]|w[7] == 0 {
			v := clamp8((w[0]<<idctConstBits + 1<<(idctShift2-1)) >> idctShift2)
			binary.LittleEndian.PutUint64(out, uint64(v)*0x0101010101010101)
			continue
		}
		x0, x1, x2, x3, x4, x5, x6, x7 := w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]
		const rnd = 1 << (idctShift2 - 1)
		// Even part.
		z1 := (x2 + x6) * fix0_541196100
		tmp2 := z1 + x6*(-fix1_847759065)
		tmp3 := z1 + x2*fix0_765366865
		tmp0 := (x0+x4)<<idctConstBits + rnd
		tmp1 := (x0-x4)<<idctConstBits + rnd
		tmp10, tmp13 := tmp0+tmp3, tmp0-tmp3
		tmp11, tmp12 := tmp1+tmp2, tmp1-tmp2
		// Odd part.
		t0, t1, t2, t3 := x7, x5, x3, x1
		z1, z2, z3, z4 := t0+t3, t1+t2, t0+t2, t1+t3
		z5 := (z3 + z4) * fix1_175875602
		t0 *= fix0_298631336
		t1 *= fix2_053119869
		t2 *= fix3_072711026
		t3 *= fix1_501321110
		z1 *= -fix0_899976223
		z2 *= -fix2_562915447
		z3 = z3*(-fix1_961570560) + z5
		z4 = z4*(-fix0_390180644) + z5
		t0 += z1 + z3
		t1 += z2 + z4
		t2 += z2 + z3
		t3 += z1 + z4
		out[0] = clamp8((tmp10 + t3) >> idctShift2)
		out[7] = clamp8((tmp10 - t3) >> idctShift2)
		out[1] = clamp8((tmp11 + t2) >> idctShift2)
		out[6] = clamp8((tmp11 - t2) >> idctShift2)
		out[2] = clamp8((tmp12 + t1) >> idctShift2)
		out[5] = clamp8((tmp12 - t1) >> idctShift2)
		out[3] = clamp8((tmp13 + t0) >> idctShift2)
		out[4] = clamp8((tmp13 - t0) >> idctShift2)
	}
}
