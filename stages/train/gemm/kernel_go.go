package gemm

import "unsafe"

// kernGo is the portable micro-kernel: plain Go, a 4×4 tile of C in scalar
// registers. It serves CPUs without AVX2+FMA, other architectures and the
// purego build tag.
var kernGo = &kernel{name: "go-4x4", mr: 4, nr: 4, kc: 256, mc: 256, nc: 512, fn: sgemmKernGo}

// sgemmKernGo has the assembly kernels' contract (see kernel_amd64.s) for a
// 4×4 tile: a holds kc steps of 4 floats, b kc steps of 4 floats.
func sgemmKernGo(kc int, a, b, c *float32, ldc int, alpha, beta float32, mr, nr, loadC int) {
	ap := unsafe.Slice(a, 4*kc)
	bp := unsafe.Slice(b, 4*kc)
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	var c20, c21, c22, c23, c30, c31, c32, c33 float32
	for p := 0; p < kc; p++ {
		a4 := ap[4*p : 4*p+4 : 4*p+4]
		b4 := bp[4*p : 4*p+4 : 4*p+4]
		a0, a1, a2, a3 := a4[0], a4[1], a4[2], a4[3]
		b0, b1, b2, b3 := b4[0], b4[1], b4[2], b4[3]
		// Explicit conversions round each product, so no build fuses them.
		c00 += float32(a0 * b0)
		c01 += float32(a0 * b1)
		c02 += float32(a0 * b2)
		c03 += float32(a0 * b3)
		c10 += float32(a1 * b0)
		c11 += float32(a1 * b1)
		c12 += float32(a1 * b2)
		c13 += float32(a1 * b3)
		c20 += float32(a2 * b0)
		c21 += float32(a2 * b1)
		c22 += float32(a2 * b2)
		c23 += float32(a2 * b3)
		c30 += float32(a3 * b0)
		c31 += float32(a3 * b1)
		c32 += float32(a3 * b2)
		c33 += float32(a3 * b3)
	}
	acc := [4][4]float32{
		{c00, c01, c02, c03},
		{c10, c11, c12, c13},
		{c20, c21, c22, c23},
		{c30, c31, c32, c33},
	}
	cs := unsafe.Slice(c, (mr-1)*ldc+nr)
	for i := 0; i < mr; i++ {
		row := cs[i*ldc : i*ldc+nr]
		for j := range row {
			v := float32(alpha * acc[i][j])
			if loadC != 0 {
				v += float32(beta * row[j])
			}
			row[j] = v
		}
	}
}
