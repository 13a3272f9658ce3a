// Package cputime reads the CPU time this process has used, for benchmarks
// on shared machines: wall time also counts the time other processes held
// the cores, CPU time measures only the benchmark's own work (all threads,
// GC included).
package cputime

import "time"

// Now returns the user + system CPU time the process has used so far, all
// threads together, or 0 where the OS does not report it. It is safe for
// concurrent use and allocates nothing.
func Now() time.Duration { return now() }
