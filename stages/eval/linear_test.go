package eval

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestLinearProbeMatchesSklearn: on the golden feature set, the probe's test
// accuracy is within 2 points of scikit-learn's LogisticRegression (lbfgs,
// C = 1, standardized features) computed by testdata/make_golden.py.
func TestLinearProbeMatchesSklearn(t *testing.T) {
	g, train, test := loadGolden(t)
	res, err := LinearProbe{}.Evaluate(train, g.TrainLabels, test, g.TestLabels, g.Dim)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("linear probe top-1 %.4f, scikit-learn %.4f (%v)", res.Top1, g.LinearSklearn, res.Elapsed)
	if res.Top1 < g.LinearSklearn-0.02 {
		t.Errorf("top-1 %.4f, scikit-learn reaches %.4f", res.Top1, g.LinearSklearn)
	}
}

func TestLinearProbeDeterministic(t *testing.T) {
	tr, ytr := clusters(300, 8, 3, 1.5, 5)
	a, err := LinearProbe{Epochs: 3, Seed: 1}.Fit(tr, ytr, 8)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := LinearProbe{Epochs: 3, Seed: 1}.Fit(tr, ytr, 8)
	c, _ := LinearProbe{Epochs: 3, Seed: 2}.Fit(tr, ytr, 8)
	if !slices.Equal(a.W, b.W) || !slices.Equal(a.B, b.B) {
		t.Error("same seed, different weights")
	}
	if slices.Equal(a.W, c.W) {
		t.Error("different seeds, same weights")
	}
}

// TestLinearProbeLearnsFromScratch: a 3-class problem only a linear model
// with standardization solves (one informative dimension with a huge
// offset and tiny scale, the others noise).
func TestLinearProbeStandardizes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	mk := func(n int) ([]float32, []int) {
		x, y := make([]float32, n*4), make([]int, n)
		for i := range y {
			y[i] = rng.IntN(3)
			x[i*4] = 1000 + 0.001*float32(y[i]) + float32(rng.NormFloat64())*0.0001
			for j := 1; j < 4; j++ {
				x[i*4+j] = float32(rng.NormFloat64()) * 10
			}
		}
		return x, y
	}
	tr, ytr := mk(600)
	te, yte := mk(200)
	res, err := LinearProbe{}.Evaluate(tr, ytr, te, yte, 4)
	if err != nil {
		t.Fatal(err)
	}
	if res.Top1 < 0.95 {
		t.Errorf("top-1 %.3f, want ≥ 0.95", res.Top1)
	}
}

func TestLinearProbeErrors(t *testing.T) {
	if _, err := (LinearProbe{}).Fit(nil, nil, 4); !errors.Is(err, ErrInput) {
		t.Errorf("empty: %v", err)
	}
	if _, err := (LinearProbe{Classes: 2}).Fit([]float32{1, 2}, []int{2}, 2); err == nil || !strings.Contains(err.Error(), "label 2 with 2 classes") {
		t.Errorf("label: %v", err)
	}
	m, _ := LinearProbe{Epochs: 1}.Fit([]float32{1, 2, 3, 4}, []int{0, 1}, 2)
	if _, err := m.Predict([]float32{1, 2, 3}); !errors.Is(err, ErrInput) {
		t.Errorf("ragged: %v", err)
	}
}

// BenchmarkLinearProbe is the size of a Fashion-MNIST probe on the small
// model: 60,000 × 256 features, 10 classes, default settings (10 epochs).
func BenchmarkLinearProbe(b *testing.B) {
	const n, dim = 60000, 256
	tr, ytr := clusters(n, dim, 10, 3, 1)
	b.ResetTimer()
	b.ReportAllocs()
	b.SetBytes(int64(4 * n * dim))
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := (LinearProbe{}).Fit(tr, ytr, dim); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/fit")
	}
}

func ExampleLinearProbe() {
	// Features of two classes that only their second dimension separates.
	rng := rand.New(rand.NewPCG(1, 2))
	feats := func(n int) ([]float32, []int) {
		x, y := make([]float32, 2*n), make([]int, n)
		for i := range y {
			y[i] = i % 2
			x[2*i] = float32(rng.NormFloat64())                       // noise
			x[2*i+1] = float32(y[i]) + 0.1*float32(rng.NormFloat64()) // signal
		}
		return x, y
	}
	train, trainLabels := feats(200)
	test, testLabels := feats(100)
	res, err := LinearProbe{Epochs: 10}.Evaluate(train, trainLabels, test, testLabels, 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("top-1 %.2f on %d test rows\n", res.Top1, res.N)
	// Output: top-1 1.00 on 100 test rows
}
