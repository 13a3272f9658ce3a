package nn

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"strings"
	"sync"
	"testing"

	"gorgonia.org/tensor"
)

// The golden values come from testdata/make_golden.py (PyTorch 1.13, one
// thread). Tolerance: every element a of a Go tensor and b of the torch one
// satisfy |a − b| ≤ goldenRel·max|b| + 1e-6, i.e. ~1e-4 relative to the
// tensor's scale (element-wise relative error is meaningless near zero).
const goldenRel = 1e-4

type golden struct {
	Torch   string                          `json:"torch"`
	Tensors map[string][2]json.RawMessage   `json:"tensors"`
	State   map[string][][3]json.RawMessage `json:"state_dicts"`
	data    []float32
}

var (
	goldenOnce sync.Once
	goldenVal  *golden
	goldenErr  error
)

func loadGolden(t testing.TB) *golden {
	t.Helper()
	goldenOnce.Do(func() {
		js, err := os.ReadFile("testdata/golden.json")
		if err != nil {
			goldenErr = err
			return
		}
		g := &golden{}
		if goldenErr = json.Unmarshal(js, g); goldenErr != nil {
			return
		}
		raw, err := os.ReadFile("testdata/golden.bin")
		if err != nil {
			goldenErr = err
			return
		}
		g.data = make([]float32, len(raw)/4)
		for i := range g.data {
			g.data[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		goldenVal = g
	})
	if goldenErr != nil {
		t.Fatalf("golden: %v", goldenErr)
	}
	return goldenVal
}

func (g *golden) get(t testing.TB, name string) ([]float32, []int) {
	t.Helper()
	e, ok := g.Tensors[name]
	if !ok {
		t.Fatalf("golden: no tensor %q", name)
	}
	var off int
	var shape []int
	if err := json.Unmarshal(e[0], &off); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(e[1], &shape); err != nil {
		t.Fatal(err)
	}
	n := 1
	for _, s := range shape {
		n *= s
	}
	return g.data[off : off+n], shape
}

// fill is make_golden.py's fill: deterministic values in offset + scale·[−1, 1).
func fill(dst []float32, salt int, scale, offset float64) {
	for i := range dst {
		h := (uint64(i)*2654435761 + uint64(salt*40503)) & 0xffffffff
		h ^= h >> 15
		h = (h * 2246822519) & 0xffffffff
		h ^= h >> 13
		u := float64(h) / float64(1<<32)
		dst[i] = float32(offset + scale*(2*u-1))
	}
}

func filled(salt int, scale float64, shape ...int) *tensor.Dense {
	n := 1
	for _, s := range shape {
		n *= s
	}
	d := make([]float32, n)
	fill(d, salt, scale, 0)
	return NewTensor(d, shape...)
}

// initHashed is make_golden.py's init_module.
func initHashed(ps []*Param, salt0 int) {
	byName := map[string]*Param{}
	for _, p := range ps {
		byName[p.Name] = p
	}
	fanIn := func(p *Param) int {
		s := p.Value.Shape()
		n := 1
		for _, v := range s[1:] {
			n *= v
		}
		return n
	}
	for k, p := range ps {
		switch {
		case p.BatchNorm && strings.HasSuffix(p.Name, "weight"):
			fill(p.Data(), salt0+k, 0.2, 1)
		case p.BatchNorm:
			fill(p.Data(), salt0+k, 0.2, 0)
		case p.Bias:
			w := byName[strings.TrimSuffix(p.Name, "bias")+"weight"]
			fill(p.Data(), salt0+k, 1/math.Sqrt(float64(fanIn(w))), 0)
		default:
			fill(p.Data(), salt0+k, 1/math.Sqrt(float64(fanIn(p))), 0)
		}
	}
}

func closeTo(t *testing.T, name string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, want %d", name, len(got), len(want))
		return
	}
	var scale, worst float64
	for _, w := range want {
		scale = max(scale, math.Abs(float64(w)))
	}
	wi := -1
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(d) || d > worst {
			worst, wi = d, i
		}
	}
	if math.IsNaN(worst) || worst > goldenRel*scale+1e-6 {
		t.Errorf("%s: max |diff| %.3g at %d (got %v want %v), scale %.3g, rel %.3g > %g",
			name, worst, wi, got[wi], want[wi], scale, worst/scale, goldenRel)
	} else if testing.Verbose() {
		t.Logf("%s: rel diff %.2g", name, worst/max(scale, 1e-30))
	}
}

func trimName(s string) string { return strings.TrimPrefix(s, ".") }

// runGolden checks forward (training mode), backward of L = Σ g·y, the
// parameter gradients, the running statistics and an eval-mode forward
// against case name of the golden file. out maps x to the module output.
func runGolden(t *testing.T, name string, m Module, salt int, xshape ...int) {
	g := loadGolden(t)
	initHashed(m.Params(), salt)
	x := filled(salt+1000, 1, xshape...)
	y := m.Forward(x, true)
	wantY, yshape := g.get(t, name+"/y")
	if !y.Shape().Eq(tensor.Shape(yshape)) {
		t.Fatalf("%s: output shape %v, want %v", name, y.Shape(), yshape)
	}
	closeTo(t, name+"/y", f32(y), wantY)
	dy := filled(salt+2000, 1, yshape...)
	ZeroGrad(m.Params())
	dx := m.Backward(dy)
	if want, ok := g.Tensors[name+"/dx"]; ok && dx != nil {
		_ = want
		w, _ := g.get(t, name+"/dx")
		closeTo(t, name+"/dx", f32(dx), w)
	}
	for _, p := range m.Params() {
		key := name + "/grad/" + trimName(p.Name)
		if _, ok := g.Tensors[key]; !ok {
			continue
		}
		w, _ := g.get(t, key)
		if structurallyZero(m, p) {
			// A bias followed by batch norm has a true gradient of 0; both
			// sides hold rounding noise. Check it stays noise.
			for i, v := range p.GradData() {
				if math.Abs(float64(v)) > 1e-5 || math.Abs(float64(w[i])) > 1e-5 {
					t.Errorf("%s[%d] = %g (torch %g), want ~0", key, i, v, w[i])
					break
				}
			}
			continue
		}
		closeTo(t, key, p.GradData(), w)
	}
	for _, s := range m.StateDict() {
		if !strings.HasSuffix(s.Name, "running_mean") && !strings.HasSuffix(s.Name, "running_var") {
			continue
		}
		key := name + "/buf/" + trimName(s.Name)
		w, _ := g.get(t, key)
		closeTo(t, key, f32(s.Tensor), w)
	}
	ye := m.Forward(x, false)
	w, _ := g.get(t, name+"/yeval")
	closeTo(t, name+"/yeval", f32(ye), w)
}

// structurallyZero reports whether p is the bias of a Linear followed
// directly by batch norm in m.
func structurallyZero(m Module, p *Param) bool {
	if !p.Bias {
		return false
	}
	prev := ""
	for _, q := range m.Params() {
		if q.BatchNorm && prev == p.Name {
			return true
		}
		prev = q.Name
	}
	return false
}

func TestGoldenLayers(t *testing.T) {
	rng := testRNG()
	pool := NewPool(2)
	defer pool.Close()
	cases := []struct {
		name   string
		m      Module
		salt   int
		xshape []int
	}{
		{"conv_s2_bias", NewConv2D("", 3, 4, 3, 2, 1, true, rng, pool), 1, []int{2, 3, 7, 7}},
		{"conv_s1", NewConv2D("", 2, 3, 3, 1, 1, false, rng, pool), 2, []int{2, 2, 6, 5}},
		{"conv1x1_s2", NewConv2D("", 4, 6, 1, 2, 0, false, rng, pool), 3, []int{3, 4, 5, 5}},
		{"bn2d", NewBatchNorm2d("", 4, false, pool), 4, []int{3, 4, 5, 5}},
		{"bn1d", NewBatchNorm1d("", 6, false, pool), 5, []int{5, 6}},
		{"convbnrelu", &Sequential{Layers: []Module{NewConv2D(".conv", 3, 5, 3, 1, 1, false, rng, pool), NewBatchNorm2d(".bn", 5, true, pool)}}, 6, []int{2, 3, 6, 6}},
		{"maxpool_ceil", NewMaxPool2D(2, 2, true, pool), 7, []int{2, 3, 7, 7}},
		{"linear", NewLinear("", 7, 5, true, rng), 8, []int{4, 7}},
		{"block_sc", NewBasicBlock("", 4, 8, 2, rng, pool), 9, []int{2, 4, 8, 8}},
		{"block_id", NewBasicBlock("", 4, 4, 1, rng, pool), 10, []int{2, 4, 6, 6}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runGolden(t, c.name, c.m, c.salt, c.xshape...) })
	}
}

func TestGoldenModels(t *testing.T) {
	cases := []struct {
		name   string
		cfg    Config
		salt   int
		xshape []int
	}{
		{"small_rgb16_bnhead", Config{Model: "small", HeadBN: true, Threads: 2}, 11, []int{8, 3, 16, 16}},
		{"small_gray28", Config{Model: "small", InChannels: 1, Threads: 2}, 12, []int{4, 1, 28, 28}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := NewSimCLR(c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			runGolden(t, c.name, modelModule{m}, c.salt, c.xshape...)
		})
	}
}

// modelModule adapts SimCLR to Module for runGolden.
type modelModule struct{ *SimCLR }

// TestPeerStateDictNames checks that the parameter and buffer names, shapes
// and types match the torch models of shared/bench/train_step.py, so a
// StateDict loads into that code.
func TestPeerStateDictNames(t *testing.T) {
	g := loadGolden(t)
	for _, c := range []struct {
		key   string
		model string
	}{{"peer_small", "small"}, {"peer_resnet18", "resnet18"}} {
		m, err := NewSimCLR(Config{Model: c.model, Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		sd := m.StateDict()
		m.Close()
		want := g.State[c.key]
		if len(sd) != len(want) {
			t.Errorf("%s: %d tensors, torch has %d", c.key, len(sd), len(want))
			continue
		}
		for i, w := range want {
			var name, dtype string
			var shape []int
			_ = json.Unmarshal(w[0], &name)
			_ = json.Unmarshal(w[1], &shape)
			_ = json.Unmarshal(w[2], &dtype)
			got := sd[i]
			wantType := tensor.Float32
			if dtype == "torch.int64" {
				wantType = tensor.Int64
			}
			if got.Name != name || !got.Tensor.Shape().Eq(tensor.Shape(shape)) || got.Tensor.Dtype() != wantType {
				t.Errorf("%s[%d]: %s %v %v, torch %s %v %s", c.key, i, got.Name, got.Tensor.Shape(), got.Tensor.Dtype(), name, shape, dtype)
			}
		}
	}
}
