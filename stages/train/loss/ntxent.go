package loss

import (
	"errors"
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"github.com/contrastream/contrastream/stages/train/gemm"
)

// DefaultTemperature is the temperature NTXent uses when Temperature is zero.
// It is the value SimCLR uses for CIFAR-10 and the one the PyTorch peer
// (shared/bench/ntxent.py, train_step.py) uses.
const DefaultTemperature = 0.5

// normEps is the floor on a row's L2 norm, as torch.nn.functional.normalize.
const normEps = 1e-12

// ErrNoForward is returned by Backward when no Forward result is waiting for
// it: Backward was called before any Forward, or twice after one Forward.
var ErrNoForward = errors.New("loss: backward without a matching forward")

// Stats is what one NT-Xent forward pass measures.
type Stats struct {
	// Loss is the NT-Xent loss: the mean over all 2N anchors of
	// −log softmax of the positive among the 2N−1 other rows. It is NaN
	// when the embeddings hold a NaN or an infinity.
	Loss float64
	// PosSim is the mean cosine similarity of the 2N (anchor, positive)
	// pairs, computed in float64.
	PosSim float64
	// NegSim is the mean cosine similarity over the 2N·(2N−2) (anchor,
	// negative) pairs, computed in float64; 0 when N = 1.
	NegSim float64
	// Accuracy is the contrastive top-1 accuracy: the fraction of anchors
	// whose most similar other row is their positive (ties go to the lower
	// row index).
	Accuracy float64
}

// NTXent is the SimCLR contrastive loss with its backward.
//
// The embeddings z are a row-major [2N, D] matrix: rows 0..N−1 are the first
// view of images 0..N−1, rows N..2N−1 the second view of the same images, so
// the positive of row i is row (i+N) mod 2N. Each row is L2-normalized
// (ẑ = z / max(‖z‖, 1e-12), as torch.nn.functional.normalize), the logits
// are s_ik = ẑ_i·ẑ_k / τ, and
//
//	loss = 1/(2N) · Σ_i [ log Σ_{k≠i} exp(s_ik) − s_{i,p(i)} ].
//
// This is exactly shared/bench/ntxent.py (cross-entropy over the similarity
// matrix with the diagonal masked to −∞). The log-sum-exp subtracts each
// row's maximum and sums in float64, so τ = 0.05 with 4,096 pairs neither
// overflows nor loses precision.
//
// Cost: one [2N,2N]×D GEMM and 4N² exponentials forward (8 lanes at a time
// with AVX2 and FMA), one [2N,2N]×D GEMM and a pass over the [2N,2N] matrix
// backward. The GEMMs use gemm's threads; the other passes run on the
// calling goroutine. Memory: a [2N, 2N] float32 matrix plus [2N, D] normalized
// embeddings, kept between calls and grown only when a larger batch arrives
// (256 MiB for 4,096 pairs). After the first call of a given size Forward
// and Backward allocate nothing.
//
// The zero value is ready to use with τ = DefaultTemperature. An NTXent holds
// the state that links Forward to Backward, so it is not safe for
// concurrent use; use one per training goroutine.
type NTXent struct {
	// Temperature is τ, > 0; zero means DefaultTemperature.
	Temperature float32

	rows, dim int
	tau       float32
	pending   bool      // a Forward result awaits Backward
	zhat      []float32 // [rows, dim] normalized embeddings
	inv       []float32 // [rows] 1/max(‖z_i‖, eps)
	small     []bool    // [rows] ‖z_i‖ < eps: the norm clamp is active
	p         []float32 // [rows, rows] logits, then e^(s−max) per row, then the backward matrix
	rs        []float32 // [rows] 1/Σ_k e^(s_ik−max_i): the softmax row scale
}

// Forward computes the loss and its statistics for the row-major [rows, dim]
// embeddings z (rows = 2N, even and ≥ 2) and keeps what Backward needs. z is
// only read, and len(z) must be rows·dim. It allocates only when rows or
// dim grow beyond what an earlier call saw.
func (l *NTXent) Forward(z []float32, rows, dim int) (Stats, error) {
	if err := l.prepare(len(z), rows, dim); err != nil {
		return Stats{}, err
	}
	m, d := rows, dim
	zhat, inv := l.zhat[:m*d], l.inv[:m]

	// Normalize each row; norms in float64.
	for i := 0; i < m; i++ {
		row := z[i*d : (i+1)*d]
		var ss float64
		for _, v := range row {
			ss += float64(v) * float64(v)
		}
		nrm := math.Sqrt(ss)
		l.small[i] = !(nrm >= normEps) // NaN norms take the clamp path; the loss is NaN either way
		if l.small[i] {
			nrm = normEps
		}
		r := float32(1 / nrm)
		inv[i] = r
		out := zhat[i*d : (i+1)*d]
		for k, v := range row {
			out[k] = v * r
		}
	}

	// Positive and negative similarities, exactly, in float64: the sum of
	// all pairwise dot products is ‖Σ_i ẑ_i‖².
	var pos, self, tot float64
	half := m / 2
	for i := 0; i < m; i++ {
		a := zhat[i*d : (i+1)*d]
		b := zhat[((i+half)%m)*d : ((i+half)%m+1)*d]
		var dot, sq float64
		for k := range a {
			dot += float64(a[k]) * float64(b[k])
			sq += float64(a[k]) * float64(a[k])
		}
		pos += dot
		self += sq
	}
	for k := 0; k < d; k++ {
		var s float64
		for i := 0; i < m; i++ {
			s += float64(zhat[i*d+k])
		}
		tot += s * s
	}

	// Logits s = ẑẑᵀ/τ, then a stable softmax per row over k ≠ i.
	p, rs := l.p[:m*m], l.rs[:m]
	gemm.Sgemm(false, true, m, m, d, 1/l.tau, zhat, d, zhat, d, 0, p, m)
	var loss float64
	correct := 0
	for i := 0; i < m; i++ {
		row := p[i*m : (i+1)*m]
		j := (i + half) % m
		sPos := row[j]
		row[i] = float32(math.Inf(-1)) // self excluded: e^−∞ = 0
		best, arg := float32(math.Inf(-1)), -1
		for k, v := range row {
			if v > best {
				best, arg = v, k
			}
		}
		if arg == j {
			correct++
		}
		sum := expShiftSum(row, best)
		loss += float64(best) + math.Log(sum) - float64(sPos)
		rs[i] = float32(1 / sum) // softmax row i = row · rs[i], applied in Backward
	}
	l.pending = true

	st := Stats{
		Loss:     loss / float64(m),
		PosSim:   pos / float64(m),
		Accuracy: float64(correct) / float64(m),
	}
	if m > 2 {
		st.NegSim = (tot - self - pos) / float64(m*(m-2))
	}
	return st, nil
}

// Backward writes dLoss/dz for the embeddings of the last Forward into dz
// (len rows·dim, row-major; overwritten, never read), through the row
// normalization. It consumes the Forward state: a second Backward needs a
// new Forward (ErrNoForward otherwise). It allocates nothing.
func (l *NTXent) Backward(dz []float32) error {
	if !l.pending {
		return ErrNoForward
	}
	m, d := l.rows, l.dim
	if len(dz) != m*d {
		return fmt.Errorf("loss: ntxent backward: len(dz) = %d, want %d·%d", len(dz), m, d)
	}
	l.pending = false
	half := m / 2
	p, rs := l.p[:m*m], l.rs[:m]
	// G = (P − Y)/(2N) with P the softmax (P_ik = E_ik·rs_i, E the stored
	// exponentials) and Y the positive indicator; dL/dS = G, and since
	// S = ẑẑᵀ/τ, dL/dẑ = (G + Gᵀ)ẑ/τ. Build A = (G + Gᵀ)/(2Nτ) in place,
	// tile by tile so that both a tile and its mirror stay in L1.
	c := 1 / (float32(m) * l.tau)
	for i := range rs {
		rs[i] *= c
	}
	const blk = 32
	for i0 := 0; i0 < m; i0 += blk {
		i1 := min(i0+blk, m)
		for k0 := i0; k0 < m; k0 += blk {
			k1 := min(k0+blk, m)
			for i := i0; i < i1; i++ {
				ri := rs[i]
				row := p[i*m : i*m+m]
				ks := k0
				if k0 == i0 {
					ks = i
				}
				for k := ks; k < k1; k++ {
					v := row[k]*ri + p[k*m+i]*rs[k]
					row[k] = v
					p[k*m+i] = v
				}
			}
		}
	}
	for i := 0; i < half; i++ { // −Y − Yᵀ: each positive pair appears in both
		v := p[i*m+i+half] - 2*c
		p[i*m+i+half] = v
		p[(i+half)*m+i] = v
	}
	zhat := l.zhat[:m*d]
	gemm.Sgemm(false, false, m, d, m, 1, p, m, zhat, d, 0, dz, d)
	// Through ẑ = z/max(‖z‖, eps): dz = (dẑ − ẑ(ẑ·dẑ))/‖z‖, or dẑ/eps
	// where the clamp is active.
	for i := 0; i < m; i++ {
		g := dz[i*d : (i+1)*d]
		r := l.inv[i]
		if l.small[i] {
			for k := range g {
				g[k] *= r
			}
			continue
		}
		zh := zhat[i*d : (i+1)*d]
		var dot float64
		for k := range g {
			dot += float64(g[k]) * float64(zh[k])
		}
		dt := float32(dot)
		for k := range g {
			g[k] = (g[k] - zh[k]*dt) * r
		}
	}
	return nil
}

// ForwardTensor is Forward for a float32 [2N, D] *tensor.Dense that is
// contiguous and row-major (not a transposed or strided view). It
// allocates no more than Forward.
func (l *NTXent) ForwardTensor(z *tensor.Dense) (Stats, error) {
	s, rows, dim, err := denseSlice(z)
	if err != nil {
		return Stats{}, err
	}
	return l.Forward(s, rows, dim)
}

// BackwardTensor is Backward writing into a float32 *tensor.Dense of the
// shape of the last Forward's input, contiguous and row-major.
func (l *NTXent) BackwardTensor(dz *tensor.Dense) error {
	s, rows, dim, err := denseSlice(dz)
	if err != nil {
		return err
	}
	if l.pending && (rows != l.rows || dim != l.dim) {
		return fmt.Errorf("loss: ntxent backward: dz shape (%d, %d), want (%d, %d)", rows, dim, l.rows, l.dim)
	}
	return l.Backward(s)
}

// denseSlice returns the backing []float32 of t (Float32s, no allocation)
// and its two dimensions.
func denseSlice(t *tensor.Dense) ([]float32, int, int, error) {
	if t == nil {
		return nil, 0, 0, errors.New("loss: nil tensor")
	}
	if t.Dtype() != tensor.Float32 {
		return nil, 0, 0, fmt.Errorf("loss: tensor dtype %v, want float32", t.Dtype())
	}
	sh := t.Shape()
	if len(sh) != 2 {
		return nil, 0, 0, fmt.Errorf("loss: tensor shape %v, want [2N, D]", sh)
	}
	if t.RequiresIterator() || t.IsMaterializable() || t.DataOrder().IsColMajor() {
		return nil, 0, 0, errors.New("loss: tensor is not contiguous row-major; materialize it first")
	}
	rows, dim := sh[0], sh[1]
	s := t.Float32s()
	if len(s) < rows*dim {
		return nil, 0, 0, fmt.Errorf("loss: tensor backing holds %d values, want %d", len(s), rows*dim)
	}
	return s[:rows*dim], rows, dim, nil
}

// prepare validates the shape and grows the buffers.
func (l *NTXent) prepare(n, rows, dim int) error {
	tau := l.Temperature
	if tau == 0 {
		tau = DefaultTemperature
	}
	if !(tau > 0) || math.IsInf(float64(tau), 1) {
		return fmt.Errorf("loss: ntxent temperature %v, want a finite value > 0", l.Temperature)
	}
	if rows < 2 || rows%2 != 0 {
		return fmt.Errorf("loss: ntxent needs an even number of rows ≥ 2 (2N views), got %d", rows)
	}
	if dim < 1 {
		return fmt.Errorf("loss: ntxent embedding dimension %d, want ≥ 1", dim)
	}
	if n != rows*dim {
		return fmt.Errorf("loss: ntxent len(z) = %d, want %d·%d", n, rows, dim)
	}
	l.tau, l.rows, l.dim, l.pending = tau, rows, dim, false
	l.zhat = grow(l.zhat, rows*dim)
	l.inv = grow(l.inv, rows)
	l.rs = grow(l.rs, rows)
	l.p = grow(l.p, rows*rows)
	if cap(l.small) < rows {
		l.small = make([]bool, rows)
	}
	l.small = l.small[:rows]
	return nil
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// expShiftSum replaces each x of row by e^(x−shift) (shift ≥ every x) and
// returns their sum, accumulated in float64. On amd64 with AVX2 and FMA it
// runs 8 lanes at a time (exp_amd64.s, same Cephes polynomial as expNeg);
// otherwise, and for the tail, expNeg in four interleaved partial sums.
func expShiftSum(row []float32, shift float32) float64 {
	var s0, s1, s2, s3 float64
	k := 0
	if useAVX2 && len(row) >= 8 {
		k = len(row) &^ 7
		s0 = expShiftSumAVX2(row[:k], shift)
	}
	for ; k+4 <= len(row); k += 4 {
		r := row[k : k+4 : k+4]
		e0, e1, e2, e3 := expNeg(r[0]-shift), expNeg(r[1]-shift), expNeg(r[2]-shift), expNeg(r[3]-shift)
		r[0], r[1], r[2], r[3] = e0, e1, e2, e3
		s0 += float64(e0)
		s1 += float64(e1)
		s2 += float64(e2)
		s3 += float64(e3)
	}
	for ; k < len(row); k++ {
		e := expNeg(row[k] - shift)
		row[k] = e
		s0 += float64(e)
	}
	return (s0 + s1) + (s2 + s3)
}
