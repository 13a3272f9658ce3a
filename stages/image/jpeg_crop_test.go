package image

import (
	"math/rand/v2"
	"testing"
)

// randomCrops returns 1 to 3 rectangles of a w×h image: random boxes,
// single pixels, full rows or columns, boxes at the edges, and now and then
// one that reaches outside the image (Crops are clipped).
func randomCrops(rng *rand.Rand, w, h int) []Rect {
	n := 1 + rng.IntN(3)
	out := make([]Rect, n)
	for i := range out {
		x0, y0 := rng.IntN(w), rng.IntN(h)
		x1, y1 := x0+1+rng.IntN(w-x0), y0+1+rng.IntN(h-y0)
		switch rng.IntN(8) {
		case 0: // one pixel
			x1, y1 = x0+1, y0+1
		case 1: // full width
			x0, x1 = 0, w
		case 2: // full height
			y0, y1 = 0, h
		case 3: // bottom right corner
			x1, y1 = w, h
		case 4: // partly outside
			x0, y0, x1, y1 = x0-5, y0-3, x1+7, y1+2
		}
		out[i] = Rect{x0, y0, x1, y1}
	}
	return out
}

func inCrops(crops []Rect, x, y int) bool {
	for _, r := range crops {
		if x >= r.X0 && x < r.X1 && y >= r.Y0 && y < r.Y1 {
			return true
		}
	}
	return false
}

// TestJPEGCropExact: with DecodeOptions.Crops the pure-Go decoder gives the
// pixels of a full decode inside every crop, on every corpus file (all
// samplings, progressive, restart intervals, gray, RGB, CMYK, YCCK), for
// every output kind, fancy and replicated chroma, into a buffer filled
// with noise beforehand, with the decoder's sample planes filled with a
// pattern (a pixel computed from a sample it did not reconstruct would
// show). Some pixels outside the crops must keep the
// noise: the crops really cut work.
func TestJPEGCropExact(t *testing.T) {
	poisonPlanes = true
	defer func() { poisonPlanes = false }()
	rng := rand.New(rand.NewPCG(13, 2))
	cases, kept := 0, 0
	var full, got Image
	for name, data := range jpegCorpus(t) {
		for _, fast := range []bool{false, true} {
			for _, ch := range []int{0, 1, 3} {
				opt := DecodeOptions{Channels: ch, FastUpsample: fast, Backend: BackendGo}
				if err := Decode(&full, data, opt); err != nil {
					continue // a file the decoder refuses (TestJPEGCropEdges: also with crops)
				}
				w, h, c := full.W, full.H, full.C
				for k := 0; k < 6; k++ {
					crops := randomCrops(rng, w, h)
					got.Resize(w, h, c)
					for i := range got.Pix {
						got.Pix[i] = uint8(rng.Uint32())
					}
					opt.Crops = crops
					if err := Decode(&got, data, opt); err != nil {
						t.Fatalf("%s fast=%v c%d crops %v: %v", name, fast, ch, crops, err)
					}
					if got.W != w || got.H != h || got.C != c {
						t.Fatalf("%s: %dx%dx%d with crops, %dx%dx%d without", name, got.W, got.H, got.C, w, h, c)
					}
					bad := 0
					for y := 0; y < h; y++ {
						a, b := got.Row(y), full.Row(y)
						for x := 0; x < w; x++ {
							if !inCrops(crops, x, y) {
								if a[x*c] != b[x*c] {
									kept++
								}
								continue
							}
							for j := 0; j < c; j++ {
								if a[x*c+j] != b[x*c+j] {
									if bad == 0 {
										t.Errorf("%s fast=%v c%d crops %v: pixel (%d,%d) channel %d: %d, full decode %d",
											name, fast, ch, crops, x, y, j, a[x*c+j], b[x*c+j])
									}
									bad++
								}
							}
						}
					}
					if bad > 1 {
						t.Errorf("%s: %d samples differ in all", name, bad)
					}
					cases++
				}
			}
		}
	}
	t.Logf("%d crop decodes compared; %d pixels outside the crops left alone", cases, kept)
	if cases < 3000 || kept == 0 {
		t.Errorf("%d cases, %d pixels outside the crops left alone", cases, kept)
	}
}

// TestJPEGCropEdges: crops that cover the whole image, lie outside it or
// are empty give a full decode; a refused file is refused with crops.
func TestJPEGCropEdges(t *testing.T) {
	data := fixtureFile(t, "testdata/decode/jpg_420")
	var full, got Image
	if err := Decode(&full, data, DecodeOptions{Backend: BackendGo}); err != nil {
		t.Fatal(err)
	}
	for _, crops := range [][]Rect{
		{{0, 0, full.W, full.H}},
		{{-10, -10, 1 << 20, 1 << 20}},
		{{full.W, 0, full.W + 5, 5}},
		{{5, 5, 5, 9}, {3, 3, 2, 2}},
	} {
		got.Resize(full.W, full.H, full.C)
		clear(got.Pix)
		if err := Decode(&got, data, DecodeOptions{Backend: BackendGo, Crops: crops}); err != nil {
			t.Fatalf("%v: %v", crops, err)
		}
		if mx, _ := diffStats(&got, &full); mx != 0 {
			t.Errorf("crops %v: differs from a full decode by up to %d", crops, mx)
		}
	}
	if err := Decode(&got, data[:len(data)/2], DecodeOptions{Backend: BackendGo, Crops: []Rect{{0, 0, 4, 4}}}); err == nil {
		t.Error("half a file decoded with a crop in its first rows")
	}
}

// TestJPEGCropNoAllocs: crop-aware decodes allocate nothing either.
func TestJPEGCropNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	crops := []Rect{{3, 4, 40, 30}, {20, 10, 61, 43}}
	for _, name := range []string{"jpg_420.jpg", "jpg_420_prog.jpg", "jpg_gray.jpg"} {
		data := jpegCorpus(t)[name]
		var dst Image
		allocs := testing.AllocsPerRun(20, func() {
			if err := Decode(&dst, data, DecodeOptions{Backend: BackendGo, Crops: crops}); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per decode, want 0", name, allocs)
		}
	}
}
