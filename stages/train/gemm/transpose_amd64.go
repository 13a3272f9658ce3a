//go:build amd64 && !purego

package gemm

// transpose8x and transpose4x (kernel_amd64.s, AVX) write
// dst[p*dstStride+i] = src[i*srcStride+p] for 8 (or 4) rows i and 8n (or 4n)
// columns p. packRows8/16/32 copy the rows of a block into W-wide panels
// (see gen_kernels.go).

//go:noescape
func transpose8x(dst *float32, dstStride int, src *float32, srcStride int, n int)

//go:noescape
func transpose4x(dst *float32, dstStride int, src *float32, srcStride int, n int)

//go:noescape
func packRows8(dst, src *float32, ld, kc, np int)

//go:noescape
func packRows16(dst, src *float32, ld, kc, np int)

//go:noescape
func packRows32(dst, src *float32, ld, kc, np int)

// packRowsFull packs np full w-wide panels of kc steps (step p of panel q
// from src[p*ld+q*w:]) and reports true, or reports false where it has no
// vector code for w or the CPU lacks AVX2.
func packRowsFull(dst, src []float32, ld, w, kc, np int) bool {
	if !hasAVX2 {
		return false
	}
	var f func(dst, src *float32, ld, kc, np int)
	switch w {
	case 8:
		f = packRows8
	case 16:
		f = packRows16
	case 32:
		f = packRows32
	default:
		return false
	}
	_ = src[(kc-1)*ld+np*w-1]
	_ = dst[np*w*kc-1]
	f(&dst[0], &src[0], ld, kc, np)
	return true
}

// transposePack writes dst[p*w+i] = src[i*ld+p] for i < rows (≤ w) and
// p < kc and reports true; lanes rows..w-1 of dst are left to the caller.
// It reports false without AVX2.
func transposePack(dst, src []float32, ld, rows, w, kc int) bool {
	if !hasAVX2 {
		return false
	}
	_ = src[(rows-1)*ld+kc-1]
	_ = dst[(kc-1)*w+rows-1]
	p8, p4 := kc/8*8, kc/4*4
	t8 := func(i int) {
		if p8 > 0 {
			transpose8x(&dst[i], w, &src[i*ld], ld, p8/8)
		}
		tail(dst, src, ld, w, i, i+8, p8, kc)
	}
	t4 := func(i int) {
		if p4 > 0 {
			transpose4x(&dst[i], w, &src[i*ld], ld, p4/4)
		}
		tail(dst, src, ld, w, i, i+4, p4, kc)
	}
	switch {
	case rows >= 8:
		i := 0
		for ; i+8 <= rows; i += 8 {
			t8(i)
		}
		if i < rows {
			// The last rows%8 rows: transpose the last 8 rows again; the
			// rows already done are written with the same values.
			t8(rows - 8)
		}
	case rows >= 4:
		t4(0)
		if rows > 4 {
			t4(rows - 4)
		}
	default:
		tail(dst, src, ld, w, 0, rows, 0, kc)
	}
	return true
}

// tail transposes rows r0..r1-1, steps p0..kc-1 one float at a time.
func tail(dst, src []float32, ld, w, r0, r1, p0, kc int) {
	for r := r0; r < r1; r++ {
		for p, v := range src[r*ld+p0 : r*ld+kc] {
			dst[(p0+p)*w+r] = v
		}
	}
}
