package augment

import (
	"bytes"
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
	defer func() { useAVX2 = true }()
	rng := newRNG(21)
	run := func(f func(dst *image.Image) error) (a, b image.Image) {
		useAVX2 = true
		if err := f(&a); err != nil {
			t.Fatal(err)
		}
		useAVX2 = false
		if err := f(&b); err != nil {
			t.Fatal(err)
		}
		return a, b
	}
	for i := range 150 {
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
		k := 2*rng.IntN(12) + 1
		sigma := 0.1 + 3*rng.Float64()
		a, b = run(func(d *image.Image) error { return Blur(d, src, k, sigma) })
		if !bytes.Equal(a.Pix, b.Pix) {
			t.Fatalf("case %d: blur %dx%dx%d k=%d σ=%.3f differs", i, W, H, C, k, sigma)
		}
	}
}
