package loss

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gorgonia.org/tensor"

	"github.com/contrastream/contrastream/internal/cputime"
	"github.com/contrastream/contrastream/stages/train/gemm"
)

// refNTXent is a plain float64 NT-Xent with its analytic gradient, written
// straight from the definition (O(M²D)); the tests check it against finite
// differences and the float32 kernel against it.
func refNTXent(z []float64, m, d int, tau float64) (loss float64, grad []float64) {
	zh := make([]float64, m*d)
	nrm := make([]float64, m)
	for i := 0; i < m; i++ {
		var ss float64
		for k := 0; k < d; k++ {
			ss += z[i*d+k] * z[i*d+k]
		}
		nrm[i] = math.Max(math.Sqrt(ss), normEps)
		for k := 0; k < d; k++ {
			zh[i*d+k] = z[i*d+k] / nrm[i]
		}
	}
	s := make([]float64, m*m)
	for i := 0; i < m; i++ {
		for k := 0; k < m; k++ {
			var dot float64
			for c := 0; c < d; c++ {
				dot += zh[i*d+c] * zh[k*d+c]
			}
			s[i*m+k] = dot / tau
		}
	}
	g := make([]float64, m*m) // dL/dS
	for i := 0; i < m; i++ {
		mx := math.Inf(-1)
		for k := 0; k < m; k++ {
			if k != i {
				mx = math.Max(mx, s[i*m+k])
			}
		}
		var sum float64
		for k := 0; k < m; k++ {
			if k != i {
				sum += math.Exp(s[i*m+k] - mx)
			}
		}
		lse := mx + math.Log(sum)
		p := (i + m/2) % m
		loss += lse - s[i*m+p]
		for k := 0; k < m; k++ {
			if k != i {
				g[i*m+k] = math.Exp(s[i*m+k]-lse) / float64(m)
			}
		}
		g[i*m+p] -= 1 / float64(m)
	}
	loss /= float64(m)
	grad = make([]float64, m*d)
	for i := 0; i < m; i++ {
		dzh := make([]float64, d)
		for k := 0; k < m; k++ {
			a := (g[i*m+k] + g[k*m+i]) / tau
			for c := 0; c < d; c++ {
				dzh[c] += a * zh[k*d+c]
			}
		}
		var dot float64
		for c := 0; c < d; c++ {
			dot += dzh[c] * zh[i*d+c]
		}
		for c := 0; c < d; c++ {
			grad[i*d+c] = (dzh[c] - zh[i*d+c]*dot) / nrm[i]
		}
	}
	return loss, grad
}

func randZ(rng *rand.Rand, m, d int, scale float64) []float32 {
	z := make([]float32, m*d)
	for i := range z {
		z[i] = float32(rng.NormFloat64() * scale)
	}
	// Related positives, as real views are.
	for i := 0; i < m/2; i++ {
		for k := 0; k < d; k++ {
			z[(i+m/2)*d+k] = 0.6*z[i*d+k] + 0.8*z[(i+m/2)*d+k]
		}
	}
	return z
}

func to64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

func maxAbs64(x []float64) float64 {
	var m float64
	for _, v := range x {
		m = math.Max(m, math.Abs(v))
	}
	return m
}

// gradErr is max_i |got_i − want_i| / max_i |want_i|.
func gradErr(got []float32, want []float64) float64 {
	var e float64
	for i := range want {
		e = math.Max(e, math.Abs(float64(got[i])-want[i]))
	}
	return e / maxAbs64(want)
}

func relErr(got, want float64) float64 {
	return math.Abs(got-want) / math.Max(math.Abs(want), 1e-300)
}

// TestNTXentHandComputed checks N = 2, D = 2 against cosines worked out on
// paper: a = (1,0), b = (0,2), a' = (3,4), b' = (−1,1), so
// cos(a,b) = 0, cos(a,a') = 0.6, cos(a,b') = −1/√2, cos(b,a') = 0.8,
// cos(b,b') = 1/√2, cos(a',b') = 0.2/√2.
func TestNTXentHandComputed(t *testing.T) {
	z := []float32{1, 0, 0, 2, 3, 4, -1, 1}
	r := 1 / math.Sqrt2
	// cosines of each anchor with its three others; the positive first.
	rows := [4][3]float64{
		{0.6, 0, -r},        // a:  a', b, b'
		{r, 0, 0.8},         // b:  b', a, a'
		{0.6, 0.8, 0.2 * r}, // a': a, b, b'
		{r, -r, 0.2 * r},    // b': b, a, a'
	}
	for _, tau := range []float64{0.5, 0.1, 0.05} {
		var want float64
		for _, c := range rows {
			want += -c[0]/tau + math.Log(math.Exp(c[0]/tau)+math.Exp(c[1]/tau)+math.Exp(c[2]/tau))
		}
		want /= 4
		l := NTXent{Temperature: float32(tau)}
		st, err := l.Forward(z, 4, 2)
		if err != nil {
			t.Fatal(err)
		}
		if relErr(st.Loss, want) > 1e-6 {
			t.Errorf("tau %v: loss %.9g, want %.9g", tau, st.Loss, want)
		}
		if pos := (0.6 + r) / 2; math.Abs(st.PosSim-pos) > 1e-7 {
			t.Errorf("tau %v: pos sim %.9g, want %.9g", tau, st.PosSim, pos)
		}
		if neg := (0 - r + 0 + 0.8 + 0.8 + 0.2*r - r + 0.2*r) / 8; math.Abs(st.NegSim-neg) > 1e-7 {
			t.Errorf("tau %v: neg sim %.9g, want %.9g", tau, st.NegSim, neg)
		}
		// a picks a', b picks a' (wrong), a' picks b (wrong), b' picks b.
		if st.Accuracy != 0.5 {
			t.Errorf("tau %v: accuracy %v, want 0.5", tau, st.Accuracy)
		}
	}
}

// TestNTXentFiniteDifferences checks the float64 reference gradient against
// central differences, then the float32 kernel against the reference.
func TestNTXentFiniteDifferences(t *testing.T) {
	cases := []struct {
		name  string
		m, d  int
		tau   float64
		scale float64
	}{
		{"N1", 2, 3, 0.5, 1},
		{"N3-tau0.5", 6, 5, 0.5, 1},
		{"N5-tau0.1", 10, 7, 0.1, 2},
		{"N4-tau0.05-small-norms", 8, 4, 0.05, 1e-3},
		{"N8-tau0.2", 16, 12, 0.2, 30},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(c.m), uint64(c.d)))
			z32 := randZ(rng, c.m, c.d, c.scale)
			z := to64(z32)
			loss, grad := refNTXent(z, c.m, c.d, c.tau)
			// Central differences, step relative to the row norm.
			fd := make([]float64, len(z))
			for i := range z {
				h := 1e-6 * c.scale
				old := z[i]
				z[i] = old + h
				lp, _ := refNTXent(z, c.m, c.d, c.tau)
				z[i] = old - h
				lm, _ := refNTXent(z, c.m, c.d, c.tau)
				z[i] = old
				fd[i] = (lp - lm) / (2 * h)
			}
			var e float64
			for i := range fd {
				e = math.Max(e, math.Abs(fd[i]-grad[i]))
			}
			if e /= maxAbs64(grad); e > 1e-6 {
				t.Errorf("reference gradient vs finite differences: rel err %.3g > 1e-6", e)
			}

			l := NTXent{Temperature: float32(c.tau)}
			st, err := l.Forward(z32, c.m, c.d)
			if err != nil {
				t.Fatal(err)
			}
			if re := relErr(st.Loss, loss); re > 1e-5 {
				t.Errorf("loss %.9g, reference %.9g (rel %.3g)", st.Loss, loss, re)
			}
			dz := make([]float32, len(z32))
			if err := l.Backward(dz); err != nil {
				t.Fatal(err)
			}
			if ge := gradErr(dz, grad); ge > 1e-5 {
				t.Errorf("gradient rel err %.3g > 1e-5", ge)
			}
		})
	}
}

type goldenCase struct {
	N        int       `json:"n"`
	D        int       `json:"d"`
	Tau      float64   `json:"tau"`
	Z        []float64 `json:"z"`
	Loss     float64   `json:"loss"`
	Grad     []float64 `json:"grad"`
	PosSim   float64   `json:"pos_sim"`
	NegSim   float64   `json:"neg_sim"`
	Accuracy float64   `json:"accuracy"`
}

// TestNTXentGoldenPyTorch compares with torch 1.13 (testdata/make_golden.py,
// the definition of shared/bench/ntxent.py). Tolerances: loss 1e-5
// relative; gradient 1e-4 of the largest gradient component; similarities
// 1e-6 absolute. torch computes in float32 throughout, we sum in float64, so
// the two differ by float32 rounding only.
func TestNTXentGoldenPyTorch(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "ntxent_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Cases []goldenCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Cases) == 0 {
		t.Fatal("no golden cases")
	}
	var l NTXent // one value across sizes: buffers are reused and regrown
	for _, c := range g.Cases {
		m := 2 * c.N
		z := make([]float32, len(c.Z))
		for i, v := range c.Z {
			z[i] = float32(v)
		}
		l.Temperature = float32(c.Tau)
		st, err := l.Forward(z, m, c.D)
		if err != nil {
			t.Fatal(err)
		}
		dz := make([]float32, len(z))
		if err := l.Backward(dz); err != nil {
			t.Fatal(err)
		}
		if re := relErr(st.Loss, c.Loss); re > 1e-5 {
			t.Errorf("N=%d D=%d tau=%v: loss %.9g, torch %.9g (rel %.3g)", c.N, c.D, c.Tau, st.Loss, c.Loss, re)
		}
		if ge := gradErr(dz, c.Grad); ge > 1e-4 {
			t.Errorf("N=%d D=%d tau=%v: gradient rel err %.3g > 1e-4", c.N, c.D, c.Tau, ge)
		}
		if math.Abs(st.PosSim-c.PosSim) > 1e-6 || math.Abs(st.NegSim-c.NegSim) > 1e-6 || st.Accuracy != c.Accuracy {
			t.Errorf("N=%d D=%d tau=%v: stats %+v, torch pos %.9g neg %.9g acc %v",
				c.N, c.D, c.Tau, st, c.PosSim, c.NegSim, c.Accuracy)
		}
	}
}

// TestNTXentLargeBatchSmallTemperature runs 4,096 pairs at τ = 0.05 and
// τ = 0.01 (logits up to ±100: exp overflows float32 without the max
// shift) and compares loss and gradient with the float64 reference. The
// embeddings span a rank-4 subspace of R^D so that the reference costs
// O(M²·4) instead of O(M²·D), while the kernel still does full D-long float32
// products. D is 128 as the issue asks, or 16 with -short; under the race
// detector the batch shrinks to 512 pairs.
func TestNTXentLargeBatchSmallTemperature(t *testing.T) {
	const r = 4
	n, d := 4096, 128
	if testing.Short() {
		d = 16
	}
	if raceEnabled { // instrumented float loops are ~20× slower; races are what -race is for
		n, d = 512, 16
	}
	m := 2 * n
	rng := rand.New(rand.NewPCG(7, 7))
	// z = U·W with U [m, r], W [r, d] (orthonormal rows, so ẑ·ẑ' = û·û').
	u := make([]float64, m*r)
	for i := range u {
		u[i] = rng.NormFloat64()
	}
	for i := 0; i < n; i++ {
		for k := 0; k < r; k++ {
			u[(i+n)*r+k] = 0.9*u[i*r+k] + 0.45*u[(i+n)*r+k]
		}
	}
	w := make([]float64, r*d) // r orthonormal rows: spread ±1/√(d/r) over disjoint blocks
	for k := 0; k < r; k++ {
		for c := k * d / r; c < (k+1)*d/r; c++ {
			w[k*d+c] = math.Sqrt(float64(r)/float64(d)) * float64(1-2*(c%2))
		}
	}
	z := make([]float32, m*d)
	for i := 0; i < m; i++ {
		for c := 0; c < d; c++ {
			var v float64
			for k := 0; k < r; k++ {
				v += u[i*r+k] * w[k*d+c]
			}
			z[i*d+c] = float32(v)
		}
	}
	// The reference works on the rank-r coordinates of the float32 z.
	u32 := make([]float64, m*r)
	for i := 0; i < m; i++ {
		for k := 0; k < r; k++ {
			var v float64
			for c := 0; c < d; c++ {
				v += float64(z[i*d+c]) * w[k*d+c]
			}
			u32[i*r+k] = v
		}
	}
	var l NTXent
	dz := make([]float32, m*d)
	for _, tau := range []float64{0.05, 0.01} {
		t0 := time.Now()
		l.Temperature = float32(tau)
		st, err := l.Forward(z, m, d)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Backward(dz); err != nil {
			t.Fatal(err)
		}
		t1 := time.Now()
		wantLoss, gu := refNTXentSym(u32, m, r, tau)
		t2 := time.Now()
		if math.IsNaN(st.Loss) || math.IsInf(st.Loss, 0) {
			t.Fatalf("tau %v: loss %v", tau, st.Loss)
		}
		if re := relErr(st.Loss, wantLoss); re > 1e-5 {
			t.Errorf("tau %v: loss %.9g, float64 reference %.9g (rel %.3g)", tau, st.Loss, wantLoss, re)
		}
		want := make([]float64, m*d)
		for i := 0; i < m; i++ {
			for c := 0; c < d; c++ {
				var v float64
				for k := 0; k < r; k++ {
					v += gu[i*r+k] * w[k*d+c]
				}
				want[i*d+c] = v
			}
		}
		ge := gradErr(dz, want)
		if ge > 1e-4 {
			t.Errorf("tau %v: gradient rel err %.3g > 1e-4", tau, ge)
		}
		t.Logf("D=%d tau %v: loss %.9g, reference %.9g, rel err %.2g; gradient rel err %.2g; kernel %v, reference %v",
			d, tau, st.Loss, wantLoss, relErr(st.Loss, wantLoss), ge, t1.Sub(t0).Round(time.Millisecond), t2.Sub(t1).Round(time.Millisecond))
	}
}

// refNTXentSym is refNTXent for large M: it visits each unordered pair once
// and stores no M×M matrix. All in float64; the log-sum-exp is shifted by
// the bound 1/τ on |s| rather than the row maximum (safe in float64 for
// τ > 0.003), so it shares no code path with the kernel's max shift.
func refNTXentSym(z []float64, m, d int, tau float64) (loss float64, grad []float64) {
	zh := make([]float64, m*d)
	nrm := make([]float64, m)
	for i := 0; i < m; i++ {
		var ss float64
		for k := 0; k < d; k++ {
			ss += z[i*d+k] * z[i*d+k]
		}
		nrm[i] = math.Max(math.Sqrt(ss), normEps)
		for k := 0; k < d; k++ {
			zh[i*d+k] = z[i*d+k] / nrm[i]
		}
	}
	dot := func(i, k int) float64 {
		var s float64
		for c := 0; c < d; c++ {
			s += zh[i*d+c] * zh[k*d+c]
		}
		return s / tau
	}
	shift := 1 / tau
	sum := make([]float64, m)
	for i := 0; i < m; i++ {
		for k := i + 1; k < m; k++ {
			e := math.Exp(dot(i, k) - shift)
			sum[i] += e
			sum[k] += e
		}
	}
	lse := make([]float64, m)
	for i := 0; i < m; i++ {
		lse[i] = shift + math.Log(sum[i])
		loss += lse[i] - dot(i, (i+m/2)%m)
	}
	loss /= float64(m)
	dzh := make([]float64, m*d)
	for i := 0; i < m; i++ {
		for k := i + 1; k < m; k++ {
			s := dot(i, k)
			a := math.Exp(s-lse[i]) + math.Exp(s-lse[k])
			if k == i+m/2 {
				a -= 2
			}
			a /= float64(m) * tau
			for c := 0; c < d; c++ {
				dzh[i*d+c] += a * zh[k*d+c]
				dzh[k*d+c] += a * zh[i*d+c]
			}
		}
	}
	grad = make([]float64, m*d)
	for i := 0; i < m; i++ {
		var p float64
		for c := 0; c < d; c++ {
			p += dzh[i*d+c] * zh[i*d+c]
		}
		for c := 0; c < d; c++ {
			grad[i*d+c] = (dzh[i*d+c] - zh[i*d+c]*p) / nrm[i]
		}
	}
	return loss, grad
}

// TestNTXentScaleInvariance: the loss sees only directions, so scaling z by
// c leaves the loss alone and divides the gradient by c.
func TestNTXentScaleInvariance(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const m, d = 12, 9
	z := randZ(rng, m, d, 1)
	zs := make([]float32, len(z))
	for i, v := range z {
		zs[i] = v * 8 // a power of two keeps the directions bit-exact
	}
	var a, b NTXent
	sa, _ := a.Forward(z, m, d)
	sb, _ := b.Forward(zs, m, d)
	if sa != sb {
		t.Errorf("stats differ: %+v vs %+v", sa, sb)
	}
	ga, gb := make([]float32, len(z)), make([]float32, len(z))
	if err := a.Backward(ga); err != nil {
		t.Fatal(err)
	}
	if err := b.Backward(gb); err != nil {
		t.Fatal(err)
	}
	for i := range ga {
		if ga[i] != gb[i]*8 {
			t.Fatalf("gradient[%d]: %v vs 8·%v", i, ga[i], gb[i])
		}
	}
	// Each row's gradient is orthogonal to the row.
	for i := 0; i < m; i++ {
		var dot, nz, ng float64
		for k := 0; k < d; k++ {
			dot += float64(ga[i*d+k]) * float64(z[i*d+k])
			nz += float64(z[i*d+k]) * float64(z[i*d+k])
			ng += float64(ga[i*d+k]) * float64(ga[i*d+k])
		}
		if c := dot / math.Sqrt(nz*ng); math.Abs(c) > 1e-5 {
			t.Errorf("row %d: cos(grad, z) = %.3g, want 0", i, c)
		}
	}
}

// TestNTXentZeroRow: a zero embedding normalizes to zero (the norm clamp of
// F.normalize) and yields a finite loss and gradient, not NaN.
func TestNTXentZeroRow(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const m, d = 6, 4
	z := randZ(rng, m, d, 1)
	clear(z[2*d : 3*d])
	var l NTXent
	st, err := l.Forward(z, m, d)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := refNTXent(to64(z), m, d, DefaultTemperature)
	if relErr(st.Loss, want) > 1e-6 {
		t.Errorf("loss %v, reference %v", st.Loss, want)
	}
	dz := make([]float32, len(z))
	if err := l.Backward(dz); err != nil {
		t.Fatal(err)
	}
	for i, v := range dz {
		if math.IsNaN(float64(v)) {
			t.Fatalf("dz[%d] is NaN", i)
		}
	}
}

func TestNTXentNaNInput(t *testing.T) {
	z := []float32{1, 0, float32(math.NaN()), 1, 1, 1, 0, 1}
	var l NTXent
	st, err := l.Forward(z, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(st.Loss) {
		t.Errorf("loss %v with a NaN input, want NaN", st.Loss)
	}
}

// TestNTXentBufferReuse: a value that has seen a larger batch gives the same
// bits on a smaller one as a fresh value.
func TestNTXentBufferReuse(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	big, small := randZ(rng, 40, 16, 1), randZ(rng, 10, 8, 1)
	var used, fresh NTXent
	if _, err := used.Forward(big, 40, 16); err != nil {
		t.Fatal(err)
	}
	if err := used.Backward(make([]float32, len(big))); err != nil {
		t.Fatal(err)
	}
	s1, _ := used.Forward(small, 10, 8)
	s2, _ := fresh.Forward(small, 10, 8)
	g1, g2 := make([]float32, len(small)), make([]float32, len(small))
	_ = used.Backward(g1)
	_ = fresh.Backward(g2)
	if s1 != s2 {
		t.Errorf("stats %+v vs fresh %+v", s1, s2)
	}
	for i := range g1 {
		if g1[i] != g2[i] {
			t.Fatalf("dz[%d] %v vs fresh %v", i, g1[i], g2[i])
		}
	}
}

func TestNTXentTensor(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const m, d = 8, 6
	z := randZ(rng, m, d, 1)
	var a, b NTXent
	sa, _ := a.Forward(z, m, d)
	ga := make([]float32, len(z))
	_ = a.Backward(ga)

	zt := tensor.New(tensor.WithShape(m, d), tensor.WithBacking(append([]float32(nil), z...)))
	gt := tensor.New(tensor.WithShape(m, d), tensor.WithBacking(make([]float32, m*d)))
	sb, err := b.ForwardTensor(zt)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.BackwardTensor(gt); err != nil {
		t.Fatal(err)
	}
	if sa != sb {
		t.Errorf("tensor stats %+v, slice stats %+v", sb, sa)
	}
	for i, v := range gt.Float32s() {
		if v != ga[i] {
			t.Fatalf("tensor dz[%d] %v, slice %v", i, v, ga[i])
		}
	}
	if raceEnabled {
		return
	}
	if n := testing.AllocsPerRun(10, func() {
		_, _ = b.ForwardTensor(zt)
		_ = b.BackwardTensor(gt)
	}); n != 0 {
		t.Errorf("tensor path: %v allocs per step, want 0", n)
	}
}

func TestNTXentErrors(t *testing.T) {
	z := make([]float32, 8)
	for i := range z {
		z[i] = float32(i + 1)
	}
	f64 := tensor.New(tensor.WithShape(4, 2), tensor.WithBacking(make([]float64, 8)))
	three := tensor.New(tensor.WithShape(2, 2, 2), tensor.WithBacking(make([]float32, 8)))
	tr := tensor.New(tensor.WithShape(2, 4), tensor.WithBacking(make([]float32, 8)))
	if err := tr.T(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		run  func(l *NTXent) error
	}{
		{"odd rows", func(l *NTXent) error { _, err := l.Forward(z[:6], 3, 2); return err }},
		{"zero rows", func(l *NTXent) error { _, err := l.Forward(nil, 0, 2); return err }},
		{"zero dim", func(l *NTXent) error { _, err := l.Forward(nil, 4, 0); return err }},
		{"short z", func(l *NTXent) error { _, err := l.Forward(z[:7], 4, 2); return err }},
		{"negative tau", func(l *NTXent) error { l.Temperature = -1; _, err := l.Forward(z, 4, 2); return err }},
		{"NaN tau", func(l *NTXent) error {
			l.Temperature = float32(math.NaN())
			_, err := l.Forward(z, 4, 2)
			return err
		}},
		{"backward first", func(l *NTXent) error { return l.Backward(make([]float32, 8)) }},
		{"backward twice", func(l *NTXent) error {
			if _, err := l.Forward(z, 4, 2); err != nil {
				return nil
			}
			if err := l.Backward(make([]float32, 8)); err != nil {
				return nil
			}
			return l.Backward(make([]float32, 8))
		}},
		{"backward wrong len", func(l *NTXent) error {
			if _, err := l.Forward(z, 4, 2); err != nil {
				return nil
			}
			return l.Backward(make([]float32, 6))
		}},
		{"nil tensor", func(l *NTXent) error { _, err := l.ForwardTensor(nil); return err }},
		{"float64 tensor", func(l *NTXent) error { _, err := l.ForwardTensor(f64); return err }},
		{"3-d tensor", func(l *NTXent) error { _, err := l.ForwardTensor(three); return err }},
		{"transposed tensor", func(l *NTXent) error { _, err := l.ForwardTensor(tr); return err }},
		{"backward tensor wrong shape", func(l *NTXent) error {
			if _, err := l.Forward(z, 4, 2); err != nil {
				return nil
			}
			return l.BackwardTensor(tensor.New(tensor.WithShape(2, 4), tensor.WithBacking(make([]float32, 8))))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var l NTXent
			err := c.run(&l)
			if err == nil {
				t.Fatal("no error")
			}
			if len(err.Error()) < 5 || err.Error()[:5] != "loss:" {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
	var l NTXent
	if err := l.Backward(nil); !errors.Is(err, ErrNoForward) {
		t.Errorf("backward before forward: %v, want ErrNoForward", err)
	}
}

func TestNTXentAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	rng := rand.New(rand.NewPCG(2, 2))
	const m, d = 512, 128 // 256 pairs: big enough that gemm splits the work over its threads
	z := randZ(rng, m, d, 1)
	dz := make([]float32, len(z))
	var l NTXent
	if n := testing.AllocsPerRun(20, func() {
		_, _ = l.Forward(z, m, d)
		_ = l.Backward(dz)
	}); n != 0 {
		t.Errorf("%v allocs per forward+backward after warm-up, want 0", n)
	}
}

func benchNTXent(b *testing.B, n, d, threads int) {
	if threads > 0 {
		defer gemm.SetThreads(gemm.SetThreads(threads))
	}
	rng := rand.New(rand.NewPCG(1, 1))
	m := 2 * n
	z := randZ(rng, m, d, 1)
	dz := make([]float32, len(z))
	l := NTXent{Temperature: 0.1}
	// Warm up: buffers here and in gemm are sized on the first pass.
	if _, err := l.Forward(z, m, d); err != nil {
		b.Fatal(err)
	}
	if err := l.Backward(dz); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(4 * len(z)))
	b.ResetTimer()
	cpu0 := cputime.Now()
	for i := 0; i < b.N; i++ {
		if _, err := l.Forward(z, m, d); err != nil {
			b.Fatal(err)
		}
		if err := l.Backward(dz); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cputime.Now()-cpu0)/float64(b.N), "cpu-ns/op")
	// Two M×M×D GEMMs, each 2·M²·D flops.
	b.ReportMetric(4*float64(m)*float64(m)*float64(d)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GEMM-GFLOP/s")
}

// BenchmarkNTXent is forward + backward: N pairs of D-dimensional embeddings,
// with gemm's default threads and with one thread (threads=1: everything on
// one core, for CPU-time comparisons with a one-thread peer).
func BenchmarkNTXent(b *testing.B) {
	for _, n := range []int{256, 4096} {
		b.Run(fmt.Sprintf("N=%d/D=128", n), func(b *testing.B) { benchNTXent(b, n, 128, 0) })
		b.Run(fmt.Sprintf("N=%d/D=128/threads=1", n), func(b *testing.B) { benchNTXent(b, n, 128, 1) })
	}
}
