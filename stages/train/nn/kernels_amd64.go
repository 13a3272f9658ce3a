//go:build amd64 && !purego

package nn

import "golang.org/x/sys/cpu"

// useAVX selects the AVX2+FMA assembly kernels (kernels_amd64.s).
var useAVX = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func addToAVX(dst, src *float32, n int)

//go:noescape
func sumAVX(v *float32, n int) float32

//go:noescape
func sqdevAVX(v *float32, n int, m float32) float32

//go:noescape
func scaleShiftAVX(dst, src *float32, n int, s, t float32)

//go:noescape
func scaleShiftReLUAVX(dst, src *float32, n int, s, t float32)

//go:noescape
func bnSumsAVX(dy, x *float32, n int, m float32) (sdy, sdyx float32)

//go:noescape
func bnSumsMaskAVX(dm, dy, x, y *float32, n int, m float32) (sdy, sdyx float32)

//go:noescape
func bnApplyAVX(dx, dm, x *float32, n int, k, b, c float32)

//go:noescape
func reluBackAVX(dx, dy, y *float32, n int)

//go:noescape
func addReluAVX(y, a, b *float32, n int)

//go:noescape
func add3AVX(d, a, b *float32, n int)

func addTo(dst, src []float32) {
	n := len(src) &^ 7
	if useAVX && n > 0 {
		_ = dst[len(src)-1]
		addToAVX(&dst[0], &src[0], n)
	} else {
		n = 0
	}
	addToGo(dst[n:len(src)], src[n:])
}

func sum(v []float32) float32 {
	n := len(v) &^ 7
	if !useAVX || n == 0 {
		return sumGo(v)
	}
	return sumAVX(&v[0], n) + sumGo(v[n:])
}

func sqdev(v []float32, m float32) float32 {
	n := len(v) &^ 7
	if !useAVX || n == 0 {
		return sqdevGo(v, m)
	}
	return sqdevAVX(&v[0], n, m) + sqdevGo(v[n:], m)
}

func scaleShift(dst, src []float32, s, t float32, relu bool) {
	n := len(src) &^ 7
	if useAVX && n > 0 {
		_ = dst[len(src)-1]
		if relu {
			scaleShiftReLUAVX(&dst[0], &src[0], n, s, t)
		} else {
			scaleShiftAVX(&dst[0], &src[0], n, s, t)
		}
	} else {
		n = 0
	}
	scaleShiftGo(dst[n:len(src)], src[n:], s, t, relu)
}

func bnSums(dy, x []float32, m float32) (float32, float32) {
	n := len(dy) &^ 7
	if !useAVX || n == 0 {
		return bnSumsGo(dy, x, m)
	}
	_ = x[len(dy)-1]
	a, c := bnSumsAVX(&dy[0], &x[0], n, m)
	ta, tc := bnSumsGo(dy[n:], x[n:], m)
	return a + ta, c + tc
}

func bnSumsMask(dm, dy, x, y []float32, m float32) (float32, float32) {
	n := len(dy) &^ 7
	if !useAVX || n == 0 {
		return bnSumsMaskGo(dm, dy, x, y, m)
	}
	_, _, _ = dm[len(dy)-1], x[len(dy)-1], y[len(dy)-1]
	a, c := bnSumsMaskAVX(&dm[0], &dy[0], &x[0], &y[0], n, m)
	ta, tc := bnSumsMaskGo(dm[n:], dy[n:], x[n:], y[n:], m)
	return a + ta, c + tc
}

func bnApply(dx, dm, x []float32, k, b, c float32) {
	n := len(dm) &^ 7
	if useAVX && n > 0 {
		_, _ = dx[len(dm)-1], x[len(dm)-1]
		bnApplyAVX(&dx[0], &dm[0], &x[0], n, k, b, c)
	} else {
		n = 0
	}
	bnApplyGo(dx[n:len(dm)], dm[n:], x[n:], k, b, c)
}

func reluBack(dx, dy, y []float32) {
	n := len(dy) &^ 7
	if useAVX && n > 0 {
		_, _ = dx[len(dy)-1], y[len(dy)-1]
		reluBackAVX(&dx[0], &dy[0], &y[0], n)
	} else {
		n = 0
	}
	reluBackGo(dx[n:len(dy)], dy[n:], y[n:])
}

func addRelu(y, a, b []float32) {
	n := len(a) &^ 7
	if useAVX && n > 0 {
		_, _ = y[len(a)-1], b[len(a)-1]
		addReluAVX(&y[0], &a[0], &b[0], n)
	} else {
		n = 0
	}
	addReluGo(y[n:len(a)], a[n:], b[n:])
}

func add3(d, a, b []float32) {
	n := len(a) &^ 7
	if useAVX && n > 0 {
		_, _ = d[len(a)-1], b[len(a)-1]
		add3AVX(&d[0], &a[0], &b[0], n)
	} else {
		n = 0
	}
	add3Go(d[n:len(a)], a[n:], b[n:])
}

//go:noescape
func poolRowAVX(r0, r1, y *float32, idx *int32, xs *float32, n int, s, t float32, base, w int32)

// poolRow: see poolRowGo.
func poolRow(r0, r1, y []float32, idx []int32, xs []float32, s, t float32, base, w int32) {
	n := len(y) &^ 7
	if useAVX && n > 0 {
		_, _, _, _ = r0[2*n-1], r1[2*n-1], idx[n-1], xs[n-1]
		poolRowAVX(&r0[0], &r1[0], &y[0], &idx[0], &xs[0], n, s, t, base, w)
	} else {
		n = 0
	}
	poolRowGo(r0[2*n:], r1[2*n:], y[n:], idx[n:], xs[n:], s, t, base+int32(2*n), w)
}
