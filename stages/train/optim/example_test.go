package optim_test

import (
	"fmt"

	"gorgonia.org/tensor"

	"github.com/contrastream/contrastream/stages/train/nn"
	"github.com/contrastream/contrastream/stages/train/optim"
)

func param(name string, bias bool, value, grad []float32) *nn.Param {
	return &nn.Param{
		Name:  name,
		Value: tensor.New(tensor.WithShape(len(value)), tensor.WithBacking(value)),
		Grad:  tensor.New(tensor.WithShape(len(grad)), tensor.WithBacking(grad)),
		Bias:  bias,
	}
}

// Two SGD steps with momentum and weight decay, learning rates from a
// schedule; the bias gets no decay.
func ExampleSGD() {
	w := param("fc.weight", false, []float32{1, -1}, []float32{0.5, 0.5})
	b := param("fc.bias", true, []float32{1}, []float32{0.5})
	params := []*nn.Param{w, b}
	opt := &optim.SGD{Momentum: 0.9, WeightDecay: 0.1}
	sched := optim.WarmupCosine{Peak: 0.1, WarmupSteps: 0, TotalSteps: 2}
	for step := 0; step < 2; step++ {
		if err := opt.Step(sched.LR(step), params); err != nil {
			panic(err)
		}
		fmt.Printf("step %d (lr %.2f): weight %.4f, bias %.4f\n", step, sched.LR(step), w.Data(), b.Data())
	}
	for _, s := range opt.State() {
		fmt.Println(s.Name, s.Tensor.Shape())
	}
	// Output:
	// step 0 (lr 0.10): weight [0.9400 -1.0400], bias [0.9500]
	// step 1 (lr 0.05): weight [0.8833 -1.0778], bias [0.9025]
	// state.fc.weight.momentum_buffer (2)
	// state.fc.bias.momentum_buffer (1)
}
