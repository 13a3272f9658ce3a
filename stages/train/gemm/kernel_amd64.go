//go:build amd64 && !purego

package gemm

import "golang.org/x/sys/cpu"

//go:generate go run gen_kernels.go

// The assembly micro-kernels (kernel_amd64.s); see the comment at its top.

//go:noescape
func sgemmKernAVX512x8(kc int, a, b, c *float32, ldc int, alpha, beta float32, mr, nr, loadC int)

//go:noescape
func sgemmKernAVX512x12(kc int, a, b, c *float32, ldc int, alpha, beta float32, mr, nr, loadC int)

//go:noescape
func sgemmKernAVX512x14(kc int, a, b, c *float32, ldc int, alpha, beta float32, mr, nr, loadC int)

//go:noescape
func sgemmKernAVX2x6(kc int, a, b, c *float32, ldc int, alpha, beta float32, mr, nr, loadC int)

// fmaPeakZ and fmaPeakY run n iterations of 12 independent FMAs on zmm
// (AVX-512) or ymm (AVX2) registers; BenchmarkFMAPeak uses them to measure
// the CPU's FMA throughput, the ceiling the kernels are compared with.
//
//go:noescape
func fmaPeakZ(n int)

//go:noescape
func fmaPeakY(n int)

// avx2Masks holds 16 all-ones lanes then 16 zero lanes: the AVX2 kernel reads
// its column masks for an nr-wide edge tile at avx2Masks[16-nr:].
var avx2Masks = [32]int32{-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1}

var (
	kernAVX512    = &kernel{name: "avx512-8x32", mr: 8, nr: 32, kc: 256, mc: 960, nc: 512, fn: sgemmKernAVX512x8}
	kernAVX512x12 = &kernel{name: "avx512-12x32", mr: 12, nr: 32, kc: 256, mc: 960, nc: 512, fn: sgemmKernAVX512x12}
	kernAVX512x14 = &kernel{name: "avx512-14x32", mr: 14, nr: 32, kc: 256, mc: 952, nc: 512, fn: sgemmKernAVX512x14}
	kernAVX2      = &kernel{name: "avx2-6x16", mr: 6, nr: 16, kc: 256, mc: 960, nc: 512, fn: sgemmKernAVX2x6}
)

// hasAVX512 and hasAVX2 report whether this CPU and OS can run the kernels.
var (
	hasAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512DQ
	hasAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
)

// kernels lists every kernel this CPU can run, fastest first.
func kernels() []*kernel {
	var ks []*kernel
	if hasAVX512 {
		ks = append(ks, kernAVX512, kernAVX512x12, kernAVX512x14)
	}
	if hasAVX2 {
		ks = append(ks, kernAVX2)
	}
	return append(ks, kernGo)
}

var best = kernels()[0]
