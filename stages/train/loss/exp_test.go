package loss

import (
	"math"
	"math/rand/v2"
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

// TestExpShiftSum checks the vector kernel (where the CPU has it) and the
// scalar tail against math.Exp for every length up to 40, with −Inf (the
// masked diagonal) and arguments below the float32 normal range.
func TestExpShiftSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	t.Logf("AVX2 kernel: %v", useAVX2)
	for n := 0; n <= 40; n++ {
		for rep := 0; rep < 20; rep++ {
			shift := float32(rng.Float64()*40 - 20)
			x := make([]float32, n)
			for i := range x {
				switch rng.IntN(10) {
				case 0:
					x[i] = float32(math.Inf(-1))
				case 1:
					x[i] = shift - 87.33654 - float32(rng.Float64()*20) // underflows to 0
				case 2:
					x[i] = shift // e^0
				default:
					x[i] = shift - float32(rng.Float64()*90)
				}
			}
			in := append([]float32(nil), x...)
			sum := expShiftSum(x, shift)
			var want float64
			for i, v := range in {
				arg := v - shift
				var e float64
				if arg >= -87.33654 {
					e = math.Exp(float64(arg))
				}
				if got := float64(x[i]); math.Abs(got-e) > 4*0x1p-24*e {
					t.Fatalf("n=%d: e^(%v) = %v, want %v", n, arg, got, e)
				}
				want += float64(x[i])
			}
			// Both sums add the same float32 values in float64, in different
			// orders (lanes, then the tail): the difference grows with the row
			// length, about len·2⁻⁵³ of the sum (the fuzzer found a 2,239-value
			// row 1.1e-15 apart, over the former fixed 1e-15).
			if math.Abs(sum-want) > float64(len(in)+1)*0x1p-53*math.Max(want, 1) {
				t.Fatalf("n=%d: sum %.17g, want %.17g", n, sum, want)
			}
		}
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
	b.Run("expShiftSum", func(b *testing.B) {
		row := make([]float32, len(xs))
		for i := 0; i < b.N; i++ {
			copy(row, xs)
			_ = expShiftSum(row, 0)
		}
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

// FuzzExpShiftSum checks the vector exponential (and the scalar tail)
// against math.Exp on arbitrary float32 rows, shifted by their maximum as
// Forward does.
func FuzzExpShiftSum(f *testing.F) {
	f.Add([]byte{0, 0, 128, 63, 0, 0, 0, 192, 0, 0, 128, 255, 0, 0, 200, 194, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Fuzz(func(t *testing.T, raw []byte) {
		x := make([]float32, len(raw)/4)
		shift := float32(math.Inf(-1))
		for i := range x {
			v := math.Float32frombits(uint32(raw[4*i]) | uint32(raw[4*i+1])<<8 | uint32(raw[4*i+2])<<16 | uint32(raw[4*i+3])<<24)
			if v != v || math.IsInf(float64(v), 1) {
				v = 0 // Forward never shifts NaN or +Inf rows into range
			}
			x[i] = v
			shift = max(shift, v)
		}
		if math.IsInf(float64(shift), -1) {
			return
		}
		in := append([]float32(nil), x...)
		sum := expShiftSum(x, shift)
		var want float64
		for i, v := range in {
			arg := v - shift
			var e float64
			if arg >= -87.33654 {
				e = math.Exp(float64(arg))
			}
			if got := float64(x[i]); math.Abs(got-e) > 4*0x1p-24*e {
				t.Fatalf("e^(%v) = %v, want %v", arg, got, e)
			}
			want += float64(x[i])
		}
		// Both sums add the same float32 values in float64, in different
		// orders (lanes, then the tail): the difference grows with the row
		// length, about len·2⁻⁵³ of the sum (the fuzzer found a 2,239-value
		// row 1.1e-15 apart, over the former fixed 1e-15).
		if math.Abs(sum-want) > float64(len(in)+1)*0x1p-53*math.Max(want, 1) {
			t.Fatalf("sum %.17g, want %.17g", sum, want)
		}
	})
}
