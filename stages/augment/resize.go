package augment

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/contrastream/contrastream/stages/image"
)

// Interpolation selects the resampling filter of [ResizedCrop].
type Interpolation int

const (
	// Bilinear is PIL's BILINEAR (triangle filter, support 1), torchvision's
	// default. It is the zero value.
	Bilinear Interpolation = iota
	// Bicubic is PIL's BICUBIC (Keys cubic, a = -0.5, support 2).
	Bicubic
)

func (i Interpolation) String() string {
	switch i {
	case Bilinear:
		return "bilinear"
	case Bicubic:
		return "bicubic"
	}
	return fmt.Sprintf("Interpolation(%d)", int(i))
}

func (i Interpolation) support() float64 {
	if i == Bicubic {
		return 2
	}
	return 1
}

func (i Interpolation) filter(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if i == Bicubic {
		const a = -0.5
		if x < 1 {
			return ((a+2)*x-(a+3))*x*x + 1
		}
		if x < 2 {
			return (((x-5)*x+8)*x - 4) * a
		}
		return 0
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}

// precisionBits is PIL's fixed-point precision for 8-bit resampling
// (32 - 8 - 2 in Resample.c).
const precisionBits = 22

// resampleScratch holds one call's coefficient tables and intermediate rows.
type resampleScratch struct {
	kx, ky  []int32 // fixed-point weights, ksize per output sample
	bx, by  []int32 // (first input index, tap count) per output sample
	tmp     []uint8 // horizontally resampled rows
	acc     []int32 // vertical accumulator row
	coefTmp []float64
}

var resamplePool = sync.Pool{New: func() any { return new(resampleScratch) }}

// coeffs fills the weights and bounds that PIL's precompute_coeffs and
// normalize_coeffs_8bpc compute for resampling inSize samples to outSize,
// and returns the number of weights per output sample (ksize). The
// arithmetic is PIL 9.4's, in the same order, in float64, so the int32
// weights are identical.
func coeffs(interp Interpolation, inSize, outSize int, k []int32, b []int32, pre []float64) (int, []int32, []int32, []float64) {
	scale := float64(inSize) / float64(outSize)
	filterscale := scale
	if filterscale < 1 {
		filterscale = 1
	}
	support := interp.support() * filterscale
	ksize := int(math.Ceil(support))*2 + 1
	k = grow32(k, outSize*ksize)
	b = grow32(b, 2*outSize)
	if cap(pre) < ksize {
		pre = make([]float64, ksize)
	}
	pre = pre[:ksize]
	ss := 1 / filterscale
	for xx := 0; xx < outSize; xx++ {
		center := (float64(xx) + 0.5) * scale
		xmin := int(center - support + 0.5)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		ww := 0.0
		for x := 0; x < xmax; x++ {
			w := interp.filter((float64(x+xmin) - center + 0.5) * ss)
			pre[x] = w
			ww += w
		}
		kk := k[xx*ksize : (xx+1)*ksize]
		for x := range kk {
			kk[x] = 0
		}
		for x := 0; x < xmax; x++ {
			w := pre[x]
			if ww != 0 {
				w /= ww
			}
			if w < 0 {
				kk[x] = int32(-0.5 + w*(1<<precisionBits))
			} else {
				kk[x] = int32(0.5 + w*(1<<precisionBits))
			}
		}
		b[2*xx], b[2*xx+1] = int32(xmin), int32(xmax)
	}
	return ksize, k, b, pre
}

func grow32(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}

func clip8(v int32) uint8 {
	if v >= 1<<precisionBits<<8 {
		return 255
	}
	if v <= 0 {
		return 0
	}
	return uint8(v >> precisionBits)
}

// ResizedCrop crops the rectangle (left, top, width, height) of src and
// resamples it to outW×outH in dst, exactly as torchvision 0.14's
// F.resized_crop does on a PIL image: PIL's two-pass resampling (horizontal
// first, 8-bit intermediate), with the filter's support scaled by the
// reduction factor (antialiasing when downscaling), weights normalized per
// output sample and rounded to 22-bit fixed point, and edges clamped to the
// crop. The output is bit-identical to PIL 9.4. A crop that leaves src is an
// error (torchvision's RandomResizedCrop never makes one). dst must not alias
// src. Safe for concurrent use; allocates nothing in steady state (tables
// come from a pool). Cost: about (crop rows × outW × taps + outH × outW ×
// taps) × C multiply-adds, taps ≈ 2·support·max(1, crop/out).
func ResizedCrop(dst, src *image.Image, top, left, height, width, outW, outH int, interp Interpolation) error {
	if err := src.Validate(); err != nil {
		return fmt.Errorf("augment: resized crop: %w", err)
	}
	if width <= 0 || height <= 0 || outW <= 0 || outH <= 0 {
		return fmt.Errorf("augment: resized crop: empty crop %dx%d or output %dx%d", width, height, outW, outH)
	}
	if top < 0 || left < 0 || left+width > src.W || top+height > src.H {
		return fmt.Errorf("augment: resized crop: box (%d,%d)+%dx%d outside %dx%d image", left, top, width, height, src.W, src.H)
	}
	if interp != Bilinear && interp != Bicubic {
		return fmt.Errorf("augment: resized crop: unknown interpolation %d", int(interp))
	}
	if dst == src {
		return fmt.Errorf("augment: resized crop: dst aliases src")
	}
	s := resamplePool.Get().(*resampleScratch)
	defer resamplePool.Put(s)
	C := src.C
	dst.Resize(outW, outH, C)

	needH := width != outW
	needV := height != outH
	var ksx, ksy int
	if needH {
		ksx, s.kx, s.bx, s.coefTmp = coeffs(interp, width, outW, s.kx, s.bx, s.coefTmp)
	}
	y0, y1 := 0, height // crop rows the vertical pass reads
	if needV {
		ksy, s.ky, s.by, s.coefTmp = coeffs(interp, height, outH, s.ky, s.by, s.coefTmp)
		y0 = int(s.by[0])
		y1 = int(s.by[2*outH-2] + s.by[2*outH-1])
	}
	// Horizontal pass: rows y0..y1 of the crop into tmp (or straight into
	// dst when there is no vertical pass).
	var mid []uint8
	midStride := outW * C
	if !needV {
		mid = dst.Pix
	} else if needH {
		n := (y1 - y0) * midStride
		if cap(s.tmp) < n {
			s.tmp = make([]uint8, n)
		}
		mid = s.tmp[:n]
	}
	if needH {
		for y := y0; y < y1; y++ {
			row := src.Pix[(top+y)*src.Stride+left*C : (top+y)*src.Stride+(left+width)*C]
			out := mid[(y-y0)*midStride : (y-y0+1)*midStride]
			if C == 3 {
				hpass3(out, row, s.kx, s.bx, ksx)
			} else {
				hpass1(out, row, s.kx, s.bx, ksx)
			}
		}
	} else if !needV {
		for y := 0; y < outH; y++ {
			o := (top+y)*src.Stride + left*C
			copy(dst.Row(y), src.Pix[o:o+width*C])
		}
		return nil
	}
	if !needV {
		return nil
	}
	// Vertical pass: rows of mid (or of the crop itself when there was no
	// horizontal pass) into dst, accumulating whole rows.
	rowOf := func(y int) []uint8 { // row y of the crop, y in [y0, y1)
		if needH {
			return mid[(y-y0)*midStride : (y-y0+1)*midStride]
		}
		o := (top+y)*src.Stride + left*C
		return src.Pix[o : o+width*C]
	}
	if cap(s.acc) < midStride {
		s.acc = make([]int32, midStride)
	}
	acc := s.acc[:midStride]
	for yy := 0; yy < outH; yy++ {
		ymin, n := int(s.by[2*yy]), int(s.by[2*yy+1])
		k := s.ky[yy*ksy : yy*ksy+n]
		for i := range acc {
			acc[i] = 1 << (precisionBits - 1)
		}
		for j, w := range k {
			if w == 0 {
				continue
			}
			r := rowOf(ymin + j)
			r = r[:len(acc)]
			for i, v := range r {
				acc[i] += int32(v) * w
			}
		}
		out := dst.Row(yy)
		out = out[:len(acc)]
		for i, v := range acc {
			out[i] = clip8(v)
		}
	}
	return nil
}

// hpass3 resamples one RGB row.
func hpass3(out, row []uint8, kx, bx []int32, ks int) {
	n := len(out) / 3
	for xx := 0; xx < n; xx++ {
		xmin, cnt := int(bx[2*xx]), int(bx[2*xx+1])
		k := kx[xx*ks : xx*ks+cnt]
		s := row[xmin*3 : (xmin+cnt)*3]
		s = s[:len(k)*3]
		r, g, b := int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1))
		for i, w := range k {
			p := s[3*i : 3*i+3 : 3*i+3]
			r += int32(p[0]) * w
			g += int32(p[1]) * w
			b += int32(p[2]) * w
		}
		o := out[3*xx : 3*xx+3 : 3*xx+3]
		o[0], o[1], o[2] = clip8(r), clip8(g), clip8(b)
	}
}

// hpass1 resamples one gray row.
func hpass1(out, row []uint8, kx, bx []int32, ks int) {
	for xx := range out {
		xmin, cnt := int(bx[2*xx]), int(bx[2*xx+1])
		k := kx[xx*ks : xx*ks+cnt]
		s := row[xmin : xmin+cnt]
		s = s[:len(k)]
		v := int32(1 << (precisionBits - 1))
		for i, w := range k {
			v += int32(s[i]) * w
		}
		out[xx] = clip8(v)
	}
}

// RandomResizedCrop crops a random area and aspect ratio of the source and
// resizes it to Size×Size, like torchvision's RandomResizedCrop: up to 10
// attempts draw an area fraction uniformly from Scale and a log-uniform
// aspect ratio from Ratio, keeping the first box that fits; otherwise the
// central crop clamped to Ratio. Zero Scale means {0.08, 1}, zero Ratio
// {3/4, 4/3}, zero Interpolation bilinear. Size must be positive. Safe for
// concurrent use; allocates nothing in steady state. dst must not alias src.
type RandomResizedCrop struct {
	Size          int
	Scale         [2]float32
	Ratio         [2]float32
	Interpolation Interpolation
}

// Params draws the crop box (top, left, height, width) for a w×h source
// with torchvision's algorithm, consuming draws from rng as documented on
// the type. A degenerate source (w or h < 1) gives an empty box.
func (r RandomResizedCrop) Params(w, h int, rng *rand.Rand) (top, left, height, width int) {
	scale, ratio := r.Scale, r.Ratio
	if scale == [2]float32{} {
		scale = [2]float32{0.08, 1}
	}
	if ratio == [2]float32{} {
		ratio = [2]float32{3.0 / 4, 4.0 / 3}
	}
	if w < 1 || h < 1 {
		return 0, 0, 0, 0
	}
	area := float64(w * h)
	lr0, lr1 := math.Log(float64(ratio[0])), math.Log(float64(ratio[1]))
	s0, s1 := float64(scale[0]), float64(scale[1])
	for range 10 {
		target := area * (s0 + (s1-s0)*rng.Float64())
		aspect := math.Exp(lr0 + (lr1-lr0)*rng.Float64())
		cw := int(math.RoundToEven(math.Sqrt(target * aspect)))
		ch := int(math.RoundToEven(math.Sqrt(target / aspect)))
		if 0 < cw && cw <= w && 0 < ch && ch <= h {
			top = rng.IntN(h - ch + 1)
			left = rng.IntN(w - cw + 1)
			return top, left, ch, cw
		}
	}
	inRatio := float64(w) / float64(h)
	rmin := math.Min(float64(ratio[0]), float64(ratio[1]))
	rmax := math.Max(float64(ratio[0]), float64(ratio[1]))
	switch {
	case inRatio < rmin:
		width = w
		height = int(math.RoundToEven(float64(width) / rmin))
	case inRatio > rmax:
		height = h
		width = int(math.RoundToEven(float64(height) * rmax))
	default:
		width, height = w, h
	}
	height = max(1, min(height, h))
	width = max(1, min(width, w))
	return (h - height) / 2, (w - width) / 2, height, width
}

// Augment implements [Augmentation].
func (r RandomResizedCrop) Augment(dst, src *image.Image, rng *rand.Rand) error {
	if r.Size <= 0 {
		return fmt.Errorf("augment: random resized crop: size %d, want > 0", r.Size)
	}
	if src.Empty() {
		return fmt.Errorf("augment: random resized crop: empty %dx%d source", src.W, src.H)
	}
	top, left, h, w := r.Params(src.W, src.H, rng)
	return ResizedCrop(dst, src, top, left, h, w, r.Size, r.Size, r.Interpolation)
}
