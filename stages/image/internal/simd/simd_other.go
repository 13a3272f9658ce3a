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

// FancyH2V2 is not available here; it panics.
func FancyH2V2(d, a, b *uint8, blocks int) { panic("simd: FancyH2V2 without AVX2") }

// FancyH2V1 is not available here; it panics.
func FancyH2V1(d, s *uint8, blocks int) { panic("simd: FancyH2V1 without AVX2") }

// YCC32 is not available here; it panics.
func YCC32(d, y, cb, cr *uint8, blocks int) { panic("simd: YCC32 without AVX-512") }
