package optim

import (
	"fmt"
	"math"

	"github.com/contrastream/contrastream/stages/train/nn"
)

// AdamW is Adam with decoupled weight decay (Loshchilov and Hutter 2019),
// with the semantics of torch.optim.AdamW (PyTorch 1.13, amsgrad off). At
// step t (from 1), for each parameter w with gradient g:
//
//	w = w·(1 − lr·wd)                    (wd = 0 for NoDecay parameters)
//	m = β1·m + (1−β1)·g
//	v = β2·v + (1−β2)·g²
//	w = w − lr/(1−β1^t) · m / (√v/√(1−β2^t) + ε)
//
// Batch-norm and bias parameters (nn.Param.NoDecay) get no decay, which is
// torch.optim.AdamW with them in a group of weight_decay 0.
//
// State: per parameter "state.<param>.step" (a 0-d float32, as torch 1.13),
// "state.<param>.exp_avg" and "state.<param>.exp_avg_sq". Cost: one fused pass
// over each parameter (8 lanes at a time with AVX2 on amd64, bit-identical to
// the Go loop), no allocation after the first Step. Not safe for
// concurrent use.
type AdamW struct {
	// Beta1 and Beta2 are the moment decay rates in [0, 1); zero means
	// PyTorch's defaults 0.9 and 0.999.
	Beta1, Beta2 float64
	// Eps is added to the denominator, > 0; zero means 1e-8.
	Eps float64
	// WeightDecay is the decoupled decay coefficient, ≥ 0. Zero means none
	// (note: torch.optim.AdamW's default is 0.01).
	WeightDecay float64

	s slots
}

var _ Optimizer = (*AdamW)(nil)

func (o *AdamW) hyper() (b1, b2, eps float64) {
	b1, b2, eps = o.Beta1, o.Beta2, o.Eps
	if b1 == 0 {
		b1 = 0.9
	}
	if b2 == 0 {
		b2 = 0.999
	}
	if eps == 0 {
		eps = 1e-8
	}
	return b1, b2, eps
}

func (o *AdamW) validate() error {
	b1, b2, eps := o.hyper()
	switch {
	case !(b1 > 0 && b1 < 1) || !(b2 > 0 && b2 < 1):
		return fmt.Errorf("optim: adamw betas (%v, %v), want each in (0, 1) (zero means the default)", o.Beta1, o.Beta2)
	case !(eps > 0) || math.IsInf(eps, 1):
		return fmt.Errorf("optim: adamw eps %v, want finite and > 0", o.Eps)
	case !(o.WeightDecay >= 0) || math.IsInf(o.WeightDecay, 1):
		return fmt.Errorf("optim: adamw weight decay %v, want finite and ≥ 0", o.WeightDecay)
	}
	return nil
}

var adamSlots = []string{"exp_avg", "exp_avg_sq"}

// Step applies one AdamW update with learning rate lr. See Optimizer.
func (o *AdamW) Step(lr float64, params []*nn.Param) error {
	if err := o.validate(); err != nil {
		return err
	}
	o.s.who, o.s.slot = "adamw", adamSlots
	if err := o.s.check(lr, params); err != nil {
		return err
	}
	b1, b2, eps := o.hyper()
	t := float64(o.s.steps + 1)
	bc1 := 1 - math.Pow(b1, t)
	bc2 := 1 - math.Pow(b2, t)
	k := adamConsts{b1: float32(b1), c1: float32(1 - b1), b2: float32(b2), c2: float32(1 - b2),
		bc2s: float32(math.Sqrt(bc2)), eps: float32(eps), negStep: float32(-lr / bc1)}
	for i, p := range params {
		w := p.Data()
		k.decay = 1
		if !p.NoDecay() {
			k.decay = float32(1 - lr*o.WeightDecay)
		}
		adamwUpdate(w, p.GradData()[:len(w)], o.s.bufs[0][i][:len(w)], o.s.bufs[1][i][:len(w)], &k)
	}
	o.s.steps++
	return nil
}

// State returns a copy of the step count and moments. See Optimizer.
func (o *AdamW) State() []nn.Named { return o.s.export(true) }

// LoadState replaces the step count and moments. See Optimizer.
func (o *AdamW) LoadState(params []*nn.Param, src []nn.Named) error {
	if err := o.validate(); err != nil {
		return err
	}
	o.s.who = "adamw"
	return o.s.load(params, src, adamSlots, true)
}

// adamConsts are the float32 scalars of one AdamW step, in the layout
// adamwAVX2 (adamw_amd64.s) reads.
type adamConsts struct {
	decay, b1, c1, b2, c2, bc2s, eps, negStep float32
}

// adamwUpdate runs one AdamW step over w with gradient g and moments m, v
// (all of len(w)): 8 lanes at a time with AVX2 where the CPU has it, the
// rest in Go. Both paths do the same float32 operations in the same order
// without fused multiply-adds (the conversions below forbid fusion), as
// torch's separate kernels do, so they agree bit for bit.
func adamwUpdate(w, g, m, v []float32, k *adamConsts) {
	j := 0
	if useAVX2 && len(w) >= 8 {
		j = len(w) &^ 7
		adamwAVX2(w[:j], g[:j], m[:j], v[:j], k)
	}
	g, m, v = g[:len(w)], m[:len(w)], v[:len(w)]
	for ; j < len(w); j++ {
		x := w[j] * k.decay
		gj := g[j]
		mj := float32(m[j]*k.b1) + float32(k.c1*gj)
		vj := float32(v[j]*k.b2) + float32(float32(k.c2*gj)*gj)
		m[j], v[j] = mj, vj
		den := float32(float32(math.Sqrt(float64(vj)))/k.bc2s) + k.eps
		w[j] = x + float32(k.negStep*float32(mj/den))
	}
}
