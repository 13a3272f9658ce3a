package nn

// Element-wise kernels of the layers. Each has a portable Go version here;
// on amd64 with AVX2 and FMA, kernels_amd64.go runs the bulk of the slice
// (a multiple of 8) in assembly and finishes the tail with these. Sums use a
// fixed order (per lane, then lanes in a fixed order, then the tail), so
// results are deterministic on a given machine. None allocates.

func addToGo(dst, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] += v
	}
}

func sumGo(v []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(v); i += 4 {
		s0 += v[i]
		s1 += v[i+1]
		s2 += v[i+2]
		s3 += v[i+3]
	}
	for ; i < len(v); i++ {
		s0 += v[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func sqdevGo(v []float32, m float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(v); i += 4 {
		d0, d1, d2, d3 := v[i]-m, v[i+1]-m, v[i+2]-m, v[i+3]-m
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(v); i++ {
		d := v[i] - m
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// scaleShiftGo writes dst = src·s + t, then max(·, 0) if relu.
func scaleShiftGo(dst, src []float32, s, t float32, relu bool) {
	dst = dst[:len(src)]
	if relu {
		for i, v := range src {
			dst[i] = max(v*s+t, 0)
		}
		return
	}
	for i, v := range src {
		dst[i] = v*s + t
	}
}

// bnSumsGo returns Σdy and Σdy·(x−m).
func bnSumsGo(dy, x []float32, m float32) (float32, float32) {
	x = x[:len(dy)]
	var a0, a1, c0, c1 float32
	i := 0
	for ; i+2 <= len(dy); i += 2 {
		a0 += dy[i]
		a1 += dy[i+1]
		c0 += dy[i] * (x[i] - m)
		c1 += dy[i+1] * (x[i+1] - m)
	}
	for ; i < len(dy); i++ {
		a0 += dy[i]
		c0 += dy[i] * (x[i] - m)
	}
	return a0 + a1, c0 + c1
}

// reluMask returns d where y > 0, else 0, without a branch (y ≥ 0 is a ReLU
// output, so y > 0 exactly when its bits are a positive integer).
func reluMask(d, y float32) float32 {
	// −int64(int32(bits)) is negative exactly for bits in [1, 2³¹): y > 0
	// (−0 and negative values give 0; a NaN y passes d).
	m := uint32(-int64(int32(f32bits(y))) >> 63)
	return f32frombits(f32bits(d) & m)
}

// bnSumsMaskGo writes dm = dy·[y > 0] and returns Σdm and Σdm·(x−m).
func bnSumsMaskGo(dm, dy, x, y []float32, m float32) (float32, float32) {
	dm, x, y = dm[:len(dy)], x[:len(dy)], y[:len(dy)]
	var a0, a1, c0, c1 float32
	i := 0
	for ; i+2 <= len(dy); i += 2 {
		d0, d1 := reluMask(dy[i], y[i]), reluMask(dy[i+1], y[i+1])
		dm[i], dm[i+1] = d0, d1
		a0 += d0
		a1 += d1
		c0 += d0 * (x[i] - m)
		c1 += d1 * (x[i+1] - m)
	}
	for ; i < len(dy); i++ {
		d := reluMask(dy[i], y[i])
		dm[i] = d
		a0 += d
		c0 += d * (x[i] - m)
	}
	return a0 + a1, c0 + c1
}

// bnApplyGo writes dx = k·dm + b·x + c.
func bnApplyGo(dx, dm, x []float32, k, b, c float32) {
	dx, x = dx[:len(dm)], x[:len(dm)]
	for i, d := range dm {
		dx[i] = k*d + b*x[i] + c
	}
}

// reluBackGo writes dx = dy·[y > 0] (y ≥ 0).
func reluBackGo(dx, dy, y []float32) {
	dx, y = dx[:len(dy)], y[:len(dy)]
	for i, d := range dy {
		dx[i] = reluMask(d, y[i])
	}
}

// addReluGo writes y = max(a + b, 0).
func addReluGo(y, a, b []float32) {
	y, b = y[:len(a)], b[:len(a)]
	for i, v := range a {
		y[i] = max(v+b[i], 0)
	}
}

// add3Go writes d = a + b.
func add3Go(d, a, b []float32) {
	d, b = d[:len(a)], b[:len(a)]
	for i, v := range a {
		d[i] = v + b[i]
	}
}

// poolRowGo takes len(y) full 2×2 windows over rows r0 and r1 (row stride
// w, r0 starting at flat index base) of post = max(v·s+t, 0), and writes the
// window maximum to y, the flat index of its first maximum in scan order to
// idx and the raw input there to xs. No branches on the data.
func poolRowGo(r0, r1, y []float32, idx []int32, xs []float32, s, t float32, base, w int32) {
	r0, r1 = r0[:2*len(y)], r1[:2*len(y)]
	idx, xs = idx[:len(y)], xs[:len(y)]
	for o := range y {
		raw := [4]float32{r0[2*o], r0[2*o+1], r1[2*o], r1[2*o+1]}
		a, b := max(raw[0]*s+t, 0), max(raw[1]*s+t, 0)
		c, d := max(raw[2]*s+t, 0), max(raw[3]*s+t, 0)
		// The values are ≥ +0 (or NaN), so their bits order as integers:
		// gt(p, q) is 1 when p > q, without a branch.
		ka := gt(b, a)     // 0 or 1: candidate in row 0
		kc := 2 + gt(d, c) // 2 or 3: candidate in row 1
		ma, mc := max(a, b), max(c, d)
		r := gt(mc, ma)
		ka = ka + r*(kc-ka)
		y[o] = max(ma, mc)
		xs[o] = raw[ka]
		idx[o] = base + int32(2*o) + int32(ka&1) + int32(ka>>1)*w
	}
}

// gt returns 1 if p > q else 0, for p, q ≥ +0, comparing bits as integers.
func gt(p, q float32) int {
	return int((int64(f32bits(q)) - int64(f32bits(p))) >> 63 & 1)
}
