//go:build !amd64 || purego

package simd

// Has is false where the kernels are not built.
const Has = false

// YCC is not available here; it panics.
func YCC(d, y, cb, cr *uint8, blocks int) { panic("simd: YCC without AVX-512") }

// HasAVX2 is false where the kernels are not built.
const HasAVX2 = false

// IDCT is not available here; it panics.
func IDCT(dst *uint8, stride int, coef, q *int16) { panic("simd: IDCT without AVX2") }
