package augment

import (
	"bytes"
	"math"
	"testing"

	"github.com/contrastream/contrastream/stages/image"
)

// TestAVX2MatchesPortable runs the resampler and the blur with the AVX2
// kernels and with the portable SWAR code on random images and parameters
// and requires identical bytes (both compute the same integer sums). It
// switches the package-level useAVX2, so it must not run in parallel.
func TestAVX2MatchesPortable(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2 kernels on this machine or build")
	}
	defer func() { useAVX2, useVBMI = true, hasVBMI }()
	rng := newRNG(21)
	run := func(f func(dst *image.Image) error) (a, b image.Image) {
		useAVX2, useVBMI = true, hasVBMI
		if err := f(&a); err != nil {
			t.Fatal(err)
		}
		useAVX2, useVBMI = false, false
		if err := f(&b); err != nil {
			t.Fatal(err)
		}
		return a, b
	}
	cases := 150
	if raceEnabled {
		cases = 30
	}
	for i := range cases {
		W, H, C := 1+rng.IntN(120), 1+rng.IntN(120), []int{1, 3}[rng.IntN(2)]
		src := randImage(W, H, C, rng)
		top, left := rng.IntN(H), rng.IntN(W)
		h, w := 1+rng.IntN(H-top), 1+rng.IntN(W-left)
		ow, oh := 1+rng.IntN(100), 1+rng.IntN(100)
		interp := Interpolation(rng.IntN(2))
		a, b := run(func(d *image.Image) error { return ResizedCrop(d, src, top, left, h, w, ow, oh, interp) })
		if !bytes.Equal(a.Pix, b.Pix) {
			t.Fatalf("case %d: resized crop %dx%dx%d (%d,%d)+%dx%d → %dx%d %v differs", i, W, H, C, left, top, w, h, ow, oh, interp)
		}
		if C == 3 {
			f := 2 * rng.Float64()
			a, b = run(func(d *image.Image) error { return AdjustSaturation(d, src, f) })
			if !bytes.Equal(a.Pix, b.Pix) {
				t.Fatalf("case %d: saturation %dx%d f=%v differs", i, W, H, f)
			}
			cf := 2 * rng.Float64()
			a, b = run(func(d *image.Image) error { return AdjustContrast(d, src, cf) })
			if !bytes.Equal(a.Pix, b.Pix) {
				t.Fatalf("case %d: contrast %dx%d f=%v differs", i, W, H, cf)
			}
			h := rng.Float64() - 0.5
			a, b = run(func(d *image.Image) error { return AdjustHue(d, src, h) })
			if !bytes.Equal(a.Pix, b.Pix) {
				t.Fatalf("case %d: hue %dx%d f=%v differs", i, W, H, h)
			}
			p := jitterParams{order: [4]int{0, 2, 1, 3}, on: [4]bool{true, true, true, true}, f: [4]float64{1.3, 0.7, f, h}}
			a, b = run(func(d *image.Image) error { jitter(d, src, p); return nil })
			if !bytes.Equal(a.Pix, b.Pix) {
				t.Fatalf("case %d: jitter (saturation after a table) %dx%d differs", i, W, H)
			}
			p.order = [4]int{0, 1, 3, 2} // contrast's mean after a table, hue after a table
			a, b = run(func(d *image.Image) error { jitter(d, src, p); return nil })
			if !bytes.Equal(a.Pix, b.Pix) {
				t.Fatalf("case %d: jitter (contrast after a table) %dx%d differs", i, W, H)
			}
		}
		a, b = run(func(d *image.Image) error { return HFlip(d, src) })
		if !bytes.Equal(a.Pix, b.Pix) {
			t.Fatalf("case %d: flip %dx%dx%d differs", i, W, H, C)
		}
		a, b = run(func(d *image.Image) error { d.CopyFrom(src); return HFlip(d, d) })
		if !bytes.Equal(a.Pix, b.Pix) {
			t.Fatalf("case %d: flip in place %dx%dx%d differs", i, W, H, C)
		}
		a, b = run(func(d *image.Image) error { return RGBToGrayscale(d, src, 3) })
		if !bytes.Equal(a.Pix, b.Pix) {
			t.Fatalf("case %d: grayscale %dx%dx%d differs", i, W, H, C)
		}
		bf := 2 * rng.Float64()
		a, b = run(func(d *image.Image) error { return AdjustBrightness(d, src, bf) })
		if !bytes.Equal(a.Pix, b.Pix) {
			t.Fatalf("case %d: brightness %dx%dx%d f=%v differs", i, W, H, C, bf)
		}
		// a view with a stride wider than its rows takes the row path
		sub := &image.Image{W: W - left, H: H - top, C: C, Stride: src.Stride, Pix: src.Pix[top*src.Stride+left*C:]}
		a, b = run(func(d *image.Image) error { return AdjustBrightness(d, sub, bf) })
		if !bytes.Equal(a.Pix, b.Pix) {
			t.Fatalf("case %d: brightness on a strided view differs", i)
		}
		k := 2*rng.IntN(12) + 1
		sigma := 0.1 + 3*rng.Float64()
		a, b = run(func(d *image.Image) error { return Blur(d, src, k, sigma) })
		if !bytes.Equal(a.Pix, b.Pix) {
			t.Fatalf("case %d: blur %dx%dx%d k=%d σ=%.3f differs", i, W, H, C, k, sigma)
		}
	}
}

// TestHueAVX2Exhaustive runs every RGB colour through hue3 (the AVX2 kernel
// where available) for a few shifts and compares with PIL's per-pixel
// conversions.
func TestHueAVX2Exhaustive(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("16M-pixel sweep")
	}
	tb := tables()
	id := identityLUT()
	var src, dst image.Image
	src.Resize(65536, 1, 3)
	for _, shift := range []uint8{0, 179} {
		for r := range 256 {
			for i := range 65536 {
				src.Pix[3*i], src.Pix[3*i+1], src.Pix[3*i+2] = uint8(r), uint8(i>>8), uint8(i)
			}
			dst.Resize(65536, 1, 3)
			hue3(&dst, &src, &id, shift)
			for i := range 65536 {
				h, s, v := rgbToHSV(uint8(r), uint8(i>>8), uint8(i))
				wr, wg, wb := hsvToRGB(tb, h+shift, s, v)
				if dst.Pix[3*i] != wr || dst.Pix[3*i+1] != wg || dst.Pix[3*i+2] != wb {
					t.Fatalf("shift %d rgb %d,%d,%d: got %v, want %d,%d,%d", shift, r, i>>8, i&255, dst.Pix[3*i:3*i+3], wr, wg, wb)
				}
			}
		}
	}
}

// TestLUTVBMIMatchesTable checks the AVX-512 table lookup against the
// table on random bytes and tables.
func TestLUTVBMIMatchesTable(t *testing.T) {
	if !hasVBMI {
		t.Skip("no AVX-512 VBMI kernels on this machine or build")
	}
	rng := newRNG(5)
	for range 20 {
		var tb lut
		for i := range tb {
			tb[i] = uint8(rng.IntN(256))
		}
		n := 64 * (1 + rng.IntN(20))
		src := make([]uint8, n+5)
		for i := range src {
			src[i] = uint8(rng.IntN(256))
		}
		got := make([]uint8, n+5)
		lutVBMI(got, src, n, &tb)
		for i := range n {
			if got[i] != tb[src[i]] {
				t.Fatalf("n=%d: dst[%d] = %d, want t[%d] = %d", n, i, got[i], src[i], tb[src[i]])
			}
		}
		for i := n; i < n+5; i++ {
			if got[i] != 0 {
				t.Fatalf("wrote past n at %d", i)
			}
		}
	}
}

// TestHueTablesAreArithmetic checks, for every byte, the integer and
// float32 arithmetic that hue3AVX2 uses in place of the hi, hf and fs tables.
func TestHueTablesAreArithmetic(t *testing.T) {
	tb := tables()
	for h := range 256 {
		i0 := (193 * h) >> 13
		i := i0
		if i == 6 {
			i = 0
		}
		if uint8(i) != tb.hi[h] {
			t.Errorf("hi[%d] = %d, (193h)>>13 mod 6 = %d", h, tb.hi[h], i)
		}
		f := float32(6*h-255*i0) / float32(255)
		if f != tb.hf[h] {
			t.Errorf("hf[%d] = %v, computed %v", h, tb.hf[h], f)
		}
		if fs := float32(h) / float32(255); fs != tb.fs[h] {
			t.Errorf("fs[%d] = %v, computed %v", h, tb.fs[h], fs)
		}
	}
}

// TestHueTInFloat32 checks, for every (v, sat, h'), that hue3VBMI's float32
// form of t equals hsvToRGBFast's float64 one: odd sectors
// int(v·(1 − double(fs·f)) + 0.5), even ones int(v·(1 − fs·(1 − f)) + 0.5)
// with fs·(1 − f) in float64.
func TestHueTInFloat32(t *testing.T) {
	tb := tables()
	for h := range 256 {
		f := tb.hf[h]
		odd := tb.hi[h]&1 == 1
		for s := range 256 {
			fs := tb.fs[s]
			var kk float64
			u := fs * (1 - f)
			if odd {
				kk = 1.0 - float64(fs*f)
				u = fs * f
			} else {
				kk = 1.0 - float64(fs)*(1.0-float64(f))
			}
			for v := range 256 {
				want := int(float64(v)*kk + 0.5)
				got := int(float32(float32(v)*(1-u)) + 0.5)
				if got != want {
					t.Fatalf("h'=%d sat=%d v=%d: float32 %d, float64 %d", h, s, v, got, want)
				}
			}
		}
	}
}

// TestHueByteFloat32 checks, for every class k and every (cr, n) with
// 0 <= n <= cr, the float32 arithmetic hue3VBMI uses in place of the hue
// table: h = a_k + s_k·(n/cr), x = h/6, hf = x + 1 where x < 0, byte =
// floor(hf·255) (the kernel takes the floor of the exact product, which
// float64 holds exactly).
func TestHueByteFloat32(t *testing.T) {
	tb := tables()
	a := [6]float32{1, -1, 1, 3, 5, 3}
	sg := [6]float32{-1, 1, 1, -1, -1, 1}
	for k := range 6 {
		for cr := 1; cr < 256; cr++ {
			for n := 0; n <= cr; n++ {
				q := float32(n) / float32(cr)
				h := a[k] + sg[k]*q
				x := h / 6
				if x < 0 {
					x++
				}
				v := uint8(math.Floor(float64(x) * 255))
				if want := tb.hue[k][cr<<8|n]; v != want {
					t.Fatalf("k=%d cr=%d n=%d: computed %d, table %d", k, cr, n, v, want)
				}
			}
		}
	}
}

// TestSatAndPFloat32 checks the float32 arithmetic hue3VBMI uses in place
// of the sat and p tables, for every entry: sat = floor(cr/maxc·255) of the
// float32 quotient, p = min(255, trunc(float32(v)·(1 − fs) + 0.5)).
func TestSatAndPFloat32(t *testing.T) {
	tb := tables()
	for cr := 1; cr < 256; cr++ {
		for m := cr; m < 256; m++ {
			q := float32(cr) / float32(m)
			if s := uint8(math.Floor(float64(q) * 255)); s != tb.sat[cr<<8|m] {
				t.Fatalf("sat cr=%d maxc=%d: computed %d, table %d", cr, m, s, tb.sat[cr<<8|m])
			}
		}
	}
	for s := range 256 {
		fs := float32(s) / 255
		for v := range 256 {
			p := min(255, int(float32(float32(v)*(1-fs))+0.5))
			if want := tb.p[s<<8|v]; uint8(p) != want {
				t.Fatalf("p sat=%d v=%d: computed %d, table %d", s, v, p, want)
			}
		}
	}
}
