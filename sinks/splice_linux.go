//go:build linux

package sinks

import (
	"errors"
	"io"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// splicer writes to a pipe, handing writes that lie inside zero (the current
// batch's pixels) to the kernel by vmsplice(2): the pipe then references
// those pages instead of copying them, which saves the writer's copy (about
// half the cost of the transport). The pages must not change until the
// reader has read them: unread tells how much of what was written is still
// in the pipe, and ArrowStream releases a batch only once it is all read.
type splicer struct {
	f       *os.File
	rc      syscall.RawConn
	zero    []byte // the region that may be spliced
	written int64  // bytes written so far
	spliced int64  // of which by vmsplice
}

// minSplice is the smallest write worth a vmsplice.
const minSplice = 64 << 10

// newSplicer returns a splicer for w when w is a pipe (os.File), else nil.
func newSplicer(w io.Writer) *splicer {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return nil
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return nil
	}
	return &splicer{f: f, rc: rc}
}

func inside(p, region []byte) bool {
	if len(p) == 0 || len(region) == 0 {
		return false
	}
	a, b := uintptr(unsafe.Pointer(&p[0])), uintptr(unsafe.Pointer(&region[0]))
	return a >= b && a+uintptr(len(p)) <= b+uintptr(len(region))
}

func (s *splicer) Write(p []byte) (int, error) {
	if len(p) < minSplice || !inside(p, s.zero) {
		n, err := s.f.Write(p)
		s.written += int64(n)
		return n, err
	}
	total := 0
	for total < len(p) {
		var n int
		var serr error
		err := s.rc.Write(func(fd uintptr) bool {
			iov := unix.Iovec{Base: &p[total]}
			iov.SetLen(len(p) - total)
			n, serr = unix.Vmsplice(int(fd), []unix.Iovec{iov}, 0)
			return !errors.Is(serr, unix.EAGAIN)
		})
		if err == nil {
			err = serr
		}
		if err != nil {
			return total, &os.PathError{Op: "vmsplice", Path: s.f.Name(), Err: err}
		}
		total += n
		s.written += int64(n)
		s.spliced += int64(n)
	}
	return total, nil
}

// unread returns the bytes written that the reader has not read yet.
func (s *splicer) unread() (int64, error) {
	var n int
	var ierr error
	err := s.rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.TIOCINQ) })
	if err == nil {
		err = ierr
	}
	return int64(n), err
}

// readerGone reports whether the pipe's read end is closed (POLLERR).
func (s *splicer) readerGone() bool {
	gone := false
	_ = s.rc.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		if n, err := unix.Poll(fds, 0); err == nil && n > 0 && fds[0].Revents&unix.POLLERR != 0 {
			gone = true
		}
	})
	return gone
}
