package image

import "fmt"

// Image is a pixel buffer of 8-bit samples in interleaved (HWC) order:
// the sample for channel c of pixel (x, y) is Pix[y*Stride+x*C+c].
// C is 1 (gray) or 3 (RGB). The zero value is an empty image.
//
// Every stage shares this type: decoders write it, augmentations read one and
// write another (destination-first), Tensorize converts it to float32 CHW.
type Image struct {
	W, H   int     // width and height in pixels
	C      int     // channels: 1 (gray) or 3 (RGB)
	Stride int     // bytes between the starts of two rows, >= W*C
	Pix    []uint8 // samples, len(Pix) >= (H-1)*Stride + W*C
}

// Resize makes m a W×H×C image with a tight stride, reusing Pix when it is
// large enough. The pixel contents are unspecified afterwards. It allocates
// only when the buffer must grow.
func (m *Image) Resize(w, h, c int) {
	if w < 0 || h < 0 || (c != 1 && c != 3) {
		panic(fmt.Sprintf("image: bad size %dx%dx%d", w, h, c))
	}
	n := w * h * c
	if cap(m.Pix) < n {
		m.Pix = make([]uint8, n)
	}
	m.Pix = m.Pix[:n]
	m.W, m.H, m.C, m.Stride = w, h, c, w*c
}

// Row returns the samples of row y (W*C bytes).
func (m *Image) Row(y int) []uint8 {
	o := y * m.Stride
	return m.Pix[o : o+m.W*m.C]
}
