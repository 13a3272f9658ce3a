package optim

import (
	"fmt"
	"math"
	"strings"
)

// Schedule gives the learning rate for a training step (counted from 0).
// Implementations are plain values: safe for concurrent use, no allocation.
type Schedule interface {
	LR(step int) float64
}

// Constant is a fixed learning rate.
type Constant float64

// LR returns c for every step.
func (c Constant) LR(int) float64 { return float64(c) }

// WarmupCosine is SimCLR's schedule, per step: a linear warm-up from 0 to
// Peak over WarmupSteps steps, then a cosine decay from Peak to Floor over
// the remaining TotalSteps − WarmupSteps steps, and Floor from TotalSteps on:
//
//	lr(t) = Peak · t/W                                   t < W
//	lr(t) = Floor + (Peak−Floor) · ½(1 + cos(π·(t−W)/(T−W)))   W ≤ t < T
//	lr(t) = Floor                                        t ≥ T
//
// As in SimCLR the first step (t = 0) has learning rate 0 when W > 0. With
// Floor = 0 this is SimCLR's tf.train.cosine_decay after its warm-up. Peak is
// the already scaled rate (see Scaling). Negative steps count as 0.
type WarmupCosine struct {
	Peak        float64
	WarmupSteps int
	TotalSteps  int
	Floor       float64
}

// Validate reports a schedule that cannot be meant: negative counts, a
// total shorter than the warm-up, or rates that are negative or not finite.
func (s WarmupCosine) Validate() error {
	switch {
	case !(s.Peak >= 0) || math.IsInf(s.Peak, 1) || !(s.Floor >= 0) || math.IsInf(s.Floor, 1):
		return fmt.Errorf("optim: warmup-cosine rates peak %v floor %v, want finite and ≥ 0", s.Peak, s.Floor)
	case s.WarmupSteps < 0 || s.TotalSteps < s.WarmupSteps:
		return fmt.Errorf("optim: warmup-cosine steps warm-up %d total %d, want 0 ≤ warm-up ≤ total", s.WarmupSteps, s.TotalSteps)
	}
	return nil
}

// LR returns the learning rate of step t.
func (s WarmupCosine) LR(t int) float64 {
	t = max(t, 0)
	switch {
	case t < s.WarmupSteps:
		return s.Peak * float64(t) / float64(s.WarmupSteps)
	case t >= s.TotalSteps:
		return s.Floor
	}
	frac := float64(t-s.WarmupSteps) / float64(s.TotalSteps-s.WarmupSteps)
	return s.Floor + (s.Peak-s.Floor)*0.5*(1+math.Cos(math.Pi*frac))
}

// Scaling is a learning-rate scaling rule in the batch size, as SimCLR's
// --learning_rate_scaling.
type Scaling int

const (
	// NoScaling uses the base rate as it is.
	NoScaling Scaling = iota
	// LinearScaling is base·B/256 (SimCLR with SGD/LARS: 0.3·B/256).
	LinearScaling
	// SqrtScaling is base·√B (SimCLR's choice for small batches: 0.075·√B).
	SqrtScaling
)

// Apply returns the scaled learning rate for base rate base and batch size
// batch, the number of images per step (N; each gives two views).
func (s Scaling) Apply(base float64, batch int) float64 {
	switch s {
	case LinearScaling:
		return base * float64(batch) / 256
	case SqrtScaling:
		return base * math.Sqrt(float64(batch))
	}
	return base
}

// String returns "none", "linear" or "sqrt".
func (s Scaling) String() string {
	switch s {
	case NoScaling:
		return "none"
	case LinearScaling:
		return "linear"
	case SqrtScaling:
		return "sqrt"
	}
	return fmt.Sprintf("Scaling(%d)", int(s))
}

// ParseScaling reads "none", "linear" or "sqrt" (case-insensitive), the
// names String gives.
func ParseScaling(name string) (Scaling, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "none", "":
		return NoScaling, nil
	case "linear":
		return LinearScaling, nil
	case "sqrt":
		return SqrtScaling, nil
	}
	return 0, fmt.Errorf("optim: unknown learning-rate scaling %q (want none, linear or sqrt)", name)
}
