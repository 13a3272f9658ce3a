package image

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to Decode: it must never panic, must
// return an image only when it is valid and within the pixel limit, and must
// refuse anything over the limit with ErrTooLarge. Under -tags turbojpeg it
// also runs the libjpeg-turbo backend and checks that whenever both
// backends succeed they agree on the size and channel count.
//
//	go test -run XXX -fuzz FuzzDecode -fuzztime 60s ./stages/image/
//	go test -tags turbojpeg -run XXX -fuzz FuzzDecode -fuzztime 60s ./stages/image/
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/decode/*.png")
	jpgs, _ := filepath.Glob("testdata/decode/*.jpg")
	for _, p := range append(files, jpgs...) {
		if filepath.Base(p) == "jpg_china.jpg" {
			continue // larger than the fuzz pixel limit
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(0))
		f.Add(b[:len(b)/2], uint8(3))
	}
	f.Add(bombPNG(1<<16, 1<<16), uint8(1))
	f.Add([]byte{0xff, 0xd8, 0xff}, uint8(0))
	f.Add([]byte("\x89PNG\r\n\x1a\n"), uint8(0))
	const limit = 64 * 64 // small, so that the fuzzer finds the limit and stays fast
	f.Fuzz(func(t *testing.T, data []byte, ch uint8) {
		opt := DecodeOptions{MaxPixels: limit, Channels: []int{0, 1, 3}[int(ch)%3], FastUpsample: ch&4 != 0}
		h, herr := DecodeHeader(data)
		var got [3]*Image
		for i, be := range backends() {
			opt.Backend = be
			dst := &Image{}
			err := Decode(dst, data, opt)
			if herr == nil && h.W*h.H > limit && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("%v: %dx%d over the limit: err %v", be, h.W, h.H, err)
			}
			if err != nil {
				if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrCorrupt) &&
					!errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrTooLarge) {
					t.Fatalf("%v: error %v wraps no sentinel", be, err)
				}
				continue
			}
			if verr := dst.Validate(); verr != nil {
				t.Fatalf("%v: invalid image: %v", be, verr)
			}
			if dst.W*dst.H > limit || dst.W != h.W || dst.H != h.H {
				t.Fatalf("%v: decoded %dx%d, header %dx%d, limit %d", be, dst.W, dst.H, h.W, h.H, limit)
			}
			got[i] = dst
		}
		for i := 1; i < len(got); i++ {
			if got[0] != nil && got[i] != nil && (got[0].W != got[i].W || got[0].H != got[i].H || got[0].C != got[i].C) {
				t.Fatalf("go %dx%dx%d, %v %dx%dx%d", got[0].W, got[0].H, got[0].C, backends()[i], got[i].W, got[i].H, got[i].C)
			}
		}
	})
}
