package nn

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"gorgonia.org/tensor"
)

func randomBatch(seed, n, c, s int) *tensor.Dense {
	return filled(seed, 1, n, c, s, s)
}

// step runs one forward/backward with dz = z (the gradient of ½‖z‖²) and
// returns z.
func step(m *SimCLR, x *tensor.Dense) *tensor.Dense {
	ZeroGrad(m.Params())
	z := m.Forward(x, true)
	m.Backward(z)
	return z
}

func TestModelShapes(t *testing.T) {
	for _, c := range []struct {
		model      string
		inC, side  int
		feat, prjD int
		depth      int
		bn         bool
	}{
		{"small", 3, 32, 256, 128, 2, false},
		{"small", 1, 28, 256, 64, 3, true},
		{"small", 3, 16, 256, 128, 1, false},
		{"small", 1, 17, 256, 128, 2, true},
		{"resnet18", 1, 17, 512, 32, 2, true},
	} {
		t.Run(fmt.Sprintf("%s_%dx%dx%d", c.model, c.inC, c.side, c.side), func(t *testing.T) {
			m, err := NewSimCLR(Config{Model: c.model, InChannels: c.inC, HeadOut: c.prjD, HeadDepth: c.depth, HeadBN: c.bn, Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			x := randomBatch(1, 2, c.inC, c.side)
			z := step(m, x)
			if !z.Shape().Eq(tensor.Shape{2, c.prjD}) || !m.Features().Shape().Eq(tensor.Shape{2, c.feat}) {
				t.Fatalf("z %v h %v", z.Shape(), m.Features().Shape())
			}
			var nonzero int
			for _, p := range m.Params() {
				for _, g := range p.GradData() {
					if math.IsNaN(float64(g)) {
						t.Fatalf("%s has NaN gradient", p.Name)
					}
				}
				for _, g := range p.GradData() {
					if g != 0 {
						nonzero++
						break
					}
				}
			}
			if nonzero < len(m.Params())*3/4 {
				t.Errorf("only %d of %d parameters got a gradient", nonzero, len(m.Params()))
			}
			h := m.Encode(x)
			if !h.Shape().Eq(tensor.Shape{2, c.feat}) {
				t.Errorf("Encode gives %v", h.Shape())
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{{Model: "vgg"}, {Model: "small", InChannels: 2}, {Model: "small", HeadDepth: -1}} {
		m, err := NewSimCLR(cfg)
		if !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: err %v, want ErrConfig", cfg, err)
		}
		if m != nil {
			m.Close()
		}
	}
}

// TestDeterministic runs two identically seeded models for three steps with
// a plain SGD update and checks the weights are bit-identical, for several
// thread counts.
func TestDeterministic(t *testing.T) {
	for _, threads := range []int{1, 2, 3} {
		var sums [2][]uint32
		for run := 0; run < 2; run++ {
			m, err := NewSimCLR(Config{Model: "small", Threads: threads, Seed: 5, HeadBN: true})
			if err != nil {
				t.Fatal(err)
			}
			for s := 0; s < 3; s++ {
				step(m, randomBatch(10+s, 4, 3, 17))
				for _, p := range m.Params() {
					g := p.GradData()
					for i, v := range p.Data() {
						p.Data()[i] = v - 0.1*g[i]
					}
				}
			}
			for _, s := range m.StateDict() {
				if s.Tensor.Dtype() == tensor.Float32 {
					for _, v := range f32(s.Tensor) {
						sums[run] = append(sums[run], math.Float32bits(v))
					}
				}
			}
			m.Close()
		}
		for i := range sums[0] {
			if sums[0][i] != sums[1][i] {
				t.Fatalf("threads %d: run 2 differs from run 1 at value %d", threads, i)
			}
		}
	}
}

// TestStepAllocs checks that a warmed-up training step allocates nothing in
// this package (the gemm in use may add its own).
func TestStepAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	m, err := NewSimCLR(Config{Model: "small", Threads: 2, HeadBN: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	x := randomBatch(3, 4, 3, 16)
	// Several warm-up steps: the gemm packing arenas come from a sync.Pool
	// and the two pool goroutines' products (Winograd) may meet an arena
	// sized for a smaller product on their first steps.
	for range 3 {
		step(m, x)
	}
	ps := m.Params()
	allocs := testing.AllocsPerRun(5, func() {
		ZeroGrad(ps)
		z := m.Forward(x, true)
		m.Backward(z)
	})
	if allocs != 0 {
		t.Errorf("a warmed-up step allocates %v times", allocs)
	}
}

func TestStateDictRoundTrip(t *testing.T) {
	a, _ := NewSimCLR(Config{Model: "resnet18", Seed: 1, Threads: 1})
	b, _ := NewSimCLR(Config{Model: "resnet18", Seed: 2, Threads: 1})
	defer a.Close()
	defer b.Close()
	step(a, randomBatch(1, 2, 3, 16)) // move running stats and num_batches_tracked
	if err := LoadStateDict(b, a.StateDict()); err != nil {
		t.Fatal(err)
	}
	sa, sb := a.StateDict(), b.StateDict()
	for i := range sa {
		if sa[i].Tensor.Dtype() == tensor.Int64 {
			if int64s(sa[i].Tensor)[0] != 1 || int64s(sb[i].Tensor)[0] != 1 {
				t.Errorf("%s: %v vs %v", sa[i].Name, int64s(sa[i].Tensor), int64s(sb[i].Tensor))
			}
			continue
		}
		for j, v := range f32(sa[i].Tensor) {
			if f32(sb[i].Tensor)[j] != v {
				t.Fatalf("%s differs after load", sa[i].Name)
			}
		}
	}
	za := a.Forward(randomBatch(2, 2, 3, 16), false)
	zb := b.Forward(randomBatch(2, 2, 3, 16), false)
	for i, v := range f32(za) {
		if f32(zb)[i] != v {
			t.Fatal("loaded model computes something else")
		}
	}
	small, _ := NewSimCLR(Config{Model: "small", Threads: 1})
	defer small.Close()
	if err := LoadStateDict(small, a.StateDict()); !errors.Is(err, ErrStateDict) {
		t.Errorf("loading resnet18 into small: %v, want ErrStateDict", err)
	}
	sd := b.StateDict()
	sd[0] = Named{sd[0].Name, NewTensor(make([]float32, 3), 3)}
	if err := LoadStateDict(a, sd); !errors.Is(err, ErrStateDict) {
		t.Errorf("shape mismatch: %v, want ErrStateDict", err)
	}
}

func TestPoolPanic(t *testing.T) {
	p := NewPool(2)
	defer p.Close()
	defer func() {
		if recover() == nil {
			t.Error("no panic from a panicking range")
		}
	}()
	p.For(4, panicker{}, 0)
}

type panicker struct{}

func (panicker) run(phase, lo, hi int) {
	if lo > 0 {
		panic("boom")
	}
}

func (a *gradArena) count() (bufs, floats int) {
	for n, l := range a.free {
		bufs += len(l)
		floats += n * len(l)
	}
	for _, n := range a.lent {
		bufs++
		floats += n
	}
	return
}

// TestGradArena checks that a model's input gradients come from a bounded
// set of buffers that is all given back after each step, and that it is far
// smaller than one buffer per layer.
func TestGradArena(t *testing.T) {
	m, err := NewSimCLR(Config{Model: "resnet18", Threads: 2, HeadBN: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	x := randomBatch(1, 2, 3, 16)
	var prev int
	for s := 0; s < 3; s++ {
		step(m, x)
		if len(m.pool.arena.lent) != 0 {
			t.Fatalf("step %d: %d gradient buffers not given back", s, len(m.pool.arena.lent))
		}
		bufs, floats := m.pool.arena.count()
		if s > 0 && floats != prev {
			t.Errorf("step %d: arena grew from %d to %d floats", s, prev, floats)
		}
		prev = floats
		// One gradient buffer per layer would be ~60 here (6–8 per block,
		// stem, pool, head); a few per tensor size suffice.
		if bufs > 24 {
			t.Errorf("step %d: arena holds %d buffers", s, bufs)
		}
	}
}
