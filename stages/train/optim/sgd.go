package optim

import (
	"fmt"
	"math"

	"github.com/contrastream/contrastream/stages/train/nn"
)

// SGD is stochastic gradient descent with momentum, with the semantics of
// torch.optim.SGD (PyTorch 1.13):
//
//	g = grad + wd·w                      (wd = 0 for NoDecay parameters)
//	buf = g on the first step, else μ·buf + (1−dampening)·g
//	g = g + μ·buf (Nesterov) or buf
//	w = w − lr·g
//
// Weight decay is L2 added to the gradient, and is skipped for batch-norm and
// bias parameters (nn.Param.NoDecay), which is torch.optim.SGD with those
// parameters in a second group of weight_decay 0. The zero value is plain SGD
// without momentum or decay.
//
// State: "state.<param>.momentum_buffer" per parameter when Momentum ≠ 0. Cost:
// one pass over each parameter, no allocation after the first Step. Not safe
// for concurrent use.
type SGD struct {
	// Momentum μ, in [0, 1); SimCLR uses 0.9.
	Momentum float64
	// Dampening of the momentum update, in [0, 1); PyTorch's default is 0.
	Dampening float64
	// WeightDecay is the L2 coefficient, ≥ 0.
	WeightDecay float64
	// Nesterov switches on Nesterov momentum (needs Momentum > 0 and
	// Dampening = 0, as PyTorch).
	Nesterov bool

	s slots
}

var _ Optimizer = (*SGD)(nil)

func (o *SGD) validate() error {
	switch {
	case !(o.Momentum >= 0 && o.Momentum < 1):
		return fmt.Errorf("optim: sgd momentum %v, want [0, 1)", o.Momentum)
	case !(o.Dampening >= 0 && o.Dampening < 1):
		return fmt.Errorf("optim: sgd dampening %v, want [0, 1)", o.Dampening)
	case !(o.WeightDecay >= 0) || math.IsInf(o.WeightDecay, 1):
		return fmt.Errorf("optim: sgd weight decay %v, want finite and ≥ 0", o.WeightDecay)
	case o.Nesterov && (o.Momentum == 0 || o.Dampening != 0):
		return fmt.Errorf("optim: sgd nesterov needs momentum > 0 and zero dampening")
	}
	return nil
}

func (o *SGD) slotNames() []string {
	if o.Momentum == 0 {
		return nil
	}
	return []string{"momentum_buffer"}
}

// Step applies one SGD update with learning rate lr. See Optimizer.
func (o *SGD) Step(lr float64, params []*nn.Param) error {
	if err := o.validate(); err != nil {
		return err
	}
	if err := o.bind(lr, params); err != nil {
		return err
	}
	mu, damp := float32(o.Momentum), float32(1-o.Dampening)
	alpha := float32(-lr)
	first := o.s.steps == 0
	for i, p := range params {
		w, g := p.Data(), p.GradData()
		var wd float32
		if !p.NoDecay() {
			wd = float32(o.WeightDecay)
		}
		g = g[:len(w)]
		if mu == 0 {
			for j := range w {
				w[j] += alpha * (g[j] + wd*w[j])
			}
			continue
		}
		buf := o.s.bufs[0][i][:len(w)]
		// The branches are hoisted out of the loops; the arithmetic is the
		// same in each: d = g + wd·w, b = μ·buf + (1−dampening)·d (b = d on
		// the first step), w += −lr·(d + μ·b) or −lr·b.
		switch {
		case first:
			for j := range w {
				d := g[j] + wd*w[j]
				buf[j] = d
				if o.Nesterov {
					d += mu * d
				}
				w[j] += alpha * d
			}
		case o.Nesterov:
			for j := range w {
				d := g[j] + wd*w[j]
				b := mu*buf[j] + damp*d
				buf[j] = b
				w[j] += alpha * (d + mu*b)
			}
		default:
			for j := range w {
				d := g[j] + wd*w[j]
				b := mu*buf[j] + damp*d
				buf[j] = b
				w[j] += alpha * b
			}
		}
	}
	o.s.steps++
	return nil
}

func (o *SGD) bind(lr float64, params []*nn.Param) error {
	o.s.who = "sgd"
	if o.s.init && len(o.s.slot) != len(o.slotNames()) {
		return fmt.Errorf("%w: sgd momentum changed between steps", ErrParams)
	}
	if !o.s.init {
		o.s.slot = o.slotNames()
	}
	return o.s.check(lr, params)
}

// State returns a copy of the momentum buffers. See Optimizer.
func (o *SGD) State() []nn.Named { return o.s.export(false) }

// LoadState replaces the momentum buffers. See Optimizer.
func (o *SGD) LoadState(params []*nn.Param, src []nn.Named) error {
	if err := o.validate(); err != nil {
		return err
	}
	o.s.who = "sgd"
	return o.s.load(params, src, o.slotNames(), false)
}
