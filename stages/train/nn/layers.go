package nn

import (
	"fmt"
	"math/rand/v2"

	"gorgonia.org/tensor"

	"github.com/contrastream/contrastream/stages/train/gemm"
)

// ReLU is max(x, 0) element-wise on a 2-D or 4-D tensor. It has no state.
// Backward passes dy where the output is positive (as PyTorch: the gradient
// at 0 is 0).
type ReLU struct {
	pool  *Pool
	y, dx buf
	dyd   []float32
	xd    []float32
}

// NewReLU returns a ReLU that splits its work over pool.
func NewReLU(pool *Pool) *ReLU { return &ReLU{pool: pool} }

// Params returns nil.
func (r *ReLU) Params() []*Param { return nil }

// StateDict returns nil.
func (r *ReLU) StateDict() []Named { return nil }

// Forward returns max(x, 0).
func (r *ReLU) Forward(x *tensor.Dense, train bool) *tensor.Dense {
	y := r.y.ensureLike(x)
	r.xd = f32(x)
	r.pool.For(len(r.xd), r, 0)
	return y
}

// Backward returns dy where the output is positive, else 0.
func (r *ReLU) Backward(dy *tensor.Dense) *tensor.Dense {
	if !dy.Shape().Eq(r.y.t.Shape()) {
		panic(fmt.Sprintf("nn: ReLU backward got shape %v, want %v", dy.Shape(), r.y.t.Shape()))
	}
	dx := r.dx.gradLike(r.pool, dy)
	r.dyd = f32(dy)
	r.pool.For(len(r.dyd), r, 1)
	return dx
}

func (r *ReLU) run(phase, lo, hi int) {
	if phase == 0 {
		scaleShift(r.y.d[lo:hi], r.xd[lo:hi], 1, 0, true)
		return
	}
	reluBack(r.dx.d[lo:hi], r.dyd[lo:hi], r.y.d[lo:hi])
}

// MaxPool2D is PyTorch's nn.MaxPool2d(Kernel, Stride, padding=0, ceil_mode)
// on NCHW input. With CeilMode a last, partial window covers the remaining
// rows/columns (28 → 14 → 7 → 4). Ties go to the first element in scan
// order, as PyTorch. Forward records the arg-max of each window (an int32 per
// output) for Backward.
type MaxPool2D struct {
	Kernel, Stride int
	CeilMode       bool

	pool       *Pool
	n, c, h, w int
	ho, wo     int
	xd, dyd    []float32
	idx        []int32
	y, dx      buf
}

// NewMaxPool2D returns a max pool; stride 0 means stride = kernel.
func NewMaxPool2D(kernel, stride int, ceilMode bool, pool *Pool) *MaxPool2D {
	if stride == 0 {
		stride = kernel
	}
	if kernel <= 0 || stride <= 0 {
		panic(fmt.Sprintf("nn: bad MaxPool2D kernel %d stride %d", kernel, stride))
	}
	return &MaxPool2D{Kernel: kernel, Stride: stride, CeilMode: ceilMode, pool: pool}
}

// OutSize returns the output side for an input side (PyTorch's rule).
func (m *MaxPool2D) OutSize(in int) int {
	if !m.CeilMode {
		return (in-m.Kernel)/m.Stride + 1
	}
	o := (in-m.Kernel+m.Stride-1)/m.Stride + 1
	if (o-1)*m.Stride >= in {
		o--
	}
	return o
}

// Params returns nil.
func (m *MaxPool2D) Params() []*Param { return nil }

// StateDict returns nil.
func (m *MaxPool2D) StateDict() []Named { return nil }

// Forward returns the window maxima of x [N, C, H, W].
func (m *MaxPool2D) Forward(x *tensor.Dense, train bool) *tensor.Dense {
	m.n, m.c, m.h, m.w = dims4(x)
	if m.h < m.Kernel || m.w < m.Kernel {
		panic(fmt.Sprintf("nn: MaxPool2D input %v smaller than kernel %d", x.Shape(), m.Kernel))
	}
	m.ho, m.wo = m.OutSize(m.h), m.OutSize(m.w)
	y := m.y.ensure4(m.n, m.c, m.ho, m.wo)
	if cap(m.idx) < len(m.y.d) {
		m.idx = make([]int32, len(m.y.d))
	}
	m.idx = m.idx[:len(m.y.d)]
	m.xd = f32(x)
	m.pool.For(m.n*m.c, m, 0)
	return y
}

// Backward routes each output gradient to its window's arg-max.
func (m *MaxPool2D) Backward(dy *tensor.Dense) *tensor.Dense {
	if !dy.Shape().Eq(m.y.t.Shape()) {
		panic(fmt.Sprintf("nn: MaxPool2D backward got shape %v, want %v", dy.Shape(), m.y.t.Shape()))
	}
	dx := m.dx.grad4(m.pool, m.n, m.c, m.h, m.w)
	m.dyd = f32(dy)
	m.pool.For(m.n*m.c, m, 1)
	return dx
}

func (m *MaxPool2D) run(phase, lo, hi int) {
	in, out := m.h*m.w, m.ho*m.wo
	for p := lo; p < hi; p++ {
		idx := m.idx[p*out : (p+1)*out]
		if phase == 1 {
			dx := m.dx.d[p*in : (p+1)*in]
			clear(dx)
			dy := m.dyd[p*out : (p+1)*out]
			for o, d := range dy {
				dx[idx[o]] += d
			}
			continue
		}
		x := m.xd[p*in : (p+1)*in]
		y := m.y.d[p*out : (p+1)*out]
		if m.Kernel == 2 && m.Stride == 2 {
			m.pool22(x, y, idx)
			continue
		}
		for oh := 0; oh < m.ho; oh++ {
			h0, h1 := oh*m.Stride, min(oh*m.Stride+m.Kernel, m.h)
			for ow := 0; ow < m.wo; ow++ {
				w0, w1 := ow*m.Stride, min(ow*m.Stride+m.Kernel, m.w)
				bi := h0*m.w + w0
				bv := x[bi]
				for ih := h0; ih < h1; ih++ {
					for iw := w0; iw < w1; iw++ {
						if v := x[ih*m.w+iw]; v > bv {
							bv, bi = v, ih*m.w+iw
						}
					}
				}
				y[oh*m.wo+ow] = bv
				idx[oh*m.wo+ow] = int32(bi)
			}
		}
	}
}

// pool22 is the 2×2 stride-2 case: full windows without branches on the
// data, then the partial windows of ceil mode at the bottom and right edges.
func (m *MaxPool2D) pool22(x, y []float32, idx []int32) {
	w, wo := m.w, m.wo
	fullH, fullW := m.h/2, m.w/2 // rows/columns of full windows
	fullH, fullW = min(fullH, m.ho), min(fullW, m.wo)
	for oh := 0; oh < fullH; oh++ {
		r0 := x[2*oh*w : 2*oh*w+2*fullW]
		r1 := x[(2*oh+1)*w : (2*oh+1)*w+2*fullW]
		yo := y[oh*wo : oh*wo+fullW]
		io := idx[oh*wo : oh*wo+fullW]
		base := int32(2 * oh * w)
		for ow := range yo {
			a, b := r0[2*ow], r0[2*ow+1]
			c, d := r1[2*ow], r1[2*ow+1]
			ia := base + int32(2*ow)
			ic := ia + int32(w)
			if b > a {
				ia++
			}
			if d > c {
				ic++
			}
			ma, mc := max(a, b), max(c, d)
			if mc > ma {
				ia = ic
			}
			yo[ow] = max(ma, mc)
			io[ow] = ia
		}
	}
	for oh := 0; oh < m.ho; oh++ {
		ow0 := fullW
		if oh >= fullH {
			ow0 = 0
		}
		for ow := ow0; ow < m.wo; ow++ {
			h0, h1 := 2*oh, min(2*oh+2, m.h)
			w0, w1 := 2*ow, min(2*ow+2, w)
			bi := h0*w + w0
			bv := x[bi]
			for ih := h0; ih < h1; ih++ {
				for iw := w0; iw < w1; iw++ {
					if v := x[ih*w+iw]; v > bv {
						bv, bi = v, ih*w+iw
					}
				}
			}
			y[oh*wo+ow] = bv
			idx[oh*wo+ow] = int32(bi)
		}
	}
}

// GlobalAvgPool averages each channel plane: [N, C, H, W] → [N, C]
// (x.mean(dim=(2, 3)) in PyTorch). It has no state.
type GlobalAvgPool struct {
	pool       *Pool
	n, c, h, w int
	xd, dyd    []float32
	y, dx      buf
}

// NewGlobalAvgPool returns a global average pool.
func NewGlobalAvgPool(pool *Pool) *GlobalAvgPool { return &GlobalAvgPool{pool: pool} }

// Params returns nil.
func (g *GlobalAvgPool) Params() []*Param { return nil }

// StateDict returns nil.
func (g *GlobalAvgPool) StateDict() []Named { return nil }

// Forward returns the plane means.
func (g *GlobalAvgPool) Forward(x *tensor.Dense, train bool) *tensor.Dense {
	g.n, g.c, g.h, g.w = dims4(x)
	y := g.y.ensure2(g.n, g.c)
	g.xd = f32(x)
	g.pool.For(g.n*g.c, g, 0)
	return y
}

// Backward spreads dy/(H·W) over each plane.
func (g *GlobalAvgPool) Backward(dy *tensor.Dense) *tensor.Dense {
	if n, c := dims2(dy); n != g.n || c != g.c {
		panic(fmt.Sprintf("nn: GlobalAvgPool backward got shape %v", dy.Shape()))
	}
	dx := g.dx.grad4(g.pool, g.n, g.c, g.h, g.w)
	g.dyd = f32(dy)
	g.pool.For(g.n*g.c, g, 1)
	return dx
}

func (g *GlobalAvgPool) run(phase, lo, hi int) {
	hw := g.h * g.w
	inv := 1 / float32(hw)
	for p := lo; p < hi; p++ {
		if phase == 0 {
			g.y.d[p] = float32(float64(sum(g.xd[p*hw:(p+1)*hw])) / float64(hw))
			continue
		}
		d := g.dyd[p] * inv
		dx := g.dx.d[p*hw : (p+1)*hw]
		for i := range dx {
			dx[i] = d
		}
	}
}

// Linear is PyTorch's nn.Linear(in, out, bias): y = x·Wᵀ + b on [N, In]
// input, W of shape [Out, In]. Products go through gemm.Sgemm.
type Linear struct {
	In, Out      int
	Weight, Bias *Param

	x     *tensor.Dense
	xd    []float32
	n     int
	y, dx buf
}

// NewLinear returns a linear layer named prefix with PyTorch's default
// initialisation (weights and bias U(±1/√in)) from rng.
func NewLinear(prefix string, in, out int, bias bool, rng *rand.Rand) *Linear {
	l := &Linear{In: in, Out: out}
	l.Weight = newParam(prefix+".weight", out, in)
	uniformInit(l.Weight.Data(), in, rng)
	if bias {
		l.Bias = newParam(prefix+".bias", out)
		l.Bias.Bias = true
		uniformInit(l.Bias.Data(), in, rng)
	}
	return l
}

// Params returns weight and (if present) bias.
func (l *Linear) Params() []*Param {
	if l.Bias != nil {
		return []*Param{l.Weight, l.Bias}
	}
	return []*Param{l.Weight}
}

// StateDict returns weight and (if present) bias.
func (l *Linear) StateDict() []Named { return paramsNamed(l.Params()) }

// Forward returns x·Wᵀ + b.
func (l *Linear) Forward(x *tensor.Dense, train bool) *tensor.Dense {
	n, in := dims2(x)
	if in != l.In {
		panic(fmt.Sprintf("nn: Linear %s wants %d features, got shape %v", l.Weight.Name, l.In, x.Shape()))
	}
	l.x, l.xd, l.n = x, f32(x), n
	y := l.y.ensure2(n, l.Out)
	gemm.Sgemm(false, true, n, l.Out, l.In, 1, l.xd, l.In, l.Weight.Data(), l.In, 0, l.y.d, l.Out)
	if l.Bias != nil {
		b := l.Bias.Data()
		for i := 0; i < n; i++ {
			row := l.y.d[i*l.Out : (i+1)*l.Out]
			for j := range row {
				row[j] += b[j]
			}
		}
	}
	return y
}

// Backward adds dW = dyᵀ·x and db = Σ dy, and returns dx = dy·W.
func (l *Linear) Backward(dy *tensor.Dense) *tensor.Dense {
	if n, o := dims2(dy); n != l.n || o != l.Out {
		panic(fmt.Sprintf("nn: Linear %s backward got shape %v", l.Weight.Name, dy.Shape()))
	}
	dyd := f32(dy)
	gemm.Sgemm(true, false, l.Out, l.In, l.n, 1, dyd, l.Out, l.xd, l.In, 1, l.Weight.GradData(), l.In)
	if l.Bias != nil {
		db := l.Bias.GradData()
		for i := 0; i < l.n; i++ {
			row := dyd[i*l.Out : (i+1)*l.Out]
			for j, v := range row {
				db[j] += v
			}
		}
	}
	dx := l.dx.ensure2(l.n, l.In)
	gemm.Sgemm(false, false, l.n, l.In, l.Out, 1, dyd, l.Out, l.Weight.Data(), l.In, 0, l.dx.d, l.In)
	return dx
}

// Sequential chains modules: Forward runs them in order, Backward in reverse.
// Built by NewSequential with a gradient-sharing pool (a SimCLR model's), it
// gives each intermediate gradient back to the pool's arena once the layer
// below has used it.
type Sequential struct {
	Layers []Module
	pool   *Pool
}

// NewSequential returns a Sequential whose intermediate gradients go back to
// pool's arena (pool may be nil).
func NewSequential(pool *Pool, layers ...Module) *Sequential {
	return &Sequential{Layers: layers, pool: pool}
}

// Forward runs the layers in order.
func (s *Sequential) Forward(x *tensor.Dense, train bool) *tensor.Dense {
	for _, l := range s.Layers {
		x = l.Forward(x, train)
	}
	return x
}

// Backward runs the layers' backward passes in reverse order.
func (s *Sequential) Backward(dy *tensor.Dense) *tensor.Dense {
	for i := len(s.Layers) - 1; i >= 0; i-- {
		dx := s.Layers[i].Backward(dy)
		if i < len(s.Layers)-1 {
			s.pool.release(dy) // made by layer i+1, used by layer i
		}
		dy = dx
	}
	return dy
}

// Params concatenates the layers' parameters.
func (s *Sequential) Params() []*Param {
	var ps []*Param
	for _, l := range s.Layers {
		ps = append(ps, l.Params()...)
	}
	return ps
}

// StateDict concatenates the layers' state dicts.
func (s *Sequential) StateDict() []Named {
	var ns []Named
	for _, l := range s.Layers {
		ns = append(ns, l.StateDict()...)
	}
	return ns
}
