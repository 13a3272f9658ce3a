//go:build unix

package stages

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user + system) this process has used. The
// benchmarks report it per op as cpu-ns/op: on a shared, overloaded machine
// wall time per op inflates with the run queue, CPU time much less.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
