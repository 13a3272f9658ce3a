package eval_test

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/contrastream/contrastream/sinks/idx"
	"github.com/contrastream/contrastream/stages/augment"
	"github.com/contrastream/contrastream/stages/eval"
)

// readIDXSet reads an IDX image file and its label file into a Labeled set.
func readIDXSet(t *testing.T, images, labels string) *eval.Labeled {
	t.Helper()
	im, err := idx.Open(images)
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	lb, err := idx.Open(labels)
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	set := &eval.Labeled{Side: im.Dims[1], C: 1}
	buf := make([]byte, im.ItemSize())
	var l [1]byte
	for {
		px, err := im.Next(buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		lab, err := lb.Next(l[:])
		if err != nil {
			t.Fatal(err)
		}
		set.Pix = append(set.Pix, px...)
		set.Labels = append(set.Labels, int(lab[0]))
	}
	return set
}

// TestFashionMNISTPixelBaseline measures the raw-pixel baselines on the
// real Fashion-MNIST (60,000 train, 10,000 test, 784 features): kNN with
// lightly's setting and the linear probe. It runs only with
// CONTRASTREAM_FASHION_MNIST set to the folder of the four IDX files
// (Debian: apt-get install dataset-fashion-mnist, /usr/share/datasets/fashion-mnist):
//
//	CONTRASTREAM_FASHION_MNIST=/usr/share/datasets/fashion-mnist go test ./stages/eval -run FashionMNIST -v
func TestFashionMNISTPixelBaseline(t *testing.T) {
	dir := os.Getenv("CONTRASTREAM_FASHION_MNIST")
	if dir == "" {
		t.Skip("set CONTRASTREAM_FASHION_MNIST to the Fashion-MNIST IDX folder to run")
	}
	train := readIDXSet(t, filepath.Join(dir, "train-images-idx3-ubyte.gz"), filepath.Join(dir, "train-labels-idx1-ubyte.gz"))
	test := readIDXSet(t, filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"))
	for _, norm := range []struct {
		name string
		n    augment.Normalize
	}{
		{"v/255", augment.Normalize{Std: [3]float32{1, 1, 1}}},
		{"imagenet-normalized", augment.Normalize{}},
	} {
		xtr, dim := eval.PixelFeatures(train, norm.n)
		xte, _ := eval.PixelFeatures(test, norm.n)
		knn, err := eval.KNN{}.Evaluate(xtr, train.Labels, xte, test.Labels, dim)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("raw pixels (%s), kNN k=200 τ=0.1: top-1 %.4f (%d/%d) in %v", norm.name, knn.Top1, knn.Correct, knn.N, knn.Elapsed)
		if knn.Top1 < 0.7 {
			t.Errorf("raw-pixel kNN %.4f, published figures are about 0.80-0.85", knn.Top1)
		}
	}
	xtr, dim := eval.PixelFeatures(train, augment.Normalize{Std: [3]float32{1, 1, 1}})
	xte, _ := eval.PixelFeatures(test, augment.Normalize{Std: [3]float32{1, 1, 1}})
	lin, err := eval.LinearProbe{}.Evaluate(xtr, train.Labels, xte, test.Labels, dim)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("raw pixels, linear probe: top-1 %.4f in %v", lin.Top1, lin.Elapsed)
}
