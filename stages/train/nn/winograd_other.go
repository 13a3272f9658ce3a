//go:build !amd64 || purego

package nn

func winoInput(dst []float32, ld int, pad []float32, pw int, idx []int32) {
	winoInputGo(dst, ld, pad, pw, idx)
}

func winoOutput(out []float32, w2 int, src []float32, ld int, idx []int32, bias float32) {
	winoOutputGo(out, w2, src, ld, idx, bias)
}

func winoGrad(dst []float32, ld int, pad []float32, w2 int, idx []int32) {
	winoGradGo(dst, ld, pad, w2, idx)
}

func winoInputDirect(dst []float32, ld int, src []float32, w, h, th, tw, nb, pstride int) bool {
	return false
}
