//go:build amd64 && !purego

package loss

import "golang.org/x/sys/cpu"

// useAVX2 selects the 8-lane exponential kernel (exp_amd64.s).
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// expShiftSumAVX2 is in exp_amd64.s.
//
//go:noescape
func expShiftSumAVX2(x []float32, shift float32) float64
