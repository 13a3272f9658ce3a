//go:build !unix

package sinks

import (
	"errors"
	"os"
)

// Without flock (not a Unix system) the lock file is created but not
// locked: a second run into the same folder is not detected.
var errWouldBlock = errors.New("sinks: lock held")

func flockExclusive(*os.File) error { return nil }

func funlock(*os.File) error { return nil }
