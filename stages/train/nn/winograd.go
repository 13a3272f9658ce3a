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
// The batch is processed in chunks of a few images, each chunk entirely on
// one of the pool's goroutines (transform, 16 products with
// gemm.SgemmSerial, inverse transform), so that its operands stay in that
// core's L2 cache: an operand ([16][channels][tiles]) is about
// winoChunkFloats floats. The transforms read the NCHW tensors through
// small per-goroutine scratch planes (no im2col-sized buffer). The chunks
// are dealt to the goroutines in fixed contiguous ranges; the weight
// gradient is summed per goroutine and the sums added in goroutine order,
// so results are bit-identical from run to run for a fixed thread count
// (outputs and input gradients for any thread count).

// winoMinC is the fewest input channels for which a 3×3 stride-1 pad-1
// convolution uses Winograd (the first layer, with 1 or 3 channels, stays on
// im2col: its product is tiny and the transforms would dominate).
const winoMinC = 16

// winoChunkFloats is the target size of one transformed operand
// ([16][channels][tiles] floats) per chunk of images: 256 KiB, so a chunk's
// two operands stay in a 1 MiB L2 beside the packing buffers.
const winoChunkFloats = 1 << 16

// winoMinTiles is the fewest tiles per chunk: the products' inner dimension
// for the weight gradient, and the column count of the others.
const winoMinTiles = 64

// winograd is the state of a Conv2D that runs the Winograd algorithm.
type winograd struct {
	th, tw int // tile rows and columns per image
	tiles  int // th·tw
	chunk  int // images per chunk
	chunks int // chunks per batch
	pw     int // row stride of a zero-padded input plane (2·tw+2)
	psz    int // floats of a padded input plane ((2·th+2)·pw)
	osz    int // floats of a tile-aligned output plane (2·th · 2·tw)
	// iidx[t] and oidx[t] locate tile t of a chunk (image b, tile row ty,
	// column tx) in the per-channel scratch planes: the top-left corner of
	// its 4×4 input patch, b·psz + 2ty·pw + 2tx, and of its 2×2 output
	// block, b·osz + 2ty·2tw + 2tx.
	iidx, oidx []int32
	// Transformed weights, stored transposed ([16][InC][OutC] and
	// [16][OutC][InC]) so that gemm packs them by plain copies (op(A) is
	// their transpose): U_ξ [OutC × InC] and the rotated Ũ_ξ [InC × OutC].
	u, ur []float32
	slots []winoSlot
	used  int // slots that took chunks in the last Backward
}

// winoSlot is one pool goroutine's working set.
type winoSlot struct {
	v, m []float32 // [16] matrices of up to max(InC, OutC) × chunk tiles, winoStride apart
	mw   []float32 // [16][OutC][InC] weight-gradient sums of this slot's chunks
	// Scratch for one channel of a chunk: its padded input planes, its
	// tile-aligned output planes, and its tile-aligned dY planes (whose
	// zero borders must survive, so not shared with out).
	pad, out, gpad []float32
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
	g.chunk = max(1, winoChunkFloats/(16*maxC*g.tiles), winoMinTiles/g.tiles)
	if c.cols > 0 {
		g.chunk = max(1, c.cols/g.tiles)
	}
	g.chunk = min(g.chunk, c.n)
	g.chunks = (c.n + g.chunk - 1) / g.chunk
	oc := c.OutC * c.InC
	if len(g.u) != 16*oc {
		g.u = make([]float32, 16*oc)
		g.ur = make([]float32, 16*oc)
	}
	g.pw = 2*g.tw + 2
	g.psz = (2*g.th + 2) * g.pw
	g.osz = 4 * g.tiles
	T := g.chunk * g.tiles
	g.iidx, g.oidx = make([]int32, T), make([]int32, T)
	for t := range T {
		b, r := t/g.tiles, t%g.tiles
		ty, tx := r/g.tw, r%g.tw
		g.iidx[t] = int32(b*g.psz + 2*ty*g.pw + 2*tx)
		g.oidx[t] = int32(b*g.osz + 2*ty*2*g.tw + 2*tx)
	}
	g.slots = make([]winoSlot, c.pool.Threads())
	for i := range g.slots {
		sl := &g.slots[i]
		sl.v = make([]float32, 16*winoStride(maxC*T))
		sl.m = make([]float32, 16*winoStride(maxC*T))
		sl.mw = make([]float32, 16*oc)
		sl.pad = make([]float32, g.chunk*g.psz) // borders stay zero
		sl.out = make([]float32, g.chunk*g.osz)
		sl.gpad = make([]float32, g.chunk*g.osz) // borders stay zero
	}
}

// winoStride is the distance between the 16 matrices of a transformed
// operand of n floats: n rounded up to 4 KiB plus 64 bytes, so that the 16
// streams a transform reads or writes fall in different L1 sets (a stride
// that is a multiple of 4 KiB makes them all collide in one set).
func winoStride(n int) int { return roundUp(n, 1024) + 16 }

func roundUp(x, m int) int { return (x + m - 1) / m * m }

const (
	convWinoU = iota + convCol2im + 1
	convWinoUR
	convWinoFwd
	convWinoBwd
	convWinoDW
)

// winoForward computes y from c.xd (setup done).
func (c *Conv2D) winoForward() {
	c.pool.For(c.OutC, c, convWinoU)
	c.pool.For(c.wg.chunks, c, convWinoFwd)
}

// winoBackward adds dW (and db) and, unless NoInputGrad, writes dx.
func (c *Conv2D) winoBackward() {
	g := c.wg
	O := c.OutC
	if !c.NoInputGrad {
		c.pool.For(c.InC, c, convWinoUR)
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
	g.used = c.pool.parts(g.chunks)
	c.pool.For(g.chunks, c, convWinoBwd)
	c.pool.For(O, c, convWinoDW)
}

// runWino is run for the Winograd phases.
func (c *Conv2D) runWino(phase, lo, hi int) {
	g := c.wg
	O, C := c.OutC, c.InC
	var u [16]float32
	switch phase {
	case convWinoU:
		wd := c.Weight.Data()
		for o := lo; o < hi; o++ {
			for ci := 0; ci < C; ci++ {
				winoWeight(&u, wd[(o*C+ci)*9:(o*C+ci+1)*9], false)
				for xi, v := range u {
					g.u[xi*O*C+ci*O+o] = v
				}
			}
		}
	case convWinoUR:
		wd := c.Weight.Data()
		for ci := lo; ci < hi; ci++ {
			for o := 0; o < O; o++ {
				winoWeight(&u, wd[(o*C+ci)*9:(o*C+ci+1)*9], true)
				for xi, v := range u {
					g.ur[xi*C*O+o*C+ci] = v
				}
			}
		}
	case convWinoFwd:
		sl := &g.slots[c.pool.slot(g.chunks, lo)]
		for k := lo; k < hi; k++ {
			c.winoForwardChunk(sl, k)
		}
	case convWinoBwd:
		sl := &g.slots[c.pool.slot(g.chunks, lo)]
		for k := lo; k < hi; k++ {
			c.winoBackwardChunk(sl, k, k == lo)
		}
	case convWinoDW:
		dw := c.Weight.GradData()
		for o := lo; o < hi; o++ {
			for ci := 0; ci < C; ci++ {
				for xi := range u {
					e := xi*O*C + o*C + ci
					v := g.slots[0].mw[e]
					for s := 1; s < g.used; s++ {
						v += g.slots[s].mw[e]
					}
					u[xi] = v
				}
				winoWeightGrad(dw[(o*C+ci)*9:(o*C+ci+1)*9], &u)
			}
		}
	}
}

// winoForwardChunk computes the outputs of chunk k in slot sl.
func (c *Conv2D) winoForwardChunk(sl *winoSlot, k int) {
	g := c.wg
	O, C := c.OutC, c.InC
	cur := k * g.chunk
	nb := min(g.chunk, c.n-cur)
	T := nb * g.tiles
	for ci := 0; ci < C; ci++ {
		c.winoIn(sl.v, C, ci, c.xd, sl.pad, cur, nb)
	}
	for xi := 0; xi < 16; xi++ {
		gemm.SgemmSerial(true, false, O, T, C, 1, g.u[xi*O*C:], O, sl.v[xi*winoStride(C*T):], T, 0, sl.m[xi*winoStride(O*T):], T)
	}
	for o := 0; o < O; o++ {
		var bias float32
		if c.Bias != nil {
			bias = c.Bias.Data()[o]
		}
		c.winoOut(c.y.d, O, o, sl.m, bias, sl.out, cur, nb)
	}
}

// winoBackwardChunk computes the input gradient of chunk k (unless
// NoInputGrad) and adds its weight-gradient sums to sl.mw (overwriting them
// when first).
func (c *Conv2D) winoBackwardChunk(sl *winoSlot, k int, first bool) {
	g := c.wg
	O, C := c.OutC, c.InC
	cur := k * g.chunk
	nb := min(g.chunk, c.n-cur)
	T := nb * g.tiles
	if !c.NoInputGrad {
		for o := 0; o < O; o++ {
			c.winoIn(sl.v, O, o, c.dyd, sl.pad, cur, nb)
		}
		for xi := 0; xi < 16; xi++ {
			gemm.SgemmSerial(true, false, C, T, O, 1, g.ur[xi*C*O:], C, sl.v[xi*winoStride(O*T):], T, 0, sl.m[xi*winoStride(C*T):], T)
		}
		for ci := 0; ci < C; ci++ {
			c.winoOut(c.dx.d, C, ci, sl.m, 0, sl.out, cur, nb)
		}
	}
	for o := 0; o < O; o++ {
		c.winoDY(sl.v, o, sl.gpad, cur, nb)
	}
	for ci := 0; ci < C; ci++ {
		c.winoIn(sl.m, C, ci, c.xd, sl.pad, cur, nb)
	}
	var beta float32 = 1
	if first {
		beta = 0
	}
	for xi := 0; xi < 16; xi++ {
		gemm.SgemmSerial(false, true, O, C, T, 1, sl.v[xi*winoStride(O*T):], T, sl.m[xi*winoStride(C*T):], T, beta, sl.mw[xi*O*C:], C)
	}
}

// winoIn transforms the 4×4 patches of channel ch (of chans) of images
// [cur, cur+nb) of src into row ch of the 16 matrices of dst, through the
// padded scratch planes pad.
func (c *Conv2D) winoIn(dst []float32, chans, ch int, src, pad []float32, cur, nb int) {
	g := c.wg
	plane := c.h * c.w
	T := nb * g.tiles
	if winoInputDirect(dst[ch*T:], winoStride(chans*T), src[(cur*chans+ch)*plane:], c.w, c.h, g.th, g.tw, nb, chans*plane) {
		return
	}
	for b := 0; b < nb; b++ {
		q := (cur+b)*chans + ch
		copyRows(pad[b*g.psz+g.pw+1:], g.pw, src[q*plane:(q+1)*plane], c.w, c.w, c.h)
	}
	winoInput(dst[ch*T:], winoStride(chans*T), pad, g.pw, g.iidx[:T])
}

// winoOut inverse-transforms row ch of the 16 matrices of src into channel
// ch (of chans) of images [cur, cur+nb) of dst, through the tile-aligned
// scratch planes out.
func (c *Conv2D) winoOut(dst []float32, chans, ch int, src []float32, bias float32, out []float32, cur, nb int) {
	g := c.wg
	T := nb * g.tiles
	winoOutput(out, 2*g.tw, src[ch*T:], winoStride(chans*T), g.oidx[:T], bias)
	plane := c.h * c.w
	w2 := 2 * g.tw
	for b := 0; b < nb; b++ {
		q := (cur+b)*chans + ch
		copyRows(dst[q*plane:(q+1)*plane], c.w, out[b*g.osz:], w2, c.w, c.h)
	}
}

// winoDY transforms the 2×2 tiles of dY's channel o of images [cur,
// cur+nb) into row o of the 16 matrices of dst, through the tile-aligned
// scratch planes gpad (zero past the plane's odd side).
func (c *Conv2D) winoDY(dst []float32, o int, gpad []float32, cur, nb int) {
	g := c.wg
	plane := c.h * c.w
	w2 := 2 * g.tw
	T := nb * g.tiles
	for b := 0; b < nb; b++ {
		q := (cur+b)*c.OutC + o
		copyRows(gpad[b*g.osz:], w2, c.dyd[q*plane:(q+1)*plane], c.w, c.w, c.h)
	}
	winoGrad(dst[o*T:], winoStride(c.OutC*T), gpad, w2, g.oidx[:T])
}

// copyRows copies h rows of w floats from src (rows srcStride apart) to dst
// (rows dstStride apart); one copy when both are dense.
func copyRows(dst []float32, dstStride int, src []float32, srcStride, w, h int) {
	if dstStride == w && srcStride == w {
		copy(dst[:w*h], src[:w*h])
		return
	}
	for r := 0; r < h; r++ {
		copy(dst[r*dstStride:r*dstStride+w], src[r*srcStride:r*srcStride+w])
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

// winoInputGo writes Bᵀ d B of the 4×4 patch of every tile t: the patch's
// rows start at pad[idx[t]], pad[idx[t]+pw], … (a zero-padded plane of
// row stride pw). Element ξ of tile t goes to dst[ξ·ld + t].
func winoInputGo(dst []float32, ld int, pad []float32, pw int, idx []int32) {
	if len(idx) == 0 {
		return
	}
	_ = dst[15*ld+len(idx)-1]
	for t, i := range idx {
		s := pad[int(i) : int(i)+3*pw+4]
		r0, r1, r2, r3 := s[0:4], s[pw:pw+4], s[2*pw:2*pw+4], s[3*pw:3*pw+4]
		// Bᵀ d: combinations of the rows.
		t00, t01, t02, t03 := r0[0]-r2[0], r0[1]-r2[1], r0[2]-r2[2], r0[3]-r2[3]
		t10, t11, t12, t13 := r1[0]+r2[0], r1[1]+r2[1], r1[2]+r2[2], r1[3]+r2[3]
		t20, t21, t22, t23 := r2[0]-r1[0], r2[1]-r1[1], r2[2]-r1[2], r2[3]-r1[3]
		t30, t31, t32, t33 := r1[0]-r3[0], r1[1]-r3[1], r1[2]-r3[2], r1[3]-r3[3]
		// · B: the same combinations of the columns.
		dst[t] = t00 - t02
		dst[ld+t] = t01 + t02
		dst[2*ld+t] = t02 - t01
		dst[3*ld+t] = t01 - t03
		dst[4*ld+t] = t10 - t12
		dst[5*ld+t] = t11 + t12
		dst[6*ld+t] = t12 - t11
		dst[7*ld+t] = t11 - t13
		dst[8*ld+t] = t20 - t22
		dst[9*ld+t] = t21 + t22
		dst[10*ld+t] = t22 - t21
		dst[11*ld+t] = t21 - t23
		dst[12*ld+t] = t30 - t32
		dst[13*ld+t] = t31 + t32
		dst[14*ld+t] = t32 - t31
		dst[15*ld+t] = t31 - t33
	}
}

// winoOutputGo writes Aᵀ M A + bias of every tile t into the 2×2 block at
// out[idx[t]], out[idx[t]+1], out[idx[t]+w2], out[idx[t]+w2+1]; element ξ
// of tile t of M is src[ξ·ld + t].
func winoOutputGo(out []float32, w2 int, src []float32, ld int, idx []int32, bias float32) {
	if len(idx) == 0 {
		return
	}
	_ = src[15*ld+len(idx)-1]
	for t, i := range idx {
		// Aᵀ M: 2×4.
		m0, m1, m2, m3 := src[t], src[ld+t], src[2*ld+t], src[3*ld+t]
		m4, m5, m6, m7 := src[4*ld+t], src[5*ld+t], src[6*ld+t], src[7*ld+t]
		m8, m9, m10, m11 := src[8*ld+t], src[9*ld+t], src[10*ld+t], src[11*ld+t]
		m12, m13, m14, m15 := src[12*ld+t], src[13*ld+t], src[14*ld+t], src[15*ld+t]
		s00, s01, s02, s03 := m0+m4+m8, m1+m5+m9, m2+m6+m10, m3+m7+m11
		s10, s11, s12, s13 := m4-m8-m12, m5-m9-m13, m6-m10-m14, m7-m11-m15
		o := out[int(i) : int(i)+w2+2]
		o[0] = s00 + s01 + s02 + bias
		o[1] = s01 - s02 - s03 + bias
		o[w2] = s10 + s11 + s12 + bias
		o[w2+1] = s11 - s12 - s13 + bias
	}
}

// winoGradGo writes Ĝ g Ĝᵀ of the 2×2 block g at pad[idx[t]],
// pad[idx[t]+1], pad[idx[t]+w2], pad[idx[t]+w2+1] for every tile t:
// element ξ goes to dst[ξ·ld + t].
func winoGradGo(dst []float32, ld int, pad []float32, w2 int, idx []int32) {
	if len(idx) == 0 {
		return
	}
	_ = dst[15*ld+len(idx)-1]
	for t, i := range idx {
		s := pad[int(i) : int(i)+w2+2]
		g00, g01, g10, g11 := s[0], s[1], s[w2], s[w2+1]
		// Ĝ g: rows (g0, g0+g1, g0−g1, g1), then the same on columns.
		q10, q11 := g00+g10, g01+g11
		q20, q21 := g00-g10, g01-g11
		dst[t] = g00
		dst[ld+t] = g00 + g01
		dst[2*ld+t] = g00 - g01
		dst[3*ld+t] = g01
		dst[4*ld+t] = q10
		dst[5*ld+t] = q10 + q11
		dst[6*ld+t] = q10 - q11
		dst[7*ld+t] = q11
		dst[8*ld+t] = q20
		dst[9*ld+t] = q20 + q21
		dst[10*ld+t] = q20 - q21
		dst[11*ld+t] = q21
		dst[12*ld+t] = g10
		dst[13*ld+t] = g10 + g11
		dst[14*ld+t] = g10 - g11
		dst[15*ld+t] = g11
	}
}
