//go:build !linux

package sinks

import "io"

// splicer is Linux-only (vmsplice); elsewhere every write copies.
type splicer struct {
	zero             []byte
	written, spliced int64
}

func newSplicer(io.Writer) *splicer { return nil }

func (s *splicer) Write(p []byte) (int, error) { panic("unreachable") }

func (s *splicer) unread() (int64, error) { return 0, nil }

func (s *splicer) readerGone() bool { return false }
