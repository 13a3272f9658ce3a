//go:build linux

package sinks

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// mapShared sizes f to n bytes, maps it shared, read-write, and commits
// its pages now (MADV_POPULATE_WRITE, Linux 5.14+; skipped where the
// kernel lacks it): every slot is touched within the ring's first cycle
// anyway, and a first touch costs far more than a write (page allocation
// and zeroing; on a VM whose memory is not yet backed, ~0.5–5 s per GB
// here), so it is paid once at start-up instead of as stalls mid-stream.
func mapShared(f *os.File, n int) ([]byte, error) {
	if err := f.Truncate(int64(n)); err != nil {
		return nil, fmt.Errorf("sinks: shm ring: size %s to %d bytes: %w", f.Name(), n, err)
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("sinks: shm ring: mmap %s (%d bytes): %w", f.Name(), n, err)
	}
	if err := unix.Madvise(mem, unix.MADV_POPULATE_WRITE); err != nil && err != unix.EINVAL {
		unix.Munmap(mem)
		return nil, fmt.Errorf("sinks: shm ring: commit the %d bytes of %s: %w", n, f.Name(), err)
	}
	return mem, nil
}

func unmapShared(mem []byte) error { return unix.Munmap(mem) }
