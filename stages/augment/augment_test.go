package augment

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/contrastream/contrastream/stages/image"
)

func newRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

// randImage returns a w×h×c image of random levels.
func randImage(w, h, c int, rng *rand.Rand) *image.Image {
	m := &image.Image{}
	m.Resize(w, h, c)
	for i := range m.Pix {
		m.Pix[i] = uint8(rng.UintN(256))
	}
	return m
}

// addOp adds a constant to every sample (mod 256) and records that it ran.
type addOp struct {
	n   uint8
	log *[]uint8
}

func (a addOp) Augment(dst, src *image.Image, _ *rand.Rand) error {
	if dst != src {
		dst.CopyFrom(src)
	}
	for i := range dst.Pix {
		dst.Pix[i] += a.n
	}
	if a.log != nil {
		*a.log = append(*a.log, a.n)
	}
	return nil
}

func (addOp) AllowsInPlace() bool { return true }

// copyOnly is a op that refuses in-place use: it fails if dst == src.
type copyOnly struct{}

func (copyOnly) Augment(dst, src *image.Image, _ *rand.Rand) error {
	if dst == src {
		return fmt.Errorf("aliased")
	}
	dst.CopyFrom(src)
	dst.Pix[0] ^= 0xff
	return nil
}

func TestComposition(t *testing.T) {
	src := &image.Image{}
	src.Resize(2, 1, 1)
	src.Pix[0], src.Pix[1] = 10, 20
	tests := []struct {
		name    string
		aug     func(log *[]uint8) Augmentation
		want    []uint8
		wantLog []uint8
	}{
		{"empty chain copies", func(*[]uint8) Augmentation { return Chain() }, []uint8{10, 20}, nil},
		{"chain in order", func(l *[]uint8) Augmentation { return Chain(addOp{1, l}, addOp{2, l}, addOp{3, l}) }, []uint8{16, 26}, []uint8{1, 2, 3}},
		{"non in-place op gets a copy", func(l *[]uint8) Augmentation { return Chain(addOp{1, l}, copyOnly{}) }, []uint8{11 ^ 0xff, 21}, []uint8{1}},
		{"random apply p=1", func(l *[]uint8) Augmentation { return RandomApply{Aug: addOp{5, l}, P: 1} }, []uint8{15, 25}, []uint8{5}},
		{"random apply never", func(l *[]uint8) Augmentation { return RandomApply{Aug: addOp{5, l}, P: -1} }, []uint8{10, 20}, nil},
		{"random order runs each once", func(l *[]uint8) Augmentation { return RandomOrder(addOp{1, l}, addOp{2, l}, addOp{4, l}) }, []uint8{17, 27}, nil},
		{"flip p=1", func(*[]uint8) Augmentation { return HorizontalFlip{P: 1} }, []uint8{20, 10}, nil},
		{"flip never", func(*[]uint8) Augmentation { return HorizontalFlip{P: -1} }, []uint8{10, 20}, nil},
		{"solarize at 15", func(*[]uint8) Augmentation { return Solarize{Threshold: 15, P: 1} }, []uint8{10, 235}, nil},
		{"zero jitter is identity", func(*[]uint8) Augmentation { return ColorJitter{} }, []uint8{10, 20}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log []uint8
			var dst image.Image
			if err := tt.aug(&log).Augment(&dst, src, newRNG(1)); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(dst.Pix, tt.want) {
				t.Fatalf("pixels %v, want %v", dst.Pix, tt.want)
			}
			if tt.wantLog != nil && !bytes.Equal(log, tt.wantLog) {
				t.Fatalf("ran %v, want %v", log, tt.wantLog)
			}
			if !bytes.Equal(src.Pix, []uint8{10, 20}) {
				t.Fatalf("source modified: %v", src.Pix)
			}
		})
	}
}

func TestRandomOrderIsUniform(t *testing.T) {
	counts := map[string]int{}
	rng := newRNG(3)
	src := &image.Image{}
	src.Resize(1, 1, 1)
	for range 6000 {
		var log []uint8
		var dst image.Image
		if err := RandomOrder(addOp{1, &log}, addOp{2, &log}, addOp{3, &log}).Augment(&dst, src, rng); err != nil {
			t.Fatal(err)
		}
		counts[fmt.Sprint(log)]++
	}
	if len(counts) != 6 {
		t.Fatalf("saw %d orders, want 6: %v", len(counts), counts)
	}
	for k, n := range counts {
		if n < 850 || n > 1150 { // 1000 expected, sd ≈ 29
			t.Errorf("order %s seen %d times of 6000", k, n)
		}
	}
}

func TestRandomResizedCropParams(t *testing.T) {
	rng := newRNG(5)
	r := RandomResizedCrop{Size: 8}
	for range 2000 {
		w, h := 1+rng.IntN(600), 1+rng.IntN(600)
		top, left, ch, cw := r.Params(w, h, rng)
		if ch < 1 || cw < 1 || top < 0 || left < 0 || top+ch > h || left+cw > w {
			t.Fatalf("%dx%d: box (%d,%d)+%dx%d", w, h, left, top, cw, ch)
		}
	}
	// torchvision's fallback (every attempt fails when the area fraction
	// cannot fit): central crop clamped to the ratio range.
	tests := []struct {
		w, h                     int
		top, left, height, width int
	}{
		{100, 10, 0, 43, 10, 13}, // too wide: h = 10, w = round(10·4/3) = 13
		{10, 100, 43, 0, 13, 10}, // too tall: w = 10, h = round(10/(3/4)) = 13
		{50, 40, 0, 0, 40, 50},   // ratio inside the range: whole image
		{1, 1, 0, 0, 1, 1},
	}
	imp := RandomResizedCrop{Size: 8, Scale: [2]float32{2, 3}} // area > image: never fits
	for _, tt := range tests {
		top, left, h, w := imp.Params(tt.w, tt.h, rng)
		if top != tt.top || left != tt.left || h != tt.height || w != tt.width {
			t.Errorf("%dx%d fallback = (%d,%d,%d,%d), want (%d,%d,%d,%d)", tt.w, tt.h, top, left, h, w, tt.top, tt.left, tt.height, tt.width)
		}
	}
	// With the default range, the area fraction of accepted boxes lies in
	// [0.08, 1] (up to rounding) and the aspect ratio in [3/4, 4/3].
	for range 2000 {
		_, _, ch, cw := r.Params(500, 375, rng)
		a := float64(ch*cw) / (500 * 375)
		ar := float64(cw) / float64(ch)
		if a < 0.075 || a > 1 || ar < 0.7 || ar > 1.4 {
			t.Fatalf("box %dx%d: area %.3f ratio %.3f", cw, ch, a, ar)
		}
	}
}

func TestDeterminism(t *testing.T) {
	src := randImage(500, 375, 3, newRNG(9))
	for _, size := range []int{32, 96, 224} {
		aug := SimCLR(size, 1, true)
		var a, b, c image.Image
		seeds := 8
		if raceEnabled {
			seeds = 2
		}
		for i := range seeds {
			if err := aug.Augment(&a, src, newRNG(uint64(i))); err != nil {
				t.Fatal(err)
			}
			if err := aug.Augment(&b, src, newRNG(uint64(i))); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.Pix, b.Pix) {
				t.Fatalf("size %d seed %d: same seed, different bytes", size, i)
			}
			if err := aug.Augment(&c, src, newRNG(uint64(i)+1000)); err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(a.Pix, c.Pix) {
				t.Fatalf("size %d seed %d: different seeds, same bytes", size, i)
			}
			if a.W != size || a.H != size || a.C != 3 {
				t.Fatalf("view is %dx%dx%d", a.W, a.H, a.C)
			}
		}
	}
}

// TestInPlaceMatches checks every op that allows in-place use gives the
// same bytes in place as out of place.
func TestInPlaceMatches(t *testing.T) {
	ops := map[string]Augmentation{
		"flip":      HorizontalFlip{P: 1},
		"jitter":    ColorJitter{0.8, 0.8, 0.8, 0.2},
		"gray":      RandomGrayscale{P: 1},
		"blur":      GaussianBlur{Kernel: 9, Sigma: [2]float32{0.5, 3}},
		"blur wide": GaussianBlur{Kernel: 23},
		"solarize":  Solarize{P: 1},
		"chain":     Chain(HorizontalFlip{P: 1}, RandomResizedCrop{Size: 20}),
		"order":     RandomOrder(HorizontalFlip{}, ColorJitter{Hue: 0.3}, GaussianBlur{Kernel: 5}),
		"apply":     RandomApply{Aug: ColorJitter{Contrast: 0.5}, P: 0.5},
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			if !allowsInPlace(op) {
				t.Fatal("does not allow in-place use")
			}
			for seed := range uint64(10) {
				for _, c := range []int{1, 3} {
					src := randImage(31, 24, c, newRNG(seed))
					var want image.Image
					if err := op.Augment(&want, src, newRNG(seed)); err != nil {
						t.Fatal(err)
					}
					if err := op.Augment(src, src, newRNG(seed)); err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(src.Pix, want.Pix) || src.W != want.W || src.H != want.H {
						t.Fatalf("seed %d c %d: in place differs", seed, c)
					}
				}
			}
		})
	}
}

func TestDegenerateSizes(t *testing.T) {
	ops := map[string]Augmentation{
		"simclr64":   SimCLR(64, 1, true),
		"simclr1":    SimCLR(1, 1, true),
		"cifar":      SimCLRCIFAR(32),
		"bicubic":    RandomResizedCrop{Size: 7, Interpolation: Bicubic},
		"blur":       GaussianBlur{Kernel: 23, Sigma: [2]float32{2, 5}},
		"blurzero":   GaussianBlur{},
		"jitter":     ColorJitter{1, 1, 1, 0.5},
		"gray":       RandomGrayscale{P: 1},
		"flip":       HorizontalFlip{P: 1},
		"solarize":   Solarize{P: 1},
		"random ord": RandomOrder(ColorJitter{Hue: 0.5}, HorizontalFlip{}),
	}
	sizes := [][3]int{{1, 1, 3}, {1, 1, 1}, {1, 9, 3}, {9, 1, 3}, {2, 2, 1}, {3, 500, 3}, {40, 30, 1}}
	for name, op := range ops {
		for _, sz := range sizes {
			t.Run(fmt.Sprintf("%s/%dx%dx%d", name, sz[0], sz[1], sz[2]), func(t *testing.T) {
				src := randImage(sz[0], sz[1], sz[2], newRNG(1))
				for seed := range uint64(5) {
					var dst image.Image
					if err := op.Augment(&dst, src, newRNG(seed)); err != nil {
						t.Fatal(err)
					}
					if err := dst.Validate(); err != nil || dst.Empty() {
						t.Fatalf("bad output %dx%dx%d: %v", dst.W, dst.H, dst.C, err)
					}
					if dst.C != sz[2] {
						t.Fatalf("channels %d → %d", sz[2], dst.C)
					}
				}
			})
		}
	}
}

func TestErrors(t *testing.T) {
	src := randImage(10, 10, 3, newRNG(1))
	var dst image.Image
	tests := []struct {
		name string
		err  error
	}{
		{"crop outside", ResizedCrop(&dst, src, 5, 5, 6, 6, 4, 4, Bilinear)},
		{"empty crop", ResizedCrop(&dst, src, 0, 0, 0, 6, 4, 4, Bilinear)},
		{"bad interp", ResizedCrop(&dst, src, 0, 0, 5, 5, 4, 4, Interpolation(9))},
		{"aliased crop", ResizedCrop(src, src, 0, 0, 5, 5, 4, 4, Bilinear)},
		{"size 0", RandomResizedCrop{}.Augment(&dst, src, newRNG(1))},
		{"empty source", RandomResizedCrop{Size: 4}.Augment(&dst, &image.Image{C: 3}, newRNG(1))},
		{"even kernel", Blur(&dst, src, 4, 1)},
		{"zero sigma", Blur(&dst, src, 5, 0)},
		{"negative brightness", AdjustBrightness(&dst, src, -1)},
		{"hue too big", AdjustHue(&dst, src, 0.6)},
		{"bad jitter", ColorJitter{Hue: 0.7}.Augment(&dst, src, newRNG(1))},
		{"two channels", HFlip(&dst, &image.Image{W: 1, H: 1, C: 2, Stride: 2, Pix: []uint8{1, 2}})},
		{"gray channels", RGBToGrayscale(&dst, src, 2)},
		{"normalize size", CHW(make([]float32, 5), src, new([3][256]float32))},
	}
	for _, tt := range tests {
		if tt.err == nil {
			t.Errorf("%s: no error", tt.name)
		} else if s := tt.err.Error(); len(s) < 9 || s[:9] != "augment: " {
			t.Errorf("%s: error %q lacks the package prefix", tt.name, s)
		}
	}
}

func TestJitterFusedMatchesSequential(t *testing.T) {
	rng := newRNG(11)
	for i := range 300 {
		c := []int{1, 3}[i%2]
		src := randImage(17, 13, c, rng)
		if i%3 == 0 { // a photo-like smooth image too
			src = benchSource(t, 17, 13)
		}
		var p jitterParams
		shuffle(p.order[:], rng)
		for k := range 4 {
			p.on[k] = rng.IntN(4) != 0
		}
		p.f = [4]float64{2 * rng.Float64(), 2 * rng.Float64(), 2 * rng.Float64(), rng.Float64() - 0.5}
		var fused image.Image
		jitter(&fused, src, p)
		seq := src.Clone()
		for _, op := range p.order {
			if !p.on[op] {
				continue
			}
			var err error
			switch op {
			case 0:
				err = AdjustBrightness(seq, seq, p.f[0])
			case 1:
				err = AdjustContrast(seq, seq, p.f[1])
			case 2:
				err = AdjustSaturation(seq, seq, p.f[2])
			case 3:
				err = AdjustHue(seq, seq, p.f[3])
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(fused.Pix, seq.Pix) {
			t.Fatalf("case %d %+v: fused jitter differs from the sequence of adjustments", i, p)
		}
	}
}

func TestSaturationIntMatchesFloat(t *testing.T) {
	rng := newRNG(12)
	id := identityLUT()
	for i := range 400 {
		f := 2.5 * rng.Float64()
		if i < 20 {
			f = float64(i) / 8 // exact binary fractions: every frac is 0 or k/8
		}
		st := newSatTable(float32(f))
		var fl [511]int16
		if !st.satInt(&fl) {
			continue // the float path will be taken; nothing to compare
		}
		src := randImage(64, 8, 3, rng)
		var a, b image.Image
		a.Resize(64, 8, 3)
		b.Resize(64, 8, 3)
		saturate3Int(&a, src, &id, &fl)
		saturate3Float(&b, src, &id, &st)
		if !bytes.Equal(a.Pix, b.Pix) {
			t.Fatalf("factor %v: integer saturation differs from float", f)
		}
	}
}

// TestHSVFastPathExhaustive checks the table-driven HSV conversions against
// the direct transcription of PIL's code for every input.
func TestHSVFastPathExhaustive(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("16M-entry sweep")
	}
	tb := tables()
	for r := range 256 {
		for g := range 256 {
			for b := range 256 {
				h1, s1, v1 := rgbToHSV(uint8(r), uint8(g), uint8(b))
				h2, s2, v2 := hsvFast(tb, uint8(r), uint8(g), uint8(b))
				if h1 != h2 || s1 != s2 || v1 != v2 {
					t.Fatalf("rgb %d,%d,%d: fast hsv %d,%d,%d, want %d,%d,%d", r, g, b, h2, s2, v2, h1, s1, v1)
				}
				// the same loop covers every (h, s, v) for the reverse
				r1, g1, b1 := hsvToRGB(tb, uint8(r), uint8(g), uint8(b))
				r2, g2, b2 := hsvToRGBFast(tb, uint8(r), uint8(g), uint8(b))
				if r1 != r2 || g1 != g2 || b1 != b2 {
					t.Fatalf("hsv %d,%d,%d: fast rgb %d,%d,%d, want %d,%d,%d", r, g, b, r2, g2, b2, r1, g1, b1)
				}
			}
		}
	}
}

func TestZeroAllocsPerView(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	src := randImage(500, 375, 3, newRNG(2))
	for _, aug := range []Augmentation{SimCLR(224, 1, true), SimCLRCIFAR(32),
		Chain(RandomResizedCrop{Size: 64, Interpolation: Bicubic}, RandomOrder(Solarize{}, HorizontalFlip{}))} {
		var dst image.Image
		rng := newRNG(1)
		for range 10 { // warm the pools and grow dst
			if err := aug.Augment(&dst, src, rng); err != nil {
				t.Fatal(err)
			}
		}
		n := testing.AllocsPerRun(20, func() {
			if err := aug.Augment(&dst, src, rng); err != nil {
				t.Fatal(err)
			}
		})
		// sync.Pool may drop its items at a GC and allocate anew: allow a
		// rare allocation, not one per view.
		if n > 0.1 {
			t.Errorf("%.2f allocations per view", n)
		}
	}
}

func TestConcurrentUseIsDeterministic(t *testing.T) {
	src := randImage(200, 150, 3, newRNG(4))
	aug := SimCLR(64, 1, true)
	want := make([][]uint8, 16)
	for i := range want {
		var d image.Image
		if err := aug.Augment(&d, src, newRNG(uint64(i))); err != nil {
			t.Fatal(err)
		}
		want[i] = d.Pix
	}
	errc := make(chan error, len(want))
	for i := range want {
		go func() {
			var d image.Image
			for range 5 {
				if err := aug.Augment(&d, src, newRNG(uint64(i))); err != nil {
					errc <- err
					return
				}
				if !bytes.Equal(d.Pix, want[i]) {
					errc <- fmt.Errorf("view %d differs under concurrency", i)
					return
				}
			}
			errc <- nil
		}()
	}
	for range want {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}

func TestCHW(t *testing.T) {
	tab := Normalize{}.Table()
	for _, c := range []int{1, 3} {
		src := randImage(5, 4, c, newRNG(1))
		dst := make([]float32, 3*20)
		if err := CHW(dst, src, &tab); err != nil {
			t.Fatal(err)
		}
		for y := range 4 {
			for x := range 5 {
				for ch := range 3 {
					v := src.Pix[y*src.Stride+x*c+min(ch, c-1)]
					if got := dst[ch*20+y*5+x]; got != tab[ch][v] {
						t.Fatalf("c=%d (%d,%d,%d) = %v, want %v", c, x, y, ch, got, tab[ch][v])
					}
				}
			}
		}
	}
}

// TestNormalizerMatchesTable checks Normalizer.CHW (the AVX-512 kernel
// where the CPU has one) against the table, sample for sample and bit for
// bit, on sizes around the kernel's 16-pixel blocks and for ImageNet's and
// random statistics, and on a strided view (the table path).
func TestNormalizerMatchesTable(t *testing.T) {
	rng := newRNG(9)
	norms := []Normalize{{}, {Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.5, 0.5, 0.5}}}
	for range 6 {
		var n Normalize
		for c := range 3 {
			n.Mean[c], n.Std[c] = rng.Float32(), 0.01+rng.Float32()
		}
		norms = append(norms, n)
	}
	if hasVBMI && !(Normalize{}).Normalizer().fma {
		t.Error("the FMA division kernel does not reproduce ImageNet's table")
	}
	for i := range 2 * len(norms) {
		n := norms[i/2]
		z := n.Normalizer()
		if i%2 == 1 {
			if !z.fma {
				continue
			}
			z.fma = false // the division kernel too
		}
		tab := n.Table()
		for _, wh := range [][2]int{{1, 1}, {5, 1}, {6, 1}, {16, 1}, {17, 1}, {7, 5}, {96, 96}, {33, 17}} {
			for _, c := range []int{1, 3} {
				src := randImage(wh[0], wh[1], c, rng)
				views := []*image.Image{src}
				if wh[0] > 2 {
					views = append(views, &image.Image{W: wh[0] - 2, H: wh[1], C: c, Stride: src.Stride, Pix: src.Pix[c:]})
				}
				for _, m := range views {
					want := make([]float32, 3*m.W*m.H)
					if err := CHW(want, m, &tab); err != nil {
						t.Fatal(err)
					}
					// dst 64-byte aligned (the non-temporal stores,
					// where every plane is) and not
					buf := make([]float32, len(want)+17)
					k := 0
					for !aligned64(&buf[k]) {
						k++
					}
					for _, off := range []int{k, k + 1} {
						got := buf[off : off+len(want)]
						clear(buf)
						if err := z.CHW(got, m); err != nil {
							t.Fatal(err)
						}
						for i := range want {
							if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
								t.Fatalf("%+v %dx%dx%d stride %d dst+%d: sample %d = %v, want %v", n, m.W, m.H, c, m.Stride, off-k, i, got[i], want[i])
							}
						}
					}
				}
			}
		}
		if err := z.CHW(make([]float32, 5), randImage(4, 4, 3, rng)); err == nil {
			t.Fatal("wrong dst length accepted")
		}
	}
}

func TestGoldenInputsLoad(t *testing.T) {
	m := readPNG(t, filepath.Join("testdata", "in_camera.png"))
	if m.C != 1 {
		t.Fatalf("camera input has %d channels, want gray", m.C)
	}
}

// TestHue3MatchesReference checks the fused hue loop against the direct
// transcription of PIL's per-pixel conversions, for every shift.
func TestHue3MatchesReference(t *testing.T) {
	rng := newRNG(13)
	tb := tables()
	id := identityLUT()
	for shift := range 256 {
		src := randImage(37, 5, 3, rng)
		var got image.Image
		got.Resize(37, 5, 3)
		hue3(&got, src, &id, uint8(shift))
		for i := 0; i < len(src.Pix); i += 3 {
			h, s, v := rgbToHSV(src.Pix[i], src.Pix[i+1], src.Pix[i+2])
			r, g, b := hsvToRGB(tb, h+uint8(shift), s, v)
			if got.Pix[i] != r || got.Pix[i+1] != g || got.Pix[i+2] != b {
				t.Fatalf("shift %d pixel %v: got %v, want %v", shift, src.Pix[i:i+3], got.Pix[i:i+3], []uint8{r, g, b})
			}
		}
	}
}

// TestBlurKernelOfLargeViews: SimCLR's kernel is 10% of the view side, 129
// at 1280 px and 409 at 4096; Blur took at most 127, so every blurred view
// of 1280 px and more failed. A longer kernel gives the same output as 127
// when its weights past radius 63 round to zero (σ ≤ 2 they all do), and is
// refused when they do not.
func TestBlurKernelOfLargeViews(t *testing.T) {
	src := randImage(150, 90, 3, newRNG(5))
	var want image.Image
	if err := Blur(&want, src, 127, 2); err != nil {
		t.Fatal(err)
	}
	for _, k := range []int{129, 409, 1023} {
		var got image.Image
		if err := Blur(&got, src, k, 2); err != nil {
			t.Fatalf("kernel %d: %v", k, err)
		}
		if !bytes.Equal(got.Pix, want.Pix) {
			t.Errorf("kernel %d, σ 2: differs from kernel 127", k)
		}
	}
	var dst image.Image
	if err := Blur(&dst, src, 301, 40); err == nil {
		t.Error("kernel 301, σ 40 (weights past radius 63): no error")
	}
	if err := Blur(&dst, src, 1025, 2); err == nil {
		t.Error("kernel 1025: no error")
	}
	// The preset at the largest view side.
	big := randImage(64, 4096, 3, newRNG(6))
	if err := (GaussianBlur{Kernel: 4096/10/2*2 + 1}).Augment(&dst, big, newRNG(7)); err != nil {
		t.Errorf("SimCLR's blur at 4096 px: %v", err)
	}
}
