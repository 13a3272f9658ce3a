//go:build turbojpeg && cgo

package image

/*
#cgo LDFLAGS: -lturbojpeg
#include <stdlib.h>
#include <turbojpeg.h>
*/
import "C"

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"unsafe"
)

// HaveTurbo reports whether this binary was built with the libjpeg-turbo
// backend (build tag turbojpeg, with cgo). It is true here.
const HaveTurbo = true

// tjDecoder owns one TurboJPEG decompressor handle. A handle must not be
// used by two goroutines at once, so handles live in a sync.Pool: each call
// takes one and puts it back. A handle dropped by the pool is destroyed by
// its cleanup.
type tjDecoder struct {
	h       C.tjhandle
	cleanup runtime.Cleanup
	// Outputs of tjDecompressHeader3, kept here so that passing their
	// addresses to C does not allocate per call.
	w, h2, subsamp, cs C.int
}

var tjPool = sync.Pool{New: func() any {
	h := C.tjInitDecompress()
	if h == nil {
		return (*tjDecoder)(nil)
	}
	d := &tjDecoder{h: h}
	d.cleanup = runtime.AddCleanup(d, func(h C.tjhandle) { C.tjDestroy(h) }, h)
	return d
}}

// cmykPool holds scratch buffers for CMYK output, converted to RGB after.
var cmykPool sync.Pool // of *[]byte

// turboScale returns the denominator (1, 2, 4 or 8) of the smallest DCT
// scale whose shorter side is still at least minSide.
func turboScale(w, h, minSide int) int {
	if minSide <= 0 {
		return 1
	}
	for _, d := range [...]int{8, 4, 2} {
		if min((w+d-1)/d, (h+d-1)/d) >= minSide {
			return d
		}
	}
	return 1
}

func decodeJPEGTurbo(dst *Image, data []byte, hd *Header, c int, opt *DecodeOptions) error {
	d := tjPool.Get().(*tjDecoder)
	if d == nil {
		return fmt.Errorf("image: turbojpeg: tjInitDecompress failed")
	}
	err := d.decode(dst, data, hd, c, opt)
	if err != nil {
		// After an error libjpeg's state is not trustworthy (a later call
		// can fail with the same message): drop the handle.
		d.cleanup.Stop()
		C.tjDestroy(d.h)
		return err
	}
	tjPool.Put(d)
	return nil
}

func (d *tjDecoder) decode(dst *Image, data []byte, hd *Header, c int, opt *DecodeOptions) error {

	src := (*C.uchar)(unsafe.Pointer(&data[0]))
	size := C.ulong(len(data))
	if C.tjDecompressHeader3(d.h, src, size, &d.w, &d.h2, &d.subsamp, &d.cs) != 0 {
		return d.err()
	}
	if int(d.w) != hd.W || int(d.h2) != hd.H {
		return fmt.Errorf("%w: jpeg: libjpeg-turbo reads %dx%d, header scan %dx%d", ErrCorrupt, d.w, d.h2, hd.W, hd.H)
	}
	cs := d.cs
	den := turboScale(hd.W, hd.H, opt.MinSide)
	sw, sh := (hd.W+den-1)/den, (hd.H+den-1)/den

	flags := C.int(C.TJFLAG_STOPONWARNING | C.TJFLAG_LIMITSCANS)
	if opt.FastUpsample {
		flags |= C.TJFLAG_FASTUPSAMPLE
	}
	if opt.FastDCT {
		flags |= C.TJFLAG_FASTDCT
	}

	cmyk := cs == C.TJCS_CMYK || cs == C.TJCS_YCCK
	if !cmyk {
		pf := C.int(C.TJPF_RGB)
		if c == 1 {
			pf = C.TJPF_GRAY
		}
		dst.Resize(sw, sh, c)
		if C.tjDecompress2(d.h, src, size, (*C.uchar)(unsafe.Pointer(&dst.Pix[0])),
			C.int(sw), C.int(dst.Stride), C.int(sh), pf, flags) != 0 {
			return d.err()
		}
		return nil
	}

	// CMYK and YCCK: libjpeg gives the stored (Adobe-inverted) CMYK samples.
	n := 4 * sw * sh
	bp, _ := cmykPool.Get().(*[]byte)
	if bp == nil || cap(*bp) < n {
		b := make([]byte, n)
		bp = &b
	}
	defer cmykPool.Put(bp)
	buf := (*bp)[:n]
	if C.tjDecompress2(d.h, src, size, (*C.uchar)(unsafe.Pointer(&buf[0])),
		C.int(sw), C.int(4*sw), C.int(sh), C.TJPF_CMYK, flags) != 0 {
		return d.err()
	}
	dst.Resize(sw, sh, c)
	for y := 0; y < sh; y++ {
		cmykRow(dst.Row(y), buf[4*sw*y:4*sw*(y+1)], c, true)
	}
	return nil
}

// err returns the handle's last error (warnings included: Decode is strict,
// as with TJFLAG_STOPONWARNING a truncated or corrupt stream is an error).
func (d *tjDecoder) err() error {
	msg := C.GoString(C.tjGetErrorStr2(d.h))
	if strings.Contains(msg, "nsupported") {
		return fmt.Errorf("%w: jpeg: libjpeg-turbo: %s", ErrUnsupported, msg)
	}
	return fmt.Errorf("%w: jpeg: libjpeg-turbo: %s", ErrCorrupt, msg)
}
