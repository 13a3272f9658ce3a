package nn

import (
	"fmt"

	"gorgonia.org/tensor"
)

// BNReLUPool is BatchNorm2d → ReLU → MaxPool2d(2, stride 2, CeilMode) fused
// into one layer: the same function, parameters, buffers and state-dict
// names as the three PyTorch modules (only the batch norm has state), but
// the normalised activation is never stored. Forward reads the input three
// times (mean, variance, normalise-and-pool) and writes only the pooled
// output and its arg-max indices; Backward reads the input once, writes the
// input gradient once, and touches the pooled gradient and indices. This
// cuts the memory traffic of the three separate layers by about 4× in the
// backward pass, which is what bounds them.
//
// Forward also keeps, per window, the arg-max index and the raw input
// there, so Backward finds the ReLU mask and the batch-norm sums from
// pooled-size arrays. Buffers are reused as in the other layers. Not safe
// for concurrent use.
type BNReLUPool struct {
	BN       *BatchNorm2d
	CeilMode bool

	pool    *Pool
	n, h, w int
	ho, wo  int
	idx     []int32
	xsel    []float32 // raw input at each window's arg-max
	dsel    []float32
	y, dx   buf
	dyd     []float32
}

// NewBNReLUPool returns the fused layer; its batch norm is named prefix.
func NewBNReLUPool(prefix string, c int, ceilMode bool, pool *Pool) *BNReLUPool {
	return &BNReLUPool{BN: NewBatchNorm2d(prefix, c, true, pool), CeilMode: ceilMode, pool: pool}
}

// Params returns the batch norm's weight and bias.
func (f *BNReLUPool) Params() []*Param { return f.BN.Params() }

// StateDict returns the batch norm's state.
func (f *BNReLUPool) StateDict() []Named { return f.BN.StateDict() }

func (f *BNReLUPool) outSize(in int) int {
	if f.CeilMode {
		return (in + 1) / 2
	}
	return in / 2
}

const (
	fusedForward = iota
	fusedBackward
)

// Forward returns maxpool(relu(bn(x))) for x [N, C, H, W], H, W ≥ 2.
func (f *BNReLUPool) Forward(x *tensor.Dense, train bool) *tensor.Dense {
	n, c, h, w := dims4(x)
	b := f.BN
	if c != b.C {
		panic(fmt.Sprintf("nn: BNReLUPool %s wants %d channels, got shape %v", b.Weight.Name, b.C, x.Shape()))
	}
	if h < 2 || w < 2 {
		panic(fmt.Sprintf("nn: BNReLUPool %s input %v smaller than the 2×2 window", b.Weight.Name, x.Shape()))
	}
	b.x, b.xd, b.n, b.hw, b.train = x, f32(x), n, h*w, train
	f.n, f.h, f.w = n, h, w
	f.ho, f.wo = f.outSize(h), f.outSize(w)
	y := f.y.ensure4(n, c, f.ho, f.wo)
	if cap(f.idx) < len(f.y.d) {
		f.idx = make([]int32, len(f.y.d))
		f.xsel = make([]float32, len(f.y.d))
		f.dsel = make([]float32, len(f.y.d))
	}
	f.idx, f.xsel, f.dsel = f.idx[:len(f.y.d)], f.xsel[:len(f.y.d)], f.dsel[:len(f.y.d)]
	f.pool.For(c, f, fusedForward)
	if train {
		int64s(b.NumBatchesTracked)[0]++
	}
	return y
}

// Backward returns dL/dx and adds the batch norm's parameter gradients.
func (f *BNReLUPool) Backward(dy *tensor.Dense) *tensor.Dense {
	if !dy.Shape().Eq(f.y.t.Shape()) {
		panic(fmt.Sprintf("nn: BNReLUPool %s backward got shape %v, want %v", f.BN.Weight.Name, dy.Shape(), f.y.t.Shape()))
	}
	f.dyd = f32(dy)
	dx := f.dx.grad4(f.pool, f.n, f.BN.C, f.h, f.w)
	f.pool.For(f.BN.C, f, fusedBackward)
	return dx
}

func (f *BNReLUPool) run(phase, lo, hi int) {
	for c := lo; c < hi; c++ {
		if phase == fusedForward {
			f.forwardChannel(c)
		} else {
			f.backwardChannel(c)
		}
	}
}

func (f *BNReLUPool) forwardChannel(c int) {
	b := f.BN
	s, t := b.stats(c)
	C, hw, out := b.C, f.h*f.w, f.ho*f.wo
	for i := 0; i < f.n; i++ {
		p := i*C + c
		f.poolPlane(b.xd[p*hw:(p+1)*hw], f.y.d[p*out:(p+1)*out], f.idx[p*out:(p+1)*out], f.xsel[p*out:(p+1)*out], s, t)
	}
}

// poolPlane writes, for each 2×2 window of x·s + t, the maximum of its ReLU,
// the index of the first maximum in scan order (as torch's max pool) and
// the raw input there.
func (f *BNReLUPool) poolPlane(x, y []float32, idx []int32, xs []float32, s, t float32) {
	w, wo := f.w, f.wo
	fullH, fullW := min(f.h/2, f.ho), min(f.w/2, f.wo)
	for oh := 0; oh < fullH; oh++ {
		poolRow(x[2*oh*w:2*oh*w+2*fullW], x[(2*oh+1)*w:(2*oh+1)*w+2*fullW],
			y[oh*wo:oh*wo+fullW], idx[oh*wo:oh*wo+fullW], xs[oh*wo:oh*wo+fullW], s, t, int32(2*oh*w), int32(w))
	}
	// Partial windows of ceil mode on the bottom row and right column.
	for oh := 0; oh < f.ho; oh++ {
		ow0 := fullW
		if oh >= fullH {
			ow0 = 0
		}
		for ow := ow0; ow < f.wo; ow++ {
			h0, h1 := 2*oh, min(2*oh+2, f.h)
			w0, w1 := 2*ow, min(2*ow+2, w)
			bi := h0*w + w0
			bv := max(x[bi]*s+t, 0)
			for ih := h0; ih < h1; ih++ {
				for iw := w0; iw < w1; iw++ {
					if v := max(x[ih*w+iw]*s+t, 0); v > bv {
						bv, bi = v, ih*w+iw
					}
				}
			}
			y[oh*wo+ow] = bv
			idx[oh*wo+ow] = int32(bi)
			xs[oh*wo+ow] = x[bi]
		}
	}
}

func (f *BNReLUPool) backwardChannel(c int) {
	b := f.BN
	C, hw, out := b.C, f.h*f.w, f.ho*f.wo
	m32 := float32(b.mean[c])
	// The batch norm's output gradient is the pooled gradient at each
	// window's arg-max where the ReLU passed (pooled output > 0), 0
	// elsewhere: sum over those, from the pooled-size arrays only.
	var sdy, sdyx float64
	for i := 0; i < f.n; i++ {
		p := (i*C + c) * out
		a, s := bnSumsMask(f.dsel[p:p+out], f.dyd[p:p+out], f.xsel[p:p+out], f.y.d[p:p+out], m32)
		sdy += float64(a)
		sdyx += float64(s)
	}
	k, kb, k0 := b.backCoef(c, sdy, sdyx)
	for i := 0; i < f.n; i++ {
		p := i*C + c
		dx := f.dx.d[p*hw : (p+1)*hw]
		scaleShift(dx, b.xd[p*hw:(p+1)*hw], kb, k0, false)
		idx := f.idx[p*out : (p+1)*out]
		sel := f.dsel[p*out : (p+1)*out]
		idx = idx[:len(sel)]
		for o, d := range sel {
			dx[idx[o]] += k * d
		}
	}
}
