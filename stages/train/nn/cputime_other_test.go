//go:build !unix

package nn

// cpuSeconds is not measured on this OS.
func cpuSeconds() float64 { return 0 }
