//go:build !linux

package sinks

import (
	"errors"
	"os"
)

func mapShared(*os.File, int) ([]byte, error) {
	return nil, errors.New("sinks: shm ring: shared memory is implemented for Linux only (use the pipe)")
}

func unmapShared([]byte) error { return nil }
