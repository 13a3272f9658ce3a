package nn_test

import (
	"fmt"

	"gorgonia.org/tensor"

	"github.com/contrastream/contrastream/stages/train/nn"
)

// A SimCLR model: forward a batch of 4 grayscale 28×28 views, backward a
// gradient, and read the named parameters an optimizer would update.
func ExampleNewSimCLR() {
	m, err := nn.NewSimCLR(nn.Config{Model: "small", InChannels: 1, HeadBN: true, Seed: 1})
	if err != nil {
		panic(err)
	}
	defer m.Close()
	x := tensor.New(tensor.WithShape(4, 1, 28, 28), tensor.WithBacking(make([]float32, 4*28*28)))
	nn.ZeroGrad(m.Params())
	z := m.Forward(x, true)
	m.Backward(z) // gradient of ½‖z‖²
	fmt.Println("z", z.Shape(), "h", m.Features().Shape())
	p := m.Params()[0]
	fmt.Println(p.Name, p.Value.Shape(), "no decay:", p.NoDecay())
	fmt.Println(len(m.Params()), "parameters,", len(m.StateDict()), "state-dict tensors")
	// Output:
	// z (4, 128) h (4, 256)
	// features.0.weight (32, 1, 3, 3) no decay: false
	// 18 parameters, 33 state-dict tensors
}

// A single convolution with its backward pass.
func ExampleConv2D() {
	conv := nn.NewConv2D("conv", 3, 8, 3, 2, 1, false, nil, nil)
	x := tensor.New(tensor.WithShape(2, 3, 16, 16), tensor.WithBacking(make([]float32, 2*3*16*16)))
	y := conv.Forward(x, true)
	dx := conv.Backward(y)
	fmt.Println(y.Shape(), dx.Shape(), conv.Weight.Name)
	// Output:
	// (2, 8, 8, 8) (2, 3, 16, 16) conv.weight
}
