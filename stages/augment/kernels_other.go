//go:build !amd64 || purego

package augment

import "unsafe"

// useAVX2 is false where the AVX2 kernels are not built; the portable
// SWAR paths run instead.
var useAVX2 = false

// hasVBMI and useVBMI are false where the AVX-512 kernels are not built.
var (
	hasVBMI = false
	useVBMI = false
)

func vconv8AVX2(out []uint8, rows []unsafe.Pointer, w []int32, n int)  { panic("unreachable") }
func vconv16AVX2(out []uint8, rows []unsafe.Pointer, w []int32, n int) { panic("unreachable") }
func hconv16AVX2(out []uint16, pad []uint8, w []int32, stride int, n int) {
	panic("unreachable")
}
func hconv3AVX2(out []uint8, row []uint8, start []int32, w []int32, T int, n int) {
	panic("unreachable")
}

func sat3AVX2(dst, src []uint8, n int, alpha float32) { panic("unreachable") }

func hue3AVX2(dst, src []uint8, n int, shift int, hue *uint8, satp *uint32) {
	panic("unreachable")
}

func lumaSumAVX2(src []uint8, n int) uint64 { panic("unreachable") }

func lutVBMI(dst, src []uint8, n int, t *lut) { panic("unreachable") }

func chwVBMI(pr, pg, pb *float32, src *uint8, blocks int, mean, std *[3]float32) {
	panic("unreachable")
}

func hue3VBMI(dst, src []uint8, blocks int, shift int) {
	panic("unreachable")
}

func sat3VBMI(dst, src []uint8, blocks int, alpha float32) { panic("unreachable") }
func gray3VBMI(dst, src []uint8, blocks int)               { panic("unreachable") }

func flip3VBMI(d, s *uint8, w int) int { panic("unreachable") }

func chwFMAVBMI(pr, pg, pb *float32, src *uint8, blocks int, mean, std, rstd *[3]float32) {
	panic("unreachable")
}

func chwFMANTVBMI(pr, pg, pb *float32, src *uint8, blocks int, mean, std, rstd *[3]float32) {
	panic("unreachable")
}
