//go:build race

package gemm

// raceEnabled: the race detector randomly drops sync.Pool items (so warm
// calls may allocate) and slows the reference loops about 10×.
const raceEnabled = true
