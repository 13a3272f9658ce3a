package augment

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/contrastream/contrastream/stages/image"
)

// lut is a per-level table applied to every sample of an image.
type lut [256]uint8

func identityLUT() (t lut) {
	for i := range t {
		t[i] = uint8(i)
	}
	return t
}

// then returns the table of applying t, then u.
func (t *lut) then(u *lut) {
	for i, v := range t {
		t[i] = u[v]
	}
}

// applyLUT writes t(src) into dst; dst may be src. Allocates only when dst
// must grow.
func applyLUT(dst, src *image.Image, t *lut) {
	if dst != src {
		dst.Resize(src.W, src.H, src.C)
	}
	if useVBMI && src.Stride == src.W*src.C && dst.Stride == src.Stride && src.H > 0 {
		// dense rows: one pass over all samples, 64 per lookup
		n := src.W * src.H * src.C
		s, d := src.Pix[:n], dst.Pix[:n]
		n64 := n &^ 63
		lutVBMI(d, s, n64, t)
		lutRow(d[n64:], s[n64:], t)
		return
	}
	for y := 0; y < src.H; y++ {
		lutRow(dst.Row(y), src.Row(y), t)
	}
}

// lutRow writes t(s) into d (len(d) >= len(s)).
func lutRow(d, s []uint8, t *lut) {
	d = d[:len(s)]
	// eight samples per load and store (about 1.35× faster than one)
	i := 0
	for ; i+8 <= len(s); i += 8 {
		v := binary.LittleEndian.Uint64(s[i:])
		o := uint64(t[uint8(v)]) | uint64(t[uint8(v>>8)])<<8 | uint64(t[uint8(v>>16)])<<16 |
			uint64(t[uint8(v>>24)])<<24 | uint64(t[uint8(v>>32)])<<32 | uint64(t[uint8(v>>40)])<<40 |
			uint64(t[uint8(v>>48)])<<48 | uint64(t[uint8(v>>56)])<<56
		binary.LittleEndian.PutUint64(d[i:], o)
	}
	for ; i < len(s); i++ {
		d[i] = t[s[i]]
	}
}

// blend8 is PIL's ImagingBlend for one sample: in1 + alpha·(in2 − in1) in
// float32 (the explicit conversion keeps the product rounded, as C does
// without FMA), truncated toward zero and clipped to 0..255.
func blend8(in1, in2 int32, alpha float32) uint8 {
	t := float32(in1) + float32(alpha*float32(in2-in1))
	if t <= 0 {
		return 0
	}
	if t >= 255 {
		return 255
	}
	return uint8(t)
}

func brightnessLUT(f float32) (t lut) {
	for i := range t {
		t[i] = blend8(0, int32(i), f)
	}
	return t
}

func contrastLUT(mean int32, f float32) (t lut) {
	for i := range t {
		t[i] = blend8(mean, int32(i), f)
	}
	return t
}

// luma is PIL's convert("L") for one RGB pixel (ITU-R 601-2, 16-bit fixed
// point, rounded).
func luma(r, g, b uint8) uint8 {
	return uint8((uint32(r)*19595 + uint32(g)*38470 + uint32(b)*7471 + 0x8000) >> 16)
}

func checkSrc(op string, src *image.Image) error {
	if err := src.Validate(); err != nil {
		return fmt.Errorf("augment: %s: %w", op, err)
	}
	return nil
}

// AdjustBrightness writes src scaled by factor into dst, as torchvision's
// adjust_brightness on a PIL image (ImageEnhance.Brightness: a blend with
// black, float32, truncated and clipped). factor must be >= 0. dst may be
// src. Safe for concurrent use; allocates only when dst must grow. Cost: one
// table lookup per sample.
func AdjustBrightness(dst, src *image.Image, factor float64) error {
	if err := checkSrc("brightness", src); err != nil {
		return err
	}
	if factor < 0 {
		return fmt.Errorf("augment: brightness factor %v < 0", factor)
	}
	t := brightnessLUT(float32(factor))
	applyLUT(dst, src, &t)
	return nil
}

// meanLuma is PIL's int(ImageStat.Stat(im.convert("L")).mean[0] + 0.5) of
// t(src).
func meanLuma(src *image.Image, t *lut) int32 {
	if src.Empty() {
		return 0
	}
	var sum uint64
	useAsm := useAVX2 && src.C == 3 && src.W >= 8 && src.W <= 1<<23 && *t == identityLUT()
	for y := 0; y < src.H; y++ {
		s := src.Row(y)
		if useAsm {
			n8 := src.W &^ 7
			sum += lumaSumAVX2(s, n8)
			s = s[3*n8:]
		}
		var rs uint32 // a row of up to 2^24/255 levels fits
		if src.C == 3 {
			for x := 0; x+2 < len(s); x += 3 {
				rs += uint32(luma(t[s[x]], t[s[x+1]], t[s[x+2]]))
			}
		} else {
			for _, v := range s {
				rs += uint32(t[v])
			}
		}
		sum += uint64(rs)
	}
	mean := float64(sum) / float64(src.W*src.H)
	return int32(mean + 0.5)
}

// AdjustContrast blends src with its mean gray level by factor, as
// torchvision's adjust_contrast on a PIL image (ImageEnhance.Contrast: the
// mean of the luma rounded to an integer, then a float32 blend, truncated and
// clipped). factor must be >= 0. dst may be src. Safe for concurrent use;
// allocates only when dst must grow. Cost: a luma pass and a lookup pass.
func AdjustContrast(dst, src *image.Image, factor float64) error {
	if err := checkSrc("contrast", src); err != nil {
		return err
	}
	if factor < 0 {
		return fmt.Errorf("augment: contrast factor %v < 0", factor)
	}
	id := identityLUT()
	t := contrastLUT(meanLuma(src, &id), float32(factor))
	applyLUT(dst, src, &t)
	return nil
}

// satTable holds alpha·d for d = v − L in −255..255 (float32, as PIL).
type satTable [511]float32

func newSatTable(alpha float32) (t satTable) {
	for i := range t {
		t[i] = float32(alpha * float32(i-255))
	}
	return t
}

// satInt converts st to integer offsets: t = float32(L) + st[d] truncates
// to L + floor(st[d]) unless the float32 sum rounds up to the next integer,
// which needs frac(st[d]) within 2^-14 of 1 (L + st[d] < 1024 has an ulp of
// at most 2^-13). It reports false if any entry is that close, and the
// caller then takes the float path.
func (st *satTable) satInt(fl *[511]int16) bool {
	for i, v := range st {
		f := math.Floor(float64(v))
		if float64(v)-f > 1-1.0/(1<<13) {
			return false
		}
		fl[i] = int16(f)
	}
	return true
}

// applyPending applies the pending table pre from src into dst, when it is
// not the identity, and returns the image the next op should read: dst
// (so that op then works in place) or src unchanged.
func applyPending(dst, src *image.Image, pre *lut) *image.Image {
	if *pre != identityLUT() {
		applyLUT(dst, src, pre)
		return dst
	}
	return src
}

// denseRGB16 reports whether the 16-pixel AVX-512 RGB kernels can run over
// dst and src as one run of pixels (rows without padding, ≥ 16 pixels, a
// CPU with VBMI). Then it applies the pending table pre first, unless pre
// is nil (see applyPending), and returns the two pixel runs and the number
// of 48-byte blocks for the kernel: block k reads bytes [48k, 48k+64), so
// the kernel stops 16 bytes short of the end and the caller finishes the
// tail.
func denseRGB16(dst, src *image.Image, pre *lut) (d, s []byte, blocks int, ok bool) {
	if !useVBMI || src.Stride != 3*src.W || dst.Stride != src.Stride || src.W*src.H < 16 {
		return nil, nil, 0, false
	}
	if pre != nil {
		src = applyPending(dst, src, pre)
	}
	n := 3 * src.W * src.H
	return dst.Pix[:n], src.Pix[:n], (n - 16) / 48, true
}

// saturate3 applies the pending table pre, then PIL's ImageEnhance.Color
// blend toward the pixel's luma, to RGB rows.
func saturate3(dst, src *image.Image, pre *lut, alpha float32) {
	if d, s, blocks, ok := denseRGB16(dst, src, pre); ok {
		sat3VBMI(d, s, blocks, alpha)
		st := newSatTable(alpha)
		id := identityLUT()
		saturate3Row(d[48*blocks:], s[48*blocks:], &id, &st)
		return
	}
	if useAVX2 && src.W >= 8 {
		src = applyPending(dst, src, pre)
		for y := 0; y < src.H; y++ {
			s := src.Row(y)
			d := dst.Row(y)
			n8 := src.W &^ 7
			sat3AVX2(d, s, n8, alpha)
			if n8 < src.W {
				st := newSatTable(alpha)
				id := identityLUT()
				saturate3Row(d[3*n8:], s[3*n8:], &id, &st)
			}
		}
		return
	}
	st := newSatTable(alpha)
	saturate3Go(dst, src, pre, &st)
}

// saturate3Row is the float32 blend for one row (the AVX2 path's tail).
func saturate3Row(d, s []uint8, pre *lut, st *satTable) {
	d = d[:len(s)]
	for x := 0; x+2 < len(s); x += 3 {
		r, g, b := pre[s[x]], pre[s[x+1]], pre[s[x+2]]
		l := int32(luma(r, g, b))
		fl := float32(l)
		d[x] = clipTrunc(fl + st[int32(r)-l+255])
		d[x+1] = clipTrunc(fl + st[int32(g)-l+255])
		d[x+2] = clipTrunc(fl + st[int32(b)-l+255])
	}
}

// saturate3Go is the portable saturate3: integer when the table allows it.
func saturate3Go(dst, src *image.Image, pre *lut, st *satTable) {
	var fl [511]int16
	if st.satInt(&fl) {
		saturate3Int(dst, src, pre, &fl)
		return
	}
	saturate3Float(dst, src, pre, st)
}

// saturate3Int is saturate3 in integers: out = clip(L + fl[v−L+255]).
func saturate3Int(dst, src *image.Image, pre *lut, fl *[511]int16) {
	for y := 0; y < src.H; y++ {
		s := src.Row(y)
		d := dst.Row(y)
		d = d[:len(s)]
		for x := 0; x+2 < len(s); x += 3 {
			r, g, b := pre[s[x]], pre[s[x+1]], pre[s[x+2]]
			l := int32(luma(r, g, b))
			d[x] = clampU8(l + int32(fl[uint32(int32(r)-l+255)%511]))
			d[x+1] = clampU8(l + int32(fl[uint32(int32(g)-l+255)%511]))
			d[x+2] = clampU8(l + int32(fl[uint32(int32(b)-l+255)%511]))
		}
	}
}

func clampU8(v int32) uint8 {
	return uint8(max(0, min(255, v)))
}

// saturate3Float is the direct float32 form of saturate3.
func saturate3Float(dst, src *image.Image, pre *lut, st *satTable) {
	for y := 0; y < src.H; y++ {
		s := src.Row(y)
		d := dst.Row(y)
		d = d[:len(s)]
		for x := 0; x+2 < len(s); x += 3 {
			r, g, b := pre[s[x]], pre[s[x+1]], pre[s[x+2]]
			l := int32(luma(r, g, b))
			fl := float32(l)
			d[x] = clipTrunc(fl + st[int32(r)-l+255])
			d[x+1] = clipTrunc(fl + st[int32(g)-l+255])
			d[x+2] = clipTrunc(fl + st[int32(b)-l+255])
		}
	}
}

func clipTrunc(t float32) uint8 {
	if t <= 0 {
		return 0
	}
	if t >= 255 {
		return 255
	}
	return uint8(t)
}

// AdjustSaturation blends src with its own grayscale by factor, as
// torchvision's adjust_saturation on a PIL image (ImageEnhance.Color: PIL
// luma per pixel, float32 blend, truncated and clipped). A gray image is
// returned unchanged. factor must be >= 0. dst may be src. Safe for
// concurrent use; allocates only when dst must grow.
func AdjustSaturation(dst, src *image.Image, factor float64) error {
	if err := checkSrc("saturation", src); err != nil {
		return err
	}
	if factor < 0 {
		return fmt.Errorf("augment: saturation factor %v < 0", factor)
	}
	if dst != src {
		dst.Resize(src.W, src.H, src.C)
	}
	if src.C == 1 {
		if dst != src {
			dst.CopyFrom(src)
		}
		return nil
	}
	id := identityLUT()
	saturate3(dst, src, &id, float32(factor))
	return nil
}

// RGBToGrayscale writes the luma of src (PIL's convert("L"): ITU-R 601-2
// weights 0.299, 0.587, 0.114 in 16-bit fixed point, rounded) into dst with
// the given number of channels (1, or 3 equal channels as torchvision's
// rgb_to_grayscale(img, 3)). A gray src is copied (or replicated to 3
// channels). dst may be src when channels equals src.C. Safe for concurrent
// use; allocates only when dst must grow.
func RGBToGrayscale(dst, src *image.Image, channels int) error {
	if err := checkSrc("grayscale", src); err != nil {
		return err
	}
	if channels != 1 && channels != 3 {
		return fmt.Errorf("augment: grayscale: %d output channels, want 1 or 3", channels)
	}
	if dst == src && channels != src.C {
		return fmt.Errorf("augment: grayscale: in place with %d→%d channels", src.C, channels)
	}
	if src.C == 1 {
		if channels == 1 {
			if dst != src {
				dst.CopyFrom(src)
			}
			return nil
		}
		image.GrayToRGB(dst, src)
		return nil
	}
	if dst != src {
		dst.Resize(src.W, src.H, channels)
	}
	if d, s, blocks, ok := denseRGB16(dst, src, nil); ok && channels == 3 {
		gray3VBMI(d, s, blocks)
		for x := 48 * blocks; x+2 < len(s); x += 3 {
			l := luma(s[x], s[x+1], s[x+2])
			d[x], d[x+1], d[x+2] = l, l, l
		}
		return nil
	}
	for y := 0; y < src.H; y++ {
		s := src.Row(y)
		d := dst.Row(y)
		if channels == 3 {
			d = d[:len(s)]
			for x := 0; x+2 < len(s); x += 3 {
				l := luma(s[x], s[x+1], s[x+2])
				d[x], d[x+1], d[x+2] = l, l, l
			}
		} else {
			for x := range d {
				d[x] = luma(s[3*x], s[3*x+1], s[3*x+2])
			}
		}
	}
	return nil
}

// SolarizeAt inverts every level >= threshold (PIL's ImageOps.solarize,
// torchvision's solarize on a PIL image). dst may be src. Safe for
// concurrent use; allocates only when dst must grow.
func SolarizeAt(dst, src *image.Image, threshold float64) error {
	if err := checkSrc("solarize", src); err != nil {
		return err
	}
	var t lut
	for i := range t {
		if float64(i) < threshold {
			t[i] = uint8(i)
		} else {
			t[i] = uint8(255 - i)
		}
	}
	applyLUT(dst, src, &t)
	return nil
}

// HFlip mirrors src left to right into dst (torchvision's hflip). dst may
// be src. Safe for concurrent use; allocates only when dst must grow.
func HFlip(dst, src *image.Image) error {
	if err := checkSrc("hflip", src); err != nil {
		return err
	}
	if dst != src {
		dst.Resize(src.W, src.H, src.C)
	}
	for y := 0; y < src.H; y++ {
		s := src.Row(y)
		d := dst.Row(y)
		d = d[:len(s)]
		if src.C == 3 {
			done := 0
			if useVBMI && src.W >= 32 {
				done = flip3VBMI(&d[0], &s[0], src.W)
			}
			for i, j := 3*done, len(s)-3-3*done; i <= j; i, j = i+3, j-3 {
				a0, a1, a2 := s[i], s[i+1], s[i+2]
				b0, b1, b2 := s[j], s[j+1], s[j+2]
				d[i], d[i+1], d[i+2] = b0, b1, b2
				d[j], d[j+1], d[j+2] = a0, a1, a2
			}
		} else {
			for i, j := 0, len(s)-1; i <= j; i, j = i+1, j-1 {
				d[i], d[j] = s[j], s[i]
			}
		}
	}
	return nil
}

// HorizontalFlip mirrors the image left to right with probability P (0
// means torchvision's default 0.5, negative never), drawing one number from
// rng. It allows in-place use. Safe for concurrent use; allocates nothing in
// steady state.
type HorizontalFlip struct {
	P float64
}

// Augment implements [Augmentation].
func (f HorizontalFlip) Augment(dst, src *image.Image, rng *rand.Rand) error {
	if coin(rng, prob(f.P, 0.5)) {
		return HFlip(dst, src)
	}
	if dst != src {
		dst.CopyFrom(src)
	}
	return nil
}

// AllowsInPlace reports true.
func (HorizontalFlip) AllowsInPlace() bool { return true }

// RandomGrayscale replaces an RGB image by its luma in 3 equal channels
// with probability P (0 means torchvision's default 0.1, negative never),
// drawing one number from rng; a gray image passes through unchanged (as
// torchvision keeps its channel count). It allows in-place use. Safe for
// concurrent use; allocates nothing in steady state.
type RandomGrayscale struct {
	P float64
}

// Augment implements [Augmentation].
func (g RandomGrayscale) Augment(dst, src *image.Image, rng *rand.Rand) error {
	if coin(rng, prob(g.P, 0.1)) {
		return RGBToGrayscale(dst, src, src.C)
	}
	if dst != src {
		dst.CopyFrom(src)
	}
	return nil
}

// AllowsInPlace reports true.
func (RandomGrayscale) AllowsInPlace() bool { return true }

// Solarize inverts levels >= Threshold with probability P (0 means 0.5,
// negative never), drawing one number from rng. Threshold 0 means 128 (the
// BYOL setting); to invert every level use a negative Threshold. It allows
// in-place use. Safe for concurrent use; allocates nothing.
type Solarize struct {
	Threshold float64
	P         float64
}

// Augment implements [Augmentation].
func (s Solarize) Augment(dst, src *image.Image, rng *rand.Rand) error {
	if coin(rng, prob(s.P, 0.5)) {
		th := s.Threshold
		if th == 0 {
			th = 128
		}
		return SolarizeAt(dst, src, th)
	}
	if dst != src {
		dst.CopyFrom(src)
	}
	return nil
}

// AllowsInPlace reports true.
func (Solarize) AllowsInPlace() bool { return true }
