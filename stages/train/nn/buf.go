package nn

import (
	"fmt"

	"gorgonia.org/tensor"
)

// buf is a reusable float32 tensor: ensure reallocates only when the shape
// changes, so steady-state steps do not allocate.
type buf struct {
	t     *tensor.Dense
	d     []float32
	cache hdrCache
}

func (b *buf) ensure4(n, c, h, w int) *tensor.Dense {
	if b.t != nil {
		s := b.t.Shape()
		if len(s) == 4 && s[0] == n && s[1] == c && s[2] == h && s[3] == w {
			return b.t
		}
	}
	b.d = make([]float32, n*c*h*w)
	b.t = tensor.New(tensor.WithShape(n, c, h, w), tensor.WithBacking(b.d))
	return b.t
}

func (b *buf) ensure2(n, c int) *tensor.Dense {
	if b.t != nil {
		s := b.t.Shape()
		if len(s) == 2 && s[0] == n && s[1] == c {
			return b.t
		}
	}
	b.d = make([]float32, n*c)
	b.t = tensor.New(tensor.WithShape(n, c), tensor.WithBacking(b.d))
	return b.t
}

// ensureLike gives b the shape of t (2-D or 4-D).
func (b *buf) ensureLike(t *tensor.Dense) *tensor.Dense {
	s := t.Shape()
	switch len(s) {
	case 2:
		return b.ensure2(s[0], s[1])
	case 4:
		return b.ensure4(s[0], s[1], s[2], s[3])
	}
	panic("nn: want a 2-D or 4-D tensor, got shape " + fmt.Sprint(s))
}

// dims4 returns the sizes of an NCHW tensor, panicking on another rank.
func dims4(x *tensor.Dense) (n, c, h, w int) {
	s := x.Shape()
	if len(s) != 4 {
		panic("nn: want an NCHW tensor, got shape " + fmt.Sprint(s))
	}
	return s[0], s[1], s[2], s[3]
}

// dims2 returns the sizes of an NC tensor, panicking on another rank.
func dims2(x *tensor.Dense) (n, c int) {
	s := x.Shape()
	if len(s) != 2 {
		panic("nn: want an NC tensor, got shape " + fmt.Sprint(s))
	}
	return s[0], s[1]
}

// f32 returns the backing slice of a float32 tensor without allocating.
func f32(t *tensor.Dense) []float32 { return t.Float32s() }

// NewTensor wraps data, without copying, as a float32 tensor of the given
// shape (len(data) must be the shape's size). It allocates the header.
func NewTensor(data []float32, shape ...int) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
}

// hdrCache keeps tensor headers over the few backing arrays a layer's
// gradient has used (buffers from the gradient arena alternate between
// steps), so switching between them does not allocate.
type hdrCache struct {
	ents [4]hdrEnt
	next int
}

type hdrEnt struct {
	p     *float32
	n     int
	shape [4]int
	t     *tensor.Dense
}

// get returns a header of shape (rank 2: n, c; rank 4: n, c, h, w) over d.
func (hc *hdrCache) get(d []float32, rank, n, c, h, w int) *tensor.Dense {
	key := [4]int{n, c, h, w}
	for i := range hc.ents {
		e := &hc.ents[i]
		if e.t != nil && e.p == &d[0] && e.n == len(d) && e.shape == key && e.t.Dims() == rank {
			return e.t
		}
	}
	var t *tensor.Dense
	if rank == 2 {
		t = NewTensor(d, n, c)
	} else {
		t = NewTensor(d, n, c, h, w)
	}
	hc.ents[hc.next] = hdrEnt{&d[0], len(d), key, t}
	hc.next = (hc.next + 1) % len(hc.ents)
	return t
}

// grad4 gives b an NCHW gradient buffer: from p's gradient arena when p
// shares gradients (the consumer releases it), else b's own reused buffer.
func (b *buf) grad4(p *Pool, n, c, h, w int) *tensor.Dense {
	if !p.sharing() {
		return b.ensure4(n, c, h, w)
	}
	b.d = p.arena.get(n * c * h * w)
	b.t = b.cache.get(b.d, 4, n, c, h, w)
	return b.t
}

// grad2 is grad4 for an NC gradient.
func (b *buf) grad2(p *Pool, n, c int) *tensor.Dense {
	if !p.sharing() {
		return b.ensure2(n, c)
	}
	b.d = p.arena.get(n * c)
	b.t = b.cache.get(b.d, 2, n, c, 0, 0)
	return b.t
}

// gradLike is grad4 or grad2 with t's shape.
func (b *buf) gradLike(p *Pool, t *tensor.Dense) *tensor.Dense {
	s := t.Shape()
	switch len(s) {
	case 2:
		return b.grad2(p, s[0], s[1])
	case 4:
		return b.grad4(p, s[0], s[1], s[2], s[3])
	}
	panic("nn: want a 2-D or 4-D tensor, got shape " + fmt.Sprint(s))
}

// gradArena lends gradient buffers by length. A model's layers take their
// input-gradient buffer from it in Backward and the consumer of that
// gradient (Sequential, BasicBlock, SimCLR) gives it back once used, so the
// gradients of a whole model need a handful of buffers per size instead of
// one per layer. After the first steps it allocates nothing. Used only by
// the goroutine that drives the model.
type gradArena struct {
	free map[int][][]float32
	lent map[*float32]int
}

func (a *gradArena) get(n int) []float32 {
	if a.free == nil {
		a.free, a.lent = map[int][][]float32{}, map[*float32]int{}
	}
	var s []float32
	if l := a.free[n]; len(l) > 0 {
		s = l[len(l)-1]
		a.free[n] = l[:len(l)-1]
	} else {
		s = make([]float32, n)
	}
	a.lent[&s[0]] = n
	return s
}

// put gives back a buffer lent by get; anything else is ignored.
func (a *gradArena) put(s []float32) {
	if len(s) == 0 || a.lent == nil {
		return
	}
	if n, ok := a.lent[&s[0]]; ok && n == len(s) {
		delete(a.lent, &s[0])
		a.free[n] = append(a.free[n], s)
	}
}
