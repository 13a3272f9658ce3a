package loss_test

import (
	"fmt"

	"github.com/contrastream/contrastream/stages/train/loss"
)

// Two images, two views each, 2-D embeddings: rows 0 and 1 are the first
// views, rows 2 and 3 the second views of the same images.
func ExampleNTXent() {
	z := []float32{
		1, 0, // image 0, view 1
		0, 2, // image 1, view 1
		3, 4, // image 0, view 2: cos 0.6 with its positive
		-1, 1, // image 1, view 2: cos 0.71 with its positive
	}
	l := loss.NTXent{Temperature: 0.5}
	st, err := l.Forward(z, 4, 2)
	if err != nil {
		panic(err)
	}
	dz := make([]float32, len(z))
	if err := l.Backward(dz); err != nil {
		panic(err)
	}
	fmt.Printf("loss %.4f, positive cos %.4f, negative cos %.4f, accuracy %.2f\n",
		st.Loss, st.PosSim, st.NegSim, st.Accuracy)
	fmt.Printf("dL/dz row 0: [%.4f %.4f]\n", dz[0], dz[1])
	// Output:
	// loss 0.6495, positive cos 0.6536, negative cos 0.0586, accuracy 0.50
	// dL/dz row 0: [0.0000 -0.1774]
}
