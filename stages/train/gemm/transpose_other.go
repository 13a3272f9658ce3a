//go:build !amd64 || purego

package gemm

// transposePack and packRowsFull report false: the portable build packs
// with plain loops.
func transposePack(dst, src []float32, ld, rows, w, kc int) bool { return false }

func packRowsFull(dst, src []float32, ld, w, kc, np int) bool { return false }
