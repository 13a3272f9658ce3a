//go:build !amd64 || purego

package gemm

// kernels lists every kernel this build can run: only the portable Go one.
func kernels() []*kernel { return []*kernel{kernGo} }

var best = kernGo
