package nn

import (
	"math"
	"math/rand/v2"
)

// uniformInit fills w with U(−1/√fanIn, 1/√fanIn): PyTorch's default for
// Conv2d and Linear weights (kaiming_uniform_ with a = √5) and biases.
// A nil rng means a PCG source seeded with 0 (so every such layer starts alike).
func uniformInit(w []float32, fanIn int, rng *rand.Rand) {
	if rng == nil {
		rng = rand.New(rand.NewPCG(0, 0))
	}
	bound := 1 / math.Sqrt(float64(fanIn))
	for i := range w {
		w[i] = float32((rng.Float64()*2 - 1) * bound)
	}
}

func paramsNamed(ps []*Param) []Named {
	out := make([]Named, len(ps))
	for i, p := range ps {
		out[i] = Named{p.Name, p.Value}
	}
	return out
}
