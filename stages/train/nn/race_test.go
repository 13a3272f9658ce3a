//go:build race

package nn

// raceEnabled: the race detector makes sync.Pool (used by the gemm package)
// drop items at random, so allocation counts are not meaningful.
const raceEnabled = true
