package nn

import "gorgonia.org/tensor"

// CloneState returns a deep copy of a state dict (or optimizer state): new
// tensors with the same names, shapes and values. A trainer uses it to hand
// a consistent snapshot to a checkpoint writer on another goroutine while
// training goes on. It allocates every tensor.
func CloneState(sd []Named) []Named {
	out := make([]Named, len(sd))
	for i, s := range sd {
		out[i] = Named{Name: s.Name, Tensor: s.Tensor.Clone().(*tensor.Dense)}
	}
	return out
}
