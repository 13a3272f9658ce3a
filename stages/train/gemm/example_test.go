package gemm_test

import (
	"fmt"

	"github.com/contrastream/contrastream/stages/train/gemm"
)

// A linear layer's forward pass, y = x·Wᵀ for a batch of 2 inputs of 3
// features and 2 outputs: W is stored as [out, in], so it is transposed.
func ExampleSgemm() {
	x := []float32{ // 2×3
		1, 2, 3,
		4, 5, 6,
	}
	w := []float32{ // 2×3: [out][in]
		1, 0, -1,
		0.5, 0.5, 0.5,
	}
	y := make([]float32, 2*2)
	gemm.Sgemm(false, true, 2, 2, 3, 1, x, 3, w, 3, 0, y, 2)
	fmt.Println(y)
	// Output: [-2 3 -2 7.5]
}
