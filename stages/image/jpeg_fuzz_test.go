package image

import (
	"bytes"
	"errors"
	"hash/fnv"
	stdimage "image"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// FuzzJPEGStd runs the pure-Go JPEG decoder and image/jpeg on mutated
// JPEGs (seeds: the small files of the differential corpus, every layout).
// It requires: no panic; every error wraps a sentinel; whatever both
// decoders accept has the same size; a crop-aware decode (crops drawn from
// the input's hash) of a file the full decode accepts is accepted too and
// has the full decode's pixels inside the crops.
//
// It does not require image/jpeg's verdict or its samples within 1: the
// decoder follows libjpeg-turbo, and on damaged data the two libraries
// part ways. In a 45 s run (2 workers) image/jpeg accepted what libjpeg
// refuses under TJFLAG_STOPONWARNING (a sequential scan with Ss/Se/Ah/Al
// set: 1543 inputs, an over-subscribed Huffman table: 1246, bytes before a
// marker: 576, premature end of data: 335, ...), refused valid files
// libjpeg reads (progressive with restart markers: "missing 0xff00
// sequence"), and where both accepted damaged data their luma differed by
// more than 1 on 5607 inputs. TestJPEGLumaMatchesStd checks the planes on
// valid files instead.
//
//	go test -run XXX -fuzz FuzzJPEGStd -fuzztime 60s ./stages/image/
func FuzzJPEGStd(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/jpegcorpus/*_7x5.jpg")
	more, _ := filepath.Glob("testdata/jpegcorpus/*_17x33.jpg")
	for _, p := range append(seeds, more...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	const limit = 64 * 64
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := DecodeHeader(data)
		if err != nil || h.Format != FormatJPEG || h.W*h.H > limit {
			return
		}
		hash := fnv.New64a()
		hash.Write(data)
		rng := rand.New(rand.NewPCG(hash.Sum64(), 1))
		opt := DecodeOptions{Backend: BackendGo, Channels: 1 + 2*rng.IntN(2), FastUpsample: rng.IntN(4) == 0, MaxPixels: limit}
		var g Image
		errG := Decode(&g, data, opt)
		if errG != nil && !errors.Is(errG, ErrCorrupt) && !errors.Is(errG, ErrUnsupported) {
			t.Fatalf("go: error %v wraps no sentinel", errG)
		}
		m, errS := jpeg.Decode(bytes.NewReader(data))
		if errG == nil && errS == nil && (m.Bounds().Dx() != g.W || m.Bounds().Dy() != g.H) {
			t.Fatalf("go %dx%d, image/jpeg %v", g.W, g.H, m.Bounds())
		}
		if errG != nil {
			return
		}
		var c Image
		c.Resize(g.W, g.H, g.C)
		for i := range c.Pix {
			c.Pix[i] = uint8(rng.Uint32())
		}
		opt.Crops = randomCrops(rng, g.W, g.H)
		poisonPlanes = true
		err = Decode(&c, data, opt)
		poisonPlanes = false
		if err != nil {
			t.Fatalf("crops %v: %v (full decode: ok)", opt.Crops, err)
		}
		for y := 0; y < g.H; y++ {
			for x := 0; x < g.W; x++ {
				if inCrops(opt.Crops, x, y) && !bytes.Equal(c.Row(y)[x*g.C:(x+1)*g.C], g.Row(y)[x*g.C:(x+1)*g.C]) {
					t.Fatalf("%+v: pixel (%d,%d) %v, full decode %v", opt, x, y, c.Row(y)[x*g.C:(x+1)*g.C], g.Row(y)[x*g.C:(x+1)*g.C])
				}
			}
		}
	})
}

// TestJPEGLumaMatchesStd: on valid files (the corpus) the decoder's luma
// plane is image/jpeg's within 1 (the two islow IDCTs round differently),
// wherever image/jpeg reads the file.
func TestJPEGLumaMatchesStd(t *testing.T) {
	n, worst := 0, 0
	for name, data := range jpegCorpus(t) {
		m, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			continue // layouts image/jpeg lacks; progressive files with restart markers
		}
		var y []uint8
		var stride int
		switch s := m.(type) {
		case *stdimage.YCbCr:
			y, stride = s.Y, s.YStride
		case *stdimage.Gray:
			y, stride = s.Pix, s.Stride
		default:
			continue // CMYK: no luma plane
		}
		var g Image
		if err := Decode(&g, data, DecodeOptions{Backend: BackendGo, Channels: 1}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for r := 0; r < g.H; r++ {
			for x := 0; x < g.W; x++ {
				d := int(g.Pix[r*g.Stride+x]) - int(y[r*stride+x])
				worst = max(worst, d, -d)
				if d > 1 || d < -1 {
					t.Fatalf("%s: luma (%d,%d) %d, image/jpeg %d", name, x, r, g.Pix[r*g.Stride+x], y[r*stride+x])
				}
			}
		}
		n++
	}
	t.Logf("%d files, largest luma difference %d", n, worst)
	if n < 60 {
		t.Errorf("only %d files compared", n)
	}
}
