package nn

import (
	"fmt"
	"math/rand/v2"

	"gorgonia.org/tensor"
)

// BasicBlock is the residual block of the CIFAR-style ResNet-18 (class
// Basic in the PyTorch definitions of docs/checkpoints.md):
//
//	out = relu(b2(c2(relu(b1(c1(x))))) + sc(x))
//
// with c1 a 3×3 convolution of the given stride, c2 3×3 stride 1, and the
// shortcut sc a 1×1 convolution of that stride followed by batch norm when
// the stride or channel count changes (identity otherwise). Names are
// prefix.c1, prefix.b1, prefix.c2, prefix.b2, prefix.sc.0, prefix.sc.1.
type BasicBlock struct {
	C1     *Conv2D
	B1     *BatchNorm2d // with fused ReLU
	C2     *Conv2D
	B2     *BatchNorm2d
	SCConv *Conv2D      // nil for the identity shortcut
	SCBN   *BatchNorm2d // nil for the identity shortcut

	pool   *Pool
	xd     []float32
	dyd    []float32
	sd, bd []float32
	y, dx  buf
	phase  int
	x      *tensor.Dense
	dz     buf
}

// NewBasicBlock returns a block named prefix from inC to outC channels.
func NewBasicBlock(prefix string, inC, outC, stride int, rng *rand.Rand, pool *Pool) *BasicBlock {
	b := &BasicBlock{pool: pool}
	b.C1 = NewConv2D(prefix+".c1", inC, outC, 3, stride, 1, false, rng, pool)
	b.B1 = NewBatchNorm2d(prefix+".b1", outC, true, pool)
	b.C2 = NewConv2D(prefix+".c2", outC, outC, 3, 1, 1, false, rng, pool)
	b.B2 = NewBatchNorm2d(prefix+".b2", outC, false, pool)
	if stride != 1 || inC != outC {
		b.SCConv = NewConv2D(prefix+".sc.0", inC, outC, 1, stride, 0, false, rng, pool)
		b.SCBN = NewBatchNorm2d(prefix+".sc.1", outC, false, pool)
	}
	return b
}

func (b *BasicBlock) modules() []Module {
	ms := []Module{b.C1, b.B1, b.C2, b.B2}
	if b.SCConv != nil {
		ms = append(ms, b.SCConv, b.SCBN)
	}
	return ms
}

// Params returns the parameters in state_dict order.
func (b *BasicBlock) Params() []*Param { return (&Sequential{Layers: b.modules()}).Params() }

// StateDict returns parameters and buffers in state_dict order.
func (b *BasicBlock) StateDict() []Named { return (&Sequential{Layers: b.modules()}).StateDict() }

// Forward computes the block output.
func (b *BasicBlock) Forward(x *tensor.Dense, train bool) *tensor.Dense {
	b.x = x
	h := b.B1.Forward(b.C1.Forward(x, train), train)
	main := b.B2.Forward(b.C2.Forward(h, train), train)
	var s *tensor.Dense
	if b.SCConv != nil {
		s = b.SCBN.Forward(b.SCConv.Forward(x, train), train)
	} else {
		s = x
	}
	if !s.Shape().Eq(main.Shape()) {
		panic(fmt.Sprintf("nn: BasicBlock shortcut shape %v != %v", s.Shape(), main.Shape()))
	}
	y := b.y.ensureLike(main)
	b.bd, b.sd = f32(main), f32(s)
	b.phase = 0
	b.pool.For(len(b.y.d), b, 0)
	return y
}

// Backward returns dL/dx and adds the parameter gradients.
func (b *BasicBlock) Backward(dy *tensor.Dense) *tensor.Dense {
	if !dy.Shape().Eq(b.y.t.Shape()) {
		panic(fmt.Sprintf("nn: BasicBlock backward got shape %v, want %v", dy.Shape(), b.y.t.Shape()))
	}
	// dz = dy·[out > 0] feeds both paths; with a gradient-sharing pool
	// every intermediate gradient goes back to the arena once used.
	b.dyd = f32(dy)
	dz := b.dz.gradLike(b.pool, dy)
	b.pool.For(len(b.dyd), b, 1)
	t1 := b.B2.Backward(dz)
	t2 := b.C2.Backward(t1)
	b.pool.release(t1)
	t3 := b.B1.Backward(t2)
	b.pool.release(t2)
	dm := b.C1.Backward(t3)
	b.pool.release(t3)
	ds := dz
	if b.SCConv != nil {
		t4 := b.SCBN.Backward(dz)
		ds = b.SCConv.Backward(t4)
		b.pool.release(t4)
	}
	dx := b.dx.gradLike(b.pool, b.x)
	b.sd, b.bd = f32(dm), f32(ds)
	b.pool.For(len(b.dx.d), b, 2)
	b.pool.release(dm)
	if ds != dz {
		b.pool.release(ds)
	}
	b.pool.release(dz)
	return dx
}

func (b *BasicBlock) run(phase, lo, hi int) {
	switch phase {
	case 0: // y = relu(main + shortcut)
		addRelu(b.y.d[lo:hi], b.bd[lo:hi], b.sd[lo:hi])
	case 1: // dz = dy·[y > 0]
		reluBack(b.dz.d[lo:hi], b.dyd[lo:hi], b.y.d[lo:hi])
	case 2: // dx = d(main) + d(shortcut)
		add3(b.dx.d[lo:hi], b.sd[lo:hi], b.bd[lo:hi])
	}
}
