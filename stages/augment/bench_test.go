package augment

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/contrastream/contrastream/internal/cputime"
	"github.com/contrastream/contrastream/stages/image"
)

// benchSource returns a w×h photo-like RGB image: a real photo crop from
// testdata upsampled (bicubic) plus fixed noise, so that colour statistics
// and fine texture resemble the bench set of ../shared/bench.
func benchSource(tb testing.TB, w, h int) *image.Image {
	tb.Helper()
	small := readPNG(tb, filepath.Join("testdata", "in_china.png"))
	var m image.Image
	if err := ResizedCrop(&m, small, 0, 0, small.H, small.W, w, h, Bicubic); err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i, v := range m.Pix {
		m.Pix[i] = uint8(max(0, min(255, int(v)+rng.IntN(17)-8)))
	}
	return &m
}

// reportCPU adds the CPU time per op since c0 as the cpu-ns/op metric.
func reportCPU(b *testing.B, c0 time.Duration) {
	if c := cputime.Now() - c0; c > 0 && b.N > 0 {
		b.ReportMetric(float64(c.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkOp measures each op at 224 px, single thread, on the input
// torchvision's --breakdown uses: a decoded 500×375 source for the crop, a
// 224×224 crop for the others; ops that are random are applied always.
func BenchmarkOp(b *testing.B) {
	src := benchSource(b, 500, 375)
	var crop image.Image
	if err := ResizedCrop(&crop, src, 20, 60, 300, 300, 224, 224, Bilinear); err != nil {
		b.Fatal(err)
	}
	norm := Normalize{}.Table()
	nz := Normalize{}.Normalizer()
	chw := make([]float32, 3*224*224)
	ops := []struct {
		name string
		in   *image.Image
		aug  Augmentation
	}{
		{"RandomResizedCrop", src, RandomResizedCrop{Size: 224}},
		{"RandomResizedCrop/bicubic", src, RandomResizedCrop{Size: 224, Interpolation: Bicubic}},
		{"ResizedCrop/50to224", src, Func(func(dst, src *image.Image, _ *rand.Rand) error {
			return ResizedCrop(dst, src, 10, 10, 50, 50, 224, 224, Bilinear) // the 2-tap upscale of most views
		})},
		{"HorizontalFlip", &crop, HorizontalFlip{P: 1}},
		{"ColorJitter", &crop, ColorJitter{0.4, 0.4, 0.4, 0.1}},
		{"ColorJitter/brightness", &crop, ColorJitter{Brightness: 0.4}},
		{"ColorJitter/contrast", &crop, ColorJitter{Contrast: 0.4}},
		{"ColorJitter/saturation", &crop, ColorJitter{Saturation: 0.4}},
		{"ColorJitter/hue", &crop, ColorJitter{Hue: 0.1}},
		{"Grayscale", &crop, RandomGrayscale{P: 1}},
		{"GaussianBlur/k23", &crop, GaussianBlur{Kernel: 23}},
		{"Solarize", &crop, Solarize{P: 1}},
		{"Normalize", &crop, Func(func(dst, src *image.Image, _ *rand.Rand) error { return CHW(chw, src, &norm) })},
		{"Normalize/Normalizer", &crop, Func(func(dst, src *image.Image, _ *rand.Rand) error { return nz.CHW(chw, src) })},
	}
	for _, op := range ops {
		b.Run(op.name, func(b *testing.B) {
			var dst image.Image
			rng := rand.New(rand.NewPCG(7, 7))
			b.SetBytes(int64(224 * 224 * 3))
			b.ReportAllocs()
			c0 := cputime.Now()
			for b.Loop() {
				if err := op.aug.Augment(&dst, op.in, rng); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, c0)
		})
	}
}

// BenchmarkView measures one whole view of TorchvisionBench(size) (the
// recipe of aug_bench.py: crop, flip, jitter p=0.8, grayscale p=0.2, and at
// 224 blur p=0.5) from the bench sets' source sizes: 32×32, 96×96, 500×375.
func BenchmarkView(b *testing.B) {
	for _, c := range []struct{ size, w, h int }{{32, 32, 32}, {96, 96, 96}, {224, 500, 375}} {
		b.Run(fmt.Sprint(c.size), func(b *testing.B) {
			src := benchSource(b, c.w, c.h)
			aug := TorchvisionBench(c.size)
			var dst image.Image
			rng := rand.New(rand.NewPCG(3, 4))
			b.SetBytes(int64(c.size * c.size * 3))
			b.ReportAllocs()
			c0 := cputime.Now()
			for b.Loop() {
				if err := aug.Augment(&dst, src, rng); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, c0)
		})
	}
}

// BenchmarkHPass measures the horizontal pass of the resampler alone on one
// RGB row: 40 → 96 pixels (2 taps, bilinear upscale) and 300 → 224 (a
// downscale, 4 taps).
func BenchmarkHPass(b *testing.B) {
	for _, c := range []struct{ in, out int }{{40, 96}, {300, 224}} {
		b.Run(fmt.Sprintf("%dto%d", c.in, c.out), func(b *testing.B) {
			ks, k, bb, _ := coeffs(Bilinear, c.in, c.out, nil, nil, nil)
			T, start, w := fixedTaps(k, bb, ks, c.in, nil, nil, useAVX2)
			if T == 0 {
				b.Skip("no fixed taps")
			}
			in := make([]uint8, 3*c.in)
			for i := range in {
				in[i] = uint8(i * 7)
			}
			out := make([]uint8, 3*c.out)
			b.SetBytes(int64(len(out)))
			b.ReportAllocs()
			for b.Loop() {
				if useAVX2 {
					hpass3AVX2(out, in, start, w, T)
				} else {
					hpass3(out, in, k, bb, ks)
				}
			}
		})
	}
}
