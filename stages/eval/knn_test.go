package eval

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/contrastream/contrastream/stages/augment"
)

// TestKNNHandComputed: the query is (1, 0); training rows have cosine
// similarities 0.9 (class 0), 0.8 and 0.8 (class 1) and -1 (class 2). With
// K = 3 the votes are e^(0.9/τ) for class 0 against 2·e^(0.8/τ) for class 1:
// τ = 0.1 gives 8103 > 5962 (class 0), τ = 1 gives 2.46 < 4.45 (class 1);
// with K = 4 the far row adds e^(-1/τ) to class 2, which changes nothing.
func TestKNNHandComputed(t *testing.T) {
	s := float32(math.Sqrt(1 - 0.81))
	train := []float32{
		-2, 0, // sim -1, class 2 (not unit length: normalized)
		0.9, s, // sim 0.9, class 0
		8, 6, // sim 0.8, class 1
		0.8, -0.6, // sim 0.8, class 1
	}
	labels := []int{2, 0, 1, 1}
	query := []float32{3, 0}
	cases := []struct {
		k    int
		tau  float64
		want int
	}{
		{3, 0.1, 0}, {3, 1, 1}, {4, 0.1, 0}, {4, 1, 1}, {1, 1, 0}, {2, 1, 0}, {200, 0.1, 0},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("k%d_tau%g", c.k, c.tau), func(t *testing.T) {
			got, err := KNN{K: c.k, Temperature: c.tau}.Predict(train, labels, query, 2)
			if err != nil {
				t.Fatal(err)
			}
			if got[0] != c.want {
				t.Errorf("predicted %d, want %d", got[0], c.want)
			}
		})
	}
}

// TestKNNTies: equal similarities prefer the lower training index, equal
// class scores the lower class.
func TestKNNTies(t *testing.T) {
	train := []float32{1, 0, 1, 0, 1, 0}
	q := []float32{1, 0}
	if got, _ := (KNN{K: 1}).Predict(train, []int{3, 1, 2}, q, 2); got[0] != 3 {
		t.Errorf("K=1 among equal rows picked class %d, want 3 (the first row)", got[0])
	}
	if got, _ := (KNN{K: 2}).Predict(train, []int{3, 1, 2}, q, 2); got[0] != 1 {
		t.Errorf("K=2 tie between classes 3 and 1 gave %d, want 1", got[0])
	}
	// Across chunk boundaries too.
	if got, _ := (KNN{K: 1, Chunk: 1}).Predict(train, []int{3, 1, 2}, q, 2); got[0] != 3 {
		t.Errorf("chunked K=1 picked %d, want 3", got[0])
	}
}

// clusters makes n rows of dim features around `classes` well-separated
// directions, with labels.
func clusters(n, dim, classes int, noise float64, seed uint64) ([]float32, []int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	x, y := make([]float32, n*dim), make([]int, n)
	for i := range y {
		y[i] = i % classes
		for j := 0; j < dim; j++ {
			v := rng.NormFloat64() * noise
			if j == y[i] {
				v += 3 + rng.Float64()
			}
			x[i*dim+j] = float32(v)
		}
	}
	return x, y
}

func TestKNNSeparableClusters(t *testing.T) {
	tr, ytr := clusters(600, 12, 6, 0.2, 1)
	te, yte := clusters(200, 12, 6, 0.2, 2)
	res, err := KNN{}.Evaluate(tr, ytr, te, yte, 12)
	if err != nil {
		t.Fatal(err)
	}
	if res.Top1 != 1 || res.Correct != 200 || res.N != 200 {
		t.Errorf("%+v, want accuracy 1", res)
	}
	lin, err := LinearProbe{}.Evaluate(tr, ytr, te, yte, 12)
	if err != nil {
		t.Fatal(err)
	}
	if lin.Top1 != 1 {
		t.Errorf("linear probe %+v, want accuracy 1", lin)
	}
}

type golden struct {
	NTrain, NTest, Dim, Classes int
	TrainLabels                 []int `json:"train_labels"`
	TestLabels                  []int `json:"test_labels"`
	KNN                         []struct {
		K      int
		T      float64
		Pred   []int
		Top1   float64
		Margin float64 `json:"min_relative_margin"`
	}
	LinearSklearn float64 `json:"linear_sklearn_top1"`
}

func loadGolden(t testing.TB) (g golden, train, test []float32) {
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("testdata/golden.bin")
	if err != nil {
		t.Fatal(err)
	}
	f := make([]float32, len(raw)/4)
	for i := range f {
		f[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	if len(f) != (g.NTrain+g.NTest)*g.Dim {
		t.Fatalf("golden.bin has %d floats", len(f))
	}
	return g, f[:g.NTrain*g.Dim], f[g.NTrain*g.Dim:]
}

// TestKNNMatchesLightly compares with lightly's knn_predict run by torch
// (testdata/make_golden.py) on 1,500 × 400 rows of 16 features, 10 classes,
// for (k, τ) = (200, 0.1), (20, 0.07), (1, 0.1): the predictions must be
// identical (the golden data's smallest relative gap between the two best
// class scores is ≥ 0.2%, far above float32 rounding), whatever the
// blocking and thread count.
func TestKNNMatchesLightly(t *testing.T) {
	g, train, test := loadGolden(t)
	for _, ref := range g.KNN {
		for _, cfg := range []KNN{{}, {Block: 7, Chunk: 100, Threads: 3}, {Block: 1000, Chunk: 1 << 20, Threads: 1}} {
			cfg.K, cfg.Temperature = ref.K, ref.T
			t.Run(fmt.Sprintf("k%d_t%g_block%d_chunk%d", ref.K, ref.T, cfg.Block, cfg.Chunk), func(t *testing.T) {
				res, err := cfg.Evaluate(train, g.TrainLabels, test, g.TestLabels, g.Dim)
				if err != nil {
					t.Fatal(err)
				}
				pred, _ := cfg.Predict(train, g.TrainLabels, test, g.Dim)
				diff := 0
				for i := range pred {
					if pred[i] != ref.Pred[i] {
						diff++
					}
				}
				if diff != 0 || res.Top1 != ref.Top1 {
					t.Errorf("%d of %d predictions differ from lightly's; top-1 %.4f, lightly %.4f", diff, len(pred), res.Top1, ref.Top1)
				}
			})
		}
	}
}

func TestKNNErrors(t *testing.T) {
	cases := []struct {
		name        string
		train, test []float32
		labels      []int
		dim         int
		k           KNN
		want        string
	}{
		{"zero dim", []float32{1}, []float32{1}, []int{0}, 0, KNN{}, "dimension 0"},
		{"ragged train", []float32{1, 2, 3}, []float32{1, 2}, []int{0}, 2, KNN{}, "not a multiple"},
		{"ragged test", []float32{1, 2}, []float32{1}, []int{0}, 2, KNN{}, "not a multiple"},
		{"labels", []float32{1, 2}, []float32{1, 2}, []int{0, 1}, 2, KNN{}, "1 feature rows and 2 labels"},
		{"negative label", []float32{1, 2}, []float32{1, 2}, []int{-1}, 2, KNN{}, "negative"},
		{"empty", nil, []float32{1, 2}, nil, 2, KNN{}, "empty training set"},
		{"classes", []float32{1, 2}, []float32{1, 2}, []int{5}, 2, KNN{Classes: 3}, "label 5 with 3 classes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.k.Predict(c.train, c.labels, c.test, c.dim)
			if err == nil || !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
		})
	}
	if _, err := (KNN{}).Evaluate([]float32{1, 2}, []int{0}, []float32{1, 2}, []int{0, 1}, 2); err == nil {
		t.Error("test labels of the wrong length accepted")
	}
	// An empty test set is fine.
	if p, err := (KNN{}).Predict([]float32{1, 2}, []int{0}, nil, 2); err != nil || len(p) != 0 {
		t.Errorf("empty test set: %v %v", p, err)
	}
}

func TestNormalize(t *testing.T) {
	got := Normalize([]float32{3, 4, 0, 0}, 2)
	if !slices.Equal(got, []float32{0.6, 0.8, 0, 0}) {
		t.Errorf("%v", got)
	}
}

func TestPixelFeatures(t *testing.T) {
	set := &Labeled{Side: 2, C: 3, Labels: []int{0}, Pix: []uint8{
		0, 255, 51, 0, 255, 51,
		0, 255, 51, 0, 255, 51,
	}}
	f, dim := PixelFeatures(set, augment.Normalize{Std: [3]float32{1, 1, 1}})
	want := []float32{0, 0, 0, 0, 1, 1, 1, 1, 0.2, 0.2, 0.2, 0.2} // CHW
	if dim != 12 || !slices.Equal(f, want) {
		t.Errorf("dim %d features %v", dim, f)
	}
}

func BenchmarkKNN(b *testing.B) {
	const nTrain, nTest, dim = 12000, 2000, 256
	tr, ytr := clusters(nTrain, dim, 10, 1, 1)
	te, _ := clusters(nTest, dim, 10, 1, 2)
	b.ResetTimer()
	b.ReportAllocs()
	b.SetBytes(int64(4 * dim * (nTrain + nTest)))
	for i := 0; i < b.N; i++ {
		if _, err := (KNN{}).Predict(tr, ytr, te, dim); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(nTrain)*float64(nTest)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gpairs/s")
}

func ExampleKNN() {
	// Two classes of 2-D features: class 0 along x, class 1 along y.
	train := []float32{
		1, 0.1,
		2, -0.1,
		0.1, 1,
		-0.1, 3,
	}
	labels := []int{0, 0, 1, 1}
	test := []float32{5, 1, 1, 4}
	res, err := KNN{K: 2}.Evaluate(train, labels, test, []int{0, 1}, 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	pred, _ := KNN{K: 2}.Predict(train, labels, test, 2)
	fmt.Println(pred, res.Top1)
	// Output: [0 1] 1
}
