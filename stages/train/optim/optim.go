package optim

import (
	"errors"
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"github.com/contrastream/contrastream/stages/train/nn"
)

// Optimizer updates parameters in place from their gradients.
//
// Step applies one update with learning rate lr (finite, ≥ 0) to params,
// which must be the same parameters in the same order at every call: the
// optimizer keeps per-parameter state by position and checks names and
// sizes. It reads the gradients and does not clear them. It allocates on its
// first call (or the first after LoadState) and never after.
//
// State returns copies of the optimizer state as named tensors (nil before
// the first Step), under PyTorch state_dict-like names. LoadState replaces
// the state with src, which must hold exactly the names and shapes that
// State gives for params. Together they resume a run bit-identically.
type Optimizer interface {
	Step(lr float64, params []*nn.Param) error
	State() []nn.Named
	LoadState(params []*nn.Param, src []nn.Named) error
}

// ErrParams is wrapped by the errors of Step and LoadState when params do
// not fit the optimizer state or are malformed.
var ErrParams = errors.New("optim: parameters do not match the optimizer state")

// ErrState is wrapped by the errors of LoadState when src does not fit.
var ErrState = errors.New("optim: state mismatch")

// slots is the per-parameter state the optimizers share: the names, shapes
// and sizes of the parameters it was made for, a few float32 buffers per
// parameter, and the number of completed steps.
type slots struct {
	who    string   // optimizer name, for errors
	slot   []string // buffer names, e.g. "momentum_buffer"
	names  []string
	shapes [][]int
	sizes  []int
	bufs   [][][]float32 // [slot][param]
	steps  int64         // completed steps; 0 means the buffers hold no history
	init   bool
}

// check validates lr and binds params, allocating zeroed state on first use.
func (s *slots) check(lr float64, params []*nn.Param) error {
	if !(lr >= 0) || math.IsInf(lr, 1) {
		return fmt.Errorf("optim: %s learning rate %v, want finite and ≥ 0", s.who, lr)
	}
	if s.init {
		if len(params) != len(s.names) {
			return fmt.Errorf("%w: %s got %d parameters, state has %d", ErrParams, s.who, len(params), len(s.names))
		}
		for i, p := range params {
			if p == nil || p.Name != s.names[i] || p.Value == nil || p.Grad == nil ||
				len(p.Data()) != s.sizes[i] || len(p.GradData()) != s.sizes[i] {
				return fmt.Errorf("%w: %s parameter %d is not %q of %d values", ErrParams, s.who, i, s.names[i], s.sizes[i])
			}
		}
		return nil
	}
	return s.alloc(params)
}

func (s *slots) alloc(params []*nn.Param) error {
	n := len(params)
	names, shapes, sizes := make([]string, n), make([][]int, n), make([]int, n)
	for i, p := range params {
		if p == nil || p.Value == nil || p.Grad == nil {
			return fmt.Errorf("%w: %s parameter %d has no value or gradient", ErrParams, s.who, i)
		}
		if p.Value.Dtype() != tensor.Float32 || p.Grad.Dtype() != tensor.Float32 {
			return fmt.Errorf("%w: %s parameter %q is not float32", ErrParams, s.who, p.Name)
		}
		if len(p.Data()) != len(p.GradData()) {
			return fmt.Errorf("%w: %s parameter %q has %d values and %d gradients",
				ErrParams, s.who, p.Name, len(p.Data()), len(p.GradData()))
		}
		names[i], shapes[i], sizes[i] = p.Name, append([]int(nil), p.Value.Shape()...), len(p.Data())
	}
	s.names, s.shapes, s.sizes = names, shapes, sizes
	s.bufs = make([][][]float32, len(s.slot))
	for k := range s.bufs {
		s.bufs[k] = make([][]float32, n)
		for i, sz := range sizes {
			s.bufs[k][i] = make([]float32, sz)
		}
	}
	s.steps, s.init = 0, true
	return nil
}

// export copies the state out: for each parameter, in order, a 0-d float32
// "step" when withStep (as torch 1.13's Adam keeps it), then one tensor per
// slot shaped like the parameter.
func (s *slots) export(withStep bool) []nn.Named {
	if !s.init || s.steps == 0 {
		return nil
	}
	out := make([]nn.Named, 0, len(s.names)*(len(s.slot)+1))
	for i, name := range s.names {
		if withStep {
			out = append(out, nn.Named{Name: "state." + name + ".step",
				Tensor: tensor.New(tensor.WithShape(), tensor.WithBacking([]float32{float32(s.steps)}))})
		}
		for k, sn := range s.slot {
			out = append(out, nn.Named{Name: "state." + name + "." + sn,
				Tensor: tensor.New(tensor.WithShape(s.shapes[i]...),
					tensor.WithBacking(append([]float32(nil), s.bufs[k][i]...)))})
		}
	}
	return out
}

// load replaces the state by src, bound to params. Strict: every name that
// export would write must be present with its shape, and nothing else. On
// error the old state is kept.
func (s *slots) load(params []*nn.Param, src []nn.Named, slot []string, withStep bool) error {
	fresh := slots{who: s.who, slot: slot}
	if err := fresh.alloc(params); err != nil {
		return err
	}
	have := make(map[string]*tensor.Dense, len(src))
	for _, t := range src {
		if t.Tensor == nil {
			return fmt.Errorf("%w: %s: %q has no tensor", ErrState, s.who, t.Name)
		}
		if _, dup := have[t.Name]; dup {
			return fmt.Errorf("%w: %s: %q appears twice", ErrState, s.who, t.Name)
		}
		have[t.Name] = t.Tensor
	}
	want := len(params) * len(slot)
	if withStep {
		want += len(params)
	}
	if len(src) != want {
		return fmt.Errorf("%w: %s: source has %d tensors, want %d", ErrState, s.who, len(src), want)
	}
	steps := int64(-1)
	for i, name := range fresh.names {
		if withStep {
			t, ok := have["state."+name+".step"]
			if !ok {
				return fmt.Errorf("%w: %s: missing %q", ErrState, s.who, "state."+name+".step")
			}
			if t.Dtype() != tensor.Float32 || t.Shape().TotalSize() != 1 {
				return fmt.Errorf("%w: %s: %q is %v %v, want a float32 scalar", ErrState, s.who, "state."+name+".step", t.Dtype(), t.Shape())
			}
			v := t.Float32s()[0]
			if !(v >= 1) || v != float32(int64(v)) || (steps >= 0 && int64(v) != steps) {
				return fmt.Errorf("%w: %s: %q = %v, want the same positive integer for every parameter", ErrState, s.who, "state."+name+".step", v)
			}
			steps = int64(v)
		}
		for k, sn := range slot {
			key := "state." + name + "." + sn
			t, ok := have[key]
			if !ok {
				return fmt.Errorf("%w: %s: missing %q", ErrState, s.who, key)
			}
			if t.Dtype() != tensor.Float32 || !t.Shape().Eq(tensor.Shape(fresh.shapes[i])) {
				return fmt.Errorf("%w: %s: %q is %v %v, want float32 %v", ErrState, s.who, key, t.Dtype(), t.Shape(), fresh.shapes[i])
			}
			copy(fresh.bufs[k][i], t.Float32s())
		}
	}
	if steps < 0 {
		steps = 1 // the buffers hold history
	}
	fresh.steps = steps
	*s = fresh
	return nil
}

// norm2 returns the L2 norm of x, summed in float64.
func norm2(x []float32) float64 {
	var s0, s1 float64
	i := 0
	for ; i+2 <= len(x); i += 2 {
		s0 += float64(x[i]) * float64(x[i])
		s1 += float64(x[i+1]) * float64(x[i+1])
	}
	if i < len(x) {
		s0 += float64(x[i]) * float64(x[i])
	}
	return math.Sqrt(s0 + s1)
}
