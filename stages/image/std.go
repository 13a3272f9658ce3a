package image

import (
	"fmt"
	stdimage "image"
	"image/color"
)

// FromStd converts a standard library image into dst, reusing dst's buffer.
// Gray images (image.Gray, image.Gray16, and paletted images whose palette
// is all gray) become 1-channel; everything else becomes 3-channel RGB.
// Alpha is dropped without compositing (as PIL's convert("RGB") does:
// color channels are kept, un-premultiplied). It is meant for tests,
// previews and interop, not the hot path; *image.RGBA, *image.NRGBA,
// *image.Gray and *image.YCbCr take fast paths, other types go through
// color.Color per pixel. It allocates only when dst must grow (plus the
// generic per-pixel path's interface conversions).
func FromStd(dst *Image, src stdimage.Image) error {
	if src == nil {
		return fmt.Errorf("image: nil source")
	}
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	switch s := src.(type) {
	case *stdimage.Gray:
		dst.Resize(w, h, 1)
		for y := 0; y < h; y++ {
			o := (y+b.Min.Y-s.Rect.Min.Y)*s.Stride + (b.Min.X - s.Rect.Min.X)
			copy(dst.Row(y), s.Pix[o:o+w])
		}
		return nil
	case *stdimage.Gray16:
		dst.Resize(w, h, 1)
		for y := 0; y < h; y++ {
			d := dst.Row(y)
			for x := range d {
				d[x] = uint8(s.Gray16At(b.Min.X+x, b.Min.Y+y).Y >> 8)
			}
		}
		return nil
	case *stdimage.RGBA:
		dst.Resize(w, h, 3)
		for y := 0; y < h; y++ {
			o := s.PixOffset(b.Min.X, b.Min.Y+y)
			sp := s.Pix[o : o+4*w]
			d := dst.Row(y)
			for x := 0; x < w; x++ {
				r, g, bl, a := sp[4*x], sp[4*x+1], sp[4*x+2], sp[4*x+3]
				if a != 0xff && a != 0 {
					// un-premultiply exactly as color.NRGBAModel does
					n := color.NRGBAModel.Convert(color.RGBA{r, g, bl, a}).(color.NRGBA)
					r, g, bl = n.R, n.G, n.B
				}
				d[3*x], d[3*x+1], d[3*x+2] = r, g, bl
			}
		}
		return nil
	case *stdimage.NRGBA:
		dst.Resize(w, h, 3)
		for y := 0; y < h; y++ {
			o := s.PixOffset(b.Min.X, b.Min.Y+y)
			sp := s.Pix[o : o+4*w]
			d := dst.Row(y)
			for x := 0; x < w; x++ {
				d[3*x], d[3*x+1], d[3*x+2] = sp[4*x], sp[4*x+1], sp[4*x+2]
			}
		}
		return nil
	case *stdimage.YCbCr:
		dst.Resize(w, h, 3)
		for y := 0; y < h; y++ {
			d := dst.Row(y)
			for x := 0; x < w; x++ {
				yi := s.YOffset(b.Min.X+x, b.Min.Y+y)
				ci := s.COffset(b.Min.X+x, b.Min.Y+y)
				r, g, bl := color.YCbCrToRGB(s.Y[yi], s.Cb[ci], s.Cr[ci])
				d[3*x], d[3*x+1], d[3*x+2] = r, g, bl
			}
		}
		return nil
	case *stdimage.Paletted:
		gray := true
		for _, c := range s.Palette {
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			if n.R != n.G || n.G != n.B {
				gray = false
				break
			}
		}
		if gray {
			dst.Resize(w, h, 1)
			for y := 0; y < h; y++ {
				d := dst.Row(y)
				for x := range d {
					d[x] = color.NRGBAModel.Convert(s.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA).R
				}
			}
			return nil
		}
	}
	dst.Resize(w, h, 3)
	for y := 0; y < h; y++ {
		d := dst.Row(y)
		for x := 0; x < w; x++ {
			n := color.NRGBAModel.Convert(src.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
			d[3*x], d[3*x+1], d[3*x+2] = n.R, n.G, n.B
		}
	}
	return nil
}

// ToStd returns a copy of m as a standard library image: *image.Gray for
// one channel, *image.RGBA (opaque) for three. It allocates the result and
// panics if m is not valid (see [Image.Validate]).
func (m *Image) ToStd() stdimage.Image {
	if err := m.Validate(); err != nil {
		panic(err)
	}
	r := stdimage.Rect(0, 0, m.W, m.H)
	if m.C == 1 {
		g := stdimage.NewGray(r)
		for y := 0; y < m.H; y++ {
			copy(g.Pix[y*g.Stride:y*g.Stride+m.W], m.Row(y))
		}
		return g
	}
	out := stdimage.NewRGBA(r)
	for y := 0; y < m.H; y++ {
		s := m.Row(y)
		d := out.Pix[y*out.Stride : y*out.Stride+4*m.W]
		for x := 0; x < m.W; x++ {
			d[4*x], d[4*x+1], d[4*x+2], d[4*x+3] = s[3*x], s[3*x+1], s[3*x+2], 0xff
		}
	}
	return out
}
