package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The dispatching kernels (assembly on amd64 with AVX2) against the portable
// Go versions.

func kernelInput(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		switch rng.IntN(8) {
		case 0:
			v[i] = 0
		case 1:
			v[i] = float32(math.Copysign(0, -1))
		default:
			v[i] = float32(rng.NormFloat64())
		}
	}
	return v
}

func near(a, b float32, scale float64) bool {
	return math.Abs(float64(a)-float64(b)) <= 1e-5*scale+1e-6
}

func checkKernels(t *testing.T, n int, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, uint64(n)))
	a, b, c := kernelInput(rng, n), kernelInput(rng, n), kernelInput(rng, n)
	relu := make([]float32, n)
	for i := range relu {
		relu[i] = max(c[i], 0)
	}
	scale := float64(n) + 1
	if s, g := sum(a), sumGo(a); !near(s, g, scale) {
		t.Errorf("n=%d sum %v, Go %v", n, s, g)
	}
	if s, g := sqdev(a, 0.3), sqdevGo(a, 0.3); !near(s, g, 2*scale) {
		t.Errorf("n=%d sqdev %v, Go %v", n, s, g)
	}
	s1, s2 := bnSums(a, b, -0.2)
	g1, g2 := bnSumsGo(a, b, -0.2)
	if !near(s1, g1, scale) || !near(s2, g2, 2*scale) {
		t.Errorf("n=%d bnSums %v %v, Go %v %v", n, s1, s2, g1, g2)
	}
	dm, dmGo := make([]float32, n), make([]float32, n)
	s1, s2 = bnSumsMask(dm, a, b, relu, 0.1)
	g1, g2 = bnSumsMaskGo(dmGo, a, b, relu, 0.1)
	if !near(s1, g1, scale) || !near(s2, g2, 2*scale) {
		t.Errorf("n=%d bnSumsMask %v %v, Go %v %v", n, s1, s2, g1, g2)
	}
	for i := range dm {
		want := a[i]
		if !(relu[i] > 0) {
			want = 0
		}
		if dm[i] != want || dmGo[i] != want {
			t.Fatalf("n=%d bnSumsMask dm[%d] = %v / Go %v, want %v (y %v)", n, i, dm[i], dmGo[i], want, relu[i])
		}
	}
	x, y := make([]float32, n), make([]float32, n)
	elementwise := []struct {
		name     string
		asm, go_ func()
	}{
		{"scaleShift", func() { scaleShift(x, a, 1.5, -0.25, false) }, func() { scaleShiftGo(y, a, 1.5, -0.25, false) }},
		{"scaleShiftReLU", func() { scaleShift(x, a, 1.5, -0.25, true) }, func() { scaleShiftGo(y, a, 1.5, -0.25, true) }},
		{"bnApply", func() { bnApply(x, a, b, 0.7, -0.3, 0.05) }, func() { bnApplyGo(y, a, b, 0.7, -0.3, 0.05) }},
		{"reluBack", func() { reluBack(x, a, relu) }, func() { reluBackGo(y, a, relu) }},
		{"addRelu", func() { addRelu(x, a, b) }, func() { addReluGo(y, a, b) }},
		{"add3", func() { add3(x, a, b) }, func() { add3Go(y, a, b) }},
		{"addTo", func() { copy(x, c); addTo(x, a) }, func() { copy(y, c); addToGo(y, a) }},
	}
	for _, e := range elementwise {
		clear(x)
		clear(y)
		e.asm()
		e.go_()
		for i := range x {
			if !near(x[i], y[i], math.Abs(float64(y[i]))) {
				t.Fatalf("n=%d %s[%d] = %v, Go %v", n, e.name, i, x[i], y[i])
			}
		}
	}
}

func TestKernels(t *testing.T) {
	for n := 0; n < 70; n++ {
		checkKernels(t, n, 1)
	}
	checkKernels(t, 1031, 2)
}

func FuzzKernels(f *testing.F) {
	f.Add(uint16(17), uint64(1))
	f.Add(uint16(64), uint64(2))
	f.Fuzz(func(t *testing.T, n uint16, seed uint64) {
		checkKernels(t, int(n%4096), seed)
	})
}

func TestReluMask(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	for _, c := range []struct{ y, want float32 }{
		{1, 2}, {0, 0}, {negZero, 0}, {-1, 0}, {float32(math.SmallestNonzeroFloat32), 2},
		{float32(math.Inf(1)), 2}, {float32(-math.MaxFloat32), 0},
	} {
		if got := reluMask(2, c.y); got != c.want {
			t.Errorf("reluMask(2, %v) = %v, want %v", c.y, got, c.want)
		}
	}
}

func checkPoolRow(t *testing.T, n int, seed uint64, s, tt float32, exact bool) {
	rng := rand.New(rand.NewPCG(seed, uint64(n)))
	w := 2*n + 3
	plane := kernelInput(rng, 2*w)
	for i := range plane {
		if rng.IntN(5) == 0 { // ties
			plane[i] = 0.5
		}
	}
	base := int32(7)
	r0, r1 := plane[:2*n], plane[w:w+2*n]
	y, yg := make([]float32, n), make([]float32, n)
	idx, idxg := make([]int32, n), make([]int32, n)
	xs, xsg := make([]float32, n), make([]float32, n)
	poolRow(r0, r1, y, idx, xs, s, tt, base, int32(w))
	poolRowGo(r0, r1, yg, idxg, xsg, s, tt, base, int32(w))
	for o := 0; o < n; o++ {
		if xs[o] != plane[idx[o]-base] {
			t.Fatalf("n=%d window %d: xs %v but x[idx] %v", n, o, xs[o], plane[idx[o]-base])
		}
		if exact && (y[o] != yg[o] || idx[o] != idxg[o]) {
			t.Fatalf("n=%d window %d: y %v idx %d, Go %v %d", n, o, y[o], idx[o], yg[o], idxg[o])
		}
		if !near(y[o], yg[o], 1) {
			t.Fatalf("n=%d window %d: y %v, Go %v", n, o, y[o], yg[o])
		}
		// The Go version against the definition: first maximum in scan order.
		off := int(idxg[o] - base)
		cand := []int{2 * o, 2*o + 1, w + 2*o, w + 2*o + 1}
		best := cand[0]
		post := func(i int) float32 { return max(plane[i]*s+tt, 0) }
		for _, c := range cand[1:] {
			if post(c) > post(best) {
				best = c
			}
		}
		if off != best || yg[o] != post(best) {
			t.Fatalf("n=%d window %d: Go picks %d (%v), want %d (%v)", n, o, off, yg[o], best, post(best))
		}
	}
}

func TestPoolRow(t *testing.T) {
	for n := 0; n < 40; n++ {
		checkPoolRow(t, n, 1, 2, 0, true)
		checkPoolRow(t, n, 2, -1.5, 0.25, false)
	}
}
