//go:build turbojpeg && cgo

package image

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// turboCorpus encodes, with tjCompress2, images of odd and extreme sizes in
// every subsampling TurboJPEG names (4:4:4, 4:2:2, 4:2:0, 4:4:0, 4:1:1,
// gray from RGB and from gray input), baseline and progressive (whose
// Huffman tables libjpeg optimises), and CMYK input (stored as Adobe YCCK).
// The pixels are a gradient with noise, so that every block has AC terms.
func turboCorpus(t testing.TB) map[string][]byte {
	sizes := [][2]int{{1, 1}, {7, 13}, {17, 9}, {250, 1}, {1, 250}, {8, 8}, {16, 16}, {33, 17}, {100, 75}, {129, 3}, {2, 300}, {31, 33}}
	samps := map[string]int{"444": tjSamp444, "422": tjSamp422, "420": tjSamp420, "440": tjSamp440, "411": tjSamp411, "gray": tjSampGray}
	rng := rand.New(rand.NewPCG(13, 13))
	out := map[string][]byte{}
	for _, sz := range sizes {
		w, h := sz[0], sz[1]
		for _, c := range []int{1, 3, 4} {
			pix := make([]byte, w*h*c)
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					for k := 0; k < c; k++ {
						v := (x*255/max(w-1, 1)+y*(80+40*k)/max(h-1, 1))/2 + rng.IntN(24+k*30)
						pix[(y*w+x)*c+k] = uint8(min(v, 255))
					}
				}
			}
			for sn, s := range samps {
				if c == 1 && s != tjSampGray || c == 4 && s == tjSampGray {
					continue
				}
				for _, prog := range []bool{false, true} {
					q := 50 + rng.IntN(50)
					data, err := tjEncode(pix, w, h, c, s, q, prog)
					if err != nil {
						t.Fatalf("%dx%dx%d %s: %v", w, h, c, sn, err)
					}
					out[fmt.Sprintf("tj_%s_c%d_prog%v_q%d_%dx%d", sn, c, prog, q, w, h)] = data
				}
			}
		}
	}
	return out
}

// TestJPEGMatchesTurboGenerated: on the generated corpus the pure-Go
// decoder gives tjDecompress2's pixels exactly, for gray, RGB and
// source-kind output, fancy and replicated chroma, and with random crops
// (inside them).
func TestJPEGMatchesTurboGenerated(t *testing.T) {
	poisonPlanes = true // a sample read before it is reconstructed shows
	defer func() { poisonPlanes = false }()
	rng := rand.New(rand.NewPCG(7, 13))
	n, crops := 0, 0
	files := turboCorpus(t)
	for name, data := range files {
		for _, fast := range []bool{false, true} {
			for _, ch := range []int{0, 1, 3} {
				var g, tj Image
				opt := DecodeOptions{Channels: ch, FastUpsample: fast, Backend: BackendTurbo}
				if err := Decode(&tj, data, opt); err != nil {
					t.Fatalf("%s: turbo: %v", name, err)
				}
				opt.Backend = BackendGo
				if err := Decode(&g, data, opt); err != nil {
					t.Errorf("%s fast=%v c%d: go: %v", name, fast, ch, err)
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
				for k := 0; k < 3; k++ {
					opt.Crops = randomCrops(rng, g.W, g.H)
					if err := Decode(&g, data, opt); err != nil {
						t.Fatalf("%s crops %v: %v", name, opt.Crops, err)
					}
					for y := 0; y < g.H; y++ {
						a, b := g.Row(y), tj.Row(y)
						for x := 0; x < g.W; x++ {
							if inCrops(opt.Crops, x, y) && string(a[x*g.C:(x+1)*g.C]) != string(b[x*g.C:(x+1)*g.C]) {
								t.Fatalf("%s fast=%v c%d crops %v: pixel (%d,%d) %v, turbo %v", name, fast, ch, opt.Crops, x, y, a[x*g.C:(x+1)*g.C], b[x*g.C:(x+1)*g.C])
							}
						}
					}
					crops++
				}
			}
		}
	}
	t.Logf("%d files: %d decodes and %d crop decodes identical to tjDecompress2", len(files), n, crops)
	if n < 1000 {
		t.Errorf("only %d decodes compared", n)
	}
	for name := range files {
		if strings.Contains(name, "c4") {
			return
		}
	}
	t.Error("no CMYK file")
}
