//go:build !race

package loss

const raceEnabled = false
