//go:build unix

package loss

import (
	"syscall"
	"time"
)

// cpuTime is the user+system CPU time of this process so far (all threads).
// On a loaded machine it grows far less than wall time with the run queue,
// so benchmarks report it beside ns/op.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
