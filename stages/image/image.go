package image

import (
	"errors"
	"fmt"
)

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

// Rect is the half-open pixel rectangle [X0, X1) × [Y0, Y1). A rectangle
// with X0 >= X1 or Y0 >= Y1 is empty.
type Rect struct{ X0, Y0, X1, Y1 int }

// ErrInvalid is wrapped by the errors of [Image.Validate].
var ErrInvalid = errors.New("image: invalid image")

// Resize makes m a W×H×C image with a tight stride, reusing Pix when it is
// large enough. The pixel contents are unspecified afterwards. It allocates
// only when the buffer must grow. It panics on a negative size or a channel
// count other than 1 or 3 (a programmer error).
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

// Empty reports whether m has no pixels.
func (m *Image) Empty() bool { return m.W <= 0 || m.H <= 0 }

// Validate reports whether the fields of m describe a usable buffer: C is 1
// or 3, W and H are not negative, Stride >= W*C and Pix is long enough. The
// error wraps [ErrInvalid]. It allocates only when it returns an error.
func (m *Image) Validate() error {
	switch {
	case m.C != 1 && m.C != 3:
		return fmt.Errorf("%w: %d channels, want 1 or 3", ErrInvalid, m.C)
	case m.W < 0 || m.H < 0:
		return fmt.Errorf("%w: size %dx%d", ErrInvalid, m.W, m.H)
	case m.Stride < m.W*m.C:
		return fmt.Errorf("%w: stride %d < %d×%d", ErrInvalid, m.Stride, m.W, m.C)
	case m.H > 0 && m.W > 0 && len(m.Pix) < (m.H-1)*m.Stride+m.W*m.C:
		return fmt.Errorf("%w: %d samples for %dx%dx%d with stride %d", ErrInvalid, len(m.Pix), m.W, m.H, m.C, m.Stride)
	}
	return nil
}

// CopyFrom makes m an exact copy of src (same size and channels, tight
// stride), reusing m's buffer. m and src must not share Pix. It allocates
// only when m's buffer must grow.
func (m *Image) CopyFrom(src *Image) {
	m.Resize(src.W, src.H, src.C)
	if src.Stride == m.Stride {
		copy(m.Pix, src.Pix[:len(m.Pix)])
		return
	}
	for y := 0; y < src.H; y++ {
		copy(m.Row(y), src.Row(y))
	}
}

// Clone returns a new tightly packed copy of m. It allocates the copy.
func (m *Image) Clone() *Image {
	c := &Image{}
	c.CopyFrom(m)
	return c
}

// GrayToRGB writes src into dst as a 3-channel image. A gray source has its
// level copied into R, G and B (what PIL's convert("RGB") does); an RGB
// source is copied unchanged. dst and src must not share Pix. It allocates
// only when dst's buffer must grow.
func GrayToRGB(dst, src *Image) {
	if src.C == 3 {
		dst.CopyFrom(src)
		return
	}
	dst.Resize(src.W, src.H, 3)
	for y := 0; y < src.H; y++ {
		s := src.Row(y)
		d := dst.Row(y)
		d = d[:len(s)*3]
		for x, v := range s {
			d[3*x], d[3*x+1], d[3*x+2] = v, v, v
		}
	}
}
