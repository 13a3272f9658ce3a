//go:build linux

package sinks

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// mapShared sizes f to n bytes and maps it shared, read-write.
func mapShared(f *os.File, n int) ([]byte, error) {
	if err := f.Truncate(int64(n)); err != nil {
		return nil, fmt.Errorf("sinks: shm ring: size %s to %d bytes: %w", f.Name(), n, err)
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("sinks: shm ring: mmap %s (%d bytes): %w", f.Name(), n, err)
	}
	return mem, nil
}

func unmapShared(mem []byte) error { return unix.Munmap(mem) }
