package sysmem

import (
	"math"
	"os"
	"runtime/debug"
	"testing"
)

func TestLimitAndFormat(t *testing.T) {
	l, src := Limit()
	if _, err := readMeminfo(); err == nil && (l <= 0 || src == "") {
		t.Fatalf("Limit() = %d, %q on a machine with /proc/meminfo", l, src)
	}
	old := debug.SetMemoryLimit(1 << 30)
	defer debug.SetMemoryLimit(old)
	if l2, src2 := Limit(); l2 != 1<<30 || src2 != "GOMEMLIMIT" {
		t.Errorf("with a 1 GiB GOMEMLIMIT: %d, %q", l2, src2)
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 153 << 30: "153.0 GiB", math.MaxInt64: "8.0 EiB"} {
		if got := Format(n); got != want {
			t.Errorf("Format(%d) = %q, want %q", n, got, want)
		}
	}
	if Product(1<<40, 1<<40) != math.MaxInt64 || Product(2, 3, 4) != 24 || Product(5, 0) != 0 {
		t.Error("Product")
	}
}

func readMeminfo() ([]byte, error) { return os.ReadFile("/proc/meminfo") }
