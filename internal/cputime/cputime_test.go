package cputime

import (
	"runtime"
	"testing"
)

func TestNowAdvancesWithWork(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("no rusage here")
	}
	t0 := Now()
	x := 1.0
	for i := 0; i < 5e7; i++ { // ~50 ms of work, far above the clock's tick
		x = x*1.0000001 + 1e-9
	}
	if x == 0 || Now() <= t0 {
		t.Fatalf("cpu time did not advance: %v -> %v", t0, Now())
	}
}
