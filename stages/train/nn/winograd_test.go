package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestGradConv2DWinograd checks the Winograd path (forced on small channel
// counts) against the float64 reference convolution and central finite
// differences: odd and even sides, 1-wide planes, bias, partial chunks.
func TestGradConv2DWinograd(t *testing.T) {
	pool := NewPool(2)
	defer pool.Close()
	cases := []struct {
		name            string
		n, ci, h, w, co int
		bias, noInput   bool
		cols            int
	}{
		{"even", 2, 3, 6, 8, 4, false, false, 0},
		{"odd 7x7", 2, 2, 7, 7, 3, false, false, 0},
		{"odd 5x6 bias", 3, 2, 5, 6, 2, true, false, 0},
		{"1 wide", 2, 2, 3, 1, 2, false, false, 0},
		{"1x1 plane", 3, 2, 1, 1, 3, true, false, 0},
		{"2x3", 2, 3, 2, 3, 2, false, false, 0},
		{"partial chunk", 5, 2, 9, 7, 3, false, false, 30},
		{"chunk of one", 3, 2, 4, 4, 2, true, false, 1},
		{"no input grad", 2, 3, 6, 5, 4, false, true, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := NewConv2D("conv", c.ci, c.co, 3, 1, 1, c.bias, testRNG(), pool)
			m.wino = 1
			m.NoInputGrad = c.noInput
			m.cols = c.cols
			gradCheck(t, m, true, refConv(c.n, c.ci, c.h, c.w, c.co, 3, 1, 1), c.n, c.ci, c.h, c.w)
			if m.wg == nil {
				t.Fatal("Winograd path not taken")
			}
		})
	}
}

// convPair runs the same convolution through Winograd and im2col on x and
// a random dy and returns the largest differences relative to each
// tensor's scale (y, dx, dW, db).
func convPair(t testing.TB, n, ci, co, h, w int, bias bool, cols int, seed uint64) [4]float64 {
	pool := NewPool(2)
	defer pool.Close()
	rng := rand.New(rand.NewPCG(seed, 1))
	a := NewConv2D("a", ci, co, 3, 1, 1, bias, rng, pool)
	b := NewConv2D("b", ci, co, 3, 1, 1, bias, nil, pool)
	copy(b.Weight.Data(), a.Weight.Data())
	if bias {
		copy(b.Bias.Data(), a.Bias.Data())
	}
	a.wino, b.wino = 1, -1
	a.cols = cols
	x := make([]float32, n*ci*h*w)
	dy := make([]float32, n*co*h*w)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	for i := range dy {
		dy[i] = float32(rng.NormFloat64())
	}
	var out [2][4][]float32
	for k, m := range []*Conv2D{a, b} {
		y := m.Forward(NewTensor(x, n, ci, h, w), true)
		out[k][0] = append([]float32(nil), f32(y)...)
		ZeroGrad(m.Params())
		dx := m.Backward(NewTensor(dy, n, co, h, w))
		out[k][1] = append([]float32(nil), f32(dx)...)
		out[k][2] = append([]float32(nil), m.Weight.GradData()...)
		if bias {
			out[k][3] = append([]float32(nil), m.Bias.GradData()...)
		}
	}
	if a.wg == nil || b.wg != nil {
		t.Fatal("paths not as forced")
	}
	var rel [4]float64
	for i := range rel {
		var scale, worst float64
		for j, v := range out[1][i] {
			scale = max(scale, math.Abs(float64(v)))
			worst = max(worst, math.Abs(float64(out[0][i][j])-float64(v)))
		}
		if scale > 0 {
			rel[i] = worst / scale
		}
	}
	return rel
}

// TestWinogradMatchesIm2col compares the two paths at the models' shapes
// (and odd ones) in float32: the largest difference, relative to each
// tensor's largest value, stays under winoRel.
func TestWinogradMatchesIm2col(t *testing.T) {
	// Measured maxima (float32, these shapes): ~3e-7 for y and dx, ~1e-6
	// for dW (sums over the whole batch's tiles); 2e-5 leaves margin and is
	// still 5× inside the golden files' 1e-4.
	const winoRel = 2e-5
	cases := []struct{ n, ci, co, h, w int }{
		{8, 32, 64, 16, 16},
		{8, 64, 128, 8, 8},
		{16, 128, 256, 4, 4},
		{4, 32, 64, 14, 14},
		{4, 64, 128, 7, 7},
		{4, 128, 256, 4, 4},
		{2, 16, 16, 9, 5},
	}
	for _, c := range cases {
		name := fmt.Sprintf("%dx%dx%dx%d_to_%d", c.n, c.ci, c.h, c.w, c.co)
		t.Run(name, func(t *testing.T) {
			rel := convPair(t, c.n, c.ci, c.co, c.h, c.w, true, 0, 3)
			for i, what := range []string{"y", "dx", "dW", "db"} {
				if testing.Verbose() {
					t.Logf("%s: max rel diff %.2g", what, rel[i])
				}
				if !(rel[i] <= winoRel) {
					t.Errorf("%s: max diff %.3g of scale, want ≤ %g", what, rel[i], winoRel)
				}
			}
		})
	}
}

// TestWinogradThreadsBitIdentical checks that the Winograd path gives the
// same bits run to run for 1, 2 and 3 threads, and the same outputs and
// input gradients for every thread count (the weight gradient's per-thread
// sums are added in thread order, so it may differ in the last bits between
// thread counts).
func TestWinogradThreadsBitIdentical(t *testing.T) {
	run := func(threads int) [][]float32 {
		pool := NewPool(threads)
		defer pool.Close()
		m := NewConv2D("c", 16, 24, 3, 1, 1, true, testRNG(), pool)
		m.cols = 20 // one image (20 tiles) per chunk: 5 chunks
		x := filled(3, 1, 5, 16, 7, 9)
		y := m.Forward(x, true)
		ZeroGrad(m.Params())
		dx := m.Backward(filled(4, 1, 5, 24, 7, 9))
		if m.wg == nil || m.wg.chunks != 5 {
			t.Fatal("Winograd path not taken as planned")
		}
		return [][]float32{append([]float32(nil), f32(y)...), append([]float32(nil), f32(dx)...),
			append([]float32(nil), m.Weight.GradData()...), append([]float32(nil), m.Bias.GradData()...)}
	}
	same := func(a, b []float32) bool {
		for j := range a {
			if math.Float32bits(a[j]) != math.Float32bits(b[j]) {
				return false
			}
		}
		return true
	}
	ref := run(1)
	for _, threads := range []int{1, 2, 3} {
		a, b := run(threads), run(threads)
		for i := range a {
			if !same(a[i], b[i]) {
				t.Errorf("threads %d: tensor %d differs between runs", threads, i)
			}
		}
		for i := 0; i < 2; i++ {
			if !same(a[i], ref[i]) {
				t.Errorf("threads %d: tensor %d differs from 1 thread", threads, i)
			}
		}
	}
}

// winoKernelCase builds random operands for the transform kernels: nb
// planes of a th×tw tile grid, the index tables setupWinograd would build,
// and returns the padded input, the tile-aligned planes and the tables.
func winoKernelCase(seed uint64, nb, th, tw int) (pad, al []float32, iidx, oidx []int32, pw int) {
	rng := rand.New(rand.NewPCG(seed, 9))
	pw = 2*tw + 2
	psz, osz := (2*th+2)*pw, 4*th*tw
	pad, al = make([]float32, nb*psz), make([]float32, nb*osz)
	for i := range pad {
		pad[i] = float32(rng.NormFloat64())
	}
	for i := range al {
		al[i] = float32(rng.NormFloat64())
	}
	for b := 0; b < nb; b++ {
		for t := 0; t < th*tw; t++ {
			ty, tx := t/tw, t%tw
			iidx = append(iidx, int32(b*psz+2*ty*pw+2*tx))
			oidx = append(oidx, int32(b*osz+4*ty*tw+2*tx))
		}
	}
	return pad, al, iidx, oidx, pw
}

// checkWinoKernels compares the dispatching transforms (assembly where the
// CPU has it, for the bulk) with the portable Go versions bit for bit.
func checkWinoKernels(t *testing.T, seed uint64, nb, th, tw int) {
	pad, al, iidx, oidx, pw := winoKernelCase(seed, nb, th, tw)
	n := len(iidx)
	ld := n + 5
	bits := func(name string, a, b []float32) {
		t.Helper()
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("%s (nb %d, %dx%d tiles): element %d: %v, Go %v", name, nb, th, tw, i, a[i], b[i])
			}
		}
	}
	got, want := make([]float32, 16*ld), make([]float32, 16*ld)
	winoInput(got, ld, pad, pw, iidx)
	winoInputGo(want, ld, pad, pw, iidx)
	bits("input", got, want)
	clear(got)
	clear(want)
	winoGrad(got, ld, al, 2*tw, oidx)
	winoGradGo(want, ld, al, 2*tw, oidx)
	bits("grad", got, want)
	m := make([]float32, 16*ld)
	for i := range m {
		m[i] = float32(math.Sin(float64(i) + float64(seed)))
	}
	out1, out2 := make([]float32, len(al)), make([]float32, len(al))
	winoOutput(out1, 2*tw, m, ld, oidx, 0.25)
	winoOutputGo(out2, 2*tw, m, ld, oidx, 0.25)
	bits("output", out1, out2)
}

func TestWinogradKernels(t *testing.T) {
	for i, c := range []struct{ nb, th, tw int }{
		{1, 1, 1}, {3, 2, 2}, {4, 4, 4}, {2, 8, 8}, {5, 7, 3}, {1, 4, 17}, {9, 1, 1}, {3, 7, 7}, {2, 3, 8},
	} {
		checkWinoKernels(t, uint64(i), c.nb, c.th, c.tw)
	}
}

func FuzzWinogradKernels(f *testing.F) {
	f.Add(uint64(1), uint8(3), uint8(4), uint8(4))
	f.Add(uint64(2), uint8(1), uint8(7), uint8(1))
	f.Fuzz(func(t *testing.T, seed uint64, nb, th, tw uint8) {
		if nb == 0 || th == 0 || tw == 0 || int(nb)*int(th)*int(tw) > 4096 {
			return
		}
		checkWinoKernels(t, seed, int(nb), int(th), int(tw))
	})
}

// TestWinogradInputDirect compares the in-place input transform (masked
// loads from the planes themselves, where the CPU has it) with the Go
// transform of zero-padded copies, bit for bit, on even, odd and one-wide
// planes.
func TestWinogradInputDirect(t *testing.T) {
	for i, c := range []struct{ nb, h, w int }{
		{2, 16, 16}, {3, 7, 7}, {1, 1, 1}, {4, 4, 4}, {2, 2, 2}, {3, 14, 14}, {2, 5, 16}, {2, 9, 3}, {1, 16, 1},
	} {
		rng := rand.New(rand.NewPCG(uint64(i), 5))
		th, tw := (c.h+1)/2, (c.w+1)/2
		plane := c.h * c.w
		pstride := plane + 3 // planes of one channel lie apart in a tensor
		src := make([]float32, c.nb*pstride)
		for j := range src {
			src[j] = float32(rng.NormFloat64())
		}
		pw, psz := 2*tw+2, (2*th+2)*(2*tw+2)
		pad := make([]float32, c.nb*psz)
		var idx []int32
		for b := 0; b < c.nb; b++ {
			for r := 0; r < c.h; r++ {
				copy(pad[b*psz+(r+1)*pw+1:], src[b*pstride+r*c.w:b*pstride+(r+1)*c.w])
			}
			for ty := 0; ty < th; ty++ {
				for tx := 0; tx < tw; tx++ {
					idx = append(idx, int32(b*psz+2*ty*pw+2*tx))
				}
			}
		}
		ld := len(idx) + 7
		got, want := make([]float32, 16*ld), make([]float32, 16*ld)
		winoInputGo(want, ld, pad, pw, idx)
		if !winoInputDirect(got, ld, src, c.w, c.h, th, tw, c.nb, pstride) {
			t.Skip("no in-place input transform on this CPU or build")
		}
		for j := range got {
			if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
				t.Fatalf("%+v: element %d: %v, Go %v", c, j, got[j], want[j])
			}
		}
	}
}

// TestWinogradPoolStates runs the Winograd path on a nil pool and on a
// closed pool (everything on the caller) after a two-thread run, and checks
// the weight gradient against the two-thread one (a slot left over from the
// earlier run must not be added in).
func TestWinogradPoolStates(t *testing.T) {
	x := filled(5, 1, 6, 16, 8, 6)
	dy := filled(6, 1, 6, 8, 8, 6)
	grad := func(pool *Pool, closeFirst bool, m *Conv2D) []float32 {
		if m == nil {
			m = NewConv2D("c", 16, 8, 3, 1, 1, false, testRNG(), pool)
			m.cols = 24 // one image per chunk
		}
		if closeFirst {
			pool.Close()
		}
		m.Forward(x, true)
		ZeroGrad(m.Params())
		m.Backward(dy)
		if m.wg == nil {
			t.Fatal("Winograd path not taken")
		}
		return append([]float32(nil), m.Weight.GradData()...)
	}
	pool := NewPool(2)
	m := NewConv2D("c", 16, 8, 3, 1, 1, false, testRNG(), pool)
	m.cols = 24
	want := grad(pool, false, m)
	for name, got := range map[string][]float32{
		"nil pool":    grad(nil, false, nil),
		"closed pool": grad(pool, true, m),
	} {
		for i := range got {
			if d := math.Abs(float64(got[i] - want[i])); d > 1e-5*(1+math.Abs(float64(want[i]))) {
				t.Fatalf("%s: dW[%d] = %v, two threads %v", name, i, got[i], want[i])
			}
		}
	}
}
