package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"
)

// This file checks every layer's Backward against central finite
// differences of a float64 reference forward (written independently, as
// direct loops), and its float32 Forward against that reference.

type ref64 func(x []float64, ps [][]float64) []float64

func to64(v []float32) []float64 {
	o := make([]float64, len(v))
	for i, x := range v {
		o[i] = float64(x)
	}
	return o
}

func refConv(n, ci, h, w, co, k, s, p int) ref64 {
	ho, wo := (h+2*p-k)/s+1, (w+2*p-k)/s+1
	return func(x []float64, ps [][]float64) []float64 {
		wt := ps[0]
		y := make([]float64, n*co*ho*wo)
		for b := 0; b < n; b++ {
			for o := 0; o < co; o++ {
				for oh := 0; oh < ho; oh++ {
					for ow := 0; ow < wo; ow++ {
						var acc float64
						if len(ps) > 1 {
							acc = ps[1][o]
						}
						for c := 0; c < ci; c++ {
							for ki := 0; ki < k; ki++ {
								for kj := 0; kj < k; kj++ {
									ih, iw := oh*s-p+ki, ow*s-p+kj
									if ih < 0 || ih >= h || iw < 0 || iw >= w {
										continue
									}
									acc += wt[((o*ci+c)*k+ki)*k+kj] * x[((b*ci+c)*h+ih)*w+iw]
								}
							}
						}
						y[((b*co+o)*ho+oh)*wo+ow] = acc
					}
				}
			}
		}
		return y
	}
}

// refBN normalises [n, c, hw]; with rm/rv non-nil it is evaluation mode.
func refBN(n, c, hw int, relu bool, rm, rv []float64) ref64 {
	return func(x []float64, ps [][]float64) []float64 {
		y := make([]float64, len(x))
		for ch := 0; ch < c; ch++ {
			var mean, v float64
			if rm != nil {
				mean, v = rm[ch], rv[ch]
			} else {
				for b := 0; b < n; b++ {
					for i := 0; i < hw; i++ {
						mean += x[(b*c+ch)*hw+i]
					}
				}
				mean /= float64(n * hw)
				for b := 0; b < n; b++ {
					for i := 0; i < hw; i++ {
						d := x[(b*c+ch)*hw+i] - mean
						v += d * d
					}
				}
				v /= float64(n * hw)
			}
			for b := 0; b < n; b++ {
				for i := 0; i < hw; i++ {
					j := (b*c+ch)*hw + i
					y[j] = (x[j]-mean)/math.Sqrt(v+1e-5)*ps[0][ch] + ps[1][ch]
					if relu {
						y[j] = max(y[j], 0)
					}
				}
			}
		}
		return y
	}
}

func refMaxPool(n, c, h, w, k, s int, ceil bool) ref64 {
	m := &MaxPool2D{Kernel: k, Stride: s, CeilMode: ceil}
	ho, wo := m.OutSize(h), m.OutSize(w)
	return func(x []float64, _ [][]float64) []float64 {
		y := make([]float64, n*c*ho*wo)
		for p := 0; p < n*c; p++ {
			for oh := 0; oh < ho; oh++ {
				for ow := 0; ow < wo; ow++ {
					best := math.Inf(-1)
					for ih := oh * s; ih < min(oh*s+k, h); ih++ {
						for iw := ow * s; iw < min(ow*s+k, w); iw++ {
							best = max(best, x[(p*h+ih)*w+iw])
						}
					}
					y[(p*ho+oh)*wo+ow] = best
				}
			}
		}
		return y
	}
}

func refGAP(n, c, hw int) ref64 {
	return func(x []float64, _ [][]float64) []float64 {
		y := make([]float64, n*c)
		for p := range y {
			for i := 0; i < hw; i++ {
				y[p] += x[p*hw+i]
			}
			y[p] /= float64(hw)
		}
		return y
	}
}

func refReLU(x []float64, _ [][]float64) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = max(v, 0)
	}
	return y
}

func refLinear(n, in, out int) ref64 {
	return func(x []float64, ps [][]float64) []float64 {
		y := make([]float64, n*out)
		for i := 0; i < n; i++ {
			for o := 0; o < out; o++ {
				var a float64
				if len(ps) > 1 {
					a = ps[1][o]
				}
				for j := 0; j < in; j++ {
					a += x[i*in+j] * ps[0][o*in+j]
				}
				y[i*out+o] = a
			}
		}
		return y
	}
}

// refBlock composes the references as BasicBlock does (training mode).
func refBlock(n, ci, h, co, stride int) ref64 {
	ho := (h+2-3)/stride + 1
	c1 := refConv(n, ci, h, h, co, 3, stride, 1)
	b1 := refBN(n, co, ho*ho, true, nil, nil)
	c2 := refConv(n, co, ho, ho, co, 3, 1, 1)
	b2 := refBN(n, co, ho*ho, false, nil, nil)
	sc := stride != 1 || ci != co
	scc := refConv(n, ci, h, h, co, 1, stride, 0)
	return func(x []float64, ps [][]float64) []float64 {
		m := b2(c2(b1(c1(x, ps[0:1]), ps[1:3]), ps[3:4]), ps[4:6])
		s := x
		if sc {
			s = b2(scc(x, ps[6:7]), ps[7:9])
		}
		for i := range m {
			m[i] = max(m[i]+s[i], 0)
		}
		return m
	}
}

// gradCheck runs m forward (mode train) on a random x, compares the output
// with ref, runs Backward with a random upstream gradient r, and compares
// dx and the parameter gradients with central differences of
// L = Σ r·ref(x, params) in float64.
func gradCheck(t *testing.T, m Module, train bool, ref ref64, xshape ...int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, uint64(len(xshape))))
	n := 1
	for _, s := range xshape {
		n *= s
	}
	xd := make([]float32, n)
	for i := range xd {
		xd[i] = float32(rng.NormFloat64())
	}
	x := NewTensor(xd, xshape...)
	params := m.Params()
	ps := make([][]float64, len(params))
	for i, p := range params {
		ps[i] = to64(p.Data())
	}
	x64 := to64(xd)
	y := m.Forward(x, train)
	want := ref(x64, ps)
	yd := f32(y)
	if len(yd) != len(want) {
		t.Fatalf("output has %d values, reference %d", len(yd), len(want))
	}
	checkClose(t, "forward", yd, want, 1e-5)
	r := make([]float64, len(want))
	rd := make([]float32, len(want))
	for i := range r {
		rd[i] = float32(rng.NormFloat64())
		r[i] = float64(rd[i])
	}
	ZeroGrad(params)
	dx := m.Backward(NewTensor(rd, y.Shape().Clone()...))
	loss := func() float64 {
		out := ref(x64, ps)
		var s float64
		for i, v := range out {
			s += r[i] * v
		}
		return s
	}
	fd := func(v []float64, idx []int) []float64 {
		g := make([]float64, len(idx))
		for j, i := range idx {
			old := v[i]
			h := 1e-6 * max(1, math.Abs(old))
			v[i] = old + h
			lp := loss()
			v[i] = old - h
			lm := loss()
			v[i] = old
			g[j] = (lp - lm) / (2 * h)
		}
		return g
	}
	sample := func(n int) []int {
		if n <= 64 {
			idx := make([]int, n)
			for i := range idx {
				idx[i] = i
			}
			return idx
		}
		return rng.Perm(n)[:64]
	}
	if dx != nil {
		idx := sample(len(x64))
		checkFD(t, "dx", f32(dx), fd(x64, idx), idx)
	}
	for pi, p := range params {
		idx := sample(len(ps[pi]))
		checkFD(t, p.Name, p.GradData(), fd(ps[pi], idx), idx)
	}
}

func checkClose(t *testing.T, name string, got []float32, want []float64, rel float64) {
	t.Helper()
	var scale, worst float64
	for _, w := range want {
		scale = max(scale, math.Abs(w))
	}
	for i := range got {
		worst = max(worst, math.Abs(float64(got[i])-want[i]))
	}
	if !(worst <= rel*scale+1e-6) {
		t.Errorf("%s: max |diff| %.3g, scale %.3g", name, worst, scale)
	}
}

// checkFD compares analytic gradients (float32) at idx with finite
// differences: |a − fd| ≤ 1e-3·max|fd| + 1e-4.
func checkFD(t *testing.T, name string, got []float32, fd []float64, idx []int) {
	t.Helper()
	var scale float64
	for _, v := range fd {
		scale = max(scale, math.Abs(v))
	}
	bad := 0
	for j, i := range idx {
		if d := math.Abs(float64(got[i]) - fd[j]); !(d <= 1e-3*scale+1e-4) {
			if bad < 3 {
				t.Errorf("%s[%d]: analytic %g, finite difference %g", name, i, got[i], fd[j])
			}
			bad++
		}
	}
}

func TestGradConv2D(t *testing.T) {
	pool := NewPool(2)
	defer pool.Close()
	cases := []struct {
		name              string
		n, ci, h, w, co   int
		k, s, p           int
		bias, noInputGrad bool
		cols              int
	}{
		{"3x3 s1 p1 chunked", 3, 2, 6, 5, 3, 3, 1, 1, false, false, 0},
		{"3x3 s2 p1 bias", 2, 3, 7, 7, 4, 3, 2, 1, true, false, 0},
		{"3x3 s1 p0", 2, 2, 5, 6, 2, 3, 1, 0, false, false, 0},
		{"5x5 s2 p2", 2, 2, 9, 8, 3, 5, 2, 2, true, false, 0},
		{"1x1 s2", 3, 4, 5, 5, 6, 1, 2, 0, false, false, 0},
		{"1x1 s1 direct", 2, 3, 32, 33, 4, 1, 1, 0, true, false, 0},
		{"3x3 direct", 2, 2, 32, 32, 3, 3, 1, 1, false, false, 0},
		{"partial chunk", 7, 2, 20, 20, 3, 3, 1, 1, false, false, 1000},
		{"partial chunk s2", 5, 2, 9, 9, 3, 3, 2, 1, true, false, 40},
		{"no input grad", 3, 3, 8, 8, 4, 3, 1, 1, false, true, 0},
		{"5x5 s1 p2 same", 2, 2, 6, 7, 3, 5, 1, 2, true, false, 0},
		{"3x3 same 1 wide", 2, 2, 3, 1, 2, 3, 1, 1, false, false, 0},
		{"5x5 same 2 wide", 2, 1, 4, 2, 2, 5, 1, 2, false, false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := NewConv2D("conv", c.ci, c.co, c.k, c.s, c.p, c.bias, testRNG(), pool)
			m.NoInputGrad = c.noInputGrad
			m.cols = c.cols
			gradCheck(t, m, true, refConv(c.n, c.ci, c.h, c.w, c.co, c.k, c.s, c.p), c.n, c.ci, c.h, c.w)
		})
	}
}

func randomizeBN(b *BatchNorm2d, rng *rand.Rand) {
	for i := range b.Weight.Data() {
		b.Weight.Data()[i] = float32(1 + 0.3*rng.NormFloat64())
		b.Bias.Data()[i] = float32(0.3 * rng.NormFloat64())
		b.RunningMean.Float32s()[i] = float32(0.5 * rng.NormFloat64())
		b.RunningVar.Float32s()[i] = float32(0.5 + rng.Float64())
	}
}

func TestGradBatchNorm(t *testing.T) {
	for _, threads := range []int{1, 3} {
		pool := NewPool(threads)
		for _, relu := range []bool{false, true} {
			for _, train := range []bool{true, false} {
				b := NewBatchNorm2d("bn", 3, relu, pool)
				randomizeBN(b, testRNG())
				var rm, rv []float64
				if !train {
					rm, rv = to64(b.RunningMean.Float32s()), to64(b.RunningVar.Float32s())
				}
				gradCheck(t, b, train, refBN(4, 3, 10, relu, rm, rv), 4, 3, 2, 5)
				b1 := NewBatchNorm1d("bn1", 5, relu, pool)
				randomizeBN(&b1.BatchNorm2d, testRNG())
				if !train {
					rm, rv = to64(b1.RunningMean.Float32s()), to64(b1.RunningVar.Float32s())
				}
				gradCheck(t, b1, train, refBN(6, 5, 1, relu, rm, rv), 6, 5)
			}
		}
		pool.Close()
	}
}

func TestGradBNReLUPool(t *testing.T) {
	pool := NewPool(2)
	defer pool.Close()
	for _, c := range []struct {
		name    string
		h, w    int
		ceil    bool
		train   bool
		negGain bool
	}{
		{"ceil 7x7", 7, 7, true, true, false},
		{"floor 7x6", 7, 6, false, true, false},
		{"even 8x8 eval", 8, 8, true, false, false},
		{"ceil 5x4 negative gain", 5, 4, true, true, true},
		{"2x3", 2, 3, true, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := NewBNReLUPool("bn", 3, c.ceil, pool)
			randomizeBN(f.BN, testRNG())
			if c.negGain {
				f.BN.Weight.Data()[1] = -0.8
			}
			var rm, rv []float64
			if !c.train {
				rm, rv = to64(f.BN.RunningMean.Float32s()), to64(f.BN.RunningVar.Float32s())
			}
			bn := refBN(3, 3, c.h*c.w, true, rm, rv)
			mp := refMaxPool(3, 3, c.h, c.w, 2, 2, c.ceil)
			ref := func(x []float64, ps [][]float64) []float64 { return mp(bn(x, ps), nil) }
			gradCheck(t, f, c.train, ref, 3, 3, c.h, c.w)
		})
	}
}

func TestGradPoolsReLULinear(t *testing.T) {
	pool := NewPool(2)
	defer pool.Close()
	t.Run("maxpool ceil 7", func(t *testing.T) {
		gradCheck(t, NewMaxPool2D(2, 2, true, pool), true, refMaxPool(2, 3, 7, 7, 2, 2, true), 2, 3, 7, 7)
	})
	t.Run("maxpool floor 7x6", func(t *testing.T) {
		gradCheck(t, NewMaxPool2D(2, 2, false, pool), true, refMaxPool(2, 3, 7, 6, 2, 2, false), 2, 3, 7, 6)
	})
	t.Run("maxpool k3 s2 ceil", func(t *testing.T) {
		gradCheck(t, NewMaxPool2D(3, 2, true, pool), true, refMaxPool(2, 2, 8, 8, 3, 2, true), 2, 2, 8, 8)
	})
	t.Run("gap", func(t *testing.T) {
		gradCheck(t, NewGlobalAvgPool(pool), true, refGAP(3, 4, 15), 3, 4, 3, 5)
	})
	t.Run("relu", func(t *testing.T) {
		gradCheck(t, NewReLU(pool), true, refReLU, 3, 4, 3, 5)
	})
	t.Run("linear", func(t *testing.T) {
		gradCheck(t, NewLinear("fc", 7, 5, true, testRNG()), true, refLinear(4, 7, 5), 4, 7)
	})
	t.Run("linear no bias", func(t *testing.T) {
		gradCheck(t, NewLinear("fc", 6, 3, false, testRNG()), true, refLinear(5, 6, 3), 5, 6)
	})
}

func TestGradBasicBlock(t *testing.T) {
	pool := NewPool(2)
	defer pool.Close()
	shared := NewPool(2) // gradients lent from an arena, as in a model
	shared.share = true
	defer shared.Close()
	for _, c := range []struct {
		name           string
		ci, co, stride int
		pool           *Pool
	}{
		{"shortcut conv", 3, 4, 2, pool}, {"identity", 3, 3, 1, pool}, {"channels only", 2, 4, 1, pool},
		{"shortcut conv, arena", 3, 4, 2, shared}, {"identity, arena", 3, 3, 1, shared},
	} {
		pool := c.pool
		t.Run(c.name, func(t *testing.T) {
			b := NewBasicBlock("blk", c.ci, c.co, c.stride, testRNG(), pool)
			rng := testRNG()
			for _, bn := range []*BatchNorm2d{b.B1, b.B2, b.SCBN} {
				if bn != nil {
					randomizeBN(bn, rng)
				}
			}
			gradCheck(t, b, true, refBlock(3, c.ci, 6, c.co, c.stride), 3, c.ci, 6, 6)
		})
	}
}

var _ = tensor.Float32
