package image

import (
	"bytes"
	"errors"
	"testing"
)

// greedyJPEG is a grayscale baseline (or progressive) file whose Huffman
// tables have a single 16-bit code each (all zeros) for the largest
// magnitude category, so that the zero bits after its short scan decode as
// the longest blocks there are: the decoder must notice it ran off the
// data within a block row, not read past its padding.
func greedyJPEG(w int, progressive bool) []byte {
	var b bytes.Buffer
	b.Write([]byte{0xff, 0xd8})
	b.Write([]byte{0xff, 0xdb, 0, 67, 0})
	b.Write(bytes.Repeat([]byte{1}, 64))
	sof := byte(0xc0)
	if progressive {
		sof = 0xc2
	}
	b.Write([]byte{0xff, sof, 0, 11, 8, 0, 8, byte(w >> 8), byte(w), 1, 1, 0x11, 0})
	counts := make([]byte, 16)
	counts[15] = 1
	b.Write([]byte{0xff, 0xc4, 0, 2 + 17 + 1, 0x00})
	b.Write(counts)
	b.WriteByte(11)
	b.Write([]byte{0xff, 0xc4, 0, 2 + 17 + 1, 0x10})
	b.Write(counts)
	b.WriteByte(0x0f)
	if progressive {
		b.Write([]byte{0xff, 0xda, 0, 8, 1, 1, 0x00, 0, 0, 0})
	} else {
		b.Write([]byte{0xff, 0xda, 0, 8, 1, 1, 0x00, 0, 63, 0})
	}
	b.Write(bytes.Repeat([]byte{0}, w/8))
	b.Write([]byte{0xff, 0xd9})
	return b.Bytes()
}

// TestJPEGRunOffTheDataWithinARow: a scan whose data run out early in a long
// block row gives ErrCorrupt (libjpeg: premature end of data), no panic.
func TestJPEGRunOffTheDataWithinARow(t *testing.T) {
	for _, prog := range []bool{false, true} {
		for _, w := range []int{64, 2048, 16000} {
			var dst Image
			err := Decode(&dst, greedyJPEG(w, prog), DecodeOptions{Backend: BackendGo})
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("progressive=%v width %d: %v, want ErrCorrupt", prog, w, err)
			}
			if HaveTurbo {
				if err := Decode(&dst, greedyJPEG(w, prog), DecodeOptions{Backend: BackendTurbo}); err == nil {
					t.Errorf("progressive=%v width %d: libjpeg-turbo accepts it", prog, w)
				}
			}
		}
	}
}
