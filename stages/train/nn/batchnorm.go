package nn

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"
)

// BatchNorm2d is PyTorch's nn.BatchNorm2d(C) (affine, tracking running
// statistics) over NCHW input, optionally followed by a fused ReLU.
//
// Training mode normalises with the batch mean and the biased batch variance
// and updates running_mean and running_var (with the unbiased variance) by
// Momentum (default 0.1), and increments num_batches_tracked; evaluation mode
// normalises with the running statistics. Eps defaults to 1e-5. Statistics
// are accumulated in float64, per channel, in a fixed order.
//
// With ReLU set, Forward returns relu(bn(x)) and Backward takes the gradient
// of that; the state dict is the same as without it (PyTorch's ReLU has no
// state), and one memory pass is saved each way.
type BatchNorm2d struct {
	C        int
	Momentum float64
	Eps      float64
	ReLU     bool

	Weight, Bias            *Param
	RunningMean, RunningVar *tensor.Dense
	NumBatchesTracked       *tensor.Dense
	pool                    *Pool
	x                       *tensor.Dense
	xd, dyd                 []float32
	n, hw                   int
	train                   bool
	y, dx                   buf
	mean, invstd            []float64
}

// NewBatchNorm2d returns a batch norm named prefix with weight 1, bias 0,
// running_mean 0 and running_var 1.
func NewBatchNorm2d(prefix string, c int, relu bool, pool *Pool) *BatchNorm2d {
	b := &BatchNorm2d{C: c, Momentum: 0.1, Eps: 1e-5, ReLU: relu, pool: pool}
	b.Weight = newParam(prefix+".weight", c)
	b.Bias = newParam(prefix+".bias", c)
	b.Weight.BatchNorm, b.Bias.BatchNorm = true, true
	for i := range b.Weight.Data() {
		b.Weight.Data()[i] = 1
	}
	rv := make([]float32, c)
	for i := range rv {
		rv[i] = 1
	}
	b.RunningMean = NewTensor(make([]float32, c), c)
	b.RunningVar = NewTensor(rv, c)
	b.NumBatchesTracked = newScalarInt64()
	b.mean, b.invstd = make([]float64, c), make([]float64, c)
	return b
}

// Params returns weight and bias.
func (b *BatchNorm2d) Params() []*Param { return []*Param{b.Weight, b.Bias} }

// StateDict returns weight, bias, running_mean, running_var and num_batches_tracked.
func (b *BatchNorm2d) StateDict() []Named {
	return bnState(b.Weight, b.Bias, b.RunningMean, b.RunningVar, b.NumBatchesTracked)
}

func bnState(w, bias *Param, rm, rv, nbt *tensor.Dense) []Named {
	p := w.Name[:len(w.Name)-len(".weight")]
	return []Named{{w.Name, w.Value}, {bias.Name, bias.Value},
		{p + ".running_mean", rm}, {p + ".running_var", rv}, {p + ".num_batches_tracked", nbt}}
}

const (
	bnForward = iota
	bnBackward
)

// Forward normalises x [N, C, H, W].
func (b *BatchNorm2d) Forward(x *tensor.Dense, train bool) *tensor.Dense {
	n, c, h, w := dims4(x)
	if c != b.C {
		panic(fmt.Sprintf("nn: BatchNorm2d %s wants %d channels, got shape %v", b.Weight.Name, b.C, x.Shape()))
	}
	if train && n*h*w < 2 {
		panic(fmt.Sprintf("nn: BatchNorm2d %s needs more than one value per channel in training, got shape %v", b.Weight.Name, x.Shape()))
	}
	b.x = x
	y := b.y.ensure4(n, c, h, w)
	b.forward(f32(x), n, h*w, train)
	return y
}

func (b *BatchNorm2d) forward(xd []float32, n, hw int, train bool) {
	b.xd, b.n, b.hw, b.train = xd, n, hw, train
	b.pool.For(b.C, b, bnForward)
	if train {
		int64s(b.NumBatchesTracked)[0]++
	}
}

// Backward returns dL/dx and adds dL/dweight, dL/dbias.
func (b *BatchNorm2d) Backward(dy *tensor.Dense) *tensor.Dense {
	if !dy.Shape().Eq(b.x.Shape()) {
		panic(fmt.Sprintf("nn: BatchNorm2d %s backward got shape %v, want %v", b.Weight.Name, dy.Shape(), b.x.Shape()))
	}
	b.dyd = f32(dy)
	dx := b.dx.gradLike(b.pool, b.x)
	b.pool.For(b.C, b, bnBackward)
	return dx
}

func (b *BatchNorm2d) run(phase, lo, hi int) {
	if phase == bnForward {
		for c := lo; c < hi; c++ {
			b.forwardChannel(c)
		}
		return
	}
	for c := lo; c < hi; c++ {
		b.backwardChannel(c)
	}
}

func (b *BatchNorm2d) forwardChannel(c int) {
	hw, C := b.hw, b.C
	scale, shift := b.stats(c)
	for i := 0; i < b.n; i++ {
		o := (i*C + c) * hw
		scaleShift(b.y.d[o:o+hw], b.xd[o:o+hw], scale, shift, b.ReLU)
	}
}

// stats computes channel c's mean and 1/σ (batch statistics in training,
// updating the running ones; running statistics in evaluation) into b.mean
// and b.invstd, and returns the affine map y = x·scale + shift.
func (b *BatchNorm2d) stats(c int) (scale, shift float32) {
	hw, C := b.hw, b.C
	var mean, invstd float64
	if b.train {
		var s float64
		for i := 0; i < b.n; i++ {
			s += float64(sum(b.xd[(i*C+c)*hw : (i*C+c+1)*hw]))
		}
		cnt := float64(b.n * hw)
		mean = s / cnt
		var q float64
		m32 := float32(mean)
		for i := 0; i < b.n; i++ {
			q += float64(sqdev(b.xd[(i*C+c)*hw:(i*C+c+1)*hw], m32))
		}
		// Correct for rounding mean to float32: Σ(x−m)² = Σ(x−m32)² − cnt·(m−m32)².
		dm := mean - float64(m32)
		q -= cnt * dm * dm
		q = max(q, 0)
		v := q / cnt
		invstd = 1 / math.Sqrt(v+b.Eps)
		rm, rv := b.RunningMean.Float32s(), b.RunningVar.Float32s()
		rm[c] = float32((1-b.Momentum)*float64(rm[c]) + b.Momentum*mean)
		rv[c] = float32((1-b.Momentum)*float64(rv[c]) + b.Momentum*q/(cnt-1))
	} else {
		mean = float64(b.RunningMean.Float32s()[c])
		invstd = 1 / math.Sqrt(float64(b.RunningVar.Float32s()[c])+b.Eps)
	}
	b.mean[c], b.invstd[c] = mean, invstd
	g := float64(b.Weight.Data()[c])
	return float32(g * invstd), float32(float64(b.Bias.Data()[c]) - mean*g*invstd)
}

func (b *BatchNorm2d) backwardChannel(c int) {
	hw, C := b.hw, b.C
	m32 := float32(b.mean[c])
	// Σdy and Σdy·(x−mean), dy masked by the fused ReLU (the masked dy is
	// kept in dx for the second pass).
	var sdy, sdyx float64
	for i := 0; i < b.n; i++ {
		o := (i*C + c) * hw
		var a, s float32
		if b.ReLU {
			a, s = bnSumsMask(b.dx.d[o:o+hw], b.dyd[o:o+hw], b.xd[o:o+hw], b.y.d[o:o+hw], m32)
		} else {
			a, s = bnSums(b.dyd[o:o+hw], b.xd[o:o+hw], m32)
		}
		sdy += float64(a)
		sdyx += float64(s)
	}
	k, kb, k0 := b.backCoef(c, sdy, sdyx)
	for i := 0; i < b.n; i++ {
		o := (i*C + c) * hw
		dy := b.dyd[o : o+hw]
		if b.ReLU {
			dy = b.dx.d[o : o+hw]
		}
		bnApply(b.dx.d[o:o+hw], dy, b.xd[o:o+hw], k, kb, k0)
	}
}

// backCoef takes channel c's Σdy and Σdy·(x−mean) (mean rounded to
// float32), adds the weight and bias gradients, and returns k, kb, k0 with
// dx = k·dy + kb·x + k0. Training: dx = g·is·(dy − Σdy/M − x̂·Σdy·x̂/M), so
// kb = −g·is²·Σdy·x̂/M and k0 = −g·is·Σdy/M − kb·mean. Eval: dx = g·is·dy.
func (b *BatchNorm2d) backCoef(c int, sdy, sdyx float64) (k, kb, k0 float32) {
	is := b.invstd[c]
	g := float64(b.Weight.Data()[c])
	sdyxh := sdyx * is // Σdy·x̂
	b.Weight.GradData()[c] += float32(sdyxh)
	b.Bias.GradData()[c] += float32(sdy)
	if !b.train {
		return float32(g * is), 0, 0
	}
	cnt := float64(b.n * b.hw)
	kbf := -g * is * sdyxh * is / cnt
	k0f := -g*is*sdy/cnt - kbf*float64(float32(b.mean[c]))
	return float32(g * is), float32(kbf), float32(k0f)
}

// BatchNorm1d is PyTorch's nn.BatchNorm1d(C) over [N, C] input, with the same
// statistics, modes, buffers and fused ReLU option as BatchNorm2d (it is one,
// seen as N×C×1×1).
type BatchNorm1d struct {
	BatchNorm2d
	y2 buf2d
}

// buf2d is a 2-D header over a buffer owned elsewhere, rebuilt only when the
// buffer changes.
type buf2d struct {
	t *tensor.Dense
	d []float32
}

func (v *buf2d) view(d []float32, n, c int) *tensor.Dense {
	if v.t == nil || len(v.d) != len(d) || &v.d[0] != &d[0] {
		v.d = d
		v.t = NewTensor(d, n, c)
	}
	return v.t
}

// NewBatchNorm1d returns a 1-D batch norm named prefix.
func NewBatchNorm1d(prefix string, c int, relu bool, pool *Pool) *BatchNorm1d {
	return &BatchNorm1d{BatchNorm2d: *NewBatchNorm2d(prefix, c, relu, pool)}
}

// Forward normalises x [N, C] over the batch.
func (b *BatchNorm1d) Forward(x *tensor.Dense, train bool) *tensor.Dense {
	n, c := dims2(x)
	if c != b.C {
		panic(fmt.Sprintf("nn: BatchNorm1d %s wants %d features, got shape %v", b.Weight.Name, b.C, x.Shape()))
	}
	if train && n < 2 {
		panic(fmt.Sprintf("nn: BatchNorm1d %s needs more than one value per channel in training, got shape %v", b.Weight.Name, x.Shape()))
	}
	b.x = x
	b.y.ensure4(n, c, 1, 1)
	b.forward(f32(x), n, 1, train)
	return b.y2.view(b.y.d, n, c)
}

// Backward returns dL/dx [N, C] and adds dL/dweight, dL/dbias.
func (b *BatchNorm1d) Backward(dy *tensor.Dense) *tensor.Dense {
	if !dy.Shape().Eq(b.x.Shape()) {
		panic(fmt.Sprintf("nn: BatchNorm1d %s backward got shape %v, want %v", b.Weight.Name, dy.Shape(), b.x.Shape()))
	}
	b.dyd = f32(dy)
	dx := b.dx.grad2(b.pool, b.n, b.C)
	b.pool.For(b.C, &b.BatchNorm2d, bnBackward)
	return dx
}
