package augment

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"unsafe"

	"github.com/contrastream/contrastream/stages/image"
)

// blurBits is the fixed-point precision of the blur weights.
const blurBits = 14

// maxBlurKernel is the longest kernel Blur takes: SimCLR's 10% of the
// largest view side (4096 px), with room. Only the weights that do not
// round to zero are applied, at most 63 either side of the centre.
const maxBlurKernel = 1023

// blurScratch holds one call's padded row and horizontal-pass output.
type blurScratch struct {
	pad    []uint8
	packed []uint64
	ring   []uint64
	ringY  []int
	rows   [][]uint64
	ring16 []uint16 // AVX2 path
	rows16 [][]uint16
	ptrs   []unsafe.Pointer
}

var blurPool = sync.Pool{New: func() any { return new(blurScratch) }}

// blurKernel returns the symmetric fixed-point weights w[0..r] (w[0] the
// centre) of torchvision's 1-D Gaussian: x = -(k-1)/2 .. (k-1)/2,
// exp(-x²/2σ²), normalized to sum 1, then scaled to 2^14 and rounded, with
// the centre adjusted so the weights sum to exactly 2^14 (a flat image stays
// flat) and trailing zero weights dropped (r <= (k-1)/2). A kernel may be
// longer than w: ok is false when a weight past w's end is not zero (a
// sigma of tens of pixels; SimCLR's ≤ 2 gives r ≤ 10 at any size).
func blurKernel(k int, sigma float64, w *[64]int32) (r int, ok bool) {
	half := (k - 1) / 2
	sum := 0.0
	for i := 0; i <= half; i++ {
		x := float64(i) / sigma
		if i == 0 {
			sum += math.Exp(-0.5 * x * x)
		} else {
			sum += 2 * math.Exp(-0.5*x*x)
		}
	}
	total := int32(0)
	for i := 0; i <= half; i++ {
		x := float64(i) / sigma
		wi := int32(math.Round(math.Exp(-0.5*x*x) / sum * (1 << blurBits)))
		if wi == 0 {
			break // the Gaussian only falls from here
		}
		if i >= len(w) {
			return 0, false
		}
		w[i] = wi
		if i == 0 {
			total += wi
		} else {
			total += 2 * wi
		}
		r = i
	}
	w[0] += 1<<blurBits - total
	return r, true
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

// Blur convolves src with a Gaussian of odd size kernel (1..maxBlurKernel) and standard
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
	if kernel < 1 || kernel%2 == 0 || kernel > maxBlurKernel {
		return fmt.Errorf("augment: blur kernel %d, want odd in 1..%d", kernel, maxBlurKernel)
	}
	if !(sigma > 0) {
		return fmt.Errorf("augment: blur sigma %v, want > 0", sigma)
	}
	var w [64]int32
	r, ok := blurKernel(kernel, sigma, &w)
	if !ok {
		return fmt.Errorf("augment: blur kernel %d, sigma %v: weights reach past radius 63", kernel, sigma)
	}
	if r == 0 || src.Empty() {
		if dst != src {
			dst.CopyFrom(src)
		}
		return nil
	}
	W, H, C := src.W, src.H, src.C
	rs := W * C
	words := (rs + 1) / 2
	R := min(2*r+1, H)
	s := blurPool.Get().(*blurScratch)
	defer blurPool.Put(s)
	if useAVX2 {
		blurAVX2(dst, src, s, w[:r+1], R)
		return nil
	}
	// pad holds one reflect-padded row plus a slack sample; packed holds
	// every (pad[j], pad[j+1]) pair as two 32-bit lanes.
	np := (W+2*r)*C + 1
	if cap(s.pad) < np {
		s.pad = make([]uint8, np)
	}
	pad := s.pad[:np]
	s.packed = growU64(s.packed, np-1)
	// Ring of R horizontally blurred rows, packed two samples a word in 8.8
	// fixed point: the rows an output row needs always lie in a window of
	// at most 2r+1 consecutive rows that only moves down (reflection near
	// the edges stays inside it), so each row is computed once, and a
	// source row is read before dst overwrites it (in-place use is safe).
	s.ring = growU64(s.ring, R*words)
	s.ringY = growInt(s.ringY, R)
	for i := range s.ringY {
		s.ringY[i] = -1
	}
	row := func(y int) []uint64 {
		slot := y % R
		out := s.ring[slot*words : (slot+1)*words]
		if s.ringY[slot] != y {
			in := src.Row(y)
			copy(pad[r*C:], in)
			for x := 1; x <= r; x++ {
				l, rr := reflect(-x, W), reflect(W-1+x, W)
				copy(pad[(r-x)*C:(r-x+1)*C], in[l*C:(l+1)*C])
				copy(pad[(r+W-1+x)*C:(r+W+x)*C], in[rr*C:(rr+1)*C])
			}
			hblur2(out, s.packed, pad, w[:r+1], C)
			s.ringY[slot] = y
		}
		return out
	}
	if dst != src {
		dst.Resize(W, H, C)
	}
	if cap(s.rows) < 2*r+1 {
		s.rows = make([][]uint64, 2*r+1)
	}
	rows := s.rows[:2*r+1]
	for y := 0; y < H; y++ {
		// fetch the window bottom first so rows enter the ring in order
		for t := r; t >= 1; t-- {
			rows[r+t] = row(reflect(y+t, H))
		}
		rows[r] = row(y)
		for t := 1; t <= r; t++ {
			rows[r-t] = row(reflect(y-t, H))
		}
		vblur2(dst.Row(y), rows, w[:r+1])
	}
	return nil
}

// blurAVX2 is Blur's body with the AVX2 kernels: the same integer sums
// (unfolded weights), rows of 8.8 samples as uint16 in a ring, Go for the
// last len%8 samples of each row. Same bytes as the portable path.
func blurAVX2(dst, src *image.Image, s *blurScratch, w []int32, R int) {
	W, H, C := src.W, src.H, src.C
	r := len(w) - 1
	rs := W * C
	n8 := rs &^ 7
	var wf [127]int32 // unfolded weights, wf[r±t] = w[t]
	for t := 0; t <= r; t++ {
		wf[r-t], wf[r+t] = w[t], w[t]
	}
	k := wf[:2*r+1]
	np := (W + 2*r) * C
	if cap(s.pad) < np {
		s.pad = make([]uint8, np)
	}
	pad := s.pad[:np]
	if cap(s.ring16) < R*rs {
		s.ring16 = make([]uint16, R*rs)
	}
	ring := s.ring16[:R*rs]
	s.ringY = growInt(s.ringY, R)
	for i := range s.ringY {
		s.ringY[i] = -1
	}
	row := func(y int) []uint16 {
		slot := y % R
		out := ring[slot*rs : (slot+1)*rs]
		if s.ringY[slot] != y {
			in := src.Row(y)
			copy(pad[r*C:], in)
			for x := 1; x <= r; x++ {
				l, rr := reflect(-x, W), reflect(W-1+x, W)
				copy(pad[(r-x)*C:(r-x+1)*C], in[l*C:(l+1)*C])
				copy(pad[(r+W-1+x)*C:(r+W+x)*C], in[rr*C:(rr+1)*C])
			}
			if n8 > 0 {
				hconv16AVX2(out, pad, k, C, n8)
			}
			for j := n8; j < rs; j++ {
				acc := uint32(1 << (blurBits - 8 - 1))
				for t, kw := range k {
					acc += uint32(pad[j+t*C]) * uint32(kw)
				}
				out[j] = uint16(acc >> (blurBits - 8))
			}
			s.ringY[slot] = y
		}
		return out
	}
	if dst != src {
		dst.Resize(W, H, C)
	}
	if cap(s.rows16) < 2*r+1 {
		s.rows16 = make([][]uint16, 2*r+1)
		s.ptrs = make([]unsafe.Pointer, 2*r+1)
	}
	rows, ptrs := s.rows16[:2*r+1], s.ptrs[:2*r+1]
	for y := 0; y < H; y++ {
		for t := r; t >= 1; t-- {
			rows[r+t] = row(reflect(y+t, H))
		}
		rows[r] = row(y)
		for t := 1; t <= r; t++ {
			rows[r-t] = row(reflect(y-t, H))
		}
		for i, rw := range rows {
			ptrs[i] = unsafe.Pointer(&rw[0])
		}
		out := dst.Row(y)
		if n8 > 0 {
			vconv16AVX2(out, ptrs, k, n8)
		}
		for i := n8; i < rs; i++ {
			acc := uint32(1 << (blurBits + 8 - 1))
			for t, kw := range k {
				acc += uint32(rows[t][i]) * uint32(kw)
			}
			out[i] = uint8(acc >> (blurBits + 8))
		}
	}
	clear(ptrs)
}

// hblur2 convolves one reflect-padded row (C channels interleaved, one
// slack sample at the end) with the symmetric weights w, two samples per
// 64-bit word, writing 8.8 fixed-point samples packed two per word.
func hblur2(out, packed []uint64, pad []uint8, w []int32, C int) {
	packed = packed[:len(pad)-1]
	for j := range packed {
		packed[j] = uint64(pad[j]) | uint64(pad[j+1])<<32
	}
	r := len(w) - 1
	off := r * C
	w0 := uint64(w[0])
	const round = (1 << (blurBits - 8 - 1)) * (1 + 1<<32)
	const mask = 0x0000ffff0000ffff
	for i := range out {
		c := 2*i + off
		acc := packed[c]*w0 + round
		for t := 1; t <= r; t++ {
			acc += (packed[c-t*C] + packed[c+t*C]) * uint64(w[t])
		}
		out[i] = (acc >> (blurBits - 8)) & mask
	}
}

// vblur2 combines the 2r+1 packed rows (rows[r] the centre) with the
// symmetric weights into one output row of 8-bit samples.
func vblur2(out []uint8, rows [][]uint64, w []int32) {
	r := len(w) - 1
	c := rows[r]
	w0 := uint64(w[0])
	const round = (1 << (blurBits + 8 - 1)) * (1 + 1<<32)
	full := len(out) / 2
	c = c[:(len(out)+1)/2]
	for i := range c {
		acc := c[i]*w0 + round
		for t := 1; t <= r; t++ {
			acc += (rows[r-t][i] + rows[r+t][i]) * uint64(w[t])
		}
		if i < full {
			o := out[2*i : 2*i+2 : 2*i+2]
			o[0] = uint8(acc >> (blurBits + 8))
			o[1] = uint8(acc >> (32 + blurBits + 8))
		} else {
			out[2*i] = uint8(acc >> (blurBits + 8))
		}
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
	Sigma  [2]float32
}

// Augment implements [Augmentation].
func (g GaussianBlur) Augment(dst, src *image.Image, rng *rand.Rand) error {
	sig := g.Sigma
	if sig == [2]float32{} {
		sig = [2]float32{0.1, 2}
	}
	s0, s1 := float64(sig[0]), float64(sig[1])
	sigma := s0 + (s1-s0)*rng.Float64()
	k := g.Kernel
	if k == 0 {
		k = src.H/10/2*2 + 1
	}
	return Blur(dst, src, k, sigma)
}

// AllowsInPlace reports true.
func (GaussianBlur) AllowsInPlace() bool { return true }
