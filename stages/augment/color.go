package augment

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/contrastream/contrastream/stages/image"
)

// hsvTables are the static tables behind the exact fast path of PIL's
// RGB→HSV→RGB conversion. Built once, on first use (about 200 KB).
type hsvTables struct {
	// hue[k][cr<<8|n] is PIL's hue byte for the pixel class k whose
	// non-trivial normalized difference is n/cr (see rgbToHSV).
	hue [6][256 * 256]uint8
	// sat[cr<<8|maxc] is PIL's saturation byte.
	sat [256 * 256]uint8
	// hi[h], hf[h]: sector and fraction of hue byte h (hsv2rgb).
	hi [256]uint8
	hf [256]float32
	// fs[s] = s/255 as PIL computes it (double, stored as float).
	fs [256]float32
	// omf[h] = 1 − f as a double, f = hf[h].
	omf [256]float64
	// p[s<<8|v] is PIL's p = round(v·(1 − fs)), the smallest output channel.
	p [256 * 256]uint8
	// satp[cr<<8|maxc] = sat | p[sat<<8|maxc]<<8 (the AVX2 kernel's gather).
	satp [256 * 256]uint32
}

var tables = sync.OnceValue(buildHSVTables)

// hueByte is PIL 9.4's rgb2hsv hue computation (Convert.c), with its mix of
// float and double arithmetic, from the already computed float h.
func hueByte(h float32) uint8 {
	x := float64(h)/6.0 + 1.0
	if x >= 1 { // fmod(x, 1) for x in [0, 2), exact
		x -= 1
	}
	hf := float32(x)
	v := int(float64(hf) * 255.0)
	return uint8(max(0, min(255, v)))
}

// clipRound is C's round() (half away from zero) then CLIP8, for x >= 0.
func clipRound(x float64) uint8 {
	r := math.Round(x)
	if r >= 255 {
		return 255
	}
	return uint8(r)
}

func buildHSVTables() *hsvTables {
	t := new(hsvTables)
	for cr := 1; cr < 256; cr++ {
		fcr := float32(cr)
		for n := 0; n <= cr; n++ {
			q := float32(n) / fcr // the one quotient that is not 0 or 1
			i := cr<<8 | n
			// r is max: h = bc − gc, with min at b (bc = 1) or at g (gc = 1).
			t.hue[0][i] = hueByte(1 - q)                           // min is b: h = 1 − gc, q = gc
			t.hue[1][i] = hueByte(q - 1)                           // min is g: h = bc − 1, q = bc
			t.hue[2][i] = hueByte(float32(2.0 + float64(q) - 1.0)) // g max, min b: 2 + rc − 1
			t.hue[3][i] = hueByte(float32(2.0 + 1.0 - float64(q))) // g max, min r: 2 + 1 − bc
			t.hue[4][i] = hueByte(float32(4.0 + 1.0 - float64(q))) // b max, min g: 4 + 1 − rc
			t.hue[5][i] = hueByte(float32(4.0 + float64(q) - 1.0)) // b max, min r: 4 + gc − 1
		}
		for m := cr; m < 256; m++ {
			s := fcr / float32(m)
			t.sat[cr<<8|m] = uint8(max(0, min(255, int(float64(s)*255.0))))
		}
	}
	for h := range 256 {
		x := float64(h) * 6.0 / 255.0
		i := math.Floor(x)
		t.hi[h] = uint8(int(i) % 6)
		t.hf[h] = float32(x - i)
	}
	for s := range 256 {
		t.fs[s] = float32(float64(s) / 255.0)
	}
	for h := range 256 {
		t.omf[h] = 1.0 - float64(t.hf[h])
	}
	for s := range 256 {
		for v := range 256 {
			t.p[s<<8|v] = clipRound(float64(v) * (1.0 - float64(t.fs[s])))
		}
	}
	for i, sat := range t.sat {
		t.satp[i] = uint32(sat) | uint32(t.p[int(sat)<<8|i&0xff])<<8
	}
	return t
}

// hue3 applies the pending table pre, then PIL's hue shift by shift hue
// levels (mod 256), to RGB rows; dst may be src. It is hsvFast and
// hsvToRGBFast written out in one loop (the tests check it against them).
func hue3(dst, src *image.Image, pre *lut, shift uint8) {
	t := tables()
	if d, s, blocks, ok := denseRGB16(dst, src, pre); ok {
		hue3VBMI(d, s, blocks, int(shift))
		id := identityLUT()
		hue3Row(t, d[48*blocks:], s[48*blocks:], &id, shift)
		return
	}
	if useAVX2 && src.W >= 8 {
		src = applyPending(dst, src, pre)
		id := identityLUT()
		n8 := src.W &^ 7
		for y := 0; y < src.H; y++ {
			s := src.Row(y)
			d := dst.Row(y)
			hue3AVX2(d, s, n8, int(shift), &t.hue[0][0], &t.satp[0])
			if n8 < src.W {
				hue3Row(t, d[3*n8:], s[3*n8:], &id, shift)
			}
		}
		return
	}
	for y := 0; y < src.H; y++ {
		hue3Row(t, dst.Row(y), src.Row(y), pre, shift)
	}
}

// hue3Row is hue3 for one row in Go.
func hue3Row(t *hsvTables, d, s []uint8, pre *lut, shift uint8) {
	{
		d = d[:len(s)]
		for x := 0; x+2 < len(s); x += 3 {
			r, g, b := pre[s[x]], pre[s[x+1]], pre[s[x+2]]
			maxc := max(r, g, b)
			minc := min(r, g, b)
			o := d[x : x+3 : x+3]
			if maxc == minc {
				o[0], o[1], o[2] = maxc, maxc, maxc // s = 0: gray stays gray
				continue
			}
			cr := int(maxc - minc)
			var k, n int
			switch {
			case r == maxc:
				if b == minc {
					k, n = 0, int(maxc-g)
				} else {
					k, n = 1, int(maxc-b)
				}
			case g == maxc:
				if b == minc {
					k, n = 2, int(maxc-r)
				} else {
					k, n = 3, int(maxc-b)
				}
			default:
				if r == minc {
					k, n = 5, int(maxc-g)
				} else {
					k, n = 4, int(maxc-r)
				}
			}
			h := t.hue[k][cr<<8|n] + shift
			sat := t.sat[cr<<8|int(maxc)]
			if sat == 0 {
				o[0], o[1], o[2] = maxc, maxc, maxc
				continue
			}
			i := t.hi[h]
			var kk float64
			if i&1 == 1 {
				kk = 1.0 - float64(t.fs[sat]*t.hf[h])
			} else {
				kk = 1.0 - float64(float64(t.fs[sat])*t.omf[h])
			}
			tv := uint8(int(float64(maxc)*kk + 0.5))
			p := t.p[int(sat)<<8|int(maxc)]
			switch i {
			case 0:
				o[0], o[1], o[2] = maxc, tv, p
			case 1:
				o[0], o[1], o[2] = tv, maxc, p
			case 2:
				o[0], o[1], o[2] = p, maxc, tv
			case 3:
				o[0], o[1], o[2] = p, tv, maxc
			case 4:
				o[0], o[1], o[2] = tv, p, maxc
			default:
				o[0], o[1], o[2] = maxc, p, tv
			}
		}
	}
}

// hueShift is torchvision's np.uint8(hue_factor * 255): truncation toward
// zero, then modulo 256.
func hueShift(factor float64) uint8 { return uint8(int64(factor * 255)) }

// AdjustHue rotates the hue of src by factor (in [-0.5, 0.5], a fraction of
// the hue circle), as torchvision's adjust_hue on a PIL image: PIL's RGB→HSV
// with 8-bit channels, the hue byte shifted by int(factor·255) modulo 256,
// and PIL's HSV→RGB. The result is bit-identical. A gray image is returned
// unchanged. dst may be src. Safe for concurrent use; allocates only when dst
// must grow (the first call builds ~200 KB of shared tables).
func AdjustHue(dst, src *image.Image, factor float64) error {
	if err := checkSrc("hue", src); err != nil {
		return err
	}
	if !(factor >= -0.5 && factor <= 0.5) {
		return fmt.Errorf("augment: hue factor %v outside [-0.5, 0.5]", factor)
	}
	if src.C == 1 {
		if dst != src {
			dst.CopyFrom(src)
		}
		return nil
	}
	if dst != src {
		dst.Resize(src.W, src.H, src.C)
	}
	id := identityLUT()
	hue3(dst, src, &id, hueShift(factor))
	return nil
}

// ColorJitter changes brightness, contrast, saturation and hue in a random
// order, like torchvision's ColorJitter on PIL images (the semantics SimCLR's
// torch ports use): factors are drawn uniformly from [max(0, 1−B), 1+B],
// [max(0, 1−C), 1+C], [max(0, 1−S), 1+S] and [−H, H]; each adjustment
// rounds and clips to 8 bits before the next. A zero field disables that
// adjustment, so the zero value is the identity. Hue must be <= 0.5.
//
// Randomness: a permutation of the four (Fisher–Yates, 3 draws), then one
// draw per enabled factor in the order B, C, S, H.
//
// Fast path: brightness and contrast are per-level tables; consecutive table
// adjustments are composed into one, and the pending table is fused into the
// next saturation or hue pass, so a jitter costs at most four passes over
// the pixels (one of them the read-only mean of a contrast step), usually
// two or three. The result is bit-identical to applying [AdjustBrightness],
// [AdjustContrast], [AdjustSaturation] and [AdjustHue] in that order. It
// allows in-place use. Safe for concurrent use; allocates nothing in steady
// state.
type ColorJitter struct {
	Brightness, Contrast, Saturation, Hue float64
}

// jitterParams are one draw of ColorJitter.
type jitterParams struct {
	order [4]int  // 0 brightness, 1 contrast, 2 saturation, 3 hue
	on    [4]bool // whether each adjustment is enabled
	f     [4]float64
}

func (j ColorJitter) params(rng *rand.Rand) (p jitterParams) {
	shuffle(p.order[:], rng)
	ranges := [4][2]float64{
		{max(0, 1-j.Brightness), 1 + j.Brightness},
		{max(0, 1-j.Contrast), 1 + j.Contrast},
		{max(0, 1-j.Saturation), 1 + j.Saturation},
		{-j.Hue, j.Hue},
	}
	for i, r := range ranges {
		if r[0] == r[1] && r[0] == [4]float64{1, 1, 1, 0}[i] {
			continue
		}
		p.on[i] = true
		p.f[i] = r[0] + (r[1]-r[0])*rng.Float64()
	}
	return p
}

// Augment implements [Augmentation].
func (j ColorJitter) Augment(dst, src *image.Image, rng *rand.Rand) error {
	if err := checkSrc("color jitter", src); err != nil {
		return err
	}
	if j.Brightness < 0 || j.Contrast < 0 || j.Saturation < 0 || !(j.Hue >= 0 && j.Hue <= 0.5) {
		return fmt.Errorf("augment: color jitter: bad strengths %+v", j)
	}
	jitter(dst, src, j.params(rng))
	return nil
}

// AllowsInPlace reports true.
func (ColorJitter) AllowsInPlace() bool { return true }

// jitter applies p to src into dst (which may be src), fusing table passes.
func jitter(dst, src *image.Image, p jitterParams) {
	if dst != src {
		dst.Resize(src.W, src.H, src.C)
	}
	cur := src // where the next pass reads
	pending := identityLUT()
	dirty := false
	for _, op := range p.order {
		if !p.on[op] {
			continue
		}
		switch op {
		case 0:
			t := brightnessLUT(float32(p.f[0]))
			pending.then(&t)
			dirty = true
		case 1:
			if dirty && useVBMI && src.C == 3 {
				// The table pass costs less than the mean's scalar
				// table lookups: apply it, then take the mean in SIMD.
				applyLUT(dst, cur, &pending)
				cur, pending, dirty = dst, identityLUT(), false
			}
			t := contrastLUT(meanLuma(cur, &pending), float32(p.f[1]))
			pending.then(&t)
			dirty = true
		case 2, 3:
			if src.C != 3 {
				continue // identity on gray, as PIL
			}
			if op == 2 {
				saturate3(dst, cur, &pending, float32(p.f[2]))
			} else {
				hue3(dst, cur, &pending, hueShift(p.f[3]))
			}
			cur = dst
			pending = identityLUT()
			dirty = false
		}
	}
	if dirty || cur != dst {
		applyLUT(dst, cur, &pending)
	}
}
