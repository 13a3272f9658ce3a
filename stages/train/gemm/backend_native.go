//go:build !openblas || !cgo

package gemm

// backendName is empty: Sgemm runs the native kernels.
const backendName = ""

func backend(p params) { native(best, Threads(), p) }
