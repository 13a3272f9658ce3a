//go:build !turbojpeg || !cgo

package image

// HaveTurbo reports whether this binary was built with the libjpeg-turbo
// backend (build tag turbojpeg, with cgo). It is false here.
const HaveTurbo = false

func decodeJPEGTurbo(dst *Image, data []byte, h *Header, c int, opt *DecodeOptions) error {
	return ErrNoTurbo
}
