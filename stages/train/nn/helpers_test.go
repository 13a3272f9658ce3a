package nn

import "math/rand/v2"

func testRNG() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }
