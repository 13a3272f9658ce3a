//go:build amd64 && !purego

package gemm

// transpose8x and transpose4x (kernel_amd64.s, AVX) write
// dst[p*dstStride+i] = src[i*srcStride+p] for 8 (or 4) rows i and 8n (or 4n)
// columns p.

//go:noescape
func transpose8x(dst *float32, dstStride int, src *float32, srcStride int, n int)

//go:noescape
func transpose4x(dst *float32, dstStride int, src *float32, srcStride int, n int)

// transposePack writes dst[p*rows+i] = src[i*ld+p] for i < rows, p < kc
// (rows full rows of the source, each kc long) and reports true; it needs
// AVX and reports false without it.
func transposePack(dst, src []float32, ld, rows, kc int) bool {
	if !hasAVX2 {
		return false
	}
	_ = src[(rows-1)*ld+kc-1]
	_ = dst[rows*kc-1]
	i := 0
	for ; i+8 <= rows; i += 8 {
		if n := kc / 8; n > 0 {
			transpose8x(&dst[i], rows, &src[i*ld], ld, n)
		}
	}
	for ; i+4 <= rows; i += 4 {
		if n := kc / 4; n > 0 {
			transpose4x(&dst[i], rows, &src[i*ld], ld, n)
		}
	}
	// Rows left over (fewer than 4) and, for the 8-row groups, columns past
	// the last full block of 8 (for the 4-row groups, of 4).
	for r := 0; r < rows; r++ {
		p0 := kc / 8 * 8
		if r >= rows/8*8 {
			p0 = kc / 4 * 4
		}
		if r >= rows/8*8+(rows%8)/4*4 {
			p0 = 0
		}
		s := src[r*ld : r*ld+kc]
		for p := p0; p < kc; p++ {
			dst[p*rows+r] = s[p]
		}
	}
	return true
}
