package image

import (
	"bytes"
	"fmt"
	stdimage "image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// jpegCorpus returns the differential corpus (testdata/jpegcorpus, made by
// its gen.py with cjpeg and PIL) plus the decode fixtures and JPEGs
// encoded here by image/jpeg at assorted sizes and qualities.
func jpegCorpus(t testing.TB) map[string][]byte {
	out := map[string][]byte{}
	files, _ := filepath.Glob("testdata/jpegcorpus/*.jpg")
	fx, _ := filepath.Glob("testdata/decode/*.jpg")
	for _, f := range append(files, fx...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	if len(files) < 50 {
		t.Fatalf("jpeg corpus: %d files", len(files))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 24; i++ {
		w, h := 1+rng.IntN(90), 1+rng.IntN(70)
		q := []int{1, 30, 75, 90, 100}[i%5]
		var m stdimage.Image
		if i%4 == 3 {
			g := stdimage.NewGray(stdimage.Rect(0, 0, w, h))
			for j := range g.Pix {
				g.Pix[j] = uint8(rng.IntN(256)/(1+i%3) + j%7)
			}
			m = g
		} else {
			c := stdimage.NewRGBA(stdimage.Rect(0, 0, w, h))
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					c.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y*3 + rng.IntN(40)), uint8(rng.IntN(256) * (i % 2)), 255})
				}
			}
			m = c
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: q}); err != nil {
			t.Fatal(err)
		}
		out[fmt.Sprintf("go_%dx%d_q%d_%d", w, h, q, i)] = buf.Bytes()
	}
	return out
}

// TestJPEGMatchesTurbo: the pure-Go decoder gives libjpeg-turbo's pixels
// exactly, on every corpus file, for gray, RGB and source-kind output, with
// fancy and replicated chroma.
func TestJPEGMatchesTurbo(t *testing.T) {
	if !HaveTurbo {
		t.Skip("needs -tags turbojpeg (the reference is tjDecompress2)")
	}
	n, skipped := 0, 0
	for name, data := range jpegCorpus(t) {
		for _, fast := range []bool{false, true} {
			for _, ch := range []int{0, 1, 3} {
				var g, tj Image
				opt := DecodeOptions{Channels: ch, FastUpsample: fast}
				opt.Backend = BackendTurbo
				errT := Decode(&tj, data, opt)
				opt.Backend = BackendGo
				errG := Decode(&g, data, opt)
				if errT != nil && strings.Contains(errT.Error(), "Could not determine subsampling") {
					// The TurboJPEG API (not libjpeg) refuses sampling
					// layouts it has no name for (3x1, 2x4, 4:1:0 here).
					skipped++
					continue
				}
				if (errG == nil) != (errT == nil) {
					t.Errorf("%s fast=%v c%d: go %v, turbo %v", name, fast, ch, errG, errT)
					continue
				}
				if errT != nil {
					continue
				}
				if g.W != tj.W || g.H != tj.H || g.C != tj.C {
					t.Errorf("%s: go %dx%dx%d, turbo %dx%dx%d", name, g.W, g.H, g.C, tj.W, tj.H, tj.C)
					continue
				}
				if mx, mean := diffStats(&g, &tj); mx != 0 {
					t.Errorf("%s fast=%v c%d: max %d mean %.4f, want identical", name, fast, ch, mx, mean)
				}
				n++
			}
		}
	}
	t.Logf("%d decodes identical, %d without a TurboJPEG reference", n, skipped)
	if n < 600 {
		t.Errorf("only %d decodes compared", n)
	}
}

// TestJPEGCloseToStd checks the corpus against image/jpeg where turbo is
// not built in: same size, samples close (image/jpeg's IDCT rounds
// differently).
func TestJPEGCloseToStd(t *testing.T) {
	for name, data := range jpegCorpus(t) {
		var g, s Image
		errS := Decode(&s, data, DecodeOptions{Backend: BackendStd, Channels: 3})
		errG := Decode(&g, data, DecodeOptions{Backend: BackendGo, Channels: 3})
		if errS != nil || errG != nil {
			if errG != nil {
				t.Errorf("%s: go %v (std %v)", name, errG, errS)
			}
			continue
		}
		tol := 16
		if strings.Contains(name, "cmyk") || strings.Contains(name, "ycck") {
			tol = 40
		}
		if mx, mean := diffStats(&g, &s); mx > tol || mean > 1.5 {
			t.Errorf("%s: go vs image/jpeg max %d mean %.3f", name, mx, mean)
		}
	}
}

// TestJPEGNoAllocs: in steady state a decode allocates nothing.
func TestJPEGNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	for _, name := range []string{"jpg_420.jpg", "jpg_420_prog.jpg", "jpg_gray.jpg", "jpg_ycck.jpg", "cj_420_rst1_129x65.jpg"} {
		data := jpegCorpus(t)[name]
		var dst Image
		allocs := testing.AllocsPerRun(20, func() {
			if err := Decode(&dst, data, DecodeOptions{Backend: BackendGo}); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per decode, want 0", name, allocs)
		}
	}
}

// TestJPEGOddSampling: layouts the TurboJPEG API refuses (3x1, 2x4, 4:1:0
// luma factors) against PIL's libjpeg-turbo decodes, exactly.
func TestJPEGOddSampling(t *testing.T) {
	wants, _ := filepath.Glob("testdata/jpegcorpus/*.want.ppm")
	if len(wants) < 10 {
		t.Fatalf("%d references", len(wants))
	}
	for _, w := range wants {
		want := readPNM(t, w)
		data, err := os.ReadFile(strings.TrimSuffix(w, ".want.ppm") + ".jpg")
		if err != nil {
			t.Fatal(err)
		}
		var got Image
		if err := Decode(&got, data, DecodeOptions{Backend: BackendGo, Channels: 3}); err != nil {
			t.Fatalf("%s: %v", w, err)
		}
		if mx, mean := diffStats(&got, want); mx != 0 || got.W != want.W || got.H != want.H {
			t.Errorf("%s: max %d mean %.4f against PIL", filepath.Base(w), mx, mean)
		}
	}
}
