package optim

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/contrastream/contrastream/internal/cputime"
	"github.com/contrastream/contrastream/stages/train/nn"
)

type goldenParam struct {
	Name    string      `json:"name"`
	Shape   []int       `json:"shape"`
	NoDecay bool        `json:"no_decay"`
	Value   []float64   `json:"value"`
	Grads   [][]float64 `json:"grads"`
}

type goldenRun struct {
	Opt         string                 `json:"opt"`
	Momentum    float64                `json:"momentum"`
	Dampening   float64                `json:"dampening"`
	WeightDecay float64                `json:"weight_decay"`
	Nesterov    bool                   `json:"nesterov"`
	Eta         float64                `json:"eta"`
	Classic     bool                   `json:"classic"`
	Betas       []float64              `json:"betas"`
	Eps         float64                `json:"eps"`
	Steps       []map[string][]float64 `json:"steps"`
}

type golden struct {
	LRs    []float64     `json:"lrs"`
	Params []goldenParam `json:"params"`
	Runs   []goldenRun   `json:"runs"`
}

func loadGolden(t *testing.T) golden {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "optim_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Runs) == 0 || len(g.Params) == 0 {
		t.Fatal("empty golden file")
	}
	return g
}

func f32(x []float64) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(v)
	}
	return y
}

// newParam makes an nn.Param; names starting "bn." are batch-norm and names
// ending ".bias" are biases, as the golden script decides.
func newParam(name string, shape []int, value []float32) *nn.Param {
	return &nn.Param{
		Name:      name,
		Value:     tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]float32(nil), value...))),
		Grad:      tensor.New(tensor.WithShape(shape...), tensor.WithBacking(make([]float32, len(value)))),
		BatchNorm: strings.HasPrefix(name, "bn."),
		Bias:      strings.HasSuffix(name, ".bias"),
	}
}

func goldenParams(g golden) []*nn.Param {
	ps := make([]*nn.Param, len(g.Params))
	for i, gp := range g.Params {
		ps[i] = newParam(gp.Name, gp.Shape, f32(gp.Value))
	}
	return ps
}

func makeOpt(r goldenRun) (Optimizer, string) {
	switch r.Opt {
	case "sgd":
		return &SGD{Momentum: r.Momentum, Dampening: r.Dampening, WeightDecay: r.WeightDecay, Nesterov: r.Nesterov},
			fmt.Sprintf("sgd/nesterov=%v/dampening=%v", r.Nesterov, r.Dampening)
	case "lars":
		return &LARS{Momentum: r.Momentum, WeightDecay: r.WeightDecay, Eta: r.Eta, Nesterov: r.Nesterov, PopularMomentum: !r.Classic},
			fmt.Sprintf("lars/nesterov=%v/classic=%v", r.Nesterov, r.Classic)
	case "adamw":
		return &AdamW{Beta1: r.Betas[0], Beta2: r.Betas[1], Eps: r.Eps, WeightDecay: r.WeightDecay}, "adamw"
	}
	return nil, r.Opt
}

// TestGoldenPyTorch runs three steps of each optimizer from the initial
// parameters, fixed gradients and per-step learning rates of
// testdata/optim_golden.json (torch 1.13, written by
// stages/train/loss/testdata/make_golden.py) and compares every parameter
// after every step. Tolerance: |got − torch| ≤ 1e-6·max|torch| over the
// tensor (float32 rounding; the worst seen is logged).
func TestGoldenPyTorch(t *testing.T) {
	g := loadGolden(t)
	for _, r := range g.Runs {
		opt, name := makeOpt(r)
		if opt == nil {
			t.Fatalf("unknown optimizer %q in golden file", r.Opt)
		}
		t.Run(name, func(t *testing.T) {
			ps := goldenParams(g)
			for i, gp := range g.Params {
				if ps[i].NoDecay() != gp.NoDecay {
					t.Fatalf("%s: NoDecay %v, golden %v", gp.Name, ps[i].NoDecay(), gp.NoDecay)
				}
			}
			var worst float64
			for step, lr := range g.LRs {
				for i, gp := range g.Params {
					copy(ps[i].GradData(), f32(gp.Grads[step]))
				}
				if err := opt.Step(lr, ps); err != nil {
					t.Fatal(err)
				}
				for _, p := range ps {
					want := r.Steps[step][p.Name]
					var scale, e float64
					for _, v := range want {
						scale = math.Max(scale, math.Abs(v))
					}
					for j, v := range p.Data() {
						e = math.Max(e, math.Abs(float64(v)-want[j]))
					}
					if e /= scale; e > 1e-6 {
						t.Errorf("step %d %s: rel err %.3g > 1e-6", step+1, p.Name, e)
					}
					worst = math.Max(worst, e)
				}
			}
			t.Logf("worst rel err over 3 steps: %.2g", worst)
		})
	}
}

// TestSGDHandComputed: one parameter, two steps, every rule by hand.
func TestSGDHandComputed(t *testing.T) {
	cases := []struct {
		name    string
		opt     SGD
		noDecay bool
		want    [2]float64 // w after steps 1 and 2 (w0 = 1, g = 0.5 then −0.25, lr 0.1 then 0.2)
	}{
		// plain: w1 = 1 − 0.1·0.5 = 0.95; w2 = 0.95 + 0.2·0.25 = 1.0
		{"plain", SGD{}, false, [2]float64{0.95, 1.0}},
		// decay 0.1: d1 = 0.5+0.1 = 0.6 → 0.94; d2 = −0.25+0.094 = −0.156 → 0.94+0.0312 = 0.9712
		{"decay", SGD{WeightDecay: 0.1}, false, [2]float64{0.94, 0.9712}},
		{"decay skipped", SGD{WeightDecay: 0.1}, true, [2]float64{0.95, 1.0}},
		// momentum 0.9: b1 = 0.5 → 0.95; b2 = 0.45 − 0.25 = 0.2 → 0.95 − 0.04 = 0.91
		{"momentum", SGD{Momentum: 0.9}, false, [2]float64{0.95, 0.91}},
		// dampening 0.5: b1 = 0.5 (first step undamped) → 0.95; b2 = 0.45 − 0.125 = 0.325 → 0.885
		{"dampening", SGD{Momentum: 0.9, Dampening: 0.5}, false, [2]float64{0.95, 0.885}},
		// nesterov: d1 = 0.5 + 0.9·0.5 = 0.95 → 0.905; b2 = 0.2, d2 = −0.25 + 0.18 = −0.07 → 0.905 + 0.014 = 0.919
		{"nesterov", SGD{Momentum: 0.9, Nesterov: true}, false, [2]float64{0.905, 0.919}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newParam("w", []int{1}, []float32{1})
			p.Bias = c.noDecay
			opt := c.opt
			for k, st := range []struct{ lr, g float64 }{{0.1, 0.5}, {0.2, -0.25}} {
				p.GradData()[0] = float32(st.g)
				if err := opt.Step(st.lr, []*nn.Param{p}); err != nil {
					t.Fatal(err)
				}
				if got := float64(p.Data()[0]); math.Abs(got-c.want[k]) > 1e-6 {
					t.Errorf("step %d: w = %.7f, want %.7f", k+1, got, c.want[k])
				}
			}
		})
	}
}

// TestLARSTrustRatio checks the trust ratio by hand and the zero-norm guards.
func TestLARSTrustRatio(t *testing.T) {
	// w = (3, 4): ‖w‖ = 5; g = (0, 0.5) with wd 0.1: g' = (0.3, 0.9), ‖g'‖ = √0.9.
	// trust = 0.001·5/√0.9; v = lr·trust·g'; w −= v.
	w := newParam("fc.weight", []int{2}, []float32{3, 4})
	copy(w.GradData(), []float32{0, 0.5})
	zero := newParam("head.weight", []int{2}, []float32{0, 0}) // ‖w‖ = 0: trust 1
	copy(zero.GradData(), []float32{1, -1})
	still := newParam("still.weight", []int{2}, []float32{1, 1}) // g' = 0 (wd 0 below): trust 1, no NaN
	bias := newParam("fc.bias", []int{1}, []float32{2})          // excluded: trust 1, no decay
	bias.GradData()[0] = 0.5
	o := LARS{Momentum: 0.9, WeightDecay: 0.1}
	if err := o.Step(0.5, []*nn.Param{w, zero, bias}); err != nil {
		t.Fatal(err)
	}
	trust := 0.001 * 5 / math.Sqrt(0.9)
	want := []float64{3 - 0.5*trust*0.3, 4 - 0.5*trust*0.9}
	for i, v := range w.Data() {
		if math.Abs(float64(v)-want[i]) > 1e-6 {
			t.Errorf("w[%d] = %.8f, want %.8f", i, v, want[i])
		}
	}
	if z := zero.Data(); math.Abs(float64(z[0])+0.5) > 1e-7 || math.Abs(float64(z[1])-0.5) > 1e-7 {
		t.Errorf("zero-norm weight: %v, want [-0.5 0.5] (trust 1)", z)
	}
	if b := bias.Data()[0]; math.Abs(float64(b)-1.75) > 1e-7 {
		t.Errorf("bias: %v, want 1.75 (no decay, trust 1)", b)
	}
	o2 := LARS{Momentum: 0.9}
	if err := o2.Step(0.5, []*nn.Param{still}); err != nil {
		t.Fatal(err)
	}
	if s := still.Data(); s[0] != 1 || s[1] != 1 {
		t.Errorf("zero gradient: %v, want unchanged [1 1]", s)
	}
}

// TestAdamWHandComputed: the first AdamW step moves each coordinate by
// lr·sign(g) (up to ε), after decay by (1 − lr·wd).
func TestAdamWHandComputed(t *testing.T) {
	w := newParam("fc.weight", []int{2}, []float32{1, -2})
	copy(w.GradData(), []float32{0.3, -7})
	b := newParam("fc.bias", []int{1}, []float32{1})
	b.GradData()[0] = 0.01
	o := AdamW{WeightDecay: 0.5}
	if err := o.Step(0.1, []*nn.Param{w, b}); err != nil {
		t.Fatal(err)
	}
	want := []float64{1*0.95 - 0.1, -2*0.95 + 0.1, 1 - 0.1}
	got := append(append([]float32(nil), w.Data()...), b.Data()...)
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > 1e-6 {
			t.Errorf("param %d = %.7f, want %.7f", i, got[i], want[i])
		}
	}
}

// TestNoDecaySkipped: with zero gradients only decayed parameters move.
func TestNoDecaySkipped(t *testing.T) {
	for _, opt := range []Optimizer{
		&SGD{Momentum: 0.9, WeightDecay: 0.1},
		&LARS{Momentum: 0.9, WeightDecay: 0.1},
		&AdamW{WeightDecay: 0.1},
	} {
		ps := []*nn.Param{
			newParam("conv.weight", []int{2}, []float32{1, 2}),
			newParam("bn.weight", []int{2}, []float32{1, 2}),
			newParam("fc.bias", []int{2}, []float32{1, 2}),
		}
		if err := opt.Step(0.1, ps); err != nil {
			t.Fatal(err)
		}
		if d := ps[0].Data(); d[0] == 1 || d[1] == 2 {
			t.Errorf("%T: decayed weight did not move: %v", opt, d)
		}
		for _, p := range ps[1:] {
			if d := p.Data(); d[0] != 1 || d[1] != 2 {
				t.Errorf("%T: %s moved without gradient: %v", opt, p.Name, d)
			}
		}
	}
}

func makeOptimizers() map[string]func() Optimizer {
	return map[string]func() Optimizer{
		"sgd":       func() Optimizer { return &SGD{Momentum: 0.9, WeightDecay: 1e-4, Nesterov: true} },
		"sgd-plain": func() Optimizer { return &SGD{WeightDecay: 1e-4} },
		"lars":      func() Optimizer { return &LARS{Momentum: 0.9, WeightDecay: 1e-6} },
		"lars-popular": func() Optimizer {
			return &LARS{Momentum: 0.9, WeightDecay: 1e-6, PopularMomentum: true, Nesterov: true}
		},
		"adamw": func() Optimizer { return &AdamW{WeightDecay: 0.05} },
	}
}

// TestStateRoundTrip: two steps, export, load into a fresh optimizer, and
// the third step is bit-identical to continuing the first.
func TestStateRoundTrip(t *testing.T) {
	g := loadGolden(t)
	for name, mk := range makeOptimizers() {
		t.Run(name, func(t *testing.T) {
			a, ps := mk(), goldenParams(g)
			for step := 0; step < 2; step++ {
				for i, gp := range g.Params {
					copy(ps[i].GradData(), f32(gp.Grads[step]))
				}
				if err := a.Step(g.LRs[step], ps); err != nil {
					t.Fatal(err)
				}
			}
			st := a.State()
			if name != "sgd-plain" && len(st) == 0 {
				t.Fatal("empty state after two steps")
			}
			for _, s := range st {
				if !strings.HasPrefix(s.Name, "state.") {
					t.Errorf("state name %q lacks the state. prefix", s.Name)
				}
			}
			// A copy: changing it does not touch the optimizer.
			if len(st) > 0 {
				x := st[len(st)-1].Tensor.Float32s()
				keep := x[0]
				x[0] = 12345
				if again := a.State(); again[len(again)-1].Tensor.Float32s()[0] != keep {
					t.Fatal("State returned the optimizer's own buffer, not a copy")
				}
				x[0] = keep
			}
			ps2 := goldenParams(g)
			for i := range ps {
				copy(ps2[i].Data(), ps[i].Data())
			}
			b := mk()
			if err := b.LoadState(ps2, st); err != nil {
				t.Fatal(err)
			}
			for i, gp := range g.Params {
				copy(ps[i].GradData(), f32(gp.Grads[2]))
				copy(ps2[i].GradData(), f32(gp.Grads[2]))
			}
			if err := a.Step(g.LRs[2], ps); err != nil {
				t.Fatal(err)
			}
			if err := b.Step(g.LRs[2], ps2); err != nil {
				t.Fatal(err)
			}
			for i := range ps {
				for j, v := range ps[i].Data() {
					if v != ps2[i].Data()[j] {
						t.Fatalf("%s[%d]: resumed %v, continued %v", ps[i].Name, j, ps2[i].Data()[j], v)
					}
				}
			}
		})
	}
}

func TestAdamWStateNames(t *testing.T) {
	p := newParam("enc.fc.weight", []int{2, 3}, make([]float32, 6))
	o := AdamW{}
	if err := o.Step(1e-3, []*nn.Param{p}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range o.State() {
		names = append(names, fmt.Sprintf("%s%v", s.Name, s.Tensor.Shape()))
	}
	want := "state.enc.fc.weight.step() state.enc.fc.weight.exp_avg(2, 3) state.enc.fc.weight.exp_avg_sq(2, 3)"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("state names %q, want %q", got, want)
	}
}

func TestLoadStateErrors(t *testing.T) {
	ps := []*nn.Param{newParam("a.weight", []int{2}, []float32{1, 2})}
	good := func() []nn.Named {
		o := AdamW{}
		copy(ps[0].GradData(), []float32{1, 1})
		if err := o.Step(0.1, ps); err != nil {
			t.Fatal(err)
		}
		return o.State()
	}
	f32t := func(shape []int, v ...float32) *tensor.Dense {
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
	}
	cases := []struct {
		name string
		edit func([]nn.Named) []nn.Named
	}{
		{"missing", func(s []nn.Named) []nn.Named { return s[1:] }},
		{"extra", func(s []nn.Named) []nn.Named { return append(s, nn.Named{Name: "state.x", Tensor: f32t([]int{1}, 0)}) }},
		{"renamed", func(s []nn.Named) []nn.Named { s[1].Name = "state.b.weight.exp_avg"; return s }},
		{"duplicate", func(s []nn.Named) []nn.Named { s[2] = s[1]; return s }},
		{"shape", func(s []nn.Named) []nn.Named { s[1].Tensor = f32t([]int{3}, 0, 0, 0); return s }},
		{"step zero", func(s []nn.Named) []nn.Named { s[0].Tensor = f32t(nil, 0); return s }},
		{"step fraction", func(s []nn.Named) []nn.Named { s[0].Tensor = f32t(nil, 1.5); return s }},
		{"nil tensor", func(s []nn.Named) []nn.Named { s[1].Tensor = nil; return s }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := AdamW{}
			if err := o.LoadState(ps, c.edit(good())); !errors.Is(err, ErrState) {
				t.Errorf("LoadState: %v, want ErrState", err)
			}
		})
	}
}

func TestStepErrors(t *testing.T) {
	p := newParam("a.weight", []int{2}, []float32{1, 2})
	q := newParam("b.weight", []int{3}, []float32{1, 2, 3})
	cases := []struct {
		name string
		run  func() error
		is   error
	}{
		{"negative lr", func() error { return (&SGD{}).Step(-1, []*nn.Param{p}) }, nil},
		{"NaN lr", func() error { return (&LARS{}).Step(math.NaN(), []*nn.Param{p}) }, nil},
		{"momentum 1", func() error { return (&SGD{Momentum: 1}).Step(0.1, []*nn.Param{p}) }, nil},
		{"nesterov without momentum", func() error { return (&SGD{Nesterov: true}).Step(0.1, []*nn.Param{p}) }, nil},
		{"nesterov with dampening", func() error {
			return (&SGD{Nesterov: true, Momentum: 0.9, Dampening: 0.1}).Step(0.1, []*nn.Param{p})
		}, nil},
		{"negative decay", func() error { return (&AdamW{WeightDecay: -1}).Step(0.1, []*nn.Param{p}) }, nil},
		{"beta 1", func() error { return (&AdamW{Beta2: 1}).Step(0.1, []*nn.Param{p}) }, nil},
		{"negative eta", func() error { return (&LARS{Eta: -1}).Step(0.1, []*nn.Param{p}) }, nil},
		{"nil param", func() error { return (&SGD{}).Step(0.1, []*nn.Param{nil}) }, ErrParams},
		{"params changed", func() error {
			o := &LARS{Momentum: 0.9}
			if err := o.Step(0.1, []*nn.Param{p}); err != nil {
				return nil
			}
			return o.Step(0.1, []*nn.Param{q})
		}, ErrParams},
		{"params added", func() error {
			o := &AdamW{}
			if err := o.Step(0.1, []*nn.Param{p}); err != nil {
				return nil
			}
			return o.Step(0.1, []*nn.Param{p, q})
		}, ErrParams},
		{"momentum switched on", func() error {
			o := &SGD{}
			if err := o.Step(0.1, []*nn.Param{p}); err != nil {
				return nil
			}
			o.Momentum = 0.9
			return o.Step(0.1, []*nn.Param{p})
		}, ErrParams},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.run()
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "optim: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %v, want %v", err, c.is)
			}
		})
	}
}

// TestStepAllocs: no allocation per step after the first.
func TestStepAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	g := loadGolden(t)
	for name, mk := range makeOptimizers() {
		ps := goldenParams(g)
		opt := mk()
		if err := opt.Step(0.1, ps); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(20, func() { _ = opt.Step(0.01, ps) }); n != 0 {
			t.Errorf("%s: %v allocs per step, want 0", name, n)
		}
	}
}

// benchParams is ~1.5 M parameters shaped like a small conv net with a
// projection head, 20% of the tensors batch-norm or bias.
func benchParams() []*nn.Param {
	shapes := []struct {
		name  string
		shape []int
	}{
		{"features.0.weight", []int{64, 3, 3, 3}}, {"features.1.weight", []int{64}}, {"features.1.bias", []int{64}},
		{"features.4.weight", []int{128, 64, 3, 3}}, {"features.5.weight", []int{128}}, {"features.5.bias", []int{128}},
		{"features.8.weight", []int{256, 128, 3, 3}}, {"features.9.weight", []int{256}}, {"features.9.bias", []int{256}},
		{"features.12.weight", []int{384, 256, 3, 3}}, {"features.13.weight", []int{384}}, {"features.13.bias", []int{384}},
		{"head.0.weight", []int{512, 384}}, {"head.0.bias", []int{512}}, {"head.3.weight", []int{128, 512}},
	}
	ps := make([]*nn.Param, len(shapes))
	for i, s := range shapes {
		n := 1
		for _, d := range s.shape {
			n *= d
		}
		v := make([]float32, n)
		for j := range v {
			v[j] = float32(j%97-48) * 1e-3
		}
		name := s.name
		if strings.HasPrefix(name, "features.") && len(s.shape) == 1 {
			name = "bn." + name // flags it as batch-norm via newParam
		}
		p := newParam(name, s.shape, v)
		for j := range p.GradData() {
			p.GradData()[j] = float32(j%89-44) * 1e-4
		}
		ps[i] = p
	}
	return ps
}

// BenchmarkStep is one optimizer step over ~1.5 M parameters.
func BenchmarkStep(b *testing.B) {
	ps := benchParams()
	var n int
	for _, p := range ps {
		n += len(p.Data())
	}
	for _, name := range []string{"sgd", "lars", "adamw"} {
		b.Run(name, func(b *testing.B) {
			opt := makeOptimizers()[name]()
			if err := opt.Step(1e-3, ps); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(4 * n))
			b.ReportMetric(float64(n), "params")
			b.ResetTimer()
			cpu0 := cputime.Now()
			for i := 0; i < b.N; i++ {
				if err := opt.Step(1e-3, ps); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cputime.Now()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// TestAdamWKernels: the vector kernel and the Go loop agree bit for bit
// (lengths around the 8-lane blocks, random data).
func TestAdamWKernels(t *testing.T) {
	t.Logf("AVX2 kernel: %v", useAVX2)
	rng := rand.New(rand.NewPCG(4, 4))
	k := adamConsts{decay: 0.999, b1: 0.9, c1: 0.1, b2: 0.999, c2: 0.001, bc2s: 0.0447, eps: 1e-8, negStep: -0.01}
	for _, n := range []int{0, 1, 7, 8, 9, 16, 31, 64, 1001} {
		mk := func(scale float64) []float32 {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(rng.NormFloat64() * scale)
			}
			return x
		}
		w, g, m, v := mk(1), mk(0.1), mk(0.01), mk(0.001)
		for i := range v {
			v[i] = v[i] * v[i]
		}
		w2, m2, v2 := append([]float32(nil), w...), append([]float32(nil), m...), append([]float32(nil), v...)
		adamwUpdate(w, g, m, v, &k)
		// The Go loop alone, as the tail of adamwUpdate runs it.
		for j := range w2 {
			x := w2[j] * k.decay
			mj := float32(m2[j]*k.b1) + float32(k.c1*g[j])
			vj := float32(v2[j]*k.b2) + float32(float32(k.c2*g[j])*g[j])
			m2[j], v2[j] = mj, vj
			den := float32(float32(math.Sqrt(float64(vj)))/k.bc2s) + k.eps
			w2[j] = x + float32(k.negStep*float32(mj/den))
		}
		for j := range w {
			if w[j] != w2[j] || m[j] != m2[j] || v[j] != v2[j] {
				t.Fatalf("n=%d [%d]: kernel (%v %v %v), Go (%v %v %v)", n, j, w[j], m[j], v[j], w2[j], m2[j], v2[j])
			}
		}
	}
}
