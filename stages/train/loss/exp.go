package loss

import "math"

// expNeg returns e^x in float32 for x ≤ 0, the range of the shifted logits
// of a log-sum-exp. Below −87.33 (where e^x leaves the normal float32 range)
// it returns 0; NaN gives NaN. Relative error ≤ 2 ulp (tested against
// math.Exp). It is about three times as fast as float64 math.Exp here and
// allocates nothing.
//
// Method (as Cephes expf): x = n·ln2 + r with |r| ≤ ln2/2 by a two-part
// Cody–Waite reduction, a degree-7 polynomial for e^r, and 2^n put into the
// exponent bits.
func expNeg(x float32) float32 {
	if !(x >= -87.33654) {
		if x != x {
			return x
		}
		return 0
	}
	const (
		log2e = 1.44269504088896341
		c1    = 0.693359375
		c2    = -2.12194440e-4
	)
	t := x*log2e - 0.5 // x ≤ 0: truncation toward zero rounds to nearest
	n := int32(t)
	fn := float32(n)
	r := x - fn*c1 - fn*c2
	z := r * r
	p := ((((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+
		4.1665795894e-2)*r+1.6666665459e-1)*r+5.0000001201e-1)*z + r) + 1
	return p * math.Float32frombits(uint32(n+127)<<23)
}
