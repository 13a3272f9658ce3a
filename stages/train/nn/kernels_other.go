//go:build !amd64 || purego

package nn

func addTo(dst, src []float32)                             { addToGo(dst, src) }
func sum(v []float32) float32                              { return sumGo(v) }
func sqdev(v []float32, m float32) float32                 { return sqdevGo(v, m) }
func scaleShift(dst, src []float32, s, t float32, r bool)  { scaleShiftGo(dst, src, s, t, r) }
func bnSums(dy, x []float32, m float32) (float32, float32) { return bnSumsGo(dy, x, m) }
func bnSumsMask(dm, dy, x, y []float32, m float32) (float32, float32) {
	return bnSumsMaskGo(dm, dy, x, y, m)
}
func bnApply(dx, dm, x []float32, k, b, c float32) { bnApplyGo(dx, dm, x, k, b, c) }
func reluBack(dx, dy, y []float32)                 { reluBackGo(dx, dy, y) }
func addRelu(y, a, b []float32)                    { addReluGo(y, a, b) }
func add3(d, a, b []float32)                       { add3Go(d, a, b) }

func poolRow(r0, r1, y []float32, idx []int32, xs []float32, s, t float32, base, w int32) {
	poolRowGo(r0, r1, y, idx, xs, s, t, base, w)
}
