package image

import "encoding/binary"

// islow IDCT as libjpeg-turbo's AVX2 kernel computes it
// (simd/x86_64/jidctint-avx2.asm, what tjDecompress2 runs on these
// machines; internal/simd.IDCT is that kernel, idctGo its portable twin):
// libjpeg's jidctint.c jpeg_idct_islow (13-bit fixed point constants, two
// passes with PASS1_BITS of extra precision) with the SIMD kernel's integer
// widths, so that the two agree bit for bit even on coefficients no encoder
// writes: dequantisation by 16-bit products, a few sums of two inputs in 16
// bits, the pass-1 outputs saturated to 16 bits, the samples to 0..255 (C
// libjpeg wraps values beyond ±512 through its range-limit table instead),
// and when rows 1-7 of the quantised block are all zero the pass-1 outputs
// are DC << 2 in 16 bits.

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

// sat16 saturates v to int16 (VPACKSSDW).
func sat16(v int32) int32 { return min(max(v, -32768), 32767) }

// sample turns a descaled pass-2 output into a sample (VPACKSSDW,
// VPACKSSWB, then +128).
func sample(v int32) uint8 { return uint8(min(max(v, -128), 127) + 128) }

// idctDC writes the block whose AC coefficients are all zero: dc and q are
// the quantised DC and its quantisation step.
func idctDC(dst []uint8, stride int, dc, q int16) {
	w := int32(int16(dc*q) << idctPass1Bits)
	x := uint64(sample((w+1<<(idctPass1Bits+2))>>(idctPass1Bits+3))) * 0x0101010101010101
	_ = dst[7*stride+7]
	for y := 0; y < 8; y++ {
		binary.LittleEndian.PutUint64(dst[y*stride:], x)
	}
}

// idctGo is the portable islow IDCT: coef holds the quantised coefficients
// in natural order, q the quantisation steps; the 8×8 samples go to dst
// with the given stride. Each product pair below is one VPMADDWD of the
// kernel.
func idctGo(dst []uint8, stride int, coef, q *[64]int16) {
	var ws [64]int32
	var rows int16 // rows 1-7, before dequantisation (as the kernel tests them)
	for k := 8; k < 64; k++ {
		rows |= coef[k]
	}
	if rows == 0 {
		for c := 0; c < 8; c++ {
			dc := int32(coef[c] * q[c] << idctPass1Bits)
			ws[c], ws[8+c], ws[16+c], ws[24+c] = dc, dc, dc, dc
			ws[32+c], ws[40+c], ws[48+c], ws[56+c] = dc, dc, dc, dc
		}
	} else {
		// Pass 1: columns from input, into the workspace.
		for c := 0; c < 8; c++ {
			in1, in2, in3 := int32(coef[8+c]*q[8+c]), int32(coef[16+c]*q[16+c]), int32(coef[24+c]*q[24+c])
			in4, in5, in6 := int32(coef[32+c]*q[32+c]), int32(coef[40+c]*q[40+c]), int32(coef[48+c]*q[48+c])
			in7 := int32(coef[56+c] * q[56+c])
			in0 := int32(coef[c] * q[c])
			if in1|in2|in3|in4|in5|in6|in7 == 0 {
				dc := sat16(in0 << idctPass1Bits)
				ws[c], ws[8+c], ws[16+c], ws[24+c] = dc, dc, dc, dc
				ws[32+c], ws[40+c], ws[48+c], ws[56+c] = dc, dc, dc, dc
				continue
			}
			tmp3 := in2*(fix0_541196100+fix0_765366865) + in6*fix0_541196100
			tmp2 := in2*fix0_541196100 + in6*(fix0_541196100-fix1_847759065)
			tmp0 := int32(int16(in0+in4)) << idctConstBits
			tmp1 := int32(int16(in0-in4)) << idctConstBits
			tmp10, tmp13 := tmp0+tmp3, tmp0-tmp3
			tmp11, tmp12 := tmp1+tmp2, tmp1-tmp2
			z3, z4 := int32(int16(in7+in3)), int32(int16(in5+in1))
			z3, z4 = z3*(fix1_175875602-fix1_961570560)+z4*fix1_175875602,
				z3*fix1_175875602+z4*(fix1_175875602-fix0_390180644)
			tmp0 = in7*(fix0_298631336-fix0_899976223) - in1*fix0_899976223 + z3
			tmp1 = in5*(fix2_053119869-fix2_562915447) - in3*fix2_562915447 + z4
			tmp3 = in1*(fix1_501321110-fix0_899976223) - in7*fix0_899976223 + z4
			tmp2 = in3*(fix3_072711026-fix2_562915447) - in5*fix2_562915447 + z3

			const sh = idctConstBits - idctPass1Bits
			const rnd = 1 << (sh - 1)
			ws[c] = sat16((tmp10 + tmp3 + rnd) >> sh)
			ws[56+c] = sat16((tmp10 - tmp3 + rnd) >> sh)
			ws[8+c] = sat16((tmp11 + tmp2 + rnd) >> sh)
			ws[48+c] = sat16((tmp11 - tmp2 + rnd) >> sh)
			ws[16+c] = sat16((tmp12 + tmp1 + rnd) >> sh)
			ws[40+c] = sat16((tmp12 - tmp1 + rnd) >> sh)
			ws[24+c] = sat16((tmp13 + tmp0 + rnd) >> sh)
			ws[32+c] = sat16((tmp13 - tmp0 + rnd) >> sh)
		}
	}
	// Pass 2: rows from the workspace, into dst.
	_ = dst[7*stride+7]
	for r := 0; r < 8; r++ {
		w := ws[8*r : 8*r+8 : 8*r+8]
		out := dst[r*stride : r*stride+8 : r*stride+8]
		if w[1]|w[2]|w[3]|w[4]|w[5]|w[6]|w[7] == 0 {
			v := sample((w[0] + 1<<(idctPass1Bits+2)) >> (idctPass1Bits + 3))
			binary.LittleEndian.PutUint64(out, uint64(v)*0x0101010101010101)
			continue
		}
		in0, in1, in2, in3, in4, in5, in6, in7 := w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]
		tmp3 := in2*(fix0_541196100+fix0_765366865) + in6*fix0_541196100
		tmp2 := in2*fix0_541196100 + in6*(fix0_541196100-fix1_847759065)
		tmp0 := int32(int16(in0+in4)) << idctConstBits
		tmp1 := int32(int16(in0-in4)) << idctConstBits
		tmp10, tmp13 := tmp0+tmp3, tmp0-tmp3
		tmp11, tmp12 := tmp1+tmp2, tmp1-tmp2
		z3, z4 := int32(int16(in7+in3)), int32(int16(in5+in1))
		z3, z4 = z3*(fix1_175875602-fix1_961570560)+z4*fix1_175875602,
			z3*fix1_175875602+z4*(fix1_175875602-fix0_390180644)
		tmp0 = in7*(fix0_298631336-fix0_899976223) - in1*fix0_899976223 + z3
		tmp1 = in5*(fix2_053119869-fix2_562915447) - in3*fix2_562915447 + z4
		tmp3 = in1*(fix1_501321110-fix0_899976223) - in7*fix0_899976223 + z4
		tmp2 = in3*(fix3_072711026-fix2_562915447) - in5*fix2_562915447 + z3

		const sh = idctConstBits + idctPass1Bits + 3
		const rnd = 1 << (sh - 1)
		out[0] = sample((tmp10 + tmp3 + rnd) >> sh)
		out[7] = sample((tmp10 - tmp3 + rnd) >> sh)
		out[1] = sample((tmp11 + tmp2 + rnd) >> sh)
		out[6] = sample((tmp11 - tmp2 + rnd) >> sh)
		out[2] = sample((tmp12 + tmp1 + rnd) >> sh)
		out[5] = sample((tmp12 - tmp1 + rnd) >> sh)
		out[3] = sample((tmp13 + tmp0 + rnd) >> sh)
		out[4] = sample((tmp13 - tmp0 + rnd) >> sh)
	}
}
