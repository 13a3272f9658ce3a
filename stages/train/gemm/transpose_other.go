//go:build !amd64 || purego

package gemm

// transposePack reports false: the portable build packs with plain loops.
func transposePack(dst, src []float32, ld, rows, kc int) bool { return false }
