package augment

import (
	"math"
	"testing"

	"github.com/contrastream/contrastream/stages/image"
)

// refResizedCrop is a plain float64 reference for ResizedCrop: the same
// support-scaled filters and edge handling as PIL, but weights used
// unquantized (no fixed point), horizontal then vertical with the
// intermediate rounded to 8 bits (as PIL stores it), computed pixel by pixel
// with no tables shared between outputs.
func refResizedCrop(src *image.Image, top, left, height, width, outW, outH int, interp Interpolation) *image.Image {
	weights := func(inSize, outSize, o int) (int, []float64) {
		scale := float64(inSize) / float64(outSize)
		fs := math.Max(scale, 1)
		support := interp.support() * fs
		center := (float64(o) + 0.5) * scale
		lo := max(0, int(center-support+0.5))
		hi := min(inSize, int(center+support+0.5))
		var w []float64
		sum := 0.0
		for x := lo; x < hi; x++ {
			v := interp.filter((float64(x) - center + 0.5) / fs)
			w = append(w, v)
			sum += v
		}
		for i := range w {
			if sum != 0 {
				w[i] /= sum
			}
		}
		return lo, w
	}
	round8 := func(v float64) float64 { return math.Max(0, math.Min(255, math.Floor(v+0.5))) }
	C := src.C
	mid := make([]float64, height*outW*C)
	for y := 0; y < height; y++ {
		for x := 0; x < outW; x++ {
			lo, w := weights(width, outW, x)
			if width == outW {
				lo, w = x, []float64{1}
			}
			for c := 0; c < C; c++ {
				acc := 0.0
				for i, k := range w {
					acc += k * float64(src.Pix[(top+y)*src.Stride+(left+lo+i)*C+c])
				}
				mid[(y*outW+x)*C+c] = round8(acc)
			}
		}
	}
	out := &image.Image{}
	out.Resize(outW, outH, C)
	for y := 0; y < outH; y++ {
		lo, w := weights(height, outH, y)
		if height == outH {
			lo, w = y, []float64{1}
		}
		for x := 0; x < outW*C; x++ {
			acc := 0.0
			for i, k := range w {
				acc += k * mid[(lo+i)*outW*C+x]
			}
			out.Pix[y*out.Stride+x] = uint8(round8(acc))
		}
	}
	return out
}

// FuzzResizedCrop checks the fixed-point, fixed-tap, SWAR resampler against
// the float reference on arbitrary images, boxes and output sizes. The two
// differ only by rounding: the 22-bit weights move a sum by far less than a
// level, so the 8-bit intermediate can differ by 1 where a value sits on a
// .5 boundary, and that difference passes through the vertical filter
// (sum of |weights| <= 1.25 for bicubic): at most 2 levels. An indexing or
// lane error shows as a much larger difference.
func FuzzResizedCrop(f *testing.F) {
	f.Add(uint8(40), uint8(30), uint8(3), uint8(2), uint8(3), uint8(30), uint8(20), uint8(17), uint8(9), false, []byte("seed pixels"))
	f.Add(uint8(7), uint8(200), uint8(1), uint8(0), uint8(0), uint8(7), uint8(200), uint8(64), uint8(3), true, []byte{0, 255, 0, 255})
	f.Add(uint8(1), uint8(1), uint8(3), uint8(0), uint8(0), uint8(1), uint8(1), uint8(5), uint8(5), true, []byte{9})
	f.Fuzz(func(t *testing.T, w, h, c, top, left, cw, ch, ow, oh uint8, bicubic bool, pix []byte) {
		W, H := int(w)%80+1, int(h)%80+1
		C := 1
		if c%2 == 1 {
			C = 3
		}
		src := &image.Image{}
		src.Resize(W, H, C)
		for i := range src.Pix {
			if len(pix) > 0 {
				src.Pix[i] = pix[i%len(pix)] ^ uint8(i*7)
			}
		}
		t0, l0 := int(top)%H, int(left)%W
		hh, ww := int(ch)%(H-t0)+1, int(cw)%(W-l0)+1
		outW, outH := int(ow)%96+1, int(oh)%96+1
		interp := Bilinear
		if bicubic {
			interp = Bicubic
		}
		var got image.Image
		if err := ResizedCrop(&got, src, t0, l0, hh, ww, outW, outH, interp); err != nil {
			t.Fatal(err)
		}
		want := refResizedCrop(src, t0, l0, hh, ww, outW, outH, interp)
		for i := range want.Pix {
			d := int(got.Pix[i]) - int(want.Pix[i])
			if d < -2 || d > 2 {
				t.Fatalf("%dx%dx%d crop (%d,%d)+%dx%d → %dx%d %v: sample %d = %d, reference %d",
					W, H, C, l0, t0, ww, hh, outW, outH, interp, i, got.Pix[i], want.Pix[i])
			}
		}
	})
}
