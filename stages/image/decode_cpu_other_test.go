//go:build !unix

package image

func cpuNanos() int64 { return 0 }
