//go:build amd64 && !purego

package optim

import "golang.org/x/sys/cpu"

// useAVX2 selects the 8-lane AdamW kernel (adamw_amd64.s).
var useAVX2 = cpu.X86.HasAVX2

// adamwAVX2 is in adamw_amd64.s; all slices have the same length, a
// multiple of 8.
//
//go:noescape
func adamwAVX2(w, g, m, v []float32, k *adamConsts)
