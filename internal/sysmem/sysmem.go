// Package sysmem tells how much memory this process may use, so that a
// stage can refuse a configuration, naming the figure, before it allocates
// (instead of the runtime's "fatal error: out of memory").
package sysmem

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
)

// Limit returns the memory this process may use, in bytes: the smallest of
// the machine's memory (/proc/meminfo MemTotal), the memory cgroup's limit
// (v2 memory.max or v1 memory.limit_in_bytes) and the Go runtime's soft
// limit (GOMEMLIMIT or debug.SetMemoryLimit), with what set it ("machine",
// "cgroup", "GOMEMLIMIT"). It returns 0 and "" where none of them is known.
// The files are read once.
func Limit() (int64, string) {
	once.Do(func() { limit, source = readLimit() })
	if l := debug.SetMemoryLimit(-1); l > 0 && l < math.MaxInt64 && (limit == 0 || l < limit) {
		return l, "GOMEMLIMIT"
	}
	return limit, source
}

var (
	once   sync.Once
	limit  int64
	source string
)

func readLimit() (int64, string) {
	var best int64
	var src string
	take := func(v int64, s string) {
		// cgroup v1 says "no limit" with a huge page-aligned number.
		if v > 0 && v < 1<<62 && (best == 0 || v < best) {
			best, src = v, s
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
				f := strings.Fields(rest)
				if len(f) >= 1 {
					if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
						take(kb<<10, "machine")
					}
				}
			}
		}
	}
	for _, p := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		if b, err := os.ReadFile(p); err == nil {
			if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
				take(v, "cgroup")
			}
		}
	}
	return best, src
}

// Format writes a byte count for people: "512 B", "3.4 MiB", "95.4 TiB".
func Format(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), -1
	for f >= unit && i < 5 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", f, "KMGTPE"[i])
}

// Product returns the product of its arguments, or math.MaxInt64 when it
// overflows (a size estimate from hostile dimensions must not wrap around).
func Product(xs ...int64) int64 {
	p := int64(1)
	for _, x := range xs {
		if x <= 0 {
			return 0
		}
		if p > math.MaxInt64/x {
			return math.MaxInt64
		}
		p *= x
	}
	return p
}
