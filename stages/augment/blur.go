package augment

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/contrastream/contrastream/stages/image"
)

// blurBits is the fixed-point precision of the blur weights.
const blurBits = 14

// blurScratch holds one call's padded row and horizontal-pass output.
type blurScratch struct {
	pad []uint8
	tmp []uint16
	acc []uint32
}

var blurPool = sync.Pool{New: func() any { return new(blurScratch) }}

// blurKernel returns the symmetric fixed-point weights w[0..r] (w[0] the
// centre) of torchvision's 1-D Gaussian: x = -(k-1)/2 .. (k-1)/2,
// exp(-x²/2σ²), normalized to sum 1, then scaled to 2^14 and rounded, with
// the centre adjusted so the weights sum to exactly 2^14 (a flat image stays
// flat) and trailing zero weights dropped (r <= (k-1)/2).
func blurKernel(k int, sigma float64, w *[64]int32) (r int) {
	half := (k - 1) / 2
	var pdf [64]float64
	sum := 0.0
	for i := 0; i <= half; i++ {
		x := float64(i) / sigma
		pdf[i] = math.Exp(-0.5 * x * x)
		if i == 0 {
			sum += pdf[i]
		} else {
			sum += 2 * pdf[i]
		}
	}
	total := int32(0)
	for i := 0; i <= half; i++ {
		w[i] = int32(math.Round(pdf[i] / sum * (1 << blurBits)))
		if i == 0 {
			total += w[i]
		} else {
			total += 2 * w[i]
		}
		if w[i] != 0 {
			r = i
		}
	}
	w[0] += 1<<blurBits - total
	return r
}

// reflect maps index i into [0, n) by mirroring without repeating the edge
// (torch's "reflect" padding), repeatedly for pads wider than the image.
func reflect(i, n int) int {
	if n == 1 {
		return 0
	}
	p := 2 * (n - 1)
	i %= p
	if i < 0 {
		i += p
	}
	if i >= n {
		i = p - i
	}
	return i
}

// Blur convolves src with a Gaussian of odd size kernel (1..127) and standard
// deviation sigma > 0 into dst, as torchvision 0.14's gaussian_blur on a PIL
// image (reflect padding, result rounded to 8 bits). It is separable and
// integer: 14-bit weights, a 16-bit intermediate with 8 fractional bits, and
// rounding once at the end; torchvision's 2-D float32 convolution gives the
// same levels except for values within a hair of a .5 boundary (see the
// parity test for the tolerance). Weights that round to zero are skipped, so
// the cost follows sigma, not kernel: about (2r+1)/2 multiply-adds per sample
// per pass for effective radius r <= (kernel-1)/2. dst may be src. Safe for
// concurrent use; allocates nothing in steady state (scratch from a pool).
func Blur(dst, src *image.Image, kernel int, sigma float64) error {
	if err := checkSrc("blur", src); err != nil {
		return err
	}
	if kernel < 1 || kernel%2 == 0 || kernel > 127 {
		return fmt.Errorf("augment: blur kernel %d, want odd in 1..127", kernel)
	}
	if !(sigma > 0) {
		return fmt.Errorf("augment: blur sigma %v, want > 0", sigma)
	}
	var w [64]int32
	r := blurKernel(kernel, sigma, &w)
	if r == 0 || src.Empty() {
		if dst != src {
			dst.CopyFrom(src)
		}
		return nil
	}
	W, H, C := src.W, src.H, src.C
	rs := W * C
	s := blurPool.Get().(*blurScratch)
	defer blurPool.Put(s)
	if n := (W + 2*r) * C; cap(s.pad) < n {
		s.pad = make([]uint8, n)
	}
	pad := s.pad[:(W+2*r)*C]
	if cap(s.tmp) < rs*H {
		s.tmp = make([]uint16, rs*H)
	}
	tmp := s.tmp[:rs*H]
	// Horizontal pass into tmp (8 fractional bits).
	for y := 0; y < H; y++ {
		row := src.Row(y)
		for x := -r; x < W+r; x++ {
			sx := reflect(x, W)
			copy(pad[(x+r)*C:(x+r+1)*C], row[sx*C:(sx+1)*C])
		}
		out := tmp[y*rs : (y+1)*rs]
		hblur(out, pad, w[:r+1], C)
	}
	if dst != src {
		dst.Resize(W, H, C)
	}
	if cap(s.acc) < rs {
		s.acc = make([]uint32, rs)
	}
	acc := s.acc[:rs]
	// Vertical pass: whole rows, symmetric pairs folded.
	for y := 0; y < H; y++ {
		c := tmp[y*rs : (y+1)*rs]
		w0 := uint32(w[0])
		for i, v := range c {
			acc[i] = uint32(v)*w0 + 1<<(blurBits+8-1)
		}
		for t := 1; t <= r; t++ {
			a := tmp[reflect(y-t, H)*rs:][:rs]
			b := tmp[reflect(y+t, H)*rs:][:rs]
			wt := uint32(w[t])
			for i := range acc {
				acc[i] += (uint32(a[i]) + uint32(b[i])) * wt
			}
		}
		out := dst.Row(y)
		out = out[:rs]
		for i, v := range acc {
			out[i] = uint8(v >> (blurBits + 8))
		}
	}
	return nil
}

// hblur convolves one reflect-padded row (C channels interleaved) with the
// symmetric weights w, writing 8.8 fixed-point samples.
func hblur(out []uint16, pad []uint8, w []int32, C int) {
	r := len(w) - 1
	off := r * C
	w0 := uint32(w[0])
	for j := range out {
		c := j + off
		acc := uint32(pad[c]) * w0
		for t := 1; t <= r; t++ {
			acc += (uint32(pad[c-t*C]) + uint32(pad[c+t*C])) * uint32(w[t])
		}
		out[j] = uint16((acc + 1<<(blurBits-8-1)) >> (blurBits - 8))
	}
}

// GaussianBlur blurs with a Gaussian whose sigma is drawn uniformly from
// Sigma (one draw), like torchvision's GaussianBlur (wrap it in
// [RandomApply] for SimCLR's p = 0.5). Kernel is the odd kernel size; 0
// means SimCLR's rule, 10% of the image height made odd: 2·⌊⌊H/10⌋/2⌋+1
// (23 at 224 px). Zero Sigma means {0.1, 2}. It allows in-place use. Safe
// for concurrent use; allocates nothing in steady state. See [Blur] for
// the kernel.
type GaussianBlur struct {
	Kernel int
	Sigma  [2]float64
}

// Augment implements [Augmentation].
func (g GaussianBlur) Augment(dst, src *image.Image, rng *rand.Rand) error {
	sig := g.Sigma
	if sig == [2]float64{} {
		sig = [2]float64{0.1, 2}
	}
	sigma := sig[0] + (sig[1]-sig[0])*rng.Float64()
	k := g.Kernel
	if k == 0 {
		k = src.H/10/2*2 + 1
	}
	return Blur(dst, src, k, sigma)
}

// AllowsInPlace reports true.
func (GaussianBlur) AllowsInPlace() bool { return true }
