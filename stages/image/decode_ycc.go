package image

import (
	stdimage "image"

	"github.com/contrastream/contrastream/stages/image/internal/simd"
)

// YCbCr → interleaved RGB, bit-compatible with libjpeg(-turbo)'s defaults
// (jdcolor.c ycc_rgb_convert and jdsample.c h2v1/h2v2 fancy upsampling), so
// that the pure-Go backend differs from libjpeg-turbo and PIL only by the
// IDCT's rounding.

// yccToRGB converts s into dst (already sized W×H×3).
func yccToRGB(dst *Image, s *stdimage.YCbCr, fast bool) {
	b := s.Rect
	w, h := b.Dx(), b.Dy()
	var hs, vs int // chroma subsampling factors
	switch s.SubsampleRatio {
	case stdimage.YCbCrSubsampleRatio444:
		hs, vs = 1, 1
	case stdimage.YCbCrSubsampleRatio422:
		hs, vs = 2, 1
	case stdimage.YCbCrSubsampleRatio420:
		hs, vs = 2, 2
	case stdimage.YCbCrSubsampleRatio440:
		hs, vs = 1, 2
	case stdimage.YCbCrSubsampleRatio411:
		hs, vs = 4, 1
	case stdimage.YCbCrSubsampleRatio410:
		hs, vs = 4, 2
	default:
		hs, vs = 1, 1
	}
	// Chroma plane size, as image.YCbCr lays it out for a rectangle at the
	// origin (and as libjpeg's downsampled_width/height).
	x0, y0 := b.Min.X/hs, b.Min.Y/vs
	cw := (b.Max.X+hs-1)/hs - x0
	ch := (b.Max.Y+vs-1)/vs - y0
	crow := func(cy int) (cb, cr []uint8) {
		o := cy * s.CStride
		return s.Cb[o : o+cw], s.Cr[o : o+cw]
	}

	// Scratch rows for upsampled chroma: on the stack for common widths.
	var stack [2 * 2048]uint8
	var ucb, ucr []uint8
	if w <= 2048 {
		ucb, ucr = stack[:w], stack[2048:2048+w]
	} else {
		buf := make([]uint8, 2*w)
		ucb, ucr = buf[:w], buf[w:]
	}

	fancy := !fast && cw > 2 && vs <= 2 && (hs == 2) // libjpeg: h2v1 and h2v2 only, width > 2
	for y := 0; y < h; y++ {
		yo := s.YOffset(b.Min.X, b.Min.Y+y)
		yrow := s.Y[yo : yo+w]
		cy := (b.Min.Y+y)/vs - y0
		d := dst.Row(y)
		switch {
		case hs == 1 && vs == 1:
			cb, cr := crow(cy)
			yccRow(d, yrow, cb, cr)
			continue
		case fancy && vs == 1:
			cb, cr := crow(cy)
			fancyH2V1(ucb, cb)
			fancyH2V1(ucr, cr)
		case fancy && vs == 2:
			// The nearer chroma row counts 3/4, the farther 1/4; at the
			// image edges the nearest row stands in for the missing one.
			ny := cy + 1
			if (b.Min.Y+y)&1 == 0 {
				ny = cy - 1
			}
			ny = min(max(ny, 0), ch-1)
			cbA, crA := crow(cy)
			cbB, crB := crow(ny)
			fancyH2V2(ucb, cbA, cbB)
			fancyH2V2(ucr, crA, crB)
		case hs == 2 && b.Min.X == 0:
			// Replicated chroma, two pixels per chroma sample: compute the
			// chroma terms once for both (libjpeg's merged upsampler).
			cb, cr := crow(cy)
			yccRowH2(d, yrow, cb, cr)
			continue
		default: // nearest neighbour
			cb, cr := crow(cy)
			for x := 0; x < w; x++ {
				cx := (b.Min.X+x)/hs - x0
				ucb[x], ucr[x] = cb[cx], cr[cx]
			}
		}
		yccRow(d, yrow, ucb, ucr)
	}
}

// yccRow converts one row of full-resolution Y, Cb, Cr samples to RGB.
func yccRow(d, yr, cb, cr []uint8) {
	n := len(yr)
	d = d[:3*n]
	cb = cb[:n]
	cr = cr[:n]
	x := 0
	if useVBMI && n >= 32 {
		blocks := n / 32
		simd.YCC32(&d[0], &yr[0], &cb[0], &cr[0], blocks)
		x = 32 * blocks
	}
	if useVBMI && n-x >= 16 {
		simd.YCC(&d[3*x], &yr[x], &cb[x], &cr[x], 1)
		x += 16
	}
	for ; x < n; x++ {
		yy := int32(yr[x]) + rangeOff
		u, v := cb[x], cr[x]
		r := yy + yccTab.crR[v]
		g := yy + ((yccTab.cbG[u] + yccTab.crG[v]) >> 16)
		bl := yy + yccTab.cbB[u]
		p := d[3*x : 3*x+3 : 3*x+3]
		p[0] = rangeLimit[r&rangeMask]
		p[1] = rangeLimit[g&rangeMask]
		p[2] = rangeLimit[bl&rangeMask]
	}
}

// yccRowH2 converts one row whose chroma is horizontally subsampled by 2
// (len(cb) == (len(yr)+1)/2), replicating each chroma sample over two pixels.
// The results equal yccRow on replicated chroma.
func yccRowH2(d, yr, cb, cr []uint8) {
	n := len(yr)
	d = d[:3*n]
	cw := n / 2
	cb = cb[:(n+1)/2]
	cr = cr[:(n+1)/2]
	for c := 0; c < cw; c++ {
		u, v := cb[c], cr[c]
		dr := yccTab.crR[v]
		dg := (yccTab.cbG[u] + yccTab.crG[v]) >> 16
		db := yccTab.cbB[u]
		y2 := yr[2*c : 2*c+2 : 2*c+2]
		p := d[6*c : 6*c+6 : 6*c+6]
		y0, y1 := int32(y2[0])+rangeOff, int32(y2[1])+rangeOff
		p[0] = rangeLimit[(y0+dr)&rangeMask]
		p[1] = rangeLimit[(y0+dg)&rangeMask]
		p[2] = rangeLimit[(y0+db)&rangeMask]
		p[3] = rangeLimit[(y1+dr)&rangeMask]
		p[4] = rangeLimit[(y1+dg)&rangeMask]
		p[5] = rangeLimit[(y1+db)&rangeMask]
	}
	if n&1 == 1 { // odd width: the last pixel has its chroma sample alone
		yccRow(d[3*(n-1):], yr[n-1:], cb[cw:], cr[cw:])
	}
}

// yccTab holds libjpeg's colour-conversion tables (jdcolor.c
// build_ycc_rgb_table): table lookups instead of four multiplies per pixel.
var yccTab = func() (t struct{ crR, cbB, crG, cbG [256]int32 }) {
	for i := range 256 {
		x := int32(i) - 128
		t.crR[i] = (91881*x + 32768) >> 16
		t.cbB[i] = (116130*x + 32768) >> 16
		t.crG[i] = -46802 * x
		t.cbG[i] = -22554*x + 32768
	}
	return t
}()

// rangeLimit clamps v-rangeOff to [0, 255] for v in [0, 1024): a table
// lookup instead of two data-dependent branches per sample (libjpeg's
// range_limit). YCbCr→RGB results lie in [-227, 482], well inside.
const (
	rangeOff  = 384
	rangeMask = 1023
)

var rangeLimit = func() (t [1024]uint8) {
	for i := range t {
		t[i] = uint8(min(max(i-rangeOff, 0), 255))
	}
	return t
}()

// fancyH2V1 doubles src horizontally into d (len(d) is 2*len(src) or one
// less, len(src) >= 2) with libjpeg's h2v1_fancy_upsample: each output is
// 3/4 of the nearer input plus 1/4 of the farther, with alternating rounding.
func fancyH2V1(d, src []uint8) {
	n := len(src)
	w := len(d)
	d = d[:2*n-1]
	d[0] = src[0]
	d[1] = uint8((3*int32(src[0]) + int32(src[1]) + 2) >> 2)
	// outputs 2c (nearer to c than to c-1) and 2c+1 (nearer to c than to
	// c+1) for the columns 0 < c < n-1
	c := 1
	if useAVX2 && n >= 18 {
		blocks := (n - 2) / 16
		simd.FancyH2V1(&d[2], &src[0], blocks)
		c += 16 * blocks
	}
	for ; c < n-1; c++ {
		t := 3 * int32(src[c])
		p := d[2*c : 2*c+2 : 2*c+2]
		p[0] = uint8((t + int32(src[c-1]) + 1) >> 2)
		p[1] = uint8((t + int32(src[c+1]) + 2) >> 2)
	}
	d[2*n-2] = uint8((3*int32(src[n-1]) + int32(src[n-2]) + 1) >> 2)
	if 2*n <= w {
		d[:w][2*n-1] = src[n-1]
	}
}

// fancyH2V2 writes one upsampled chroma row from the nearer chroma row a and
// the farther row b (len(a) >= 2), with libjpeg's h2v2_fancy_upsample
// (triangle filter in both directions).
func fancyH2V2(d, a, b []uint8) {
	n := len(a)
	w := len(d)
	b = b[:n]
	d = d[:2*n-1]
	cs := func(c int) int32 { return 3*int32(a[c]) + int32(b[c]) } // column sums
	d[0] = uint8((4*cs(0) + 8) >> 4)
	d[1] = uint8((3*cs(0) + cs(1) + 7) >> 4)
	c := 1
	if useAVX2 && n >= 18 {
		blocks := (n - 2) / 16
		simd.FancyH2V2(&d[2], &a[0], &b[0], blocks)
		c += 16 * blocks
	}
	for ; c < n-1; c++ {
		t := 3 * cs(c)
		p := d[2*c : 2*c+2 : 2*c+2]
		p[0] = uint8((t + cs(c-1) + 8) >> 4)
		p[1] = uint8((t + cs(c+1) + 7) >> 4)
	}
	d[2*n-2] = uint8((3*cs(n-1) + cs(n-2) + 8) >> 4)
	if 2*n <= w {
		d[:w][2*n-1] = uint8((4*cs(n-1) + 7) >> 4)
	}
}
