package image

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	stdimage "image"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// readPNM reads a binary P5 (gray) or P6 (RGB) file as written by gen.py.
func readPNM(t testing.TB, path string) *Image {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var magic string
	var w, h, maxv int
	n, err := fmt.Fscan(bytes.NewReader(b), &magic, &w, &h, &maxv)
	if err != nil || n != 4 || maxv != 255 {
		t.Fatalf("%s: bad pnm header: %v", path, err)
	}
	// The header is four whitespace-separated fields then one whitespace byte.
	fields := 0
	i := 0
	for fields < 4 {
		for b[i] == ' ' || b[i] == '\n' {
			i++
		}
		for b[i] != ' ' && b[i] != '\n' {
			i++
		}
		fields++
	}
	i++
	c := 3
	if magic == "P5" {
		c = 1
	}
	m := &Image{W: w, H: h, C: c, Stride: w * c, Pix: b[i:]}
	if len(m.Pix) != w*h*c {
		t.Fatalf("%s: %d samples, want %d", path, len(m.Pix), w*h*c)
	}
	return m
}

// diffStats returns the largest and the mean absolute sample difference.
func diffStats(a, b *Image) (maxd int, mean float64) {
	var sum int
	for y := 0; y < a.H; y++ {
		ra, rb := a.Row(y), b.Row(y)
		for x := range ra {
			d := int(ra[x]) - int(rb[x])
			if d < 0 {
				d = -d
			}
			sum += d
			maxd = max(maxd, d)
		}
	}
	return maxd, float64(sum) / float64(a.W*a.H*a.C)
}

// fixtures returns the names (without extension) of testdata/decode files
// that have an expected .want.pnm.
func fixtures(t testing.TB) []string {
	t.Helper()
	wants, err := filepath.Glob("testdata/decode/*.want.pnm")
	if err != nil || len(wants) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	var names []string
	for _, w := range wants {
		names = append(names, strings.TrimSuffix(w, ".want.pnm"))
	}
	return names
}

func fixtureFile(t testing.TB, name string) []byte {
	t.Helper()
	for _, ext := range []string{".png", ".jpg"} {
		if b, err := os.ReadFile(name + ext); err == nil {
			return b
		}
	}
	t.Fatalf("%s: no .png or .jpg", name)
	return nil
}

func backends() []Backend {
	if HaveTurbo {
		return []Backend{BackendGo, BackendStd, BackendTurbo}
	}
	return []Backend{BackendGo, BackendStd}
}

// Tolerances for JPEG against PIL's decode (libjpeg-turbo 2.1.5 with its
// defaults: islow IDCT, triangle chroma upsampling). The turbojpeg backend
// is the same library with the same settings, and the Go backend
// reimplements it, so both must match exactly. The image/jpeg backend
// (BackendStd) shares this package's libjpeg-exact upsampling and colour
// conversion, but image/jpeg's IDCT rounds differently from jidctint.c: a
// sample is off by one now and then (measured: 2-5% of samples), and colour
// conversion can turn ±1 in Y, Cb and Cr into ±3 in R, G or B. So: max 4,
// mean 0.1 (measured max 3, mean 0.02-0.07 on the fixtures).
//
// YCCK is the exception: image/jpeg converts its YCC part to RGB itself
// (nearest-neighbour chroma, Go's rounding) before this package sees it, so
// the Go backend differs from libjpeg as FastUpsample does: max 16, mean 1.5
// (measured max 12, mean 0.88).
const (
	goJPEGMax  = 4
	goJPEGMean = 0.1

	goYCCKMax  = 16
	goYCCKMean = 1.5
)

// goTolerance returns the Go backend's tolerance against libjpeg for a fixture.
func goTolerance(name string) (int, float64) {
	if strings.Contains(name, "ycck") {
		return goYCCKMax, goYCCKMean
	}
	return goJPEGMax, goJPEGMean
}

// lumaOf returns the C=1 version of an RGB reference with the package's luma.
func lumaOf(m *Image) *Image {
	if m.C == 1 {
		return m
	}
	out := &Image{}
	out.Resize(m.W, m.H, 1)
	for y := 0; y < m.H; y++ {
		s, d := m.Row(y), out.Row(y)
		for x := range d {
			d[x] = luma(s[3*x], s[3*x+1], s[3*x+2])
		}
	}
	return out
}

func rgbOf(m *Image) *Image {
	out := &Image{}
	GrayToRGB(out, m)
	return out
}

func TestDecodeFixtures(t *testing.T) {
	for _, name := range fixtures(t) {
		data := fixtureFile(t, name)
		want0 := readPNM(t, name+".want.pnm")
		base := filepath.Base(name)
		isJPEG := strings.HasPrefix(base, "jpg")
		for _, be := range backends() {
			for _, ch := range []int{0, 1, 3} {
				t.Run(fmt.Sprintf("%s/%v/c%d", base, be, ch), func(t *testing.T) {
					want := want0
					switch ch {
					case 1:
						want = lumaOf(want0)
					case 3:
						want = rgbOf(want0)
					}
					maxTol, meanTol := 0, 0.0
					if isJPEG && be == BackendStd {
						maxTol, meanTol = goTolerance(base)
					}
					if isJPEG && ch == 1 && want0.C == 3 {
						// A colour JPEG decoded to gray is its Y plane, not
						// the luma of the decoded RGB: they differ by
						// rounding, and where R, G or B clip at 0 or 255
						// (measured: max 5, mean 0.04).
						maxTol, meanTol = maxTol+8, meanTol+0.2
					}
					var got Image
					if err := Decode(&got, data, DecodeOptions{Backend: be, Channels: ch}); err != nil {
						t.Fatal(err)
					}
					if err := got.Validate(); err != nil {
						t.Fatal(err)
					}
					if got.W != want.W || got.H != want.H || got.C != want.C {
						t.Fatalf("got %dx%dx%d, want %dx%dx%d", got.W, got.H, got.C, want.W, want.H, want.C)
					}
					mx, mean := diffStats(&got, want)
					if mx > maxTol || mean > meanTol {
						t.Errorf("differs from reference: max %d (tolerance %d), mean %.4f (tolerance %.4f)", mx, maxTol, mean, meanTol)
					}
				})
			}
		}
	}
}

// TestDecodeBackendsAgree checks the Go and image/jpeg backends against
// libjpeg-turbo on every JPEG fixture with both upsampling modes and both
// gray and RGB output: the Go backend exactly, image/jpeg within its
// tolerance.
func TestDecodeBackendsAgree(t *testing.T) {
	if !HaveTurbo {
		t.Skip("needs -tags turbojpeg")
	}
	files, _ := filepath.Glob("testdata/decode/*.jpg")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, fast := range []bool{false, true} {
			for _, ch := range []int{0, 1, 3} {
				t.Run(fmt.Sprintf("%s/fast=%v/c%d", filepath.Base(f), fast, ch), func(t *testing.T) {
					var g, tj, std Image
					if err := Decode(&g, data, DecodeOptions{Backend: BackendGo, FastUpsample: fast, Channels: ch}); err != nil {
						t.Fatal(err)
					}
					if err := Decode(&std, data, DecodeOptions{Backend: BackendStd, FastUpsample: fast, Channels: ch}); err != nil {
						t.Fatal(err)
					}
					if err := Decode(&tj, data, DecodeOptions{Backend: BackendTurbo, FastUpsample: fast, Channels: ch}); err != nil {
						t.Fatal(err)
					}
					if g.W != tj.W || g.H != tj.H || g.C != tj.C {
						t.Fatalf("go %dx%dx%d, turbo %dx%dx%d", g.W, g.H, g.C, tj.W, tj.H, tj.C)
					}
					if mx, mean := diffStats(&g, &tj); mx != 0 {
						t.Errorf("go vs turbo: max %d, mean %.4f, want identical", mx, mean)
					}
					mx, mean := diffStats(&std, &tj)
					if maxTol, meanTol := goTolerance(f); mx > maxTol || mean > meanTol {
						t.Errorf("std vs turbo: max %d, mean %.4f", mx, mean)
					}
				})
			}
		}
	}
}

// TestFastUpsampleDiffers makes sure the option reaches the Go kernels: on a
// 4:2:0 photo, replicated chroma is visibly different from triangle-filtered.
func TestFastUpsampleDiffers(t *testing.T) {
	data := fixtureFile(t, "testdata/decode/jpg_420")
	for _, be := range backends() {
		var a, b Image
		if err := Decode(&a, data, DecodeOptions{Backend: be}); err != nil {
			t.Fatal(err)
		}
		if err := Decode(&b, data, DecodeOptions{Backend: be, FastUpsample: true}); err != nil {
			t.Fatal(err)
		}
		if mx, mean := diffStats(&a, &b); mx < 5 || mean < 0.2 {
			t.Errorf("%v: fast upsampling hardly differs: max %d mean %.3f", be, mx, mean)
		}
	}
}

// pngChunk builds a PNG chunk with a correct CRC.
func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	return b.Bytes()
}

// bombPNG is a valid-looking PNG header declaring w×h RGB pixels, followed
// by a tiny IDAT: what a decompression bomb looks like to a header check.
func bombPNG(w, h uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2
	b := append([]byte("\x89PNG\r\n\x1a\n"), pngChunk("IHDR", ihdr)...)
	b = append(b, pngChunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})...)
	return append(b, pngChunk("IEND", nil)...)
}

// withSOFSize returns a copy of a JPEG with its frame header's size replaced.
func withSOFSize(t testing.TB, jpg []byte, w, h int) []byte {
	t.Helper()
	b := bytes.Clone(jpg)
	i := bytes.Index(b, []byte{0xff, 0xc0})
	if i < 0 {
		i = bytes.Index(b, []byte{0xff, 0xc2})
	}
	if i < 0 {
		t.Fatal("no SOF0/SOF2")
	}
	b[i+5], b[i+6] = byte(h>>8), byte(h)
	b[i+7], b[i+8] = byte(w>>8), byte(w)
	return b
}

// withoutAdobe returns a copy of a JPEG with its APP14 segment removed.
func withoutAdobe(t testing.TB, jpg []byte) []byte {
	t.Helper()
	i := bytes.Index(jpg, []byte("\xff\xeeAdobe"))
	if i < 0 {
		i = bytes.Index(jpg, []byte{0xff, 0xee})
		if i < 0 || !bytes.HasPrefix(jpg[i+4:], []byte("Adobe")) {
			t.Fatal("no Adobe segment")
		}
	}
	n := int(jpg[i+2])<<8 | int(jpg[i+3])
	return append(bytes.Clone(jpg[:i]), jpg[i+2+n:]...)
}

// badHuffman returns a copy of a JPEG whose first DHT declares more codes
// than a table can hold.
func badHuffman(t testing.TB, jpg []byte) []byte {
	t.Helper()
	b := bytes.Clone(jpg)
	i := bytes.Index(b, []byte{0xff, 0xc4})
	if i < 0 {
		t.Fatal("no DHT")
	}
	for k := 0; k < 16; k++ {
		b[i+5+k] = 0xff
	}
	return b
}

func TestDecodeErrors(t *testing.T) {
	png8 := fixtureFile(t, "testdata/decode/png_rgb8")
	jpg := fixtureFile(t, "testdata/decode/jpg_420")
	cmyk := fixtureFile(t, "testdata/decode/jpg_cmyk")
	prog := fixtureFile(t, "testdata/decode/jpg_420_prog")
	pngBadCRC := bytes.Clone(png8)
	pngBadCRC[len(pngBadCRC)-20] ^= 0x55 // inside the last IDAT or its CRC
	pngBadIHDRCRC := bytes.Clone(png8)
	pngBadIHDRCRC[8+8+13] ^= 1
	jpg12 := bytes.Clone(jpg)
	jpg12[bytes.Index(jpg12, []byte{0xff, 0xc0})+4] = 12

	cases := []struct {
		name string
		data []byte
		opt  DecodeOptions
		want error
	}{
		{"empty", nil, DecodeOptions{}, ErrFormat},
		{"empty slice", []byte{}, DecodeOptions{}, ErrFormat},
		{"text", []byte("hello, world: not an image"), DecodeOptions{}, ErrFormat},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), DecodeOptions{}, ErrFormat},
		{"png signature only", png8[:8], DecodeOptions{}, ErrCorrupt},
		{"png truncated header", png8[:20], DecodeOptions{}, ErrCorrupt},
		{"png truncated half", png8[:len(png8)/2], DecodeOptions{}, ErrCorrupt},
		{"png truncated before IEND", png8[:len(png8)-12], DecodeOptions{}, ErrCorrupt},
		{"png bad IDAT crc", pngBadCRC, DecodeOptions{}, ErrCorrupt},
		{"png bad IHDR crc", pngBadIHDRCRC, DecodeOptions{}, ErrCorrupt},
		{"png zero width", bombPNG(0, 10), DecodeOptions{}, ErrCorrupt},
		{"png bomb 100k x 100k", bombPNG(100000, 100000), DecodeOptions{}, ErrTooLarge},
		{"png over MaxPixels", png8, DecodeOptions{MaxPixels: 61*43 - 1}, ErrTooLarge},
		{"jpeg SOI only", jpg[:2], DecodeOptions{}, ErrCorrupt},
		{"jpeg truncated header", jpg[:100], DecodeOptions{}, ErrCorrupt},
		{"jpeg truncated half", jpg[:len(jpg)/2], DecodeOptions{}, ErrCorrupt},
		{"jpeg progressive truncated", prog[:len(prog)*2/3], DecodeOptions{}, ErrCorrupt},
		{"jpeg bad huffman table", badHuffman(t, jpg), DecodeOptions{}, ErrCorrupt},
		{"jpeg bomb 65535 x 65535", withSOFSize(t, jpg, 65535, 65535), DecodeOptions{}, ErrTooLarge},
		{"jpeg over MaxPixels", jpg, DecodeOptions{MaxPixels: 100}, ErrTooLarge},
		{"jpeg zero height (DNL)", withSOFSize(t, jpg, 61, 0), DecodeOptions{}, ErrUnsupported},
		{"jpeg 12-bit", jpg12, DecodeOptions{}, ErrUnsupported},
		{"jpeg cmyk without Adobe", withoutAdobe(t, cmyk), DecodeOptions{}, ErrUnsupported},
	}
	for _, tc := range cases {
		for _, be := range backends() {
			t.Run(tc.name+"/"+be.String(), func(t *testing.T) {
				opt := tc.opt
				opt.Backend = be
				var dst Image
				err := Decode(&dst, tc.data, opt)
				if !errors.Is(err, tc.want) {
					t.Fatalf("got %v, want %v", err, tc.want)
				}
				if msg := err.Error(); !strings.HasPrefix(msg, "image: ") || msg != strings.ToLower(msg[:1])+msg[1:] {
					t.Errorf("error %q: want lower case with prefix \"image: \"", msg)
				}
			})
		}
	}
}

func TestDecodeBadOptions(t *testing.T) {
	data := fixtureFile(t, "testdata/decode/jpg_420")
	var dst Image
	if err := Decode(&dst, data, DecodeOptions{Channels: 2}); err == nil {
		t.Error("Channels 2: no error")
	}
	if err := Decode(&dst, data, DecodeOptions{Backend: 9}); err == nil {
		t.Error("backend 9: no error")
	}
	err := Decode(&dst, data, DecodeOptions{Backend: BackendTurbo})
	if HaveTurbo && err != nil {
		t.Errorf("turbo: %v", err)
	}
	if !HaveTurbo && !errors.Is(err, ErrNoTurbo) {
		t.Errorf("turbo without the tag: got %v, want ErrNoTurbo", err)
	}
}

// TestDecodeTruncatedEverywhere cuts small files at every length: each cut
// must be an error (never a panic, never a silently short image).
func TestDecodeTruncatedEverywhere(t *testing.T) {
	for _, name := range []string{"jpg_420_tiny", "jpg_gray", "png_gray1", "png_pal_trns"} {
		data := fixtureFile(t, "testdata/decode/"+name)
		for _, be := range backends() {
			var dst Image
			for n := 0; n < len(data)-2; n++ { // the last 2 bytes are the EOI marker / part of IEND's CRC
				if err := Decode(&dst, data[:n], DecodeOptions{Backend: be}); err == nil {
					t.Errorf("%s/%v: %d of %d bytes decoded without error", name, be, n, len(data))
				}
			}
		}
	}
}

// TestDecodeLimitBeforeAllocation checks that a bomb is refused from its
// header: a few hundred bytes for the error, not the 30 GB it declares.
func TestDecodeLimitBeforeAllocation(t *testing.T) {
	bombs := map[string][]byte{
		"png":  bombPNG(100000, 100000),
		"jpeg": withSOFSize(t, fixtureFile(t, "testdata/decode/jpg_420"), 65535, 65535),
	}
	for name, b := range bombs {
		var dst Image
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := 0; i < 10; i++ {
			if err := Decode(&dst, b, DecodeOptions{}); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("%s: %v", name, err)
			}
		}
		runtime.ReadMemStats(&after)
		if per := (after.TotalAlloc - before.TotalAlloc) / 10; per > 1024 {
			t.Errorf("%s: %d bytes allocated per refused bomb", name, per)
		}
		if dst.Pix != nil {
			t.Errorf("%s: dst was allocated", name)
		}
	}
}

func TestDecodeMaxPixelsBoundary(t *testing.T) {
	for _, name := range []string{"png_rgb8", "jpg_420"} {
		data := fixtureFile(t, "testdata/decode/"+name)
		var dst Image
		if err := Decode(&dst, data, DecodeOptions{MaxPixels: 61 * 43}); err != nil {
			t.Errorf("%s: exactly at the limit: %v", name, err)
		}
		if err := Decode(&dst, data, DecodeOptions{MaxPixels: 61*43 - 1}); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: one pixel over: %v", name, err)
		}
		if err := Decode(&dst, data, DecodeOptions{MaxPixels: -1}); err != nil {
			t.Errorf("%s: no limit: %v", name, err)
		}
	}
}

// TestDecodeReusesBuffer: decoding into a large enough dst keeps its buffer,
// and the turbojpeg path allocates nothing at all.
func TestDecodeReusesBuffer(t *testing.T) {
	data := fixtureFile(t, "testdata/decode/jpg_420")
	for _, be := range backends() {
		dst := Image{Pix: make([]uint8, 0, 1<<16)}
		p := &dst.Pix[:1][0]
		if err := Decode(&dst, data, DecodeOptions{Backend: be}); err != nil {
			t.Fatal(err)
		}
		if &dst.Pix[0] != p {
			t.Errorf("%v: buffer was replaced", be)
		}
		// under -race, sync.Pool drops puts at random, so the pooled
		// TurboJPEG handle is sometimes remade: count allocations only
		// without it
		if be == BackendTurbo && !raceEnabled {
			allocs := testing.AllocsPerRun(20, func() {
				if err := Decode(&dst, data, DecodeOptions{Backend: be}); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("turbo: %v allocations per decode, want 0", allocs)
			}
		}
	}
}

func TestDecodeMinSide(t *testing.T) {
	data := fixtureFile(t, "testdata/decode/jpg_china") // 200x150
	var full Image
	if err := Decode(&full, data, DecodeOptions{Backend: BackendGo}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		minSide int
		w, h    int // turbojpeg backend
	}{
		{0, 200, 150},
		{151, 200, 150},
		{150, 200, 150},
		{75, 100, 75}, // 1/2
		{76, 200, 150},
		{38, 50, 38}, // 1/4: ceil(150/4) = 38
		{19, 25, 19}, // 1/8: ceil(150/8) = 19
		{1, 25, 19},
	}
	for _, tc := range cases {
		for _, be := range backends() {
			var dst Image
			if err := Decode(&dst, data, DecodeOptions{Backend: be, MinSide: tc.minSide}); err != nil {
				t.Fatal(err)
			}
			w, h := tc.w, tc.h
			if be != BackendTurbo {
				w, h = 200, 150 // documented: the Go backends ignore MinSide
			}
			if dst.W != w || dst.H != h {
				t.Errorf("%v MinSide %d: got %dx%d, want %dx%d", be, tc.minSide, dst.W, dst.H, w, h)
				continue
			}
			if be == BackendTurbo && w < 200 {
				// A reduced-scale decode is close to a box-filtered full decode.
				k := 200 / w
				var sum, n float64
				for y := 0; y+1 < h; y++ {
					for x := 0; x+1 < w; x++ {
						for c := 0; c < 3; c++ {
							var acc int
							for dy := 0; dy < k; dy++ {
								for dx := 0; dx < k; dx++ {
									acc += int(full.Pix[(y*k+dy)*full.Stride+(x*k+dx)*3+c])
								}
							}
							d := float64(acc)/float64(k*k) - float64(dst.Pix[y*dst.Stride+x*3+c])
							sum += d * d
							n++
						}
					}
				}
				if rmse := math.Sqrt(sum / n); rmse > 8 {
					t.Errorf("MinSide %d (1/%d): RMSE %.2f against a box-filtered full decode", tc.minSide, k, rmse)
				}
			}
		}
	}
}

func TestDecodeHeader(t *testing.T) {
	cases := []struct {
		file string
		want Header
	}{
		{"png_gray8.png", Header{Format: FormatPNG, W: 61, H: 43, Gray: true, Components: 1}},
		{"png_la8.png", Header{Format: FormatPNG, W: 61, H: 43, Gray: true, Components: 2}},
		{"png_rgb8.png", Header{Format: FormatPNG, W: 61, H: 43, Components: 3}},
		{"png_rgba16.png", Header{Format: FormatPNG, W: 61, H: 43, Components: 4}},
		{"png_pal.png", Header{Format: FormatPNG, W: 61, H: 43, Components: 1}},
		{"png_rgb8_adam7.png", Header{Format: FormatPNG, W: 61, H: 43, Components: 3, Interlaced: true}},
		{"jpg_420.jpg", Header{Format: FormatJPEG, W: 61, H: 43, Components: 3}},
		{"jpg_420_prog.jpg", Header{Format: FormatJPEG, W: 61, H: 43, Components: 3, Progressive: true}},
		{"jpg_gray.jpg", Header{Format: FormatJPEG, W: 61, H: 43, Gray: true, Components: 1}},
		{"jpg_cmyk.jpg", Header{Format: FormatJPEG, W: 61, H: 43, Components: 4, Adobe: true, AdobeTransform: 0}},
		{"jpg_china.jpg", Header{Format: FormatJPEG, W: 200, H: 150, Components: 3}},
	}
	for _, tc := range cases {
		data, err := os.ReadFile("testdata/decode/" + tc.file)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeHeader(data)
		if err != nil || got != tc.want {
			t.Errorf("%s: got %+v, %v; want %+v", tc.file, got, err, tc.want)
		}
		if allocs := testing.AllocsPerRun(10, func() { DecodeHeader(data) }); allocs != 0 {
			t.Errorf("%s: DecodeHeader allocates %v times", tc.file, allocs)
		}
	}
}

// TestSubsampleRatios checks the YCbCr kernel against a direct per-pixel
// reference for every ratio image.YCbCr has, at sizes with odd edges:
// nearest-neighbour chroma for FastUpsample and for 4:4:0, 4:1:1, 4:1:0;
// libjpeg's triangle filter (written here as a formula per output pixel)
// for 4:2:2 and 4:2:0.
func TestSubsampleRatios(t *testing.T) {
	ratios := []stdimage.YCbCrSubsampleRatio{
		stdimage.YCbCrSubsampleRatio444, stdimage.YCbCrSubsampleRatio422,
		stdimage.YCbCrSubsampleRatio420, stdimage.YCbCrSubsampleRatio440,
		stdimage.YCbCrSubsampleRatio411, stdimage.YCbCrSubsampleRatio410,
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, r := range ratios {
		for _, sz := range [][2]int{{1, 1}, {2, 3}, {3, 2}, {5, 5}, {6, 4}, {17, 9}, {64, 33}} {
			s := stdimage.NewYCbCr(stdimage.Rect(0, 0, sz[0], sz[1]), r)
			for _, p := range [][]uint8{s.Y, s.Cb, s.Cr} {
				for i := range p {
					p[i] = uint8(rng.IntN(256))
				}
			}
			for _, fast := range []bool{false, true} {
				var got Image
				convertStd(&got, s, false, 3, fast)
				want := refYCC(s, fast)
				if mx, _ := diffStats(&got, want); mx != 0 {
					t.Errorf("%v %dx%d fast=%v: max diff %d from reference", r, sz[0], sz[1], fast, mx)
				}
			}
		}
	}
}

// refYCC is a slow, direct statement of what yccToRGB computes.
func refYCC(s *stdimage.YCbCr, fast bool) *Image {
	w, h := s.Rect.Dx(), s.Rect.Dy()
	hs, vs := 1, 1
	switch s.SubsampleRatio {
	case stdimage.YCbCrSubsampleRatio422:
		hs = 2
	case stdimage.YCbCrSubsampleRatio420:
		hs, vs = 2, 2
	case stdimage.YCbCrSubsampleRatio440:
		vs = 2
	case stdimage.YCbCrSubsampleRatio411:
		hs = 4
	case stdimage.YCbCrSubsampleRatio410:
		hs, vs = 4, 2
	}
	cw, ch := (w+hs-1)/hs, (h+vs-1)/vs
	at := func(p []uint8, cx, cy int) int {
		cx = min(max(cx, 0), cw-1)
		cy = min(max(cy, 0), ch-1)
		return int(p[cy*s.CStride+cx])
	}
	fancy := !fast && hs == 2 && cw > 2
	chroma := func(p []uint8, x, y int) int {
		cx, cy := x/hs, y/vs
		if !fancy {
			return at(p, cx, cy)
		}
		// horizontal neighbour: left for even x, right for odd x
		nx := cx - 1 + 2*(x&1)
		if vs == 1 {
			if x&1 == 0 {
				return (3*at(p, cx, cy) + at(p, nx, cy) + 1) >> 2
			}
			return (3*at(p, cx, cy) + at(p, nx, cy) + 2) >> 2
		}
		ny := cy - 1 + 2*(y&1)
		this := 3*at(p, cx, cy) + at(p, cx, ny)
		other := 3*at(p, nx, cy) + at(p, nx, ny)
		if x&1 == 0 {
			return (3*this + other + 8) >> 4
		}
		return (3*this + other + 7) >> 4
	}
	out := &Image{}
	out.Resize(w, h, 3)
	clamp := func(v float64) uint8 { return uint8(min(max(v, 0), 255)) }
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			yy := int(s.Y[y*s.YStride+x])
			cb := chroma(s.Cb, x, y) - 128
			cr := chroma(s.Cr, x, y) - 128
			// libjpeg's jdcolor.c, in integer arithmetic with 16 fraction bits
			r := yy + ((91881*cr + 32768) >> 16)
			g := yy + ((-22554*cb - 46802*cr + 32768) >> 16)
			b := yy + ((116130*cb + 32768) >> 16)
			out.Pix[y*out.Stride+3*x] = clamp(float64(r))
			out.Pix[y*out.Stride+3*x+1] = clamp(float64(g))
			out.Pix[y*out.Stride+3*x+2] = clamp(float64(b))
		}
	}
	return out
}

// TestFastDCT bounds what the opt-in TJFLAG_FASTDCT costs in accuracy
// against PIL (islow IDCT): measured max 6, mean 0.6-1.2 on the fixtures.
func TestFastDCT(t *testing.T) {
	if !HaveTurbo {
		t.Skip("needs -tags turbojpeg")
	}
	for _, name := range fixtures(t) {
		if !strings.HasPrefix(filepath.Base(name), "jpg") {
			continue
		}
		want := readPNM(t, name+".want.pnm")
		var got Image
		if err := Decode(&got, fixtureFile(t, name), DecodeOptions{Backend: BackendTurbo, FastDCT: true}); err != nil {
			t.Fatal(err)
		}
		if mx, mean := diffStats(&got, want); mx > 8 || mean > 1.5 || mean == 0 {
			t.Errorf("%s: FastDCT differs from islow by max %d, mean %.3f (want 0 < mean <= 1.5, max <= 8)", filepath.Base(name), mx, mean)
		}
	}
}

// TestDecodeConcurrent decodes every fixture from several goroutines at
// once (pooled TurboJPEG handles, zlib readers and row buffers) and checks
// each result against a sequential decode. Run it with -race.
func TestDecodeConcurrent(t *testing.T) {
	var inputs [][]byte
	var want []*Image
	for _, name := range fixtures(t) {
		data := fixtureFile(t, name)
		m := &Image{}
		if err := Decode(m, data, DecodeOptions{}); err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, data)
		want = append(want, m)
	}
	bad := fixtureFile(t, "testdata/decode/jpg_420")
	bad = bad[:len(bad)/2]
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var dst Image
			for r := 0; r < 2; r++ {
				for i, data := range inputs {
					if err := Decode(&dst, data, DecodeOptions{}); err != nil {
						errs <- err
						return
					}
					if !bytes.Equal(dst.Pix, want[i].Pix) {
						errs <- fmt.Errorf("goroutine %d: fixture %d differs", g, i)
						return
					}
					if Decode(&dst, bad, DecodeOptions{}) == nil { // errors drop turbo handles
						errs <- fmt.Errorf("truncated jpeg decoded")
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// manyScans returns a progressive JPEG with n extra scan headers (empty
// AC refinement scans) spliced in before EOI. The spliced scans are not
// valid progression, so decoders refuse the file anyway; what matters is
// that the Go backend refuses it from the marker count, before image/jpeg
// parses it scan by scan.
func manyScans(t testing.TB, n int) []byte {
	t.Helper()
	prog := fixtureFile(t, "testdata/decode/jpg_420_prog")
	sos := []byte{0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x01, 0x3f, 0x10}
	body := bytes.Clone(prog[:len(prog)-2])
	for i := 0; i < n; i++ {
		body = append(body, sos...)
	}
	return append(body, 0xff, 0xd9)
}

// TestDecodeScanLimit: the Go backend refuses a progressive JPEG with more
// than 500 scan markers before decoding (a CPU bomb guard matching
// libjpeg-turbo's TJFLAG_LIMITSCANS, which the turbo backend sets; this
// crafted file is refused by libjpeg-turbo on progression grounds first, so
// the flag itself is not exercised here).
func TestDecodeScanLimit(t *testing.T) {
	var dst Image
	err := Decode(&dst, manyScans(t, 600), DecodeOptions{Backend: BackendGo})
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "500 scans") {
		t.Errorf("go, 600 scans: got %v, want the scan limit", err)
	}
	err = Decode(&dst, manyScans(t, 100), DecodeOptions{Backend: BackendGo})
	if err == nil || strings.Contains(err.Error(), "500 scans") {
		t.Errorf("go, 100 scans: got %v, want image/jpeg's own error", err)
	}
	if HaveTurbo {
		if err := Decode(&dst, manyScans(t, 600), DecodeOptions{Backend: BackendTurbo}); err == nil {
			t.Error("turbo, 600 scans: decoded")
		}
	}
}

// TestDecodeTolerated: damage that PIL accepts and that leaves every pixel
// intact is accepted by both backends too, with the same pixels.
func TestDecodeTolerated(t *testing.T) {
	jpg := fixtureFile(t, "testdata/decode/jpg_420")
	png8 := fixtureFile(t, "testdata/decode/png_rgb8")
	cases := map[string][]byte{
		"jpeg junk before EOI":  append(bytes.Clone(jpg[:len(jpg)-2]), 1, 2, 3, 0xff, 0xd9),
		"jpeg trailing garbage": append(bytes.Clone(jpg), "trailing garbage"...),
		"png trailing garbage":  append(bytes.Clone(png8), "trailing garbage"...),
		"png unknown ancillary": append(bytes.Clone(png8[:33]), append(pngChunk("zzZz", []byte("x")), png8[33:]...)...),
	}
	for name, data := range cases {
		for _, be := range backends() {
			var got, want Image
			if err := Decode(&got, data, DecodeOptions{Backend: be}); err != nil {
				t.Errorf("%s %v: %v", name, be, err)
				continue
			}
			orig := jpg
			if strings.HasPrefix(name, "png") {
				orig = png8
			}
			if err := Decode(&want, orig, DecodeOptions{Backend: be}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Pix, want.Pix) {
				t.Errorf("%s %v: pixels differ from the intact file", name, be)
			}
		}
	}
}

// TestCheckIsDecodesHeaderCheck: what Check refuses, Decode refuses with the
// same sentinel (import's header-only check and training agree), and a
// valid image passes both.
func TestCheckIsDecodesHeaderCheck(t *testing.T) {
	png8 := fixtureFile(t, "testdata/decode/png_rgb8")
	jpg := fixtureFile(t, "testdata/decode/jpg_420")
	cmyk := fixtureFile(t, "testdata/decode/jpg_cmyk")
	cases := []struct {
		name string
		data []byte
		opt  DecodeOptions
		want error // of Check; nil: it passes
	}{
		{"png", png8, DecodeOptions{}, nil},
		{"jpeg", jpg, DecodeOptions{}, nil},
		{"jpeg cmyk with Adobe", cmyk, DecodeOptions{}, nil},
		{"text", []byte("not an image"), DecodeOptions{}, ErrFormat},
		{"png truncated header", png8[:20], DecodeOptions{}, ErrCorrupt},
		{"png bomb", bombPNG(100000, 100000), DecodeOptions{}, ErrTooLarge},
		{"jpeg over MaxPixels", jpg, DecodeOptions{MaxPixels: 100}, ErrTooLarge},
		{"jpeg cmyk without Adobe", withoutAdobe(t, cmyk), DecodeOptions{}, ErrUnsupported},
	}
	for _, tc := range cases {
		h, err := tc.opt.Check(tc.data)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: Check: %v, want %v", tc.name, err, tc.want)
			continue
		}
		var dst Image
		derr := Decode(&dst, tc.data, tc.opt)
		if tc.want != nil && !errors.Is(derr, tc.want) {
			t.Errorf("%s: Check says %v, Decode %v", tc.name, err, derr)
		}
		if tc.want == nil && (derr != nil || dst.W != h.W || dst.H != h.H) {
			t.Errorf("%s: Check passes %dx%d, Decode gives %dx%d, %v", tc.name, h.W, h.H, dst.W, dst.H, derr)
		}
	}
}
