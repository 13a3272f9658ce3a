package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"
)

// eps is the unit roundoff of float32.
const eps = 1.0 / (1 << 24)

// problem is one test case with its own storage; C sits inside a guard band
// (and strided gaps) filled with a sentinel, so out-of-bounds writes show.
type problem struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
	cOff           int // offset of C[0][0] in c
}

const sentinel = float32(-12345.5)

func newProblem(rng *rand.Rand, transA, transB bool, m, n, k int, alpha, beta float32, padA, padB, padC int) *problem {
	p := &problem{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	p.lda, p.ldb, p.ldc = ac+padA, bc+padB, n+padC
	p.a = randMat(rng, ar, ac, p.lda)
	p.b = randMat(rng, br, bc, p.ldb)
	p.cOff = 7
	p.c = make([]float32, p.cOff+max(m*p.ldc, 0)+7)
	for i := range p.c {
		p.c[i] = sentinel
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			p.c[p.cOff+i*p.ldc+j] = rng.Float32()*2 - 1
		}
	}
	return p
}

// randMat returns exactly the storage a rows×cols matrix with stride ld needs
// (no slack after the last element), filled with values in [-1, 1).
func randMat(rng *rand.Rand, rows, cols, ld int) []float32 {
	n := 0
	if rows > 0 && cols > 0 {
		n = (rows-1)*ld + cols
	}
	s := make([]float32, n)
	for i := range s {
		s[i] = rng.Float32()*2 - 1
	}
	return s
}

func (p *problem) cView() []float32 { return p.c[p.cOff:] }

func (p *problem) params(c []float32) params {
	return params{p.transA, p.transB, p.m, p.n, p.k, p.alpha, p.beta, p.a, p.lda, p.b, p.ldb, c, p.ldc}
}

func (p *problem) clone() []float32 { return append([]float32(nil), p.c...) }

// verify compares got (a copy of p.c after the fast path) with the reference
// run on want (another copy). Each element must lie within the forward error
// bound of two k-term float32 dot products plus the alpha and beta
// roundings: |got−want| ≤ 2(k+3)·eps·(|alpha|·Σ|a||b| + |beta·c|). Everything
// outside C must still hold the sentinel.
func (p *problem) verify(t *testing.T, orig, got, want []float32) {
	t.Helper()
	isC := func(idx int) (i, j int, ok bool) {
		off := idx - p.cOff
		if off < 0 || p.ldc == 0 {
			return 0, 0, false
		}
		i, j = off/p.ldc, off%p.ldc
		return i, j, i < p.m && j < p.n
	}
	bad := 0
	for idx := range got {
		i, j, ok := isC(idx)
		if !ok {
			if math.Float32bits(got[idx]) != math.Float32bits(sentinel) {
				t.Fatalf("wrote outside C at offset %d: %v", idx-p.cOff, got[idx])
			}
			continue
		}
		var mag float64
		for q := 0; q < p.k; q++ {
			var av, bv float32
			if p.transA {
				av = p.a[q*p.lda+i]
			} else {
				av = p.a[i*p.lda+q]
			}
			if p.transB {
				bv = p.b[j*p.ldb+q]
			} else {
				bv = p.b[q*p.ldb+j]
			}
			mag += math.Abs(float64(av) * float64(bv))
		}
		mag *= math.Abs(float64(p.alpha))
		if p.beta != 0 {
			mag += math.Abs(float64(p.beta) * float64(orig[idx]))
		}
		tol := 2*float64(p.k+3)*eps*mag + 1e-30
		if d := math.Abs(float64(got[idx]) - float64(want[idx])); !(d <= tol) {
			if bad++; bad < 5 {
				t.Errorf("C[%d][%d] = %v, reference %v (|diff| %.3g > tol %.3g)", i, j, got[idx], want[idx], d, tol)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d elements out of tolerance", bad)
	}
}

type shape struct{ m, n, k int }

var testShapes = []shape{
	{0, 0, 0}, {0, 5, 3}, {5, 0, 3}, {4, 5, 0}, {1, 1, 1}, {1, 1, 7}, {1, 17, 3}, {17, 1, 3},
	{2, 3, 4}, {6, 16, 8}, {12, 32, 16}, {14, 32, 5}, {13, 33, 9}, {11, 31, 17},
	{25, 65, 31}, {8, 48, 257}, {37, 29, 300}, {64, 64, 64}, {3, 100, 513},
	{100, 3, 260}, {97, 130, 33}, {27, 45, 9},
}

// TestSgemmMatchesReference runs every kernel this CPU supports over the
// shape table, all four transpose cases, several alpha/beta pairs, padded
// and tight strides and 1 or 3 goroutines.
func TestSgemmMatchesReference(t *testing.T) {
	ab := [][2]float32{{1, 0}, {1, 1}, {-0.5, 2}, {2, -1}, {0, 0.5}, {0, 0}}
	if raceEnabled {
		ab = [][2]float32{{1, 0}, {-0.5, 2}, {0, 0.5}} // still beta = 0, beta ≠ 0, alpha = 0
	}
	for _, kern := range kernels() {
		for _, s := range testShapes {
			for tr := 0; tr < 4; tr++ {
				tA, tB := tr&1 != 0, tr&2 != 0
				for ai, albe := range ab {
					pad := (ai + tr + s.m) % 3 * 3 // 0, 3 or 6 floats of stride padding
					nt := 1 + 2*(ai%2)
					name := fmt.Sprintf("%s/m%d_n%d_k%d/tA=%v_tB=%v/alpha=%g_beta=%g/pad%d/t%d",
						kern.name, s.m, s.n, s.k, tA, tB, albe[0], albe[1], pad, nt)
					rng := rand.New(rand.NewPCG(uint64(s.m*1000+s.n), uint64(s.k*16+tr*4+ai)))
					p := newProblem(rng, tA, tB, s.m, s.n, s.k, albe[0], albe[1], pad, pad+1, pad)
					orig, got, want := p.clone(), p.clone(), p.clone()
					native(kern, nt, p.params(got[p.cOff:]))
					reference(tA, tB, s.m, s.n, s.k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, want[p.cOff:], p.ldc)
					t.Run(name, func(t *testing.T) { p.verify(t, orig, got, want) })
				}
			}
		}
	}
}

// TestSgemmPublic checks the exported entry point (native kernels, or
// OpenBLAS in an openblas build) on a few cases.
func TestSgemmPublic(t *testing.T) {
	t.Logf("kernel: %s", Kernel())
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range []shape{{1, 1, 1}, {33, 47, 61}, {128, 96, 300}, {5, 0, 3}, {3, 4, 0}} {
		for tr := 0; tr < 4; tr++ {
			tA, tB := tr&1 != 0, tr&2 != 0
			p := newProblem(rng, tA, tB, s.m, s.n, s.k, 1.5, 0.25, 2, 1, 3)
			orig, got, want := p.clone(), p.clone(), p.clone()
			Sgemm(tA, tB, s.m, s.n, s.k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, got[p.cOff:], p.ldc)
			reference(tA, tB, s.m, s.n, s.k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, want[p.cOff:], p.ldc)
			p.verify(t, orig, got, want)
		}
	}
}

// TestBetaZeroOverwrites checks that beta == 0 never reads C: NaN and Inf
// there must not reach the result.
func TestBetaZeroOverwrites(t *testing.T) {
	for _, kern := range kernels() {
		for _, s := range []shape{{13, 37, 5}, {12, 32, 300}, {3, 3, 0}} {
			rng := rand.New(rand.NewPCG(3, 4))
			p := newProblem(rng, false, true, s.m, s.n, s.k, 1, 0, 0, 0, 2)
			for i := 0; i < s.m; i++ {
				for j := 0; j < s.n; j++ {
					p.c[p.cOff+i*p.ldc+j] = float32(math.NaN())
					if j%2 == 1 {
						p.c[p.cOff+i*p.ldc+j] = float32(math.Inf(-1))
					}
				}
			}
			native(kern, 2, p.params(p.cView()))
			for i := 0; i < s.m; i++ {
				for j := 0; j < s.n; j++ {
					if v := p.c[p.cOff+i*p.ldc+j]; math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						t.Fatalf("%s %v: C[%d][%d] = %v after beta = 0", kern.name, s, i, j, v)
					}
				}
			}
		}
	}
}

// TestDeterministic runs the same product twice at each thread count and
// across thread counts: every run must give the same bits.
func TestDeterministic(t *testing.T) {
	for _, kern := range kernels() {
		for _, s := range []shape{{130, 250, 600}, {32, 1000, 27}, {40, 27, 3000}} {
			rng := rand.New(rand.NewPCG(5, 6))
			p := newProblem(rng, false, true, s.m, s.n, s.k, 0.75, 0.5, 1, 0, 3)
			var first []float32
			for _, nt := range []int{1, 1, 2, 2, 3, 4, 7} {
				c := p.clone()
				native(kern, nt, p.params(c[p.cOff:]))
				if first == nil {
					first = c
					continue
				}
				for i := range c {
					if math.Float32bits(c[i]) != math.Float32bits(first[i]) {
						t.Fatalf("%s %v: %d threads differ from 1 thread at %d: %v vs %v", kern.name, s, nt, i, c[i], first[i])
					}
				}
			}
		}
	}
}

// TestSgemmZeroAllocs checks that a warm call, serial or parallel,
// allocates nothing.
func TestSgemmZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector drops sync.Pool items at random")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	p := newProblem(rng, false, false, 200, 300, 150, 1, 0, 0, 0, 0)
	for _, nt := range []int{1, 2} {
		prev := SetThreads(nt)
		run := func() { Sgemm(false, false, p.m, p.n, p.k, 1, p.a, p.lda, p.b, p.ldb, 0, p.cView(), p.ldc) }
		run()
		if n := testing.AllocsPerRun(20, run); n > 0.1 {
			t.Errorf("%d threads: %v allocations per call, want 0", nt, n)
		}
		SetThreads(prev)
	}
}

func TestCheckPanics(t *testing.T) {
	a := make([]float32, 6)
	cases := []struct {
		name string
		f    func()
	}{
		{"negative m", func() { Sgemm(false, false, -1, 2, 3, 1, a, 3, a, 2, 0, a, 2) }},
		{"short a", func() { Sgemm(false, false, 3, 2, 3, 1, a, 3, a, 2, 0, a, 2) }},
		{"small lda", func() { Sgemm(false, false, 2, 2, 3, 1, a, 2, a, 2, 0, a, 2) }},
		{"short b transposed", func() { Sgemm(false, true, 1, 3, 3, 1, a, 3, a, 3, 0, a, 3) }},
		{"short c", func() { Sgemm(false, false, 2, 3, 1, 1, a, 1, a, 3, 0, a[:5], 3) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			tc.f()
		})
	}
}

func TestSetThreads(t *testing.T) {
	prev := SetThreads(3)
	defer SetThreads(prev)
	if got := Threads(); got != 3 {
		t.Fatalf("Threads() = %d after SetThreads(3)", got)
	}
	if got := SetThreads(0); got != 3 {
		t.Fatalf("SetThreads returned %d, want 3", got)
	}
	if Threads() < 1 {
		t.Fatal("default Threads() < 1")
	}
}

// FuzzSgemm compares every kernel with the reference on random small
// problems (differential fuzzing, as klauspost/compress does).
func FuzzSgemm(f *testing.F) {
	f.Add(uint8(13), uint8(33), uint8(9), uint8(0), uint8(1), uint64(1))
	f.Add(uint8(1), uint8(1), uint8(0), uint8(3), uint8(0), uint64(2))
	f.Add(uint8(40), uint8(7), uint8(255), uint8(2), uint8(5), uint64(3))
	f.Fuzz(func(t *testing.T, m, n, k, flags, pad uint8, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, uint64(flags)))
		tA, tB := flags&1 != 0, flags&2 != 0
		alpha := float32(1)
		beta := []float32{0, 1, -0.5, 2}[flags>>2&3]
		if flags&16 != 0 {
			alpha = rng.Float32()*4 - 2
		}
		pd := int(pad % 5)
		p := newProblem(rng, tA, tB, int(m%70), int(n%70), int(k), alpha, beta, pd, pd, pd)
		want := p.clone()
		reference(tA, tB, p.m, p.n, p.k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, want[p.cOff:], p.ldc)
		for _, kern := range kernels() {
			got := p.clone()
			native(kern, 1+int(flags>>5), p.params(got[p.cOff:]))
			p.verify(t, p.c, got, want)
		}
	})
}

// TestConcurrentCalls runs parallel Sgemm calls from several goroutines at
// once (their worker goroutines share one queue) and checks each result
// against the same product computed on one thread, and that no goroutine
// outlives the calls.
func TestConcurrentCalls(t *testing.T) {
	before := runtime.NumGoroutine()
	prev := SetThreads(3)
	defer SetThreads(prev)
	rng := rand.New(rand.NewPCG(11, 12))
	const callers = 4
	probs := make([]*problem, callers)
	want := make([][]float32, callers)
	for i := range probs {
		probs[i] = newProblem(rng, i%2 == 0, i%3 == 0, 90+i, 200-i, 150, 1, 0.5, 1, 2, 3)
		want[i] = probs[i].clone()
		native(best, 1, probs[i].params(want[i][probs[i].cOff:]))
	}
	got := make([][][]float32, callers)
	var wg sync.WaitGroup
	for i, p := range probs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < 3; r++ {
				c := p.clone()
				Sgemm(p.transA, p.transB, p.m, p.n, p.k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, c[p.cOff:], p.ldc)
				got[i] = append(got[i], c)
			}
		}()
	}
	wg.Wait()
	for i, p := range probs {
		for _, c := range got[i] {
			if Kernel() != best.name { // an openblas build: only check closeness
				p.verify(t, p.c, c, want[i])
				continue
			}
			for x := range c {
				if math.Float32bits(c[x]) != math.Float32bits(want[i][x]) {
					t.Fatalf("caller %d: element %d = %v, one-thread result %v", i, x, c[x], want[i][x])
				}
			}
		}
	}
	// Workers exit right after signalling; give them a moment to go.
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after the calls, %d before", n, before)
	}
}
