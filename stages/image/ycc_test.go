package image

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/contrastream/contrastream/stages/image/internal/simd"
)

// TestYCCRowVBMIMatchesGo converts random rows of every length up to 70
// (whole 16-pixel blocks and tails) with the AVX-512 kernel and with the
// table loop, and requires the same bytes, including the extreme chroma.
func TestYCCRowVBMIMatchesGo(t *testing.T) {
	if !hasVBMI {
		t.Skip("no AVX-512 VBMI kernel on this machine or build")
	}
	defer func() { useVBMI = hasVBMI }()
	rng := rand.New(rand.NewPCG(4, 5))
	for n := 1; n <= 70; n++ {
		for range 20 {
			y, cb, cr := make([]uint8, n), make([]uint8, n), make([]uint8, n)
			for i := range n {
				y[i], cb[i], cr[i] = uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256))
				if rng.IntN(4) == 0 { // extremes, where the clamp acts
					cb[i], cr[i] = uint8(255*rng.IntN(2)), uint8(255*rng.IntN(2))
				}
			}
			got, want := make([]uint8, 3*n+4), make([]uint8, 3*n+4)
			useVBMI = true
			yccRow(got, y, cb, cr)
			useVBMI = false
			yccRow(want, y, cb, cr)
			if !bytes.Equal(got, want) {
				t.Fatalf("n=%d: AVX-512 %v, Go %v", n, got, want)
			}
		}
	}
}

// refH2V1 and refH2V2 are jdsample.c's loops as written there (one output
// pair per input column), the reference for fancyH2V1 and fancyH2V2.
func refH2V1(d, src []uint8) {
	n := len(src)
	d[0] = src[0]
	for c := 0; c < n-1; c++ {
		this, next := int32(src[c]), int32(src[c+1])
		d[2*c+1] = uint8((3*this + next + 2) >> 2)
		d[2*c+2] = uint8((3*next + this + 1) >> 2)
	}
	if 2*n <= len(d) {
		d[2*n-1] = src[n-1]
	}
}

func refH2V2(d, a, b []uint8) {
	n := len(a)
	this := 3*int32(a[0]) + int32(b[0])
	d[0] = uint8((4*this + 8) >> 4)
	for c := 0; c < n-1; c++ {
		next := 3*int32(a[c+1]) + int32(b[c+1])
		d[2*c+1] = uint8((3*this + next + 7) >> 4)
		d[2*c+2] = uint8((3*next + this + 8) >> 4)
		this = next
	}
	if 2*n <= len(d) {
		d[2*n-1] = uint8((4*this + 7) >> 4)
	}
}

// TestFancyUpsampleMatchesRef: fancyH2V1 and fancyH2V2, with the AVX2
// kernels and without, give jdsample.c's outputs for every chroma width
// from 2 to 120 and both output widths (2n and 2n-1), and write nothing
// past the row.
func TestFancyUpsampleMatchesRef(t *testing.T) {
	defer func() { useAVX2 = simd.HasAVX2 }()
	rng := rand.New(rand.NewPCG(6, 7))
	for _, asm := range []bool{false, true} {
		if asm && !simd.HasAVX2 {
			t.Log("no AVX2 kernels here")
			continue
		}
		useAVX2 = asm
		for n := 2; n <= 120; n++ {
			for _, w := range []int{2 * n, 2*n - 1} {
				a, b := make([]uint8, n), make([]uint8, n)
				for i := range n {
					a[i], b[i] = uint8(rng.IntN(256)), uint8(rng.IntN(256))
					if rng.IntN(5) == 0 {
						a[i], b[i] = 255, 255
					}
				}
				got, want := bytes.Repeat([]uint8{0xa5}, w+40), bytes.Repeat([]uint8{0xa5}, w+40)
				fancyH2V1(got[:w], a)
				refH2V1(want[:w], a)
				if !bytes.Equal(got, want) {
					t.Fatalf("h2v1 asm=%v n=%d w=%d:\n got %v\nwant %v", asm, n, w, got, want)
				}
				fancyH2V2(got[:w], a, b)
				refH2V2(want[:w], a, b)
				if !bytes.Equal(got, want) {
					t.Fatalf("h2v2 asm=%v n=%d w=%d:\n got %v\nwant %v", asm, n, w, got, want)
				}
			}
		}
	}
}

// TestYCC32Exhaustive converts every (Cb, Cr) pair, with luma 0, 255 and
// random, through the AVX-512 kernels and the table loop.
func TestYCC32Exhaustive(t *testing.T) {
	if !hasVBMI {
		t.Skip("no AVX-512 VBMI kernel on this machine or build")
	}
	defer func() { useVBMI = hasVBMI }()
	rng := rand.New(rand.NewPCG(8, 9))
	const n = 65536
	y, cb, cr := make([]uint8, n), make([]uint8, n), make([]uint8, n)
	for _, ly := range []int{0, 255, -1} {
		for i := range n {
			cb[i], cr[i] = uint8(i), uint8(i>>8)
			y[i] = uint8(ly)
			if ly < 0 {
				y[i] = uint8(rng.IntN(256))
			}
		}
		got, want := make([]uint8, 3*n), make([]uint8, 3*n)
		useVBMI = true
		yccRow(got, y, cb, cr)
		useVBMI = false
		yccRow(want, y, cb, cr)
		for i := range got {
			if got[i] != want[i] {
				p := i / 3
				t.Fatalf("y=%d cb=%d cr=%d channel %d: AVX-512 %d, Go %d", y[p], cb[p], cr[p], i%3, got[i], want[i])
			}
		}
	}
}

// BenchmarkFancyH2V2 upsamples one 500-pixel row (250 chroma columns, as
// in the jpg500 set) in Go and with the AVX2 kernel. (A 512-bit version of
// the kernel measured 45 ns against 51 here, ~4 µs per jpg500 image: not
// kept.)
func BenchmarkFancyH2V2(b *testing.B) {
	defer func() { useAVX2 = simd.HasAVX2 }()
	a, c, d := make([]uint8, 250), make([]uint8, 250), make([]uint8, 500)
	for i := range a {
		a[i], c[i] = uint8(i*7), uint8(i*13)
	}
	for _, asm := range []bool{false, true} {
		name := map[bool]string{false: "go", true: "avx2"}[asm]
		b.Run(name, func(b *testing.B) {
			if asm && !simd.HasAVX2 {
				b.Skip("no AVX2 kernel here")
			}
			useAVX2 = asm
			for i := 0; i < b.N; i++ {
				fancyH2V2(d, a, c)
			}
		})
	}
}
