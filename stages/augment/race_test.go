//go:build race

package augment

// raceEnabled: the race detector makes sync.Pool drop items on purpose, so
// allocation counts mean nothing, and slow sweeps are skipped.
const raceEnabled = true
