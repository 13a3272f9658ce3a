package augment

// Per-pixel references for the HSV fast paths: PIL 9.4's rgb2hsv and
// hsv2rgb (Convert.c) transcribed with their float/double mix, and the
// one-pixel table forms that hue3 and hue3AVX2 inline. The tests compare
// the kernels with these, exhaustively where it is affordable.

// sectorPerm[i] gives, for hsv2rgb sector i, which of (v, t, p) goes to R,
// G and B, where t is q in odd sectors and PIL's t in even ones.
var sectorPerm = [6][3]uint8{{0, 1, 2}, {1, 0, 2}, {2, 0, 1}, {2, 1, 0}, {1, 2, 0}, {0, 2, 1}}

// rgbToHSV is PIL 9.4's rgb2hsv for one pixel, written out with the same
// float/double mix; buildHSVTables reproduces its arithmetic and the tests
// check the table paths against it.
func rgbToHSV(r, g, b uint8) (uint8, uint8, uint8) {
	maxc := max(r, g, b)
	minc := min(r, g, b)
	if maxc == minc {
		return 0, 0, maxc
	}
	cr := float32(maxc - minc)
	s := cr / float32(maxc)
	rc := float32(maxc-r) / cr
	gc := float32(maxc-g) / cr
	bc := float32(maxc-b) / cr
	var h float32
	switch {
	case r == maxc:
		h = bc - gc
	case g == maxc:
		h = float32(2.0 + float64(rc) - float64(bc))
	default:
		h = float32(4.0 + float64(gc) - float64(rc))
	}
	us := int(float64(s) * 255.0)
	return hueByte(h), uint8(max(0, min(255, us))), maxc
}

// hsvToRGB is PIL 9.4's hsv2rgb for one pixel.
func hsvToRGB(t *hsvTables, h, s, v uint8) (uint8, uint8, uint8) {
	if s == 0 {
		return v, v, v
	}
	f := t.hf[h]
	fs := t.fs[s]
	fv := float64(v)
	p := clipRound(fv * (1.0 - float64(fs)))
	q := clipRound(fv * (1.0 - float64(fs*f)))
	u := clipRound(fv * (1.0 - float64(float64(fs)*(1.0-float64(f)))))
	switch t.hi[h] {
	case 0:
		return v, u, p
	case 1:
		return q, v, p
	case 2:
		return p, v, u
	case 3:
		return p, q, v
	case 4:
		return u, p, v
	}
	return v, p, q
}

// hsvFast is rgbToHSV through the tables: two compares and two lookups.
func hsvFast(t *hsvTables, r, g, b uint8) (uint8, uint8, uint8) {
	maxc := max(r, g, b)
	minc := min(r, g, b)
	if maxc == minc {
		return 0, 0, maxc
	}
	cr := int(maxc - minc)
	var k, n int
	switch {
	case r == maxc:
		if b == minc { // bc = 1, h = 1 − gc
			k, n = 0, int(maxc-g)
		} else { // gc = 1, h = bc − 1
			k, n = 1, int(maxc-b)
		}
	case g == maxc:
		if b == minc { // bc = 1: h = 2 + rc − 1
			k, n = 2, int(maxc-r)
		} else { // rc = 1: h = 2 + 1 − bc
			k, n = 3, int(maxc-b)
		}
	default:
		if r == minc { // rc = 1: h = 4 + gc − 1
			k, n = 5, int(maxc-g)
		} else { // gc = 1: h = 4 + 1 − rc
			k, n = 4, int(maxc-r)
		}
	}
	return t.hue[k][cr<<8|n], t.sat[cr<<8|int(maxc)], maxc
}

// hsvToRGBFast is hsvToRGB with p from a table, only the one of q and t
// that the sector uses computed, and round(x) as int(x + 0.5) (equal for
// every x this can produce: TestHSVFastPathExhaustive checks all 16M
// (h, s, v)).
func hsvToRGBFast(t *hsvTables, h, s, v uint8) (uint8, uint8, uint8) {
	if s == 0 {
		return v, v, v
	}
	fv := float64(v)
	i := t.hi[h]
	var k float64
	if i&1 == 1 {
		k = 1.0 - float64(t.fs[s]*t.hf[h])
	} else {
		k = 1.0 - float64(float64(t.fs[s])*t.omf[h])
	}
	vals := [3]uint8{v, uint8(int(fv*k + 0.5)), t.p[int(s)<<8|int(v)]}
	pm := &sectorPerm[i]
	return vals[pm[0]], vals[pm[1]], vals[pm[2]]
}
