//go:build linux

package sinks

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// dieWithParent asks the kernel to send SIGTERM to this process when its
// parent dies (PR_SET_PDEATHSIG; the poll in watchParent covers the race
// with a parent that died before the call, and parents that are threads).
func dieWithParent() error {
	return unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0, 0, 0)
}
