package image

// islow IDCT, exactly libjpeg's jidctint.c jpeg_idct_islow (the algorithm
// libjpeg-turbo's SIMD islow kernels reproduce bit for bit): 13-bit fixed
// point constants, two passes with PASS1_BITS of extra precision in the
// workspace, and the shortcut for columns and rows whose AC terms are all
// zero (it gives the same values as the full computation). Outputs are
// saturated to 0..255 as the SIMD kernels do (libjpeg's C code wraps values
// beyond ±512 through its range-limit table; no encoder produces such).

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

// idctDC writes the block whose only non-zero coefficient is the
// (dequantised) DC.
func idctDC(dst []uint8, stride int, dc int32) {
	// pass 1: dc << PASS1_BITS; pass 2: DESCALE(x, PASS1_BITS+3)
	v := clamp8((dc<<idctPass1Bits + 1<<(idctPass1Bits+2)) >> (idctPass1Bits + 3))
	x := uint64(v) * 0x0101010101010101
	for y := 0; y < 8; y++ {
		row := dst[y*stride : y*stride+8 : y*stride+8]
		row[0], row[1], row[2], row[3] = uint8(x), uint8(x), uint8(x), uint8(x)
		row[4], row[5], row[6], row[7] = uint8(x), uint8(x), uint8(x), uint8(x)
	}
}

// idctGo is the portable islow IDCT of blk (natural order, dequantised)
// into an 8×8 block of dst with the given stride.
func idctGo(dst []uint8, stride int, blk *[64]int32) {
	var ws [64]int32
	// Pass 1: columns from input, into the workspace.
	for c := 0; c < 8; c++ {
		if blk[8+c]|blk[16+c]|blk[24+c]|blk[32+c]|blk[40+c]|blk[48+c]|blk[56+c] == 0 {
			dc := blk[c] << idctPass1Bits
			ws[c], ws[8+c], ws[16+c], ws[24+c] = dc, dc, dc, dc
			ws[32+c], ws[40+c], ws[48+c], ws[56+c] = dc, dc, dc, dc
			continue
		}
		z2, z3 := blk[16+c], blk[48+c]
		z1 := (z2 + z3) * fix0_541196100
		tmp2 := z1 + z3*(-fix1_847759065)
		tmp3 := z1 + z2*fix0_765366865
		z2, z3 = blk[c], blk[32+c]
		tmp0 := (z2 + z3) << idctConstBits
		tmp1 := (z2 - z3) << idctConstBits
		tmp10, tmp13 := tmp0+tmp3, tmp0-tmp3
		tmp11, tmp12 := tmp1+tmp2, tmp1-tmp2

		tmp0, tmp1, tmp2, tmp3 = blk[56+c], blk[40+c], blk[24+c], blk[8+c]
		z1, z2, z3 = tmp0+tmp3, tmp1+tmp2, tmp0+tmp2
		z4 := tmp1 + tmp3
		z5 := (z3 + z4) * fix1_175875602
		tmp0 *= fix0_298631336
		tmp1 *= fix2_053119869
		tmp2 *= fix3_072711026
		tmp3 *= fix1_501321110
		z1 *= -fix0_899976223
		z2 *= -fix2_562915447
		z3 = z3*(-fix1_961570560) + z5
		z4 = z4*(-fix0_390180644) + z5
		tmp0 += z1 + z3
		tmp1 += z2 + z4
		tmp2 += z2 + z3
		tmp3 += z1 + z4

		const sh = idctConstBits - idctPass1Bits
		const rnd = 1 << (sh - 1)
		ws[c] = (tmp10 + tmp3 + rnd) >> sh
		ws[56+c] = (tmp10 - tmp3 + rnd) >> sh
		ws[8+c] = (tmp11 + tmp2 + rnd) >> sh
		ws[48+c] = (tmp11 - tmp2 + rnd) >> sh
		ws[16+c] = (tmp12 + tmp1 + rnd) >> sh
		ws[40+c] = (tmp12 - tmp1 + rnd) >> sh
		ws[24+c] = (tmp13 + tmp0 + rnd) >> sh
		ws[32+c] = (tmp13 - tmp0 + rnd) >> sh
	}
	// Pass 2: rows from the workspace, into dst.
	for r := 0; r < 8; r++ {
		w := ws[8*r : 8*r+8 : 8*r+8]
		out := dst[r*stride : r*stride+8 : r*stride+8]
		if w[1]|w[2]|w[3]|w[4]|w[5]|w[6]|w[7] == 0 {
			v := clamp8((w[0] + 1<<(idctPass1Bits+2)) >> (idctPass1Bits + 3))
			out[0], out[1], out[2], out[3], out[4], out[5], out[6], out[7] = v, v, v, v, v, v, v, v
			continue
		}
		z2, z3 := w[2], w[6]
		z1 := (z2 + z3) * fix0_541196100
		tmp2 := z1 + z3*(-fix1_847759065)
		tmp3 := z1 + z2*fix0_765366865
		tmp0 := (w[0] + w[4]) << idctConstBits
		tmp1 := (w[0] - w[4]) << idctConstBits
		tmp10, tmp13 := tmp0+tmp3, tmp0-tmp3
		tmp11, tmp12 := tmp1+tmp2, tmp1-tmp2

		tmp0, tmp1, tmp2, tmp3 = w[7], w[5], w[3], w[1]
		z1, z2, z3 = tmp0+tmp3, tmp1+tmp2, tmp0+tmp2
		z4 := tmp1 + tmp3
		z5 := (z3 + z4) * fix1_175875602
		tmp0 *= fix0_298631336
		tmp1 *= fix2_053119869
		tmp2 *= fix3_072711026
		tmp3 *= fix1_501321110
		z1 *= -fix0_899976223
		z2 *= -fix2_562915447
		z3 = z3*(-fix1_961570560) + z5
		z4 = z4*(-fix0_390180644) + z5
		tmp0 += z1 + z3
		tmp1 += z2 + z4
		tmp2 += z2 + z3
		tmp3 += z1 + z4

		const sh = idctConstBits + idctPass1Bits + 3
		const rnd = 1 << (sh - 1)
		out[0] = clamp8((tmp10 + tmp3 + rnd) >> sh)
		out[7] = clamp8((tmp10 - tmp3 + rnd) >> sh)
		out[1] = clamp8((tmp11 + tmp2 + rnd) >> sh)
		out[6] = clamp8((tmp11 - tmp2 + rnd) >> sh)
		out[2] = clamp8((tmp12 + tmp1 + rnd) >> sh)
		out[5] = clamp8((tmp12 - tmp1 + rnd) >> sh)
		out[3] = clamp8((tmp13 + tmp0 + rnd) >> sh)
		out[4] = clamp8((tmp13 - tmp0 + rnd) >> sh)
	}
}
