//go:build unix

package image

import "syscall"

// cpuNanos returns the CPU time (user + system) this process has used, all
// threads together: on a shared machine it measures a benchmark's own work,
// where wall time also counts the time other processes held the cores.
func cpuNanos() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
