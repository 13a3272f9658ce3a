package augment_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/contrastream/contrastream/stages/augment"
	"github.com/contrastream/contrastream/stages/image"
)

// Cutout blanks a random Size×Size square (DeVries & Taylor, 2017). It is a
// user-written augmentation: a struct with an Augment method is all it
// takes. Writing in place is fine for it, so it says so.
type Cutout struct{ Size int }

func (c Cutout) Augment(dst, src *image.Image, rng *rand.Rand) error {
	if dst != src {
		dst.CopyFrom(src)
	}
	x0, y0 := rng.IntN(dst.W), rng.IntN(dst.H)
	for y := y0; y < min(y0+c.Size, dst.H); y++ {
		row := dst.Row(y)
		clear(row[x0*dst.C : min(x0+c.Size, dst.W)*dst.C])
	}
	return nil
}

func (Cutout) AllowsInPlace() bool { return true }

// A custom augmentation plugs into Chain next to the built-in ops.
func Example_customAugmentation() {
	aug := augment.Chain(
		augment.RandomResizedCrop{Size: 8},
		augment.HorizontalFlip{P: 0.5},
		Cutout{Size: 3},
	)
	src := &image.Image{}
	src.Resize(32, 24, 1)
	for i := range src.Pix {
		src.Pix[i] = 200
	}
	var view image.Image
	rng := rand.New(rand.NewPCG(1, 2)) // the caller keys it by (seed, sample, view)
	if err := aug.Augment(&view, src, rng); err != nil {
		panic(err)
	}
	for y := 0; y < view.H; y++ {
		fmt.Println(view.Row(y))
	}
	// Output:
	// [200 200 200 200 200 200 200 200]
	// [200 200 200 200 0 0 0 200]
	// [200 200 200 200 0 0 0 200]
	// [200 200 200 200 0 0 0 200]
	// [200 200 200 200 200 200 200 200]
	// [200 200 200 200 200 200 200 200]
	// [200 200 200 200 200 200 200 200]
	// [200 200 200 200 200 200 200 200]
}

// SimCLR's recipe makes 224×224 views; the same seed gives the same view.
func ExampleSimCLR() {
	src := &image.Image{}
	src.Resize(500, 375, 3)
	for i := range src.Pix {
		src.Pix[i] = uint8(i * 31)
	}
	aug := augment.SimCLR(224, 1, true)
	var a, b image.Image
	_ = aug.Augment(&a, src, rand.New(rand.NewPCG(42, 0)))
	_ = aug.Augment(&b, src, rand.New(rand.NewPCG(42, 0)))
	fmt.Println(a.W, a.H, a.C, string(a.Pix) == string(b.Pix))
	// Output: 224 224 3 true
}

// Normalize's table converts a view to normalized float32 CHW exactly as
// torchvision's ToTensor + Normalize.
func ExampleNormalize() {
	tab := augment.Normalize{}.Table() // ImageNet statistics
	m := &image.Image{}
	m.Resize(1, 1, 3)
	copy(m.Pix, []uint8{0, 128, 255})
	out := make([]float32, 3)
	if err := augment.CHW(out, m, &tab); err != nil {
		panic(err)
	}
	fmt.Printf("%.4f %.4f %.4f\n", out[0], out[1], out[2])
	// Output: -2.1179 0.2052 2.6400
}
