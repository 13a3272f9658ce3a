package nn

import "github.com/contrastream/contrastream/stages/train/gemm"

// Winograd F(2×2, 3×3) convolution for the 3×3, stride-1, pad-1 layers of
// the models (Lavin & Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016).
//
// The output plane is cut into 2×2 tiles (⌈H/2⌉ × ⌈W/2⌉ per image; tiles
// that stick out of an odd side read zeros and drop their outside outputs).
// Tile t of output channel o is
//
//	Y = Aᵀ [ Σ_c (G g_oc Gᵀ) ⊙ (Bᵀ d_ct B) ] A
//
// where d_ct is the 4×4 input patch of the tile (rows 2ty−1 … 2ty+2, zero
// padded), g_oc the 3×3 kernel and
//
//	Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]
//	G  = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]
//	Aᵀ = [1 1 1 0; 0 1 −1 −1].
//
// The sum over c is, for each of the 16 positions ξ of the 4×4 transformed
// tile, a matrix product U_ξ [OutC × InC] · V_ξ [InC × tiles], which goes
// through gemm.Sgemm: 16 products of 16/36 of the multiply-adds of the
// im2col product, 2.25× fewer.
//
// The input gradient is the same computation on dY with the kernels rotated
// by 180° and the channel roles swapped (a "full" correlation of dY is a
// pad-1 correlation with the flipped kernel).
//
// The weight gradient is F(3×3, 2×2): dW_oc = Σ_t corr(d_ct, dy_ot), the
// 3×3 correlation of each 4×4 input patch with its 2×2 output-gradient tile,
//
//	dW = A₃ᵀ [ Σ_t (Ĝ dy Ĝᵀ) ⊙ (Bᵀ d B) ⊙ S ] A₃
//
// with the same Bᵀ as above (F(3,2)'s input matrix is F(2,3)'s with its last
// row negated; that sign, and the ½ of F(3,2)'s G, are folded into the
// per-position scale S_ξ = s_i·s_j, s = (1, ½, ½, −1), applied once to the
// sums), Ĝ = [1 0; 1 1; 1 −1; 0 1] and A₃ᵀ = [1 1 1 0; 0 1 −1 0; 0 1 1 1].
// The sum over tiles is 16 products dY_ξ [OutC × tiles] · X_ξᵀ [tiles × InC],
// accumulated over the batch.
//
// The transforms are done per plane straight from the NCHW tensors into the
// [16][channels][tiles] operands (no im2col-sized buffer); the batch is
// processed in chunks of images so that an operand stays near
// winoChunkFloats floats. The chunking depends only on the shapes and the
// transforms write disjoint outputs, so results are bit-identical for any
// thread count.

// winoMinC is the fewest input channels for which a 3×3 stride-1 pad-1
// convolution uses Winograd (the first layer, with 1 or 3 channels, stays on
// im2col: its product is tiny and the transforms would dominate).
const winoMinC = 16

// winoChunkFloats is the target size of one transformed operand
// ([16][channels][tiles] floats) per chunk of images.
const winoChunkFloats = 1 << 20

// winograd is the state of a Conv2D that runs the Winograd algorithm.
type winograd struct {
	th, tw int // tile rows and columns per image
	tiles  int // th·tw
	chunk  int // images per chunk
	t      int // tiles in the current chunk
	u      []float32
	ur     []float32
	mw     []float32
	v, m   []float32
}

// useWinograd reports whether c runs Winograd F(2×2, 3×3).
func (c *Conv2D) useWinograd() bool {
	if c.Kernel != 3 || c.Stride != 1 || c.Pad != 1 {
		return false
	}
	switch {
	case c.wino > 0:
		return true
	case c.wino < 0:
		return false
	}
	return c.InC >= winoMinC
}

// setupWinograd sizes the Winograd buffers for the current input shape.
func (c *Conv2D) setupWinograd() {
	g := c.wg
	if g == nil {
		g = &winograd{}
		c.wg = g
	}
	g.th, g.tw = (c.h+1)/2, (c.w+1)/2
	g.tiles = g.th * g.tw
	maxC := max(c.InC, c.OutC)
	g.chunk = max(1, winoChunkFloats/(16*maxC*g.tiles))
	if c.cols > 0 {
		g.chunk = max(1, c.cols/g.tiles)
	}
	g.chunk = min(g.chunk, c.n)
	oc := c.OutC * c.InC
	if len(g.u) != 16*oc {
		g.u = make([]float32, 16*oc)
		g.ur = make([]float32, 16*oc)
		g.mw = make([]float32, 16*oc)
	}
	need := 16 * maxC * g.chunk * g.tiles
	if len(g.v) != need {
		g.v = make([]float32, need)
		g.m = make([]float32, need)
	}
}

const (
	convWinoU = iota + convCol2im + 1
	convWinoUR
	convWinoIn
	convWinoOut
	convWinoInDY
	convWinoOutDX
	convWinoGradIn
	convWinoDW
)

// winoForward computes y from c.xd (setup done).
func (c *Conv2D) winoForward() {
	g := c.wg
	O, C := c.OutC, c.InC
	c.pool.For(O, c, convWinoU)
	for c.cur = 0; c.cur < c.n; c.cur += c.nb {
		c.nb = min(g.chunk, c.n-c.cur)
		T := c.nb * g.tiles
		g.t = T
		c.pool.For(c.nb*C, c, convWinoIn)
		for xi := 0; xi < 16; xi++ {
			gemm.Sgemm(false, false, O, T, C, 1, g.u[xi*O*C:], C, g.v[xi*C*T:], T, 0, g.m[xi*O*T:], T)
		}
		c.pool.For(c.nb*O, c, convWinoOut)
	}
}

// winoBackward adds dW (and db) and, unless NoInputGrad, writes dx.
func (c *Conv2D) winoBackward() {
	g := c.wg
	O, C := c.OutC, c.InC
	if !c.NoInputGrad {
		c.pool.For(C, c, convWinoUR)
	}
	if c.Bias != nil {
		db := c.Bias.GradData()
		hw := c.h * c.w
		for o := 0; o < O; o++ {
			var s float32
			for b := 0; b < c.n; b++ {
				p := (b*O + o) * hw
				s += sum(c.dyd[p : p+hw])
			}
			db[o] += s
		}
	}
	for c.cur = 0; c.cur < c.n; c.cur += c.nb {
		c.nb = min(g.chunk, c.n-c.cur)
		T := c.nb * g.tiles
		g.t = T
		if !c.NoInputGrad {
			c.pool.For(c.nb*O, c, convWinoInDY)
			for xi := 0; xi < 16; xi++ {
				gemm.Sgemm(false, false, C, T, O, 1, g.ur[xi*C*O:], O, g.v[xi*O*T:], T, 0, g.m[xi*C*T:], T)
			}
			c.pool.For(c.nb*C, c, convWinoOutDX)
		}
		c.pool.For(c.nb*(O+C), c, convWinoGradIn)
		var beta float32
		if c.cur > 0 {
			beta = 1
		}
		for xi := 0; xi < 16; xi++ {
			gemm.Sgemm(false, true, O, C, T, 1, g.v[xi*O*T:], T, g.m[xi*C*T:], T, beta, g.mw[xi*O*C:], C)
		}
	}
	c.pool.For(O, c, convWinoDW)
}

// runWino is run for the Winograd phases.
func (c *Conv2D) runWino(phase, lo, hi int) {
	g := c.wg
	O, C := c.OutC, c.InC
	T, tiles := g.t, g.tiles
	plane := c.h * c.w
	var u [16]float32
	switch phase {
	case convWinoU:
		wd := c.Weight.Data()
		for o := lo; o < hi; o++ {
			for ci := 0; ci < C; ci++ {
				winoWeight(&u, wd[(o*C+ci)*9:(o*C+ci+1)*9], false)
				for xi, v := range u {
					g.u[xi*O*C+o*C+ci] = v
				}
			}
		}
	case convWinoUR:
		wd := c.Weight.Data()
		for ci := lo; ci < hi; ci++ {
			for o := 0; o < O; o++ {
				winoWeight(&u, wd[(o*C+ci)*9:(o*C+ci+1)*9], true)
				for xi, v := range u {
					g.ur[xi*C*O+ci*O+o] = v
				}
			}
		}
	case convWinoIn:
		for p := lo; p < hi; p++ {
			b, ci := p/C, p%C
			q := (c.cur+b)*C + ci
			winoInput(g.v[ci*T+b*tiles:], C*T, c.xd[q*plane:(q+1)*plane], c.h, c.w, g.th, g.tw)
		}
	case convWinoOut:
		for p := lo; p < hi; p++ {
			b, o := p/O, p%O
			q := (c.cur+b)*O + o
			var bias float32
			if c.Bias != nil {
				bias = c.Bias.Data()[o]
			}
			winoOutput(c.y.d[q*plane:(q+1)*plane], c.h, c.w, g.th, g.tw, g.m[o*T+b*tiles:], O*T, bias)
		}
	case convWinoInDY:
		for p := lo; p < hi; p++ {
			b, o := p/O, p%O
			q := (c.cur+b)*O + o
			winoInput(g.v[o*T+b*tiles:], O*T, c.dyd[q*plane:(q+1)*plane], c.h, c.w, g.th, g.tw)
		}
	case convWinoOutDX:
		for p := lo; p < hi; p++ {
			b, ci := p/C, p%C
			q := (c.cur+b)*C + ci
			winoOutput(c.dx.d[q*plane:(q+1)*plane], c.h, c.w, g.th, g.tw, g.m[ci*T+b*tiles:], C*T, 0)
		}
	case convWinoGradIn:
		// Planes [0, nb·O) are dY's 2×2 tiles, the rest x's 4×4 patches.
		for p := lo; p < hi; p++ {
			if p < c.nb*O {
				b, o := p/O, p%O
				q := (c.cur+b)*O + o
				winoGrad(g.v[o*T+b*tiles:], O*T, c.dyd[q*plane:(q+1)*plane], c.h, c.w, g.th, g.tw)
				continue
			}
			b, ci := (p-c.nb*O)/C, (p-c.nb*O)%C
			q := (c.cur+b)*C + ci
			winoInput(g.m[ci*T+b*tiles:], C*T, c.xd[q*plane:(q+1)*plane], c.h, c.w, g.th, g.tw)
		}
	case convWinoDW:
		dw := c.Weight.GradData()
		for o := lo; o < hi; o++ {
			for ci := 0; ci < C; ci++ {
				for xi := range u {
					u[xi] = g.mw[xi*O*C+o*C+ci]
				}
				winoWeightGrad(dw[(o*C+ci)*9:(o*C+ci+1)*9], &u)
			}
		}
	}
}

// winoWeight writes U = G g Gᵀ for the 3×3 kernel g (row-major), or for g
// rotated by 180° when rot.
func winoWeight(u *[16]float32, g []float32, rot bool) {
	g = g[:9]
	var k [9]float32
	if rot {
		for i := range k {
			k[i] = g[8-i]
		}
	} else {
		copy(k[:], g)
	}
	// G k: 4×3.
	var t [12]float32
	for j := 0; j < 3; j++ {
		a, b, c := k[j], k[3+j], k[6+j]
		t[j] = a
		t[3+j] = 0.5 * (a + b + c)
		t[6+j] = 0.5 * (a - b + c)
		t[9+j] = c
	}
	// (G k) Gᵀ: 4×4.
	for i := 0; i < 4; i++ {
		a, b, c := t[3*i], t[3*i+1], t[3*i+2]
		u[4*i] = a
		u[4*i+1] = 0.5 * (a + b + c)
		u[4*i+2] = 0.5 * (a - b + c)
		u[4*i+3] = c
	}
}

// winoScale is S_ξ = s_i·s_j, s = (1, ½, ½, −1), of the weight gradient.
var winoScale = [16]float32{
	1, 0.5, 0.5, -1,
	0.5, 0.25, 0.25, -0.5,
	0.5, 0.25, 0.25, -0.5,
	-1, -0.5, -0.5, 1,
}

// winoWeightGrad adds A₃ᵀ (M ⊙ S) A₃ to the 3×3 gradient dw.
func winoWeightGrad(dw []float32, m *[16]float32) {
	dw = dw[:9]
	var s [16]float32
	for i := range s {
		s[i] = m[i] * winoScale[i]
	}
	// A₃ᵀ s: 3×4.
	var p [12]float32
	for j := 0; j < 4; j++ {
		a, b, c, d := s[j], s[4+j], s[8+j], s[12+j]
		p[j] = a + b + c
		p[4+j] = b - c
		p[8+j] = b + c + d
	}
	// (A₃ᵀ s) A₃: 3×3.
	for i := 0; i < 3; i++ {
		a, b, c, d := p[4*i], p[4*i+1], p[4*i+2], p[4*i+3]
		dw[3*i] += a + b + c
		dw[3*i+1] += b - c
		dw[3*i+2] += b + c + d
	}
}

// winoPatch loads the 4×4 patch at rows r0…r0+3, columns c0…c0+3 of the
// h×w plane src, with zeros outside the plane.
func winoPatch(d *[16]float32, src []float32, h, w, r0, c0 int) {
	for i := 0; i < 4; i++ {
		r := r0 + i
		for j := 0; j < 4; j++ {
			col := c0 + j
			if r < 0 || r >= h || col < 0 || col >= w {
				d[4*i+j] = 0
			} else {
				d[4*i+j] = src[r*w+col]
			}
		}
	}
}

// winoInputGo writes Bᵀ d B of every tile's 4×4 input patch of the h×w plane
// src: element ξ of tile (ty, tx) goes to dst[ξ·ld + ty·tw + tx].
func winoInputGo(dst []float32, ld int, src []float32, h, w, th, tw int) {
	var d [16]float32
	_ = dst[15*ld+th*tw-1]
	for ty := 0; ty < th; ty++ {
		r0 := 2*ty - 1
		rowsIn := r0 >= 0 && r0+3 < h
		for tx := 0; tx < tw; tx++ {
			c0 := 2*tx - 1
			if rowsIn && c0 >= 0 && c0+3 < w {
				s := src[r0*w+c0 : r0*w+c0+3*w+4]
				d[0], d[1], d[2], d[3] = s[0], s[1], s[2], s[3]
				s = s[w:]
				d[4], d[5], d[6], d[7] = s[0], s[1], s[2], s[3]
				s = s[w:]
				d[8], d[9], d[10], d[11] = s[0], s[1], s[2], s[3]
				s = s[w:]
				d[12], d[13], d[14], d[15] = s[0], s[1], s[2], s[3]
			} else {
				winoPatch(&d, src, h, w, r0, c0)
			}
			// Bᵀ d (rows), then · B (columns).
			var t [16]float32
			for j := 0; j < 4; j++ {
				a, b, c, e := d[j], d[4+j], d[8+j], d[12+j]
				t[j] = a - c
				t[4+j] = b + c
				t[8+j] = c - b
				t[12+j] = b - e
			}
			o := ty*tw + tx
			for i := 0; i < 4; i++ {
				a, b, c, e := t[4*i], t[4*i+1], t[4*i+2], t[4*i+3]
				dst[(4*i)*ld+o] = a - c
				dst[(4*i+1)*ld+o] = b + c
				dst[(4*i+2)*ld+o] = c - b
				dst[(4*i+3)*ld+o] = b - e
			}
		}
	}
}

// winoOutputGo writes Aᵀ M A (+ bias) of every tile into the h×w plane dst,
// dropping outputs outside the plane; element ξ of tile (ty, tx) of M is
// src[ξ·ld + ty·tw + tx].
func winoOutputGo(dst []float32, h, w, th, tw int, src []float32, ld int, bias float32) {
	_ = src[15*ld+th*tw-1]
	for ty := 0; ty < th; ty++ {
		for tx := 0; tx < tw; tx++ {
			o := ty*tw + tx
			// Aᵀ M: 2×4.
			var s [8]float32
			for j := 0; j < 4; j++ {
				a, b, c, e := src[j*ld+o], src[(4+j)*ld+o], src[(8+j)*ld+o], src[(12+j)*ld+o]
				s[j] = a + b + c
				s[4+j] = b - c - e
			}
			y00 := s[0] + s[1] + s[2] + bias
			y01 := s[1] - s[2] - s[3] + bias
			y10 := s[4] + s[5] + s[6] + bias
			y11 := s[5] - s[6] - s[7] + bias
			r, col := 2*ty, 2*tx
			if r+1 < h && col+1 < w {
				dst[r*w+col], dst[r*w+col+1] = y00, y01
				dst[(r+1)*w+col], dst[(r+1)*w+col+1] = y10, y11
				continue
			}
			dst[r*w+col] = y00
			if col+1 < w {
				dst[r*w+col+1] = y01
			}
			if r+1 < h {
				dst[(r+1)*w+col] = y10
				if col+1 < w {
					dst[(r+1)*w+col+1] = y11
				}
			}
		}
	}
}

// winoGradGo writes Ĝ g Ĝᵀ of every 2×2 tile g of the h×w plane src (zeros
// outside the plane): element ξ of tile (ty, tx) goes to dst[ξ·ld + ty·tw + tx].
func winoGradGo(dst []float32, ld int, src []float32, h, w, th, tw int) {
	_ = dst[15*ld+th*tw-1]
	for ty := 0; ty < th; ty++ {
		for tx := 0; tx < tw; tx++ {
			r, col := 2*ty, 2*tx
			var g00, g01, g10, g11 float32
			if r+1 < h && col+1 < w {
				g00, g01 = src[r*w+col], src[r*w+col+1]
				g10, g11 = src[(r+1)*w+col], src[(r+1)*w+col+1]
			} else {
				g00 = src[r*w+col]
				if col+1 < w {
					g01 = src[r*w+col+1]
				}
				if r+1 < h {
					g10 = src[(r+1)*w+col]
					if col+1 < w {
						g11 = src[(r+1)*w+col+1]
					}
				}
			}
			// Ĝ g: rows (g0, g0+g1, g0−g1, g1), then the same on columns.
			q := [8]float32{g00, g01, g00 + g10, g01 + g11, g00 - g10, g01 - g11, g10, g11}
			o := ty*tw + tx
			for i := 0; i < 4; i++ {
				a, b := q[2*i], q[2*i+1]
				dst[(4*i)*ld+o] = a
				dst[(4*i+1)*ld+o] = a + b
				dst[(4*i+2)*ld+o] = a - b
				dst[(4*i+3)*ld+o] = b
			}
		}
	}
}

func winoInput(dst []float32, ld int, src []float32, h, w, th, tw int) {
	winoInputGo(dst, ld, src, h, w, th, tw)
}

func winoOutput(dst []float32, h, w, th, tw int, src []float32, ld int, bias float32) {
	winoOutputGo(dst, h, w, th, tw, src, ld, bias)
}

func winoGrad(dst []float32, ld int, src []float32, h, w, th, tw int) {
	winoGradGo(dst, ld, src, h, w, th, tw)
}
