package nn

import (
	"errors"
	"fmt"

	"gorgonia.org/tensor"
)

// Param is one trainable parameter: its value, the gradient that Backward
// accumulates into, and flags that optimizers use.
//
// Value and Grad have the same shape and never change their backing arrays
// after construction, so optimizers may keep the slices returned by Data and
// GradData.
type Param struct {
	// Name follows PyTorch state_dict conventions, e.g. "features.0.weight".
	Name string
	// Value holds the parameter (float32).
	Value *tensor.Dense
	// Grad holds the accumulated gradient (float32), same shape as Value.
	Grad *tensor.Dense
	// BatchNorm is true for batch-norm weights and biases.
	BatchNorm bool
	// Bias is true for the bias vectors of Conv2D and Linear layers.
	Bias bool
}

// NoDecay reports whether the parameter is excluded from weight decay and
// from LARS trust-ratio adaptation (batch-norm and bias parameters, as in
// SimCLR).
func (p *Param) NoDecay() bool { return p.BatchNorm || p.Bias }

// Data returns the backing slice of Value. It does not allocate.
func (p *Param) Data() []float32 { return p.Value.Float32s() }

// GradData returns the backing slice of Grad. It does not allocate.
func (p *Param) GradData() []float32 { return p.Grad.Float32s() }

// newParam allocates a zero parameter and its gradient of the given shape.
func newParam(name string, shape ...int) *Param {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return &Param{
		Name:  name,
		Value: tensor.New(tensor.WithShape(shape...), tensor.WithBacking(make([]float32, n))),
		Grad:  tensor.New(tensor.WithShape(shape...), tensor.WithBacking(make([]float32, n))),
	}
}

// ZeroGrad sets the gradient of every parameter to zero. It does not allocate.
func ZeroGrad(ps []*Param) {
	for _, p := range ps {
		clear(p.GradData())
	}
}

// Named is a named tensor of a state dict: a parameter value or a buffer
// (batch-norm running_mean, running_var as float32, num_batches_tracked as a
// scalar int64). The tensor is the module's own storage, not a copy.
type Named struct {
	Name   string
	Tensor *tensor.Dense
}

// Module is a layer or a composition of layers with an explicit backward pass.
//
// Forward computes the output for x (training mode uses batch statistics and
// updates running statistics; evaluation mode uses running statistics) and
// remembers what Backward needs. Backward takes the gradient of the loss with
// respect to the last Forward's output, adds the parameter gradients into
// Param.Grad and returns the gradient with respect to that Forward's input.
// Returned tensors belong to the module and stay valid until its next
// Forward (Backward). Params lists trainable parameters in state_dict order;
// StateDict lists parameters and buffers in state_dict order.
type Module interface {
	Forward(x *tensor.Dense, train bool) *tensor.Dense
	Backward(dy *tensor.Dense) *tensor.Dense
	Params() []*Param
	StateDict() []Named
}

// ErrStateDict is wrapped by the errors of LoadStateDict.
var ErrStateDict = errors.New("nn: state dict mismatch")

// LoadStateDict copies the tensors in src into the module's parameters and
// buffers, matched by name. Every name of the module must be present in src
// with the same shape and element type; extra names in src are an error too
// (as PyTorch's strict loading). It allocates a map of the names.
func LoadStateDict(m Module, src []Named) error {
	have := make(map[string]*tensor.Dense, len(src))
	for _, s := range src {
		have[s.Name] = s.Tensor
	}
	dst := m.StateDict()
	if len(dst) != len(src) {
		return fmt.Errorf("%w: module has %d tensors, source has %d", ErrStateDict, len(dst), len(src))
	}
	for _, d := range dst {
		s, ok := have[d.Name]
		if !ok {
			return fmt.Errorf("%w: missing %q", ErrStateDict, d.Name)
		}
		if !s.Shape().Eq(d.Tensor.Shape()) || s.Dtype() != d.Tensor.Dtype() {
			return fmt.Errorf("%w: %q is %v %v, want %v %v", ErrStateDict, d.Name,
				s.Dtype(), s.Shape(), d.Tensor.Dtype(), d.Tensor.Shape())
		}
	}
	for _, d := range dst {
		s := have[d.Name]
		switch d.Tensor.Dtype() {
		case tensor.Float32:
			copy(d.Tensor.Float32s(), s.Float32s())
		case tensor.Int64:
			copy(int64s(d.Tensor), int64s(s))
		default:
			return fmt.Errorf("%w: %q has unsupported type %v", ErrStateDict, d.Name, d.Tensor.Dtype())
		}
	}
	return nil
}

// int64s returns the backing slice of an int64 tensor, scalar or not.
func int64s(t *tensor.Dense) []int64 { return t.Int64s() }

// newScalarInt64 makes the 0-d int64 tensor PyTorch uses for num_batches_tracked.
func newScalarInt64() *tensor.Dense {
	return tensor.New(tensor.WithShape(), tensor.WithBacking([]int64{0}))
}
