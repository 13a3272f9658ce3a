//go:build !amd64 || purego

package simd

// Has is false where the kernels are not built.
const Has = false

// YCC is not available here; it panics.
func YCC(d, y, cb, cr *uint8, blocks int) { panic("simd: YCC without AVX-512") }
