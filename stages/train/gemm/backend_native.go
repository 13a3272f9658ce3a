//go:build !openblas || !cgo

package gemm

// backendName is empty: Sgemm runs the native kernels.
func backendName() string { return "" }

func backend(p params) { native(best, Threads(), p) }
