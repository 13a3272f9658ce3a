package image

import (
	stdimage "image"
	"image/color"
)

// This file converts the images that image/png and image/jpeg return into
// interleaved 8-bit buffers with tight loops, one per concrete type, instead
// of the generic At()/RGBA() path (an interface call and a colour-model
// conversion per pixel).

// convertStd writes m into dst as a W×H×c image. gray says the source is a
// grayscale kind (it decides how a C=1 output is made from NRGBA-backed gray
// PNGs); fast selects nearest-neighbour chroma upsampling for YCbCr.
func convertStd(dst *Image, m stdimage.Image, gray bool, c int, fast bool) {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	dst.Resize(w, h, c)
	switch s := m.(type) {
	case *stdimage.YCbCr:
		if c == 1 {
			for y := 0; y < h; y++ {
				o := s.YOffset(b.Min.X, b.Min.Y+y)
				copy(dst.Row(y), s.Y[o:o+w])
			}
			return
		}
		yccToRGB(dst, s, fast)
		return
	case *stdimage.Gray:
		for y := 0; y < h; y++ {
			o := s.PixOffset(b.Min.X, b.Min.Y+y)
			grayRow(dst.Row(y), s.Pix[o:o+w], c)
		}
		return
	case *stdimage.Gray16:
		for y := 0; y < h; y++ {
			o := s.PixOffset(b.Min.X, b.Min.Y+y)
			src := s.Pix[o : o+2*w]
			d := dst.Row(y)
			if c == 1 {
				for x := range d {
					d[x] = src[2*x]
				}
			} else {
				for x := 0; x < w; x++ {
					v := src[2*x]
					d[3*x], d[3*x+1], d[3*x+2] = v, v, v
				}
			}
		}
		return
	case *stdimage.RGBA:
		// Opaque in practice (PNG truecolour without tRNS, RGB JPEG), so
		// premultiplied and straight colour agree.
		packed4(dst, s.Pix, s.Stride, s.PixOffset(b.Min.X, b.Min.Y), 1, gray)
		return
	case *stdimage.NRGBA:
		packed4(dst, s.Pix, s.Stride, s.PixOffset(b.Min.X, b.Min.Y), 1, gray)
		return
	case *stdimage.RGBA64:
		packed4(dst, s.Pix, s.Stride, s.PixOffset(b.Min.X, b.Min.Y), 2, gray)
		return
	case *stdimage.NRGBA64:
		packed4(dst, s.Pix, s.Stride, s.PixOffset(b.Min.X, b.Min.Y), 2, gray)
		return
	case *stdimage.Paletted:
		var lut [256][3]uint8 // indices past the palette decode as black
		for i, pc := range s.Palette {
			if i == 256 {
				break
			}
			lut[i] = straightRGB(pc)
		}
		for y := 0; y < h; y++ {
			o := s.PixOffset(b.Min.X, b.Min.Y+y)
			src := s.Pix[o : o+w]
			d := dst.Row(y)
			if c == 1 {
				for x, p := range src {
					e := &lut[p]
					d[x] = luma(e[0], e[1], e[2])
				}
			} else {
				for x, p := range src {
					e := &lut[p]
					d[3*x], d[3*x+1], d[3*x+2] = e[0], e[1], e[2]
				}
			}
		}
		return
	case *stdimage.CMYK:
		for y := 0; y < h; y++ {
			o := s.PixOffset(b.Min.X, b.Min.Y+y)
			cmykRow(dst.Row(y), s.Pix[o:o+4*w], c, false)
		}
		return
	}
	// Any other type (none of Go's PNG and JPEG decoders return one today).
	for y := 0; y < h; y++ {
		d := dst.Row(y)
		for x := 0; x < w; x++ {
			e := straightRGB(m.At(b.Min.X+x, b.Min.Y+y))
			if c == 1 {
				d[x] = luma(e[0], e[1], e[2])
			} else {
				d[3*x], d[3*x+1], d[3*x+2] = e[0], e[1], e[2]
			}
		}
	}
}

// straightRGB returns the 8-bit non-premultiplied colour of c, alpha dropped.
func straightRGB(c color.Color) [3]uint8 {
	switch v := c.(type) {
	case color.NRGBA:
		return [3]uint8{v.R, v.G, v.B}
	case color.RGBA:
		if v.A == 0xff || v.A == 0 {
			return [3]uint8{v.R, v.G, v.B}
		}
	}
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	return [3]uint8{n.R, n.G, n.B}
}

// luma is libjpeg's and PIL's integer BT.601 luma.
func luma(r, g, b uint8) uint8 {
	return uint8((19595*uint32(r) + 38470*uint32(g) + 7471*uint32(b) + 32768) >> 16)
}

func grayRow(d, src []uint8, c int) {
	if c == 1 {
		copy(d, src)
		return
	}
	d = d[:3*len(src)]
	for x, v := range src {
		d[3*x], d[3*x+1], d[3*x+2] = v, v, v
	}
}

// packed4 converts 4-sample pixels (RGBA order; bps bytes per sample,
// big-endian, so the high byte comes first) starting at pix[off].
func packed4(dst *Image, pix []uint8, stride, off, bps int, gray bool) {
	w, h, c := dst.W, dst.H, dst.C
	ps := 4 * bps
	for y := 0; y < h; y++ {
		src := pix[off+y*stride : off+y*stride+w*ps]
		d := dst.Row(y)
		switch {
		case c == 3:
			for x := 0; x < w; x++ {
				s := src[x*ps : x*ps+ps : x*ps+ps]
				d[3*x], d[3*x+1], d[3*x+2] = s[0], s[bps], s[2*bps]
			}
		case gray: // gray source stored as RGBA: every channel holds the value
			for x := 0; x < w; x++ {
				d[x] = src[x*ps]
			}
		default:
			for x := 0; x < w; x++ {
				s := src[x*ps : x*ps+ps : x*ps+ps]
				d[x] = luma(s[0], s[bps], s[2*bps])
			}
		}
	}
}

// cmykRow converts one row of CMYK samples to RGB (c=3) or luma (c=1) with
// PIL's cmyk2rgb. inverted says the samples follow the Adobe convention
// (255 = no ink), as libjpeg outputs them; Go's image.CMYK is not inverted.
func cmykRow(d, src []uint8, c int, inverted bool) {
	var inv uint32
	if inverted {
		inv = 255
	}
	n := len(src) / 4
	for x := 0; x < n; x++ {
		s := src[4*x : 4*x+4 : 4*x+4]
		nk := 255 - (uint32(s[3]) ^ inv)
		r := nk - mulDiv255(uint32(s[0])^inv, nk)
		g := nk - mulDiv255(uint32(s[1])^inv, nk)
		bl := nk - mulDiv255(uint32(s[2])^inv, nk)
		if c == 1 {
			d[x] = luma(uint8(r), uint8(g), uint8(bl))
		} else {
			d[3*x], d[3*x+1], d[3*x+2] = uint8(r), uint8(g), uint8(bl)
		}
	}
}

// mulDiv255 is round(a*b/255) for a, b in [0, 255], as PIL computes it.
func mulDiv255(a, b uint32) uint32 {
	t := a*b + 128
	return ((t >> 8) + t) >> 8
}
