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

// FuzzSIMDMatchesPortable runs the pixel kernels that have SIMD forms
// (ColorJitter with any order and factors, saturation, hue, grayscale,
// flip, brightness tables) on arbitrary images with the AVX2/AVX-512 kernels
// and with the portable Go code, in place and not, and requires the same
// bytes: they compute the same integer and float32/float64 arithmetic. It
// switches the package-level kernel selectors, so it must not run in
// parallel with other tests.
func FuzzSIMDMatchesPortable(f *testing.F) {
	f.Add(uint8(40), uint8(30), uint8(3), uint8(0x1b), 1.3, 0.7, 1.2, 0.05, false, []byte("seed pixels"))
	f.Add(uint8(17), uint8(1), uint8(3), uint8(0xe4), 0.0, 2.0, 0.0, -0.5, true, []byte{0, 255, 0, 255, 128})
	f.Add(uint8(33), uint8(5), uint8(1), uint8(0x4e), 0.5, 0.5, 0.5, 0.5, false, []byte{9, 200})
	f.Fuzz(func(t *testing.T, w, h, c, order uint8, fb, fc, fs, fh float64, inPlace bool, pix []byte) {
		if !useAVX2 && !useVBMI {
			t.Skip("no SIMD kernels in this build")
		}
		W, H := int(w)%70+1, int(h)%40+1
		C := 1
		if c%2 == 1 {
			C = 3
		}
		src := &image.Image{}
		src.Resize(W, H, C)
		for i := range src.Pix {
			if len(pix) > 0 {
				src.Pix[i] = pix[i%len(pix)] ^ uint8(i*13)
			}
		}
		clamp := func(x, lo, hi float64) float64 {
			if !(x >= lo) { // NaN too
				return lo
			}
			return min(x, hi)
		}
		p := jitterParams{on: [4]bool{true, true, true, true},
			f: [4]float64{clamp(fb, 0, 3), clamp(fc, 0, 3), clamp(fs, 0, 3), clamp(fh, -0.5, 0.5)}}
		perm := []int{0, 1, 2, 3}
		for i := 3; i > 0; i-- { // a permutation from the order byte
			j := int(order>>(2*(3-i))) % (i + 1)
			perm[i], perm[j] = perm[j], perm[i]
		}
		copy(p.order[:], perm)
		ops := []func(d, s *image.Image) error{
			func(d, s *image.Image) error { jitter(d, s, p); return nil },
			func(d, s *image.Image) error { return AdjustSaturation(d, s, p.f[2]) },
			func(d, s *image.Image) error { return AdjustHue(d, s, p.f[3]) },
			func(d, s *image.Image) error { return AdjustBrightness(d, s, p.f[0]) },
			func(d, s *image.Image) error { return HFlip(d, s) },
			func(d, s *image.Image) error {
				if d == s && C == 1 {
					return nil
				}
				return RGBToGrayscale(d, s, 3)
			},
		}
		a0, v0 := useAVX2, useVBMI
		defer func() { useAVX2, useVBMI = a0, v0 }()
		for k, op := range ops {
			var got, want image.Image
			for pass, dst := range []*image.Image{&got, &want} {
				useAVX2, useVBMI = pass == 0 && a0, pass == 0 && v0
				s := src
				if inPlace {
					dst.CopyFrom(src)
					s = dst
				}
				if err := op(dst, s); err != nil {
					t.Fatal(err)
				}
			}
			if got.W != want.W || got.H != want.H || got.C != want.C || string(got.Pix) != string(want.Pix) {
				t.Fatalf("op %d on %dx%dx%d (in place %v, %+v): SIMD and portable differ", k, W, H, C, inPlace, p)
			}
		}
	})
}
