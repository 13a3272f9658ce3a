//go:build !amd64 || purego

package optim

const useAVX2 = false

func adamwAVX2(w, g, m, v []float32, k *adamConsts) { panic("optim: no AVX2 kernel in this build") }
