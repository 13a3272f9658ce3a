package nn

import (
	"fmt"

	"gorgonia.org/tensor"
)

// buf is a reusable float32 tensor: ensure reallocates only when the shape
// changes, so steady-state steps do not allocate.
type buf struct {
	t *tensor.Dense
	d []float32
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

// grow returns s with length n, reallocating only when its capacity is short.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
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

// NewTensor wraps data (copied into a new slice when copyData is true) as a
// float32 tensor of the given shape. It allocates the tensor header.
func NewTensor(data []float32, shape ...int) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
}
