package image

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
)

// pngBoth decodes with the fast path and with image/png; fast reports
// whether the fast path took the file.
func pngBoth(t testing.TB, data []byte, c int) (fast bool, fm, sm *Image, serr error) {
	h, err := DecodeHeader(data)
	if err != nil || h.Format != FormatPNG {
		return false, nil, nil, err
	}
	fm, sm = &Image{}, &Image{}
	fast = decodePNGFast(fm, data, &h, c)
	serr = decodePNGStd(sm, data, &h, c)
	return fast, fm, sm, serr
}

// TestPNGFastMatchesStd: on every PNG fixture and every output kind, the
// fast path either declines or gives exactly image/png's pixels; and it
// takes the layouts it is meant for.
func TestPNGFastMatchesStd(t *testing.T) {
	wantFast := map[string]bool{
		"png_gray8": true, "png_rgb8": true, "png_rgba8": true, "png_la8": true, "png_pal": true,
		"png_gray16": true, "png_rgb16": true, "png_rgba16": true,
		"png_gray1": false, "png_rgb8_adam7": false, "png_gray8_adam7": false,
		"png_pal_trns": false, "png_rgb8_trns": false,
	}
	files, _ := filepath.Glob("testdata/decode/*.png")
	if len(files) != len(wantFast) {
		t.Fatalf("%d PNG fixtures, %d expected", len(files), len(wantFast))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		name = name[:len(name)-4]
		h, _ := DecodeHeader(data)
		for _, c := range []int{1, 3} {
			fast, fm, sm, serr := pngBoth(t, data, c)
			if serr != nil {
				t.Fatalf("%s: image/png: %v", name, serr)
			}
			if fast != wantFast[name] {
				t.Errorf("%s c%d: fast path taken = %v, want %v", name, c, fast, wantFast[name])
			}
			if fast && (fm.W != sm.W || fm.H != sm.H || fm.C != sm.C || !bytes.Equal(fm.Pix, sm.Pix)) {
				t.Errorf("%s c%d (gray source %v): fast path differs from image/png", name, c, h.Gray)
			}
		}
	}
}

// TestPNGFastCorrupt: truncations and flipped bytes anywhere in a file
// either make the fast path decline or leave it agreeing with image/png.
func TestPNGFastCorrupt(t *testing.T) {
	data, err := os.ReadFile("testdata/decode/png_rgb8.png")
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, b []byte) {
		fast, fm, sm, serr := pngBoth(t, b, 3)
		if fast && (serr != nil || !bytes.Equal(fm.Pix, sm.Pix)) {
			t.Fatalf("%s: fast path accepted what image/png says %v", what, serr)
		}
	}
	for n := 0; n < len(data); n += 29 {
		check("truncated", data[:n])
	}
	for i := 8; i < len(data); i += 23 {
		b := bytes.Clone(data)
		b[i] ^= 0x41
		check("flipped", b)
	}
}

// TestPNGFastNoAlloc: in steady state a fast-path PNG decode allocates nothing.
func TestPNGFastNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under -race")
	}
	data, err := os.ReadFile("testdata/decode/png_rgb8.png")
	if err != nil {
		t.Fatal(err)
	}
	var dst Image
	if err := Decode(&dst, data, DecodeOptions{}); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(50, func() {
		if err := Decode(&dst, data, DecodeOptions{}); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("%v allocations per PNG decode, want 0", a)
	}
}

// FuzzPNGFast is a differential fuzz target: whenever the fast PNG path
// accepts an input, image/png must accept it too and give the same pixels.
//
//	go test -run XXX -fuzz FuzzPNGFast -fuzztime 60s ./stages/image/
func FuzzPNGFast(f *testing.F) {
	files, _ := filepath.Glob("testdata/decode/*.png")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, rgb bool) {
		// Repair chunk CRCs so that mutations of chunk contents (IHDR
		// fields, PLTE, the zlib stream) reach the decoders' deeper checks.
		data = fixCRCs(data)
		h, err := DecodeHeader(data)
		if err != nil || h.Format != FormatPNG || h.W*h.H > 1<<16 {
			return
		}
		c := 1
		if rgb {
			c = 3
		}
		fast, fm, sm, serr := pngBoth(t, data, c)
		if !fast {
			return
		}
		if serr != nil {
			t.Fatalf("fast path accepted, image/png: %v", serr)
		}
		if fm.W != sm.W || fm.H != sm.H || fm.C != sm.C || !bytes.Equal(fm.Pix, sm.Pix) {
			t.Fatal("fast path and image/png differ")
		}
	})
}

// buildPNG assembles a PNG from raw filtered scanlines (filter byte first on
// each row), with correct CRCs and a valid zlib stream.
func buildPNG(w, h int, ct, depth byte, raw []byte, plte []byte) []byte {
	ihdr := make([]byte, 13)
	ihdr[0], ihdr[1], ihdr[2], ihdr[3] = byte(w>>24), byte(w>>16), byte(w>>8), byte(w)
	ihdr[4], ihdr[5], ihdr[6], ihdr[7] = byte(h>>24), byte(h>>16), byte(h>>8), byte(h)
	ihdr[8], ihdr[9] = depth, ct
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(raw)
	zw.Close()
	b := append([]byte("\x89PNG\r\n\x1a\n"), pngChunk("IHDR", ihdr)...)
	if plte != nil {
		b = append(b, pngChunk("PLTE", plte)...)
	}
	b = append(b, pngChunk("IDAT", z.Bytes())...)
	return append(b, pngChunk("IEND", nil)...)
}

// FuzzPNGFastRaw fuzzes the unfiltering and conversion code: the input is
// the raw scanline data of a small PNG of any fast-path layout, wrapped in a
// valid file, so both decoders accept it and must agree on every pixel.
//
//	go test -run XXX -fuzz FuzzPNGFastRaw -fuzztime 60s ./stages/image/
func FuzzPNGFastRaw(f *testing.F) {
	f.Add(uint8(5), uint8(3), uint8(2), []byte("\x01abcdefghijklmnopqrstuvwxyz\x04ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
	f.Add(uint8(1), uint8(1), uint8(7), []byte{3, 200, 100})
	layouts := []struct{ ct, depth, bpp byte }{
		{0, 8, 1}, {0, 16, 2}, {2, 8, 3}, {2, 16, 6}, {3, 8, 1}, {4, 8, 2}, {4, 16, 4}, {6, 8, 4}, {6, 16, 8},
	}
	f.Fuzz(func(t *testing.T, w, h, layout uint8, raw []byte) {
		if w == 0 || h == 0 || w > 40 || h > 40 {
			return
		}
		l := layouts[int(layout)%len(layouts)]
		rowLen := 1 + int(w)*int(l.bpp)
		need := rowLen * int(h)
		buf := make([]byte, need)
		for i := range buf {
			if len(raw) > 0 {
				buf[i] = raw[i%len(raw)] + byte(i/len(raw))
			}
		}
		for y := 0; y < int(h); y++ {
			buf[y*rowLen] %= 5 // valid filter types only
		}
		var plte []byte
		if l.ct == 3 {
			plte = make([]byte, 3*(1+int(layout)%256))
			for i := range plte {
				plte[i] = byte(i*7 + 3)
			}
		}
		data := buildPNG(int(w), int(h), l.ct, l.depth, buf, plte)
		for _, c := range []int{1, 3} {
			fast, fm, sm, serr := pngBoth(t, data, c)
			if serr != nil {
				t.Fatalf("image/png: %v", serr)
			}
			if !fast {
				t.Fatalf("fast path declined a plain %+v PNG", l)
			}
			if !bytes.Equal(fm.Pix, sm.Pix) || fm.C != sm.C {
				t.Fatalf("layout %+v c%d: fast path and image/png differ", l, c)
			}
		}
	})
}

// fixCRCs returns a copy of a PNG with every complete chunk's CRC recomputed.
func fixCRCs(data []byte) []byte {
	b := bytes.Clone(data)
	for pos := 8; pos+12 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[pos:]))
		if n < 0 || n > len(b)-pos-12 {
			break
		}
		binary.BigEndian.PutUint32(b[pos+8+n:], crc32.ChecksumIEEE(b[pos+4:pos+8+n]))
		pos += 12 + n
	}
	return b
}
