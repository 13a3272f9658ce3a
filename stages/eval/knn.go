package eval

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"

	"github.com/contrastream/contrastream/stages/train/gemm"
)

// ErrInput is wrapped by the errors of KNN and LinearProbe for inputs that
// do not fit together (sizes, labels).
var ErrInput = errors.New("eval: bad input")

// Result is the outcome of an evaluation on a labeled test set.
type Result struct {
	Top1    float64       `json:"top1"`    // fraction of test rows predicted right
	Correct int           `json:"correct"` // test rows predicted right
	N       int           `json:"n"`       // test rows
	Elapsed time.Duration `json:"elapsed_ns"`
}

// KNN is the weighted k-nearest-neighbour classifier of lightly's benchmarks
// (knn_predict, after Wu et al. 2018): features are L2-normalized, the
// similarity is the cosine (a dot product), each test row's K most similar
// training rows vote for their class with weight exp(sim/Temperature), and
// the class with the largest summed weight is the prediction.
//
// The similarity matrix is computed block by block (Block test rows ×
// Chunk training rows at a time, with gemm.Sgemm), so memory stays at
// Block·Chunk floats plus the normalized copies of the features, whatever
// the set sizes. Ties are broken deterministically: between equal
// similarities the lower training index is nearer; between equal class
// scores the lower class wins. Results do not depend on Threads or on the
// GEMM's thread count. The zero value is lightly's setting (K = 200,
// τ = 0.1). A KNN is a plain value, safe for concurrent use.
type KNN struct {
	K           int     // neighbours (default 200; at most the training rows)
	Temperature float64 // τ of the vote weights (default 0.1)
	Classes     int     // number of classes (default: largest training label + 1)
	Block       int     // test rows per similarity block (default 512)
	Chunk       int     // training rows per similarity block (default 4096)
	Threads     int     // goroutines for the neighbour search (default GOMAXPROCS)
}

// Validate refuses settings that are negative (zero means the default).
func (k KNN) Validate() error {
	if k.K < 0 || k.Temperature < 0 || k.Classes < 0 || k.Block < 0 || k.Chunk < 0 || k.Threads < 0 {
		return fmt.Errorf("%w: kNN K %d, temperature %v, classes %d, block %d, chunk %d, threads %d: none may be negative (0 means the default)",
			ErrInput, k.K, k.Temperature, k.Classes, k.Block, k.Chunk, k.Threads)
	}
	return nil
}

// Neighbours returns the K that Predict uses with nTrain training rows: K
// (200 when zero), at most nTrain.
func (k KNN) Neighbours(nTrain int) int { return min(k.withDefaults().K, nTrain) }

func (k KNN) withDefaults() KNN {
	if k.K <= 0 {
		k.K = 200
	}
	if k.Temperature <= 0 {
		k.Temperature = 0.1
	}
	if k.Block <= 0 {
		k.Block = 512
	}
	if k.Chunk <= 0 {
		k.Chunk = 4096
	}
	if k.Threads <= 0 {
		k.Threads = runtime.GOMAXPROCS(0)
	}
	return k
}

// checkSet validates a feature matrix against its labels (labels may be nil
// when n is given by len(feats)/dim) and returns the row count.
func checkSet(what string, feats []float32, labels []int, dim int) (int, error) {
	if dim <= 0 {
		return 0, fmt.Errorf("%w: feature dimension %d", ErrInput, dim)
	}
	if len(feats)%dim != 0 {
		return 0, fmt.Errorf("%w: %s features have %d values, not a multiple of dimension %d", ErrInput, what, len(feats), dim)
	}
	n := len(feats) / dim
	if labels != nil && len(labels) != n {
		return 0, fmt.Errorf("%w: %s has %d feature rows and %d labels", ErrInput, what, n, len(labels))
	}
	for i, l := range labels {
		if l < 0 {
			return 0, fmt.Errorf("%w: %s label %d of row %d is negative", ErrInput, what, l, i)
		}
	}
	return n, nil
}

// checkClasses returns the number of classes of a training set of n rows
// with these (non-negative) labels: classes when it is positive, which every
// label must be below, else the largest label + 1. An empty set is an error.
func checkClasses(n int, labels []int, classes int) (int, error) {
	if n == 0 {
		return 0, fmt.Errorf("%w: empty training set", ErrInput)
	}
	maxLabel := 0
	for _, l := range labels {
		maxLabel = max(maxLabel, l)
	}
	if classes <= 0 {
		return maxLabel + 1, nil
	}
	if maxLabel >= classes {
		return 0, fmt.Errorf("%w: training label %d with %d classes", ErrInput, maxLabel, classes)
	}
	return classes, nil
}

// Normalize returns a copy of the rows of feats ([n, dim], row-major)
// scaled to unit L2 norm, as torch.nn.functional.normalize does (a row's
// norm is clamped below at 1e-12, so a zero row stays zero). It allocates
// the copy.
func Normalize(feats []float32, dim int) []float32 {
	out := make([]float32, len(feats))
	for r := 0; r+dim <= len(feats); r += dim {
		var ss float64
		for _, v := range feats[r : r+dim] {
			ss += float64(v) * float64(v)
		}
		inv := float32(1 / math.Max(math.Sqrt(ss), 1e-12))
		for j, v := range feats[r : r+dim] {
			out[r+j] = v * inv
		}
	}
	return out
}

// Predict returns the predicted class of every test row. train and test are
// row-major [n, dim] feature matrices; trainLabels has one non-negative label
// per training row. It allocates the normalized copies of both sets, one
// Block×Chunk similarity block and the per-row neighbour lists (Block·K).
func (k KNN) Predict(train []float32, trainLabels []int, test []float32, dim int) ([]int, error) {
	if err := k.Validate(); err != nil {
		return nil, err
	}
	k = k.withDefaults()
	nTrain, err := checkSet("training set", train, trainLabels, dim)
	if err != nil {
		return nil, err
	}
	nTest, err := checkSet("test set", test, nil, dim)
	if err != nil {
		return nil, err
	}
	classes, err := checkClasses(nTrain, trainLabels, k.Classes)
	if err != nil {
		return nil, err
	}
	K := min(k.K, nTrain)
	bank := Normalize(train, dim)
	query := Normalize(test, dim)
	pred := make([]int, nTest)
	block, chunk := min(k.Block, max(nTest, 1)), min(k.Chunk, nTrain)
	sim := make([]float32, block*chunk)
	heaps := make([]topK, block)
	for i := range heaps {
		heaps[i] = topK{sim: make([]float32, 0, K), idx: make([]int32, 0, K)}
	}
	threads := min(k.Threads, block)
	scores := make([][]float64, threads)
	for i := range scores {
		scores[i] = make([]float64, classes)
	}
	invT := 1 / k.Temperature
	var wg sync.WaitGroup
	for r0 := 0; r0 < nTest; r0 += block {
		m := min(block, nTest-r0)
		for i := 0; i < m; i++ {
			heaps[i].reset()
		}
		for c0 := 0; c0 < nTrain; c0 += chunk {
			n := min(chunk, nTrain-c0)
			gemm.Sgemm(false, true, m, n, dim, 1, query[r0*dim:], dim, bank[c0*dim:], dim, 0, sim, n)
			parallelRows(&wg, m, threads, func(_, lo, hi int) {
				for i := lo; i < hi; i++ {
					heaps[i].offer(sim[i*n:i*n+n], int32(c0))
				}
			})
		}
		parallelRows(&wg, m, threads, func(w, lo, hi int) {
			sc := scores[w]
			for i := lo; i < hi; i++ {
				clear(sc)
				h := &heaps[i]
				for j, s := range h.sim {
					sc[trainLabels[h.idx[j]]] += math.Exp(float64(s) * invT)
				}
				best := 0
				for c := 1; c < classes; c++ {
					if sc[c] > sc[best] {
						best = c
					}
				}
				pred[r0+i] = best
			}
		})
	}
	return pred, nil
}

// Evaluate predicts every test row and scores the predictions against
// testLabels (see Predict).
func (k KNN) Evaluate(train []float32, trainLabels []int, test []float32, testLabels []int, dim int) (Result, error) {
	start := time.Now()
	if _, err := checkSet("test set", test, testLabels, dim); err != nil {
		return Result{}, err
	}
	pred, err := k.Predict(train, trainLabels, test, dim)
	if err != nil {
		return Result{}, err
	}
	return score(pred, testLabels, start), nil
}

func score(pred, labels []int, start time.Time) Result {
	r := Result{N: len(labels)}
	for i, p := range pred {
		if p == labels[i] {
			r.Correct++
		}
	}
	if r.N > 0 {
		r.Top1 = float64(r.Correct) / float64(r.N)
	}
	r.Elapsed = time.Since(start)
	return r
}

// parallelRows runs f over [0, n) split into up to threads contiguous parts
// (f gets the part's index), and waits.
func parallelRows(wg *sync.WaitGroup, n, threads int, f func(w, lo, hi int)) {
	parts := min(threads, n)
	if parts <= 1 {
		f(0, 0, n)
		return
	}
	for w := 0; w < parts; w++ {
		lo, hi := w*n/parts, (w+1)*n/parts
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(w, lo, hi)
		}()
	}
	wg.Wait()
}

// topK keeps the K nearest training rows seen so far as a min-heap whose
// root is the farthest kept one. Nearer means a larger similarity, or an
// equal similarity and a lower index.
type topK struct {
	sim []float32
	idx []int32
}

func (h *topK) reset() { h.sim, h.idx = h.sim[:0], h.idx[:0] }

// worse reports whether entry a is farther than entry b.
func (h *topK) worse(a, b int) bool {
	return h.sim[a] < h.sim[b] || h.sim[a] == h.sim[b] && h.idx[a] > h.idx[b]
}

// offer considers the similarities of training rows base, base+1, ….
func (h *topK) offer(sims []float32, base int32) {
	k := cap(h.sim)
	j := 0
	for ; j < len(sims) && len(h.sim) < k; j++ {
		h.sim = append(h.sim, sims[j])
		h.idx = append(h.idx, base+int32(j))
		h.up(len(h.sim) - 1)
	}
	if len(h.sim) == 0 {
		return
	}
	root := h.sim[0]
	for ; j < len(sims); j++ {
		// Indices only grow, so an equal similarity is never nearer than the root.
		if s := sims[j]; s > root {
			h.sim[0], h.idx[0] = s, base+int32(j)
			h.down(0)
			root = h.sim[0]
		}
	}
}

func (h *topK) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.worse(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h *topK) down(i int) {
	n := len(h.sim)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && h.worse(r, l) {
			c = r
		}
		if !h.worse(c, i) {
			return
		}
		h.swap(i, c)
		i = c
	}
}

func (h *topK) swap(a, b int) {
	h.sim[a], h.sim[b] = h.sim[b], h.sim[a]
	h.idx[a], h.idx[b] = h.idx[b], h.idx[a]
}
