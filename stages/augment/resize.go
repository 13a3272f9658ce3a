package augment

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"unsafe"

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
	kx, ky  []int32  // fixed-point weights, ksize per output sample
	bx, by  []int32  // (first input index, tap count) per output sample
	tmp     []uint8  // one horizontally resampled row
	ring    []uint64 // ring of packed intermediate rows
	ringY   []int    // crop row held by each ring slot, -1 if none
	acc     []uint64 // vertical accumulator row (more than 4 taps)
	rows    [][]uint64
	w       []uint64
	hs, hw  []int32 // fixed-tap horizontal tables
	ring8   []uint8 // AVX2 path: ring of 8-bit intermediate rows
	rows8   [][]uint8
	ptrs    []unsafe.Pointer
	vs, vw  []int32 // fixed-tap vertical tables
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
	cropRow := func(y int) []uint8 { // row y of the crop
		o := (top+y)*src.Stride + left*C
		return src.Pix[o : o+width*C]
	}
	if !needH && !needV {
		for y := 0; y < outH; y++ {
			copy(dst.Row(y), cropRow(y))
		}
		return nil
	}
	var ksx int
	if needH {
		ksx, s.kx, s.bx, s.coefTmp = coeffs(interp, width, outW, s.kx, s.bx, s.coefTmp)
	}
	// Fixed-width taps: every output sample reads exactly T inputs (window
	// shifted inside the crop at the edges, extra weights zero), so the
	// inner loops unroll with one bounds check per output pixel.
	hT := 0
	if needH && C == 3 {
		hT, s.hs, s.hw = fixedTaps(s.kx, s.bx, ksx, width, s.hs, s.hw, useAVX2)
	}
	hrow := func(out, in []uint8) {
		switch {
		case useAVX2 && hT != 0:
			hpass3AVX2(out, in, s.hs, s.hw, hT)
		case hT == 4:
			hpass3x4(out, in, s.hs, s.hw)
		case hT == 6:
			hpass3x6(out, in, s.hs, s.hw)
		case C == 3:
			hpass3(out, in, s.kx, s.bx, ksx)
		default:
			hpass1(out, in, s.kx, s.bx, ksx)
		}
	}
	if !needV {
		for y := 0; y < outH; y++ {
			hrow(dst.Row(y), cropRow(y))
		}
		return nil
	}
	var ksy int
	ksy, s.ky, s.by, s.coefTmp = coeffs(interp, height, outH, s.ky, s.by, s.coefTmp)
	if useAVX2 {
		if vT, vs, vw := fixedTaps(s.ky, s.by, ksy, height, s.vs, s.vw, true); vT != 0 {
			s.vs, s.vw = vs, vw
			resizeVerticalAVX2(dst, s, vT, outW*C, needH, hrow, cropRow)
			return nil
		}
	}
	if vT, vs, vw := fixedTaps(s.ky, s.by, ksy, height, s.vs, s.vw, false); vT != 0 {
		// same taps, fixed count: rewrite the tables in the (start, count)
		// form the loop below reads
		s.vs, s.vw = vs, vw
		ksy = vT
		s.ky = growInt32(s.ky, len(vw))
		copy(s.ky, vw)
		for yy := 0; yy < outH; yy++ {
			s.by[2*yy], s.by[2*yy+1] = vs[yy], int32(vT)
		}
	}

	// The vertical pass reads a window of at most ksy intermediate rows that
	// only moves down, so intermediate rows live in a ring of ksy rows (a few
	// KB, in L1), each computed once, stored as two 32-bit lanes per uint64
	// so that the vertical multiply-adds work on two samples at a time.
	rs := outW * C
	words := (rs + 1) / 2
	s.ring = growU64(s.ring, ksy*words)
	s.ringY = growInt(s.ringY, ksy)
	for i := range s.ringY {
		s.ringY[i] = -1
	}
	if cap(s.tmp) < rs {
		s.tmp = make([]uint8, rs)
	}
	line := s.tmp[:rs]
	s.acc = growU64(s.acc, words)
	if cap(s.rows) < ksy {
		s.rows = make([][]uint64, ksy)
		s.w = make([]uint64, ksy)
	}
	rows, w := s.rows[:ksy], s.w[:ksy]
	for yy := 0; yy < outH; yy++ {
		ymin, n := int(s.by[2*yy]), int(s.by[2*yy+1])
		k := s.ky[yy*ksy : yy*ksy+n]
		for j := 0; j < n; j++ {
			y := ymin + j
			slot := y % ksy
			r := s.ring[slot*words : (slot+1)*words]
			if s.ringY[slot] != y {
				if needH {
					hrow(line, cropRow(y))
					pack2(r, line)
				} else {
					pack2(r, cropRow(y))
				}
				s.ringY[slot] = y
			}
			rows[j] = r
			w[j] = uint64(int64(k[j]))
		}
		vpass(dst.Row(yy), rows[:n], w[:n], s.acc)
	}
	return nil
}

// fixedTaps rewrites per-output (first, count) taps from coeffs into a
// fixed count T of 4 or 6 (the smallest that holds every count; with any,
// exactly the largest count): start[i] is the first input,
// w[i*T:(i+1)*T] the weights, zero-padded, with the window moved left
// where it would pass the end of the input. It returns T = 0 (tables
// untouched) when the counts exceed 6 (without any) or the input is
// shorter than T.
func fixedTaps(k, b []int32, ks, inSize int, start, w []int32, any bool) (int, []int32, []int32) {
	n := len(b) / 2
	maxCnt := 0
	for i := 0; i < n; i++ {
		maxCnt = max(maxCnt, int(b[2*i+1]))
	}
	T := 4
	if maxCnt > 4 {
		T = 6
	}
	if any {
		T = max(maxCnt, 1)
	} else if maxCnt > 6 {
		return 0, start, w
	}
	if inSize < T {
		return 0, start, w
	}
	start = growInt32(start, n)
	w = growInt32(w, n*T)
	for i := 0; i < n; i++ {
		xmin, cnt := int(b[2*i]), int(b[2*i+1])
		st := min(xmin, inSize-T)
		off := xmin - st
		ww := w[i*T : (i+1)*T]
		for j := range ww {
			ww[j] = 0
		}
		copy(ww[off:off+cnt], k[i*ks:i*ks+cnt])
		start[i] = int32(st)
	}
	return T, start, w
}

// hpass3AVX2 resamples one RGB row with fixed taps: AVX2 for the pixels
// whose 4-byte loads and stores stay inside the rows, Go for the rest.
func hpass3AVX2(out, in []uint8, start, w []int32, T int) {
	n := len(out) / 3
	m := n
	for m > 0 && (3*int(start[m-1])+3*T+1 > len(in) || 3*(m-1)+4 > len(out)) {
		m--
	}
	if m > 0 {
		hconv3AVX2(out, in, start[:m], w[:m*T], T, m)
	}
	for xx := m; xx < n; xx++ {
		p := in[3*int(start[xx]):]
		k := w[xx*T : (xx+1)*T]
		r, g, b := int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1))
		for j, kw := range k {
			r += int32(p[3*j]) * kw
			g += int32(p[3*j+1]) * kw
			b += int32(p[3*j+2]) * kw
		}
		out[3*xx], out[3*xx+1], out[3*xx+2] = clip8(r), clip8(g), clip8(b)
	}
}

// resizeVerticalAVX2 is the vertical pass with AVX2: a ring of T 8-bit
// intermediate rows, then vconv8AVX2 over each output row (the last
// len%8 samples in Go).
func resizeVerticalAVX2(dst *image.Image, s *resampleScratch, T, rs int, needH bool,
	hrow func(out, in []uint8), cropRow func(y int) []uint8) {
	outH := dst.H
	if cap(s.ring8) < T*rs {
		s.ring8 = make([]uint8, T*rs)
	}
	ring := s.ring8[:T*rs]
	s.ringY = growInt(s.ringY, T)
	for i := range s.ringY {
		s.ringY[i] = -1
	}
	if cap(s.ptrs) < T {
		s.ptrs = make([]unsafe.Pointer, T)
	}
	ptrs := s.ptrs[:T]
	rows := make8Rows(s, T)
	n8 := rs &^ 7
	for yy := 0; yy < outH; yy++ {
		ymin := int(s.vs[yy])
		for j := 0; j < T; j++ {
			y := ymin + j
			slot := y % T
			r := ring[slot*rs : (slot+1)*rs]
			if s.ringY[slot] != y {
				if needH {
					hrow(r, cropRow(y))
				} else {
					copy(r, cropRow(y))
				}
				s.ringY[slot] = y
			}
			rows[j] = r
			ptrs[j] = unsafe.Pointer(&r[0])
		}
		k := s.vw[yy*T : (yy+1)*T]
		out := dst.Row(yy)
		if n8 > 0 {
			vconv8AVX2(out, ptrs, k, n8)
		}
		for i := n8; i < rs; i++ {
			acc := int32(1 << (precisionBits - 1))
			for j, kw := range k {
				acc += int32(rows[j][i]) * kw
			}
			out[i] = clip8(acc)
		}
	}
	// drop the pointers so the pooled scratch does not pin rows
	clear(ptrs)
}

func make8Rows(s *resampleScratch, T int) [][]uint8 {
	if cap(s.rows8) < T {
		s.rows8 = make([][]uint8, T)
	}
	return s.rows8[:T]
}

func growInt32(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}

// hpass3x4 resamples one RGB row with exactly 4 taps per output pixel.
func hpass3x4(out, row []uint8, start, w []int32) {
	n := len(out) / 3
	start = start[:n]
	w = w[:4*n]
	for xx, st := range start {
		x0 := int(st) * 3
		p := row[x0 : x0+12 : x0+12]
		k := w[4*xx : 4*xx+4 : 4*xx+4]
		const h = 1 << (precisionBits - 1)
		r := h + int32(p[0])*k[0] + int32(p[3])*k[1] + int32(p[6])*k[2] + int32(p[9])*k[3]
		g := h + int32(p[1])*k[0] + int32(p[4])*k[1] + int32(p[7])*k[2] + int32(p[10])*k[3]
		b := h + int32(p[2])*k[0] + int32(p[5])*k[1] + int32(p[8])*k[2] + int32(p[11])*k[3]
		o := out[3*xx : 3*xx+3 : 3*xx+3]
		o[0], o[1], o[2] = clip8(r), clip8(g), clip8(b)
	}
}

// hpass3x6 resamples one RGB row with exactly 6 taps per output pixel.
func hpass3x6(out, row []uint8, start, w []int32) {
	n := len(out) / 3
	start = start[:n]
	w = w[:6*n]
	for xx, st := range start {
		x0 := int(st) * 3
		p := row[x0 : x0+18 : x0+18]
		k := w[6*xx : 6*xx+6 : 6*xx+6]
		const h = 1 << (precisionBits - 1)
		r := h + int32(p[0])*k[0] + int32(p[3])*k[1] + int32(p[6])*k[2] + int32(p[9])*k[3] + int32(p[12])*k[4] + int32(p[15])*k[5]
		g := h + int32(p[1])*k[0] + int32(p[4])*k[1] + int32(p[7])*k[2] + int32(p[10])*k[3] + int32(p[13])*k[4] + int32(p[16])*k[5]
		b := h + int32(p[2])*k[0] + int32(p[5])*k[1] + int32(p[8])*k[2] + int32(p[11])*k[3] + int32(p[14])*k[4] + int32(p[17])*k[5]
		o := out[3*xx : 3*xx+3 : 3*xx+3]
		o[0], o[1], o[2] = clip8(r), clip8(g), clip8(b)
	}
}

func growU64(s []uint64, n int) []uint64 {
	if cap(s) < n {
		return make([]uint64, n)
	}
	return s[:n]
}

func growInt(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n)
	}
	return s[:n]
}

// pack2 stores samples in pairs: p[i] = in[2i] | in[2i+1]<<32.
func pack2(p []uint64, in []uint8) {
	n := len(in) / 2
	p = p[:n+len(in)%2]
	for i := 0; i < n; i++ {
		p[i] = uint64(in[2*i]) | uint64(in[2*i+1])<<32
	}
	if len(in)%2 == 1 {
		p[n] = uint64(in[len(in)-1])
	}
}

// laneBias keeps both 32-bit lanes of a SWAR accumulator non-negative
// (bicubic weights are negative in places): a lane's true value lies in
// [-2^28, 2^31), so lane+bias is in [0, 2^32) and the lanes never borrow
// from each other in the final sum (the arithmetic is exact modulo 2^64).
const laneBias = 1 << 29

const laneInit = (laneBias + 1<<(precisionBits-1)) * (1 + 1<<32)

// vpass combines packed rows with weights w (int32 weights as two's
// complement uint64) into one output row of 8-bit samples. acc is scratch
// of len(rows[0]) words, used when there are more than 4 taps.
func vpass(out []uint8, rows [][]uint64, w []uint64, acc []uint64) {
	words := len(acc)
	n := len(rows)
	if n <= 4 {
		var r [4][]uint64
		var ww [4]uint64
		for j := range 4 {
			if j < n {
				r[j], ww[j] = rows[j][:words], w[j]
			} else {
				r[j], ww[j] = rows[0][:words], 0
			}
		}
		r0 := r[0]
		r1, r2, r3 := r[1][:len(r0)], r[2][:len(r0)], r[3][:len(r0)]
		w0, w1, w2, w3 := ww[0], ww[1], ww[2], ww[3]
		full := len(out) / 2
		r0 = r0[:full]
		for i := range r0 {
			a := laneInit + r0[i]*w0 + r1[i]*w1 + r2[i]*w2 + r3[i]*w3
			o := out[2*i : 2*i+2 : 2*i+2]
			o[0] = clip8(int32(int64(a&0xffffffff) - laneBias))
			o[1] = clip8(int32(int64(a>>32) - laneBias))
		}
		if len(out)%2 == 1 {
			i := full
			a := laneInit + r[0][i]*w0 + r1[i]*w1 + r2[i]*w2 + r3[i]*w3
			store2(out, i, a)
		}
		return
	}
	if n <= 6 {
		var r [6][]uint64
		var ww [6]uint64
		for j := range 6 {
			if j < n {
				r[j], ww[j] = rows[j][:words], w[j]
			} else {
				r[j], ww[j] = rows[0][:words], 0
			}
		}
		r0 := r[0]
		r1, r2, r3, r4, r5 := r[1][:len(r0)], r[2][:len(r0)], r[3][:len(r0)], r[4][:len(r0)], r[5][:len(r0)]
		w0, w1, w2, w3, w4, w5 := ww[0], ww[1], ww[2], ww[3], ww[4], ww[5]
		for i := range r0 {
			a := laneInit + r0[i]*w0 + r1[i]*w1 + r2[i]*w2 + r3[i]*w3 + r4[i]*w4 + r5[i]*w5
			store2(out, i, a)
		}
		return
	}
	for i := range acc {
		acc[i] = laneInit
	}
	for j := 0; j < n; j++ {
		r := rows[j][:len(acc)]
		wj := w[j]
		for i, v := range r {
			acc[i] += v * wj
		}
	}
	for i, a := range acc {
		store2(out, i, a)
	}
}

// store2 decodes the two lanes of a into out[2i] and (if present) out[2i+1].
func store2(out []uint8, i int, a uint64) {
	lo := clip8(int32(int64(a&0xffffffff) - laneBias))
	hi := clip8(int32(int64(a>>32) - laneBias))
	if 2*i+1 < len(out) {
		out[2*i], out[2*i+1] = lo, hi
	} else {
		out[2*i] = lo
	}
}

// hpass3 resamples one RGB row.
func hpass3(out, row []uint8, kx, bx []int32, ks int) {
	n := len(out) / 3
	for xx := 0; xx < n; xx++ {
		xmin, cnt := int(bx[2*xx]), int(bx[2*xx+1])
		k := kx[xx*ks : xx*ks+cnt]
		s := row[xmin*3:]
		r, g, b := int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1))
		for _, w := range k {
			if len(s) < 3 {
				break
			}
			r += int32(s[0]) * w
			g += int32(s[1]) * w
			b += int32(s[2]) * w
			s = s[3:]
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

// SourceRect implements [SourceRegion]: the box Params draws (Augment
// reads nothing outside it; ResizedCrop clamps its filter to the box).
func (r RandomResizedCrop) SourceRect(w, h int, rng *rand.Rand) (image.Rect, bool) {
	if r.Size <= 0 || w < 1 || h < 1 {
		return image.Rect{}, false
	}
	top, left, ch, cw := r.Params(w, h, rng)
	return image.Rect{X0: left, Y0: top, X1: left + cw, Y1: top + ch}, true
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
