package stages

import (
	"bytes"
	"context"
	"fmt"
	stdimage "image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/pipeline/pipelinetest"
	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages/augment"
	"github.com/contrastream/contrastream/stages/image"
)

// cropCorpus returns JPEG samples of many sizes and layouts: the image
// package's differential corpus (every subsampling, progressive, restart
// intervals, gray, RGB, CMYK, odd sizes) and photo-like images encoded
// here by image/jpeg (4:2:0 and gray) up to 500×375.
func cropCorpus(t testing.TB) []*sources.Sample {
	files, _ := filepath.Glob("image/testdata/jpegcorpus/*.jpg")
	if len(files) < 50 {
		t.Fatalf("%d corpus files", len(files))
	}
	var blobs [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, b)
	}
	rng := rand.New(rand.NewPCG(5, 13))
	for i, sz := range [][2]int{{500, 375}, {375, 500}, {333, 251}, {97, 301}, {250, 1}, {1, 250}, {224, 224}, {41, 17}} {
		w, h := sz[0], sz[1]
		var m stdimage.Image
		if i%3 == 2 {
			g := stdimage.NewGray(stdimage.Rect(0, 0, w, h))
			for j := range g.Pix {
				g.Pix[j] = uint8(j%w*255/w + rng.IntN(30))
			}
			m = g
		} else {
			c := stdimage.NewRGBA(stdimage.Rect(0, 0, w, h))
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					c.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x*y)>>3 + rng.IntN(20)), 255})
				}
			}
			m = c
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: 90}); err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, buf.Bytes())
	}
	out := make([]*sources.Sample, len(blobs))
	for i, b := range blobs {
		out[i] = &sources.Sample{ID: sources.SampleID("crops.parquet", int64(i)), Shard: "crops.parquet", Row: int64(i), Bytes: b}
	}
	return out
}

// viewBytes runs dec and views over the samples (epoch e) and returns
// every view's pixels.
func viewBytes(t *testing.T, dec *Decode, views *Views, samples []*sources.Sample, e int) [][]byte {
	t.Helper()
	var out [][]byte
	for _, s := range samples {
		s2 := *s
		s2.Epoch = e
		err := dec.Process(context.Background(), &s2, func(d *Decoded) {
			if err := views.Process(context.Background(), d, func(vs *ViewSet) {
				for _, v := range vs.Views {
					out = append(out, append([]byte(fmt.Sprintf("%dx%dx%d:", v.W, v.H, v.C)), v.Pix...))
				}
				vs.Release()
			}); err != nil {
				t.Fatal(err)
			}
		})
		if err != nil {
			t.Fatalf("row %d: %v", s.Row, err)
		}
	}
	return out
}

// TestViewsFromCropDecodeAreBitIdentical: with Decode.Crops = Views.Crops
// (what NewViewStream wires) every view equals the one made from a full
// decode, over many seeds, epochs, view sizes, recipes, channel counts and
// every JPEG layout of the corpus. The crop decodes reuse pooled images, so
// the pixels outside the crops hold earlier images' pixels: a view that
// read one would differ.
func TestViewsFromCropDecodeAreBitIdentical(t *testing.T) {
	samples := cropCorpus(t)
	n := 0
	recipes := []struct {
		name string
		v    func(seed uint64) *Views
	}{
		{"simclr24", func(seed uint64) *Views { return &Views{Aug: augment.SimCLRCIFAR(24), Seed: seed} }},
		{"bench96", func(seed uint64) *Views { return &Views{Aug: augment.TorchvisionBench(96), Seed: seed, N: 3} }},
		{"multicrop", func(seed uint64) *Views {
			return &Views{Seed: seed, Augs: []augment.Augmentation{
				augment.SimCLR(64, 1, false),
				augment.Chain(augment.RandomResizedCrop{Size: 16, Scale: [2]float32{0.05, 0.3}, Interpolation: augment.Bicubic}, augment.HorizontalFlip{}),
			}}
		}},
	}
	seeds := 6
	if testing.Short() {
		seeds = 2
	}
	for _, rc := range recipes {
		for seed := range uint64(seeds) {
			for _, ch := range []int{3, 1} {
				views := rc.v(seed)
				full := viewBytes(t, &Decode{Channels: ch, Backend: image.BackendGo}, views, samples, int(seed))
				crop := viewBytes(t, &Decode{Channels: ch, Backend: image.BackendGo, Crops: views.Crops}, views, samples, int(seed))
				if len(full) != len(crop) {
					t.Fatalf("%s: %d views, %d with crops", rc.name, len(full), len(crop))
				}
				for i := range full {
					if !bytes.Equal(full[i], crop[i]) {
						t.Errorf("%s seed %d c%d: view %d (sample %d) differs from the full decode's", rc.name, seed, ch, i, i/views.Count())
					}
				}
				n += len(full)
			}
		}
	}
	t.Logf("%d views compared", n)
}

// TestViewsCrops: the boxes are the ones Process crops (a view made from
// an image that is noise outside its box equals the real one), they lie
// inside the image, and a chain that does not start with a crop gives no
// boxes.
func TestViewsCrops(t *testing.T) {
	views := &Views{Aug: augment.SimCLRCIFAR(32), Seed: 4}
	src := new(image.Image)
	src.Resize(120, 80, 3)
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range src.Pix {
		src.Pix[i] = uint8(rng.Uint32())
	}
	for id := range uint64(40) {
		s := &sources.Sample{ID: id, Epoch: int(id % 3)}
		crops, ok := views.Crops(nil, s, src.W, src.H)
		if !ok || len(crops) != 2 {
			t.Fatalf("crops %v ok %v", crops, ok)
		}
		masked := src.Clone()
		for y := 0; y < src.H; y++ {
			for x := 0; x < src.W; x++ {
				in := false
				for _, r := range crops {
					in = in || x >= r.X0 && x < r.X1 && y >= r.Y0 && y < r.Y1
				}
				if !in {
					masked.Pix[y*masked.Stride+3*x] ^= 0x5a
				}
			}
		}
		for _, r := range crops {
			if r.X0 < 0 || r.Y0 < 0 || r.X1 > src.W || r.Y1 > src.H || r.X0 >= r.X1 || r.Y0 >= r.Y1 {
				t.Fatalf("box %v of a %dx%d image", r, src.W, src.H)
			}
		}
		var a, b []byte
		for _, m := range []*image.Image{src, masked} {
			err := views.Process(context.Background(), &Decoded{Sample: s, Image: m}, func(vs *ViewSet) {
				for _, v := range vs.Views {
					if m == src {
						a = append(a, v.Pix...)
					} else {
						b = append(b, v.Pix...)
					}
				}
				vs.Release()
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("sample %d: views read pixels outside their boxes %v", id, crops)
		}
	}
	noCrop := &Views{Aug: augment.Chain(augment.HorizontalFlip{}, augment.RandomResizedCrop{Size: 8}), Seed: 1}
	if _, ok := noCrop.Crops(nil, &sources.Sample{}, 50, 50); ok {
		t.Error("a chain starting with a flip gave crop boxes")
	}
}

// TestViewPipelineCropDecode: the view pipeline with two workers and
// Decode.Crops = Views.Crops (what NewViewStream builds) gives the batches
// of a full decode.
func TestViewPipelineCropDecode(t *testing.T) {
	samples := cropCorpus(t)
	run := func(full bool) [][]uint8 {
		views := &Views{Aug: augment.TorchvisionBench(48), Seed: 9}
		dec := &Decode{Channels: 3, Backend: image.BackendGo}
		if !full {
			dec.Crops = views.Crops
		}
		p := pipeline.New("crop-test")
		rows := pipelinetest.Slice(p, "rows", samples)
		batches := ViewPipeline{Decode: dec, Views: views, Tensorize: &Tensorize{BatchSize: 16, Uint8: true}, Workers: 2}.Add(p, rows)
		var got [][]uint8
		pipeline.Sink(p, "keep", batches, pipeline.ConsumerFunc[*Batch](func(_ context.Context, b *Batch) error {
			for _, v := range b.Views {
				got = append(got, bytes.Clone(v.Data().([]uint8)))
			}
			b.Release()
			return nil
		}))
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		return got
	}
	a, b := run(true), run(false)
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("%d and %d view tensors", len(a), len(b))
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Errorf("view tensor %d differs from the full decode's", i)
		}
	}
}
