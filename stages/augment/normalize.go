package augment

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/contrastream/contrastream/stages/image"
)

// ImageNet channel statistics (torchvision's usual Normalize arguments, and
// those of the torchvision comparison in docs/benchmarks.md).
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// Normalize maps 8-bit levels to normalized float32 the way torchvision's
// ToTensor followed by Normalize(Mean, Std) does: (v/255 − mean)/std, each
// step rounded to float32. A zero Std means ImageNet statistics
// ([ImageNetMean], [ImageNetStd]) — Mean is then ignored. It is not an
// [Augmentation] (it changes the element type); Tensorize uses it. A
// Normalize value is read-only and safe for concurrent use.
type Normalize struct {
	Mean, Std [3]float32
}

// Stats returns the statistics n normalizes with: Mean and Std, or
// ImageNet's where Std is zero.
func (n Normalize) Stats() (mean, std [3]float32) {
	if n.Std == [3]float32{} {
		return ImageNetMean, ImageNetStd
	}
	return n.Mean, n.Std
}

// Table returns, per channel, the normalized value of every level: the
// exact float32 that torchvision computes (x = float32(v)/255, then
// (x − mean)/std). Building it costs 768 divisions; converting an image by
// lookup then costs one load per sample and is bit-identical to torchvision.
// It allocates nothing (the table is returned by value, 3 KB).
func (n Normalize) Table() (t [3][256]float32) {
	mean, std := n.Stats()
	for c := range 3 {
		for v := range 256 {
			x := float32(v) / 255
			t[c][v] = (x - mean[c]) / std[c]
		}
	}
	return t
}

// Affine returns scale and bias with v·scale[c] + bias[c] ≈ (v/255 −
// mean[c])/std[c], for kernels that fuse the conversion into other float
// arithmetic (within 1 ulp-ish of [Normalize.Table], not bit-identical).
func (n Normalize) Affine() (scale, bias [3]float32) {
	mean, std := n.Stats()
	for c := range 3 {
		scale[c] = 1 / (255 * std[c])
		bias[c] = -mean[c] / std[c]
	}
	return scale, bias
}

// CHW writes src as normalized planar float32 into dst, which must hold
// exactly 3·H·W values (plane c at dst[c·H·W:]); a gray source is
// replicated into the three planes. t is a table from [Normalize.Table]
// (pass it in so a batch builds it once). Safe for concurrent use;
// allocates nothing.
func CHW(dst []float32, src *image.Image, t *[3][256]float32) error {
	if err := checkSrc("normalize", src); err != nil {
		return err
	}
	plane := src.W * src.H
	if len(dst) != 3*plane {
		return fmt.Errorf("augment: normalize: dst holds %d values, want 3×%d×%d", len(dst), src.H, src.W)
	}
	r, g, b := dst[:plane], dst[plane:2*plane], dst[2*plane:]
	for y := 0; y < src.H; y++ {
		s := src.Row(y)
		o := y * src.W
		rr, gg, bb := r[o:o+src.W], g[o:o+src.W], b[o:o+src.W]
		if src.C == 3 {
			s = s[:3*len(rr)]
			for x := range rr {
				rr[x] = t[0][s[3*x]]
				gg[x] = t[1][s[3*x+1]]
				bb[x] = t[2][s[3*x+2]]
			}
		} else {
			s = s[:len(rr)]
			for x, v := range s {
				rr[x], gg[x], bb[x] = t[0][v], t[1][v], t[2][v]
			}
		}
	}
	return nil
}

// Normalizer converts 8-bit images to normalized planar float32 exactly as
// [CHW] does with [Normalize.Table] (bit-identical to torchvision's ToTensor
// + Normalize), with an AVX-512 kernel for RGB images where the CPU has
// one: it computes (float32(v)/255 − mean)/std in float32, the same
// correctly rounded operations the table holds, 16 samples at a time. Make
// one with [Normalize.Normalizer] (768 divisions, one 3 KB allocation) and
// share it: it is read-only and safe for concurrent use.
type Normalizer struct {
	mean, std, rstd [3]float32
	t               [3][256]float32
	// fma selects the kernel that divides by multiplying with the
	// reciprocal plus one FMA correction: set only when it was checked to
	// give the table's value for every level of every channel.
	fma bool
}

// Normalizer returns n's converter. Where the AVX-512 kernel runs, it also
// checks whether the kernel's faster division (reciprocal, then one FMA
// correction) gives exactly the table for these statistics: it runs it once
// on every level (a 272-pixel image), and keeps it only if all 768 values
// match (they do for ImageNet's).
func (n Normalize) Normalizer() *Normalizer {
	z := &Normalizer{t: n.Table()}
	z.mean, z.std = n.Stats()
	for c := range 3 {
		z.rstd[c] = 1 / z.std[c]
	}
	if hasVBMI {
		const px = 272 // 16 blocks of 16 pixels and the 16-byte overread
		var src [3 * px]uint8
		for i := range px {
			src[3*i], src[3*i+1], src[3*i+2] = uint8(i), uint8(i), uint8(i)
		}
		var out [3][px]float32
		chwFMAVBMI(&out[0][0], &out[1][0], &out[2][0], &src[0], (3*px-16)/48, &z.mean, &z.std, &z.rstd)
		z.fma = true
		for c := range 3 {
			for v := range 256 {
				if math.Float32bits(out[c][v]) != math.Float32bits(z.t[c][v]) {
					z.fma = false
				}
			}
		}
	}
	return z
}

// aligned64 reports whether p is 64-byte aligned (non-temporal stores of
// whole vectors need it).
func aligned64(p *float32) bool { return uintptr(unsafe.Pointer(p))&63 == 0 }

// Table returns the per-channel table (see [Normalize.Table]).
func (z *Normalizer) Table() *[3][256]float32 { return &z.t }

// CHW writes src into dst as [CHW] does: dst must hold exactly 3·H·W
// values. Allocates nothing.
func (z *Normalizer) CHW(dst []float32, src *image.Image) error {
	if !useVBMI || src.C != 3 || src.Stride != 3*src.W || src.Empty() {
		return CHW(dst, src, &z.t)
	}
	if err := checkSrc("normalize", src); err != nil {
		return err
	}
	plane := src.W * src.H
	if len(dst) != 3*plane {
		return fmt.Errorf("augment: normalize: dst holds %d values, want 3×%d×%d", len(dst), src.H, src.W)
	}
	// Dense rows: one run of plane pixels. Block k reads bytes
	// [48k, 48k+64), so the kernel stops 16 bytes short of the end.
	blocks := max(0, (3*plane-16)/48)
	r, g, b := dst[:plane], dst[plane:2*plane], dst[2*plane:]
	if blocks > 0 {
		switch {
		case z.fma && aligned64(&r[0]) && aligned64(&g[0]) && aligned64(&b[0]):
			chwFMANTVBMI(&r[0], &g[0], &b[0], &src.Pix[0], blocks, &z.mean, &z.std, &z.rstd)
		case z.fma:
			chwFMAVBMI(&r[0], &g[0], &b[0], &src.Pix[0], blocks, &z.mean, &z.std, &z.rstd)
		default:
			chwVBMI(&r[0], &g[0], &b[0], &src.Pix[0], blocks, &z.mean, &z.std)
		}
	}
	s := src.Pix[48*blocks : 3*plane]
	for x := range plane - 16*blocks {
		o := 16*blocks + x
		r[o], g[o], b[o] = z.t[0][s[3*x]], z.t[1][s[3*x+1]], z.t[2][s[3*x+2]]
	}
	return nil
}

// Planes writes src as src.C normalized planar float32 planes into dst,
// which must hold exactly C·H·W values: an RGB image as [Normalizer.CHW]
// does, a gray one as one plane through the table's first channel. It is
// the one conversion of 8-bit pixels to model input: Tensorize makes the
// training batches with it and eval.Encode the evaluation batches, so a
// model sees the same values in both. Safe for concurrent use; allocates
// nothing.
func (z *Normalizer) Planes(dst []float32, src *image.Image) error {
	if src.C == 3 {
		return z.CHW(dst, src)
	}
	if err := checkSrc("normalize", src); err != nil {
		return err
	}
	if len(dst) != src.W*src.H {
		return fmt.Errorf("augment: normalize: dst holds %d values, want %d×%d", len(dst), src.H, src.W)
	}
	lut := &z.t[0]
	for y := range src.H {
		o := dst[y*src.W : (y+1)*src.W]
		for x, v := range src.Row(y)[:len(o)] {
			o[x] = lut[v]
		}
	}
	return nil
}
