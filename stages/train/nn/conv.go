package nn

import (
	"fmt"
	"math/rand/v2"

	"gorgonia.org/tensor"

	"github.com/contrastream/contrastream/stages/train/gemm"
)

// Conv2D is a 2-D convolution over NCHW input with square kernels, equal
// stride and zero padding on both axes and an optional bias — PyTorch's
// nn.Conv2d(in, out, k, stride, padding, bias) with groups = dilation = 1.
// Weight has shape [OutC, InC, K, K].
//
// A 3×3, stride-1, pad-1 convolution with at least winoMinC (16) input
// channels runs Winograd F(2×2, 3×3) (winograd.go): 2.25× fewer
// multiply-adds, as 16 products per chunk of images through
// gemm.SgemmSerial, each chunk on one pool goroutine. Every other shape
// works by im2col and gemm.Sgemm, several images per product when the
// output planes are small. Buffers (output, input gradient, the im2col
// matrix or the Winograd operands) are allocated on the first call for a
// given input shape and reused after. The im2col matrix (or the transformed
// input) is recomputed in Backward rather than stored. Not safe for
// concurrent use.
type Conv2D struct {
	InC, OutC, Kernel, Stride, Pad int
	Weight, Bias                   *Param
	// NoInputGrad makes Backward skip the input gradient (for the first
	// layer, whose input is data); Backward then returns nil.
	NoInputGrad bool

	pool         *Pool
	x            *tensor.Dense
	xd           []float32
	n, h, w      int
	ho, wo       int
	y, dx        buf
	col, tmp     []float32
	dyd          []float32
	cur, nb      int // first image and image count of the current chunk
	colLo, colHi []int32
	chunk        int
	cols         int // target columns (Winograd: tiles) per product; 0 means the default (tests set it)
	ready        bool
	wino         int8 // tests: >0 forces Winograd where the shape allows it, <0 forbids it
	wg           *winograd
}

// NewConv2D returns a convolution named prefix (its parameters are
// prefix+".weight" and prefix+".bias"), initialised as PyTorch does
// (kaiming_uniform with a = √5, i.e. U(±1/√fan_in), bias U(±1/√fan_in)) from rng.
func NewConv2D(prefix string, inC, outC, kernel, stride, pad int, bias bool, rng *rand.Rand, pool *Pool) *Conv2D {
	if inC <= 0 || outC <= 0 || kernel <= 0 || stride <= 0 || pad < 0 {
		panic(fmt.Sprintf("nn: bad Conv2D %s: in %d out %d kernel %d stride %d pad %d", prefix, inC, outC, kernel, stride, pad))
	}
	c := &Conv2D{InC: inC, OutC: outC, Kernel: kernel, Stride: stride, Pad: pad, pool: pool}
	c.Weight = newParam(prefix+".weight", outC, inC, kernel, kernel)
	fanIn := inC * kernel * kernel
	uniformInit(c.Weight.Data(), fanIn, rng)
	if bias {
		c.Bias = newParam(prefix+".bias", outC)
		c.Bias.Bias = true
		uniformInit(c.Bias.Data(), fanIn, rng)
	}
	return c
}

// Params returns the weight and, if present, the bias.
func (c *Conv2D) Params() []*Param {
	if c.Bias != nil {
		return []*Param{c.Weight, c.Bias}
	}
	return []*Param{c.Weight}
}

// StateDict returns weight (and bias).
func (c *Conv2D) StateDict() []Named { return paramsNamed(c.Params()) }

// OutSize returns the output side for an input side.
func (c *Conv2D) OutSize(in int) int { return (in+2*c.Pad-c.Kernel)/c.Stride + 1 }

func (c *Conv2D) kdim() int { return c.InC * c.Kernel * c.Kernel }

// identity reports whether the im2col matrix of one image is the image.
func (c *Conv2D) identity() bool { return c.Kernel == 1 && c.Stride == 1 && c.Pad == 0 }

func (c *Conv2D) setup(x *tensor.Dense) {
	n, ci, h, w := dims4(x)
	if ci != c.InC {
		panic(fmt.Sprintf("nn: Conv2D %s wants %d input channels, got shape %v", c.Weight.Name, c.InC, x.Shape()))
	}
	c.x, c.xd = x, f32(x)
	if n == c.n && h == c.h && w == c.w && c.ready {
		return
	}
	c.n, c.h, c.w = n, h, w
	c.ho, c.wo = c.OutSize(h), c.OutSize(w)
	if c.ho <= 0 || c.wo <= 0 {
		panic(fmt.Sprintf("nn: Conv2D %s input %dx%d too small", c.Weight.Name, h, w))
	}
	c.ready = true
	if c.useWinograd() {
		c.setupWinograd()
		return
	}
	hw := c.ho * c.wo
	k := c.kdim()
	// Images per product: one when a plane is large (gemm writes the
	// output in place), else enough to give the product ~targetCols
	// columns, keeping the im2col matrix under 4 Mi floats.
	target := targetCols
	if c.cols > 0 {
		target = c.cols
	}
	c.chunk = 1
	if hw < directMin {
		c.chunk = (target + hw - 1) / hw
		if lim := (4 << 20) / (k * hw); c.chunk > lim {
			c.chunk = max(lim, 1)
		}
		c.chunk = min(c.chunk, n)
	}
	c.col = make([]float32, k*c.chunk*hw)
	if c.chunk > 1 {
		c.tmp = make([]float32, c.OutC*c.chunk*hw)
	}
	// Valid output-column range for each kernel column kj.
	c.colLo, c.colHi = make([]int32, c.Kernel), make([]int32, c.Kernel)
	for kj := 0; kj < c.Kernel; kj++ {
		lo, hi := 0, c.wo
		for lo < c.wo && lo*c.Stride-c.Pad+kj < 0 {
			lo++
		}
		for hi > lo && (hi-1)*c.Stride-c.Pad+kj >= w {
			hi--
		}
		c.colLo[kj], c.colHi[kj] = int32(lo), int32(hi)
	}
}

// Chunking of the convolution products: a plane of at least directMin
// output pixels is one product per image, written in place; smaller planes
// are batched to about targetCols columns per product (8192 measured ~7%
// faster per `small` step than 2048, alternating A/B runs at load 2–4).
const (
	directMin  = 1024
	targetCols = 8192
)

const (
	convIm2col = iota
	convScatter
	convGather
	convCol2im
)

// Forward computes the convolution of x [N, InC, H, W] into [N, OutC, Ho, Wo].
func (c *Conv2D) Forward(x *tensor.Dense, train bool) *tensor.Dense {
	c.setup(x)
	y := c.y.ensure4(c.n, c.OutC, c.ho, c.wo)
	if c.wg != nil && c.useWinograd() {
		c.winoForward()
		return y
	}
	hw, k := c.ho*c.wo, c.kdim()
	wd := c.Weight.Data()
	for c.cur = 0; c.cur < c.n; c.cur += c.nb {
		c.nb = min(c.chunk, c.n-c.cur)
		cols := c.nb * hw
		var col []float32
		if c.nb == 1 && c.identity() {
			col = c.xd[c.cur*c.InC*c.h*c.w : (c.cur+1)*c.InC*c.h*c.w]
		} else {
			col = c.col[:k*cols]
			c.pool.For(k, c, convIm2col)
		}
		if c.nb == 1 {
			out := c.y.d[c.cur*c.OutC*hw : (c.cur+1)*c.OutC*hw]
			gemm.Sgemm(false, false, c.OutC, cols, k, 1, wd, k, col, cols, 0, out, cols)
			if c.Bias != nil {
				c.pool.For(c.OutC, c, convScatter)
			}
		} else {
			gemm.Sgemm(false, false, c.OutC, cols, k, 1, wd, k, col, cols, 0, c.tmp[:c.OutC*cols], cols)
			c.pool.For(c.OutC, c, convScatter)
		}
	}
	return y
}

// Backward adds dL/dW (and dL/db) into the parameter gradients and returns
// dL/dx (nil with NoInputGrad).
func (c *Conv2D) Backward(dy *tensor.Dense) *tensor.Dense {
	if n, co, ho, wo := dims4(dy); n != c.n || co != c.OutC || ho != c.ho || wo != c.wo {
		panic(fmt.Sprintf("nn: Conv2D %s backward got shape %v", c.Weight.Name, dy.Shape()))
	}
	c.dyd = f32(dy)
	var dx *tensor.Dense
	if !c.NoInputGrad {
		dx = c.dx.grad4(c.pool, c.n, c.InC, c.h, c.w)
	}
	if c.wg != nil && c.useWinograd() {
		c.winoBackward()
		return dx
	}
	hw, k := c.ho*c.wo, c.kdim()
	wd, dwd := c.Weight.Data(), c.Weight.GradData()
	for c.cur = 0; c.cur < c.n; c.cur += c.nb {
		c.nb = min(c.chunk, c.n-c.cur)
		cols := c.nb * hw
		var dyT []float32
		if c.nb == 1 {
			dyT = c.dyd[c.cur*c.OutC*hw : (c.cur+1)*c.OutC*hw]
		} else {
			dyT = c.tmp[:c.OutC*cols]
			c.pool.For(c.OutC, c, convGather)
		}
		if c.Bias != nil {
			db := c.Bias.GradData()
			for o := 0; o < c.OutC; o++ {
				var s float32
				for _, v := range dyT[o*cols : (o+1)*cols] {
					s += v
				}
				db[o] += s
			}
		}
		direct := c.nb == 1 && c.identity()
		var col []float32
		if direct {
			col = c.xd[c.cur*c.InC*c.h*c.w : (c.cur+1)*c.InC*c.h*c.w]
		} else {
			col = c.col[:k*cols]
			c.pool.For(k, c, convIm2col)
		}
		gemm.Sgemm(false, true, c.OutC, k, cols, 1, dyT, cols, col, cols, 1, dwd, k)
		if c.NoInputGrad {
			continue
		}
		if direct {
			out := c.dx.d[c.cur*c.InC*c.h*c.w : (c.cur+1)*c.InC*c.h*c.w]
			gemm.Sgemm(true, false, k, cols, c.OutC, 1, wd, k, dyT, cols, 0, out, cols)
			continue
		}
		gemm.Sgemm(true, false, k, cols, c.OutC, 1, wd, k, dyT, cols, 0, col, cols)
		c.pool.For(c.nb*c.InC, c, convCol2im)
	}
	return dx
}

func (c *Conv2D) run(phase, lo, hi int) {
	switch phase {
	case convIm2col:
		c.im2col(lo, hi)
	case convScatter:
		c.scatter(lo, hi)
	case convGather:
		c.gather(lo, hi)
	case convCol2im:
		c.col2im(lo, hi)
	default:
		c.runWino(phase, lo, hi)
	}
}

// im2col fills rows [lo, hi) of the chunk's im2col matrix: row
// (ci, ki, kj), column b·Ho·Wo + oh·Wo + ow holds x[cur+b, ci, oh·S−P+ki, ow·S−P+kj].
func (c *Conv2D) im2col(lo, hi int) {
	kk := c.Kernel * c.Kernel
	hw := c.ho * c.wo
	cols := c.nb * hw
	plane := c.h * c.w
	same := c.same()
	for r := lo; r < hi; r++ {
		ci, kij := r/kk, r%kk
		ki, kj := kij/c.Kernel, kij%c.Kernel
		owLo, owHi := int(c.colLo[kj]), int(c.colHi[kj])
		row := c.col[r*cols : (r+1)*cols]
		for b := 0; b < c.nb; b++ {
			src := c.xd[((c.cur+b)*c.InC+ci)*plane : ((c.cur+b)*c.InC+ci+1)*plane]
			dst := row[b*hw : (b+1)*hw]
			if same {
				c.shiftCopy(dst, src, ki, kj)
				continue
			}
			for oh := 0; oh < c.ho; oh++ {
				d := dst[oh*c.wo : (oh+1)*c.wo]
				ih := oh*c.Stride - c.Pad + ki
				if ih < 0 || ih >= c.h || owLo >= owHi {
					clear(d)
					continue
				}
				clear(d[:owLo])
				clear(d[owHi:])
				s := src[ih*c.w : (ih+1)*c.w]
				off := kj - c.Pad
				if c.Stride == 1 {
					copy(d[owLo:owHi], s[owLo+off:owHi+off])
				} else {
					for ow := owLo; ow < owHi; ow++ {
						d[ow] = s[ow*c.Stride+off]
					}
				}
			}
		}
	}
}

// same reports whether the output plane has the input's size with stride 1
// (a "same" convolution): then row (ci, ki, kj) of the im2col matrix is the
// input plane shifted by (ki−P)·W + kj−P, with zeros where the shift leaves
// the plane, and im2col/col2im work on whole planes.
func (c *Conv2D) same() bool { return c.Stride == 1 && c.ho == c.h && c.wo == c.w }

// validRange returns, for a same convolution and kernel offset (ki, kj), the
// shift delta and the output rows [ohLo, ohHi) that read inside the plane.
func (c *Conv2D) validRange(ki, kj int) (delta, ohLo, ohHi, dj int) {
	dk := ki - c.Pad
	dj = kj - c.Pad
	return dk*c.w + dj, max(0, -dk), min(c.h, c.h-dk), dj
}

// shiftCopy writes dst[j] = src[j+delta] where the shifted position lies in
// the plane and 0 elsewhere.
func (c *Conv2D) shiftCopy(dst, src []float32, ki, kj int) {
	w := c.w
	delta, ohLo, ohHi, dj := c.validRange(ki, kj)
	if ohLo >= ohHi || dj <= -w || dj >= w {
		clear(dst)
		return
	}
	clear(dst[:ohLo*w])
	clear(dst[ohHi*w:])
	lo, hi := max(ohLo*w, -delta), min(ohHi*w, len(src)-delta)
	copy(dst[lo:hi], src[lo+delta:hi+delta])
	c.clearCols(dst, ohLo, ohHi, dj)
}

// clearCols zeroes, in rows [ohLo, ohHi) of plane p, the columns whose
// shifted column ow+dj falls outside [0, W).
func (c *Conv2D) clearCols(p []float32, ohLo, ohHi, dj int) {
	w := c.w
	// Stores, not clear(): the runs are one or two values, too short for
	// memclr's call to pay off.
	switch {
	case dj < 0:
		for oh := ohLo; oh < ohHi; oh++ {
			for i := oh * w; i < oh*w-dj; i++ {
				p[i] = 0
			}
		}
	case dj > 0:
		for oh := ohLo; oh < ohHi; oh++ {
			for i := (oh+1)*w - dj; i < (oh+1)*w; i++ {
				p[i] = 0
			}
		}
	}
}

// scatter copies output channels [lo, hi) of the chunk product into y (adding
// the bias).
func (c *Conv2D) scatter(lo, hi int) {
	hw := c.ho * c.wo
	cols := c.nb * hw
	for o := lo; o < hi; o++ {
		var bias float32
		if c.Bias != nil {
			bias = c.Bias.Data()[o]
		}
		for b := 0; b < c.nb; b++ {
			dst := c.y.d[((c.cur+b)*c.OutC+o)*hw : ((c.cur+b)*c.OutC+o+1)*hw]
			if c.nb > 1 {
				copy(dst, c.tmp[o*cols+b*hw:o*cols+(b+1)*hw])
			}
			if bias != 0 {
				for i := range dst {
					dst[i] += bias
				}
			}
		}
	}
}

// gather copies channels [lo, hi) of dy for the chunk into the [OutC, nb·Ho·Wo] matrix.
func (c *Conv2D) gather(lo, hi int) {
	hw := c.ho * c.wo
	cols := c.nb * hw
	for o := lo; o < hi; o++ {
		for b := 0; b < c.nb; b++ {
			copy(c.tmp[o*cols+b*hw:o*cols+(b+1)*hw], c.dyd[((c.cur+b)*c.OutC+o)*hw:((c.cur+b)*c.OutC+o+1)*hw])
		}
	}
}

// col2im sums the column gradients into input planes [lo, hi) of the chunk
// (plane index b·InC + ci), in a fixed order.
func (c *Conv2D) col2im(lo, hi int) {
	kk := c.Kernel * c.Kernel
	hw := c.ho * c.wo
	cols := c.nb * hw
	plane := c.h * c.w
	same := c.same()
	for p := lo; p < hi; p++ {
		b, ci := p/c.InC, p%c.InC
		dst := c.dx.d[((c.cur+b)*c.InC+ci)*plane : ((c.cur+b)*c.InC+ci+1)*plane]
		clear(dst)
		for kij := 0; kij < kk; kij++ {
			ki, kj := kij/c.Kernel, kij%c.Kernel
			if same {
				r := ci*kk + kij
				src := c.col[r*cols+b*hw : r*cols+(b+1)*hw]
				delta, ohLo, ohHi, dj := c.validRange(ki, kj)
				if ohLo >= ohHi || dj <= -c.w || dj >= c.w {
					continue
				}
				// Zero the columns that fall outside, then add the block.
				c.clearCols(src, ohLo, ohHi, dj)
				lo, hi := max(ohLo*c.w, -delta), min(ohHi*c.w, plane-delta)
				addTo(dst[lo+delta:hi+delta], src[lo:hi])
				continue
			}
			owLo, owHi := int(c.colLo[kj]), int(c.colHi[kj])
			if owLo >= owHi {
				continue
			}
			r := ci*kk + kij
			src := c.col[r*cols+b*hw : r*cols+(b+1)*hw]
			off := kj - c.Pad
			for oh := 0; oh < c.ho; oh++ {
				ih := oh*c.Stride - c.Pad + ki
				if ih < 0 || ih >= c.h {
					continue
				}
				d := dst[ih*c.w : (ih+1)*c.w]
				s := src[oh*c.wo : (oh+1)*c.wo]
				if c.Stride == 1 {
					addTo(d[owLo+off:owHi+off], s[owLo:owHi])
				} else {
					for ow := owLo; ow < owHi; ow++ {
						d[ow*c.Stride+off] += s[ow]
					}
				}
			}
		}
	}
}
