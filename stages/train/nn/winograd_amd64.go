//go:build amd64 && !purego

package nn

import "golang.org/x/sys/cpu"

// useAVX512 selects the AVX-512 Winograd transforms (winograd_amd64.s):
// gathers and scatters of 16 tiles at once.
var useAVX512 = cpu.X86.HasAVX512F

//go:noescape
func winoInputAVX512(dst *float32, ld int, pad *float32, pw int, idx *int32, n int)

//go:noescape
func winoInputDirectAVX512(dst *float32, ld int, src *float32, w, h, th, tw, nb, pstride int, perm *int32)

// winoInputDirect is the input transform of nb h×w planes of src
// (pstride floats apart) read in place, with the zero padding made by
// masked loads; it reports false, doing nothing, where it has no kernel
// (no AVX-512, or planes wider than 16).
func winoInputDirect(dst []float32, ld int, src []float32, w, h, th, tw, nb, pstride int) bool {
	if !useAVX512 || w > 16 || tw > 8 {
		return false
	}
	n := nb * th * tw
	_ = dst[15*ld+n-1]
	_ = src[(nb-1)*pstride+h*w-1]
	winoInputDirectAVX512(&dst[0], ld, &src[0], w, h, th, tw, nb, pstride, &winoPerm[0])
	return true
}

// winoPerm holds winoInputDirectAVX512's four VPERMT2PS index vectors: lane
// x of vector j selects float 2x+j of a 32-float row (lanes ≥ 8, which it
// masks off, wrap within the 32).
var winoPerm = func() (p [64]int32) {
	for j := 0; j < 4; j++ {
		for x := 0; x < 16; x++ {
			p[16*j+x] = int32(2*x+j) & 31
		}
	}
	return p
}()

//go:noescape
func winoOutputAVX512(out *float32, w2 int, src *float32, ld int, idx *int32, n int, bias float32)

//go:noescape
func winoGradAVX512(dst *float32, ld int, pad *float32, w2 int, idx *int32, n int)

// The wrappers run the bulk (a multiple of 16 tiles) in assembly and the
// rest in Go. The assembly trusts idx: every offset it holds (plus the
// patch or block extent) lies inside pad or out, as setupWinograd builds
// them; the Go versions check that with their slice bounds.

func winoInput(dst []float32, ld int, pad []float32, pw int, idx []int32) {
	n := len(idx) &^ 15
	if useAVX512 && n > 0 {
		_ = dst[15*ld+n-1]
		winoInputAVX512(&dst[0], ld, &pad[0], pw, &idx[0], n)
	} else {
		n = 0
	}
	winoInputGo(dst[n:], ld, pad, pw, idx[n:])
}

func winoOutput(out []float32, w2 int, src []float32, ld int, idx []int32, bias float32) {
	n := len(idx) &^ 15
	if useAVX512 && n > 0 {
		_ = src[15*ld+n-1]
		winoOutputAVX512(&out[0], w2, &src[0], ld, &idx[0], n, bias)
	} else {
		n = 0
	}
	winoOutputGo(out, w2, src[n:], ld, idx[n:], bias)
}

func winoGrad(dst []float32, ld int, pad []float32, w2 int, idx []int32) {
	n := len(idx) &^ 15
	if useAVX512 && n > 0 {
		_ = dst[15*ld+n-1]
		winoGradAVX512(&dst[0], ld, &pad[0], w2, &idx[0], n)
	} else {
		n = 0
	}
	winoGradGo(dst[n:], ld, pad, w2, idx[n:])
}
