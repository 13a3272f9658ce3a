package optim

import (
	"fmt"
	"math"

	"github.com/contrastream/contrastream/stages/train/nn"
)

// DefaultEta is LARS's trust coefficient η when LARS.Eta is zero, as SimCLR
// (EETA_DEFAULT in google-research/simclr lars_optimizer.py).
const DefaultEta = 0.001

// LARS is layer-wise adaptive rate scaling (You, Gitman and Ginsburg 2017)
// exactly as google-research/simclr's LARSOptimizer.apply_gradients. For
// each parameter w with gradient g, with classic momentum (the default):
//
//	g = g + wd·w                         (not for NoDecay parameters)
//	trust = η·‖w‖/‖g‖ if ‖w‖ > 0 and ‖g‖ > 0, else 1
//	                                     (1 for NoDecay parameters)
//	v = μ·v + lr·trust·g
//	w = w − (μ·v + lr·trust·g) (Nesterov) or w − v
//
// With PopularMomentum the learning rate is applied after the momentum:
// v = μ·v + g, u = μ·v + g (Nesterov) or v, trust = η·‖w‖/‖u‖ (same
// guards), w = w − lr·trust·u. Batch-norm and bias parameters
// (nn.Param.NoDecay) are excluded from both decay and adaptation, as SimCLR
// configures it (exclude_from_weight_decay = ['batch_normalization', 'bias'],
// and layer adaptation defaults to the same list). Norms are summed in
// float64.
//
// State: "state.<param>.momentum_buffer" per parameter. Cost: two passes over
// each parameter (norms, then update), no allocation after the first Step.
// Not safe for concurrent use.
type LARS struct {
	// Momentum μ, in [0, 1); SimCLR uses 0.9.
	Momentum float64
	// WeightDecay is the L2 coefficient, ≥ 0; SimCLR uses 1e-6.
	WeightDecay float64
	// Eta is the trust coefficient η > 0; zero means DefaultEta.
	Eta float64
	// Nesterov switches on Nesterov momentum.
	Nesterov bool
	// PopularMomentum selects SimCLR's classic_momentum=False variant.
	PopularMomentum bool

	s slots
}

var _ Optimizer = (*LARS)(nil)

func (o *LARS) eta() float64 {
	if o.Eta == 0 {
		return DefaultEta
	}
	return o.Eta
}

func (o *LARS) validate() error {
	switch {
	case !(o.Momentum >= 0 && o.Momentum < 1):
		return fmt.Errorf("optim: lars momentum %v, want [0, 1)", o.Momentum)
	case !(o.WeightDecay >= 0) || math.IsInf(o.WeightDecay, 1):
		return fmt.Errorf("optim: lars weight decay %v, want finite and ≥ 0", o.WeightDecay)
	case !(o.eta() > 0) || math.IsInf(o.Eta, 1):
		return fmt.Errorf("optim: lars eta %v, want finite and > 0", o.Eta)
	}
	return nil
}

var larsSlots = []string{"momentum_buffer"}

// Step applies one LARS update with learning rate lr. See Optimizer.
func (o *LARS) Step(lr float64, params []*nn.Param) error {
	if err := o.validate(); err != nil {
		return err
	}
	o.s.who, o.s.slot = "lars", larsSlots
	if err := o.s.check(lr, params); err != nil {
		return err
	}
	mu, eta := float32(o.Momentum), o.eta()
	for i, p := range params {
		w, g := p.Data(), p.GradData()
		g = g[:len(w)]
		v := o.s.bufs[0][i][:len(w)]
		var wd float32
		if !p.NoDecay() {
			wd = float32(o.WeightDecay)
		}
		adapt := !p.NoDecay()
		if !o.PopularMomentum {
			trust := 1.0
			if adapt {
				var gs float64
				for j := range w {
					d := float64(g[j] + wd*w[j])
					gs += d * d
				}
				if wn, gn := norm2(w), math.Sqrt(gs); wn > 0 && gn > 0 {
					trust = float64(float32(eta * wn / gn))
				}
			}
			slr := float32(lr * trust)
			if o.Nesterov {
				for j := range w {
					d := g[j] + wd*w[j]
					nv := mu*v[j] + slr*d
					v[j] = nv
					w[j] -= mu*nv + slr*d
				}
			} else {
				for j := range w {
					d := g[j] + wd*w[j]
					nv := mu*v[j] + slr*d
					v[j] = nv
					w[j] -= nv
				}
			}
			continue
		}
		// Popular momentum: momentum first, then the trust ratio of the update.
		var us float64
		for j := range w {
			d := g[j] + wd*w[j]
			nv := mu*v[j] + d
			v[j] = nv
			u := nv
			if o.Nesterov {
				u = mu*nv + d
			}
			us += float64(u) * float64(u)
		}
		trust := 1.0
		if adapt {
			if wn, un := norm2(w), math.Sqrt(us); wn > 0 && un > 0 {
				trust = float64(float32(eta * wn / un))
			}
		}
		slr := float32(trust * lr)
		for j := range w {
			u := v[j]
			if o.Nesterov {
				u = mu*v[j] + (g[j] + wd*w[j])
			}
			w[j] -= slr * u
		}
	}
	o.s.steps++
	return nil
}

// State returns a copy of the momentum buffers. See Optimizer.
func (o *LARS) State() []nn.Named { return o.s.export(false) }

// LoadState replaces the momentum buffers. See Optimizer.
func (o *LARS) LoadState(params []*nn.Param, src []nn.Named) error {
	if err := o.validate(); err != nil {
		return err
	}
	o.s.who = "lars"
	return o.s.load(params, src, larsSlots, false)
}
