package loss

import (
	"math"
	"testing"
)

func TestExpNeg(t *testing.T) {
	var worst float64
	var at float32
	for i := 0; i <= 2_000_000; i++ {
		x := -87.33654 * float32(i) / 2_000_000
		got := float64(expNeg(x))
		want := math.Exp(float64(x))
		// error in units of float32 precision at want
		e := math.Abs(got-want) / want / 0x1p-24
		if e > worst {
			worst, at = e, x
		}
	}
	if worst > 4 { // 4 half-ulps = 2 ulp
		t.Errorf("expNeg: worst error %.2f half-ulp at x = %v", worst, at)
	}
	t.Logf("expNeg: worst error %.2f half-ulp (2^-24 relative) at x = %v", worst, at)
	for _, c := range []struct{ x, want float32 }{
		{0, 1}, {-88, 0}, {-1000, 0}, {float32(math.Inf(-1)), 0},
	} {
		if got := expNeg(c.x); got != c.want {
			t.Errorf("expNeg(%v) = %v, want %v", c.x, got, c.want)
		}
	}
	if got := expNeg(float32(math.NaN())); got == got {
		t.Errorf("expNeg(NaN) = %v, want NaN", got)
	}
}

func BenchmarkExp(b *testing.B) {
	xs := make([]float32, 1024)
	for i := range xs {
		xs[i] = -20 * float32(i) / 1024
	}
	b.Run("expNeg", func(b *testing.B) {
		var s float32
		for i := 0; i < b.N; i++ {
			for _, x := range xs {
				s += expNeg(x)
			}
		}
		_ = s
	})
	b.Run("math.Exp", func(b *testing.B) {
		var s float64
		for i := 0; i < b.N; i++ {
			for _, x := range xs {
				s += math.Exp(float64(x))
			}
		}
		_ = s
	})
}
