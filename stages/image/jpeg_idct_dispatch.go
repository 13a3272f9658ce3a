package image

import "github.com/contrastream/contrastream/stages/image/internal/simd"

// useAVX2 selects the assembly IDCT (tests switch it off to compare with
// idctGo).
var useAVX2 = simd.HasAVX2

// idctBlock is the islow IDCT used by the decoder: coef holds the quantised
// coefficients in natural order, q the quantisation steps.
func idctBlock(dst []uint8, stride int, coef, q *[64]int16) {
	if useAVX2 {
		_ = dst[7*stride+7]
		simd.IDCT(&dst[0], stride, &coef[0], &q[0])
		return
	}
	idctGo(dst, stride, coef, q)
}
