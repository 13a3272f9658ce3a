package eval

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/contrastream/contrastream/stages/train/gemm"
)

// LinearProbe trains a multinomial logistic regression (softmax
// classifier, a linear layer) on frozen features and reports its top-1
// accuracy: the linear evaluation protocol of SimCLR. Features are
// standardized with the training set's per-dimension mean and standard
// deviation; training is mini-batch Adam on the mean cross-entropy plus
// WeightDecay/2·‖W‖² (not on the bias), with the learning rate decayed by a
// half cosine to zero over the run. Mini-batches follow a seeded
// permutation, so a given input gives the same model every time. The zero
// value works. A LinearProbe is a plain value, safe for concurrent use.
type LinearProbe struct {
	Epochs      int     // passes over the training set (default 10, raised to make at least MinSteps steps)
	MinSteps    int     // fewest optimizer steps (default 1000; small sets get more epochs)
	BatchSize   int     // rows per step (default 256)
	LR          float64 // Adam's peak learning rate (default 0.03)
	WeightDecay float64 // L2 penalty on the weights (default 1e-4)
	Classes     int     // number of classes (default: largest training label + 1)
	Seed        uint64  // seeds the mini-batch order
}

// Linear is a trained probe: standardization followed by a linear layer.
type Linear struct {
	Dim, Classes int
	Mean, Std    []float32 // per input dimension
	W            []float32 // [Dim, Classes], row-major
	B            []float32 // [Classes]
}

// Fit trains the probe on train ([n, dim] row-major) and its labels. It
// allocates the standardized copy of train (n·dim floats) and the
// parameters; the steps allocate nothing.
func (lp LinearProbe) Fit(train []float32, labels []int, dim int) (*Linear, error) {
	n, err := checkSet("training set", train, labels, dim)
	if err != nil {
		return nil, err
	}
	classes, err := checkClasses(n, labels, lp.Classes)
	if err != nil {
		return nil, err
	}
	epochs, bs, lr, wd := lp.Epochs, lp.BatchSize, lp.LR, lp.WeightDecay
	if epochs <= 0 {
		epochs = 10
	}
	if bs <= 0 {
		bs = 256
	}
	bs = min(bs, n)
	if lr <= 0 {
		lr = 0.03
	}
	perEpoch := (n + bs - 1) / bs
	minSteps := lp.MinSteps
	if minSteps == 0 {
		minSteps = 1000
	}
	epochs = max(epochs, (minSteps+perEpoch-1)/perEpoch)
	if wd < 0 {
		wd = 0
	} else if wd == 0 {
		wd = 1e-4
	}
	m := &Linear{Dim: dim, Classes: classes, Mean: make([]float32, dim), Std: make([]float32, dim),
		W: make([]float32, dim*classes), B: make([]float32, classes)}
	// Standardize (two-pass mean and variance in float64).
	mean, vr := make([]float64, dim), make([]float64, dim)
	for r := 0; r < n; r++ {
		for j, v := range train[r*dim : r*dim+dim] {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	for r := 0; r < n; r++ {
		for j, v := range train[r*dim : r*dim+dim] {
			d := float64(v) - mean[j]
			vr[j] += d * d
		}
	}
	for j := range vr {
		s := math.Sqrt(vr[j] / float64(n))
		if s < 1e-8 {
			s = 1
		}
		m.Mean[j], m.Std[j] = float32(mean[j]), float32(s)
	}
	x := make([]float32, len(train))
	m.standardize(x, train)

	// Adam state and step buffers.
	mw, vw := make([]float32, len(m.W)), make([]float32, len(m.W))
	mb, vb := make([]float32, classes), make([]float32, classes)
	gw, gb := make([]float32, len(m.W)), make([]float32, classes)
	xb := make([]float32, bs*dim)
	logits := make([]float32, bs*classes)
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	rng := rand.New(rand.NewPCG(lp.Seed, 0x6c696e656172)) // "linear"
	const beta1, beta2 = 0.9, 0.999
	steps := epochs * perEpoch
	t := 0
	for e := 0; e < epochs; e++ {
		rng.Shuffle(n, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		for lo := 0; lo < n; lo += bs {
			b := min(bs, n-lo)
			for i := 0; i < b; i++ {
				r := perm[lo+i]
				copy(xb[i*dim:i*dim+dim], x[r*dim:r*dim+dim])
			}
			// logits = xb·W + B, then the softmax gradient (P − Y)/b in place.
			gemm.Sgemm(false, false, b, classes, dim, 1, xb, dim, m.W, classes, 0, logits, classes)
			clear(gb)
			for i := 0; i < b; i++ {
				row := logits[i*classes : i*classes+classes]
				softmaxInPlace(row, m.B)
				row[labels[perm[lo+i]]] -= 1
				for c := range row {
					row[c] /= float32(b)
					gb[c] += row[c]
				}
			}
			// gw = xbᵀ·G + wd·W
			copy(gw, m.W)
			gemm.Sgemm(true, false, dim, classes, b, 1, xb, dim, logits, classes, float32(wd), gw, classes)
			t++
			alpha := lr * 0.5 * (1 + math.Cos(math.Pi*float64(t-1)/float64(steps)))
			c1, c2 := 1-math.Pow(beta1, float64(t)), 1-math.Pow(beta2, float64(t))
			adam(m.W, gw, mw, vw, alpha, c1, c2)
			adam(m.B, gb, mb, vb, alpha, c1, c2)
		}
	}
	return m, nil
}

// softmaxInPlace turns logits (plus bias) into probabilities.
func softmaxInPlace(row, bias []float32) {
	mx := math.Inf(-1)
	for c := range row {
		row[c] += bias[c]
		mx = math.Max(mx, float64(row[c]))
	}
	var sum float64
	for c := range row {
		e := math.Exp(float64(row[c]) - mx)
		row[c] = float32(e)
		sum += e
	}
	inv := float32(1 / sum)
	for c := range row {
		row[c] *= inv
	}
}

// adam applies one bias-corrected Adam update.
func adam(p, g, m, v []float32, lr, c1, c2 float64) {
	const beta1, beta2, eps = 0.9, 0.999, 1e-8
	for i := range p {
		gi := float64(g[i])
		mi := beta1*float64(m[i]) + (1-beta1)*gi
		vi := beta2*float64(v[i]) + (1-beta2)*gi*gi
		m[i], v[i] = float32(mi), float32(vi)
		p[i] -= float32(lr * (mi / c1) / (math.Sqrt(vi/c2) + eps))
	}
}

// standardize writes (src − Mean)/Std into dst, row by row.
func (m *Linear) standardize(dst, src []float32) {
	d := m.Dim
	for r := 0; r+d <= len(src); r += d {
		for j := 0; j < d; j++ {
			dst[r+j] = (src[r+j] - m.Mean[j]) / m.Std[j]
		}
	}
}

// Predict returns the most probable class of every row of feats ([n, Dim]
// row-major; ties go to the lower class). It allocates the standardized
// copy and the logits.
func (m *Linear) Predict(feats []float32) ([]int, error) {
	n, err := checkSet("test set", feats, nil, m.Dim)
	if err != nil {
		return nil, err
	}
	x := make([]float32, len(feats))
	m.standardize(x, feats)
	logits := make([]float32, n*m.Classes)
	if n > 0 {
		gemm.Sgemm(false, false, n, m.Classes, m.Dim, 1, x, m.Dim, m.W, m.Classes, 0, logits, m.Classes)
	}
	pred := make([]int, n)
	for i := range pred {
		row := logits[i*m.Classes : i*m.Classes+m.Classes]
		best := 0
		for c := 1; c < m.Classes; c++ {
			if row[c]+m.B[c] > row[best]+m.B[best] {
				best = c
			}
		}
		pred[i] = best
	}
	return pred, nil
}

// Evaluate fits the probe on the training set and scores it on the test
// set (see Fit and Predict).
func (lp LinearProbe) Evaluate(train []float32, trainLabels []int, test []float32, testLabels []int, dim int) (Result, error) {
	start := time.Now()
	if _, err := checkSet("test set", test, testLabels, dim); err != nil {
		return Result{}, err
	}
	m, err := lp.Fit(train, trainLabels, dim)
	if err != nil {
		return Result{}, err
	}
	pred, err := m.Predict(test)
	if err != nil {
		return Result{}, err
	}
	return score(pred, testLabels, start), nil
}
