//go:build turbojpeg && cgo

package image

/*
#include <stdlib.h>
#include <turbojpeg.h>
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// TurboJPEG subsampling codes (TJSAMP_*) for tjEncode.
const (
	tjSamp444  = C.TJSAMP_444
	tjSamp422  = C.TJSAMP_422
	tjSamp420  = C.TJSAMP_420
	tjSampGray = C.TJSAMP_GRAY
	tjSamp440  = C.TJSAMP_440
	tjSamp411  = C.TJSAMP_411
)

// tjEncode compresses a w×h image of c samples per pixel (1 gray, 3 RGB,
// 4 CMYK, which TurboJPEG stores as Adobe YCCK) with tjCompress2 at the
// given quality and subsampling, progressive or not. It is the encoder of
// the differential tests' generated corpus (turbo_corpus_test.go); the
// decoder does not use it.
func tjEncode(pix []byte, w, h, c, subsamp, quality int, progressive bool) ([]byte, error) {
	if len(pix) != w*h*c || len(pix) == 0 {
		return nil, fmt.Errorf("image: tjEncode: %d samples for %dx%dx%d", len(pix), w, h, c)
	}
	pf := map[int]C.int{1: C.TJPF_GRAY, 3: C.TJPF_RGB, 4: C.TJPF_CMYK}[c]
	handle := C.tjInitCompress()
	if handle == nil {
		return nil, fmt.Errorf("image: tjInitCompress failed")
	}
	defer C.tjDestroy(handle)
	flags := C.int(C.TJFLAG_ACCURATEDCT)
	if progressive {
		flags |= C.TJFLAG_PROGRESSIVE
	}
	src := C.CBytes(pix)
	defer C.free(src)
	var out *C.uchar
	var size C.ulong
	if C.tjCompress2(handle, (*C.uchar)(src), C.int(w), C.int(w*c), C.int(h), pf, &out, &size, C.int(subsamp), C.int(quality), flags) != 0 {
		msg := C.GoString(C.tjGetErrorStr2(handle))
		if out != nil {
			C.tjFree(out)
		}
		return nil, fmt.Errorf("image: tjCompress2: %s", msg)
	}
	defer C.tjFree(out)
	return C.GoBytes(unsafe.Pointer(out), C.int(size)), nil
}
