package image

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// TestJPEGAfterCorrupt: a decode that fails (here: one byte flipped
// anywhere in the second half of the file) leaves nothing behind in the
// pooled decoder that changes the next file's pixels.
func TestJPEGAfterCorrupt(t *testing.T) {
	for _, name := range []string{"jpg_420", "jpg_420_prog", "jpg_gray", "jpg_cmyk"} {
		good := fixtureFile(t, "testdata/decode/"+name)
		var want Image
		if err := Decode(&want, good, DecodeOptions{Backend: BackendGo}); err != nil {
			t.Fatal(err)
		}
		failed, bad := 0, 0
		for i := len(good) / 2; i < len(good)-2; i++ {
			b := bytes.Clone(good)
			b[i] ^= 0xff
			var x, got Image
			if err := Decode(&x, b, DecodeOptions{Backend: BackendGo}); err == nil {
				continue
			}
			failed++
			if err := Decode(&got, good, DecodeOptions{Backend: BackendGo}); err != nil || !bytes.Equal(got.Pix, want.Pix) {
				bad++
			}
		}
		if bad > 0 || failed == 0 {
			t.Errorf("%s: %d of %d decodes after a failed one differ", name, bad, failed)
		}
	}
}

// zooDecode decodes data with the Go backend (full and with a crop) and
// fails on a panic, an error without a sentinel or a slow decode.
func zooDecode(t *testing.T, what string, data []byte) error {
	t.Helper()
	var err error
	for _, crops := range [][]Rect{nil, {{0, 0, 3, 3}}} {
		var dst Image
		t0 := time.Now()
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("%s: panic %v", what, p)
				}
			}()
			err = Decode(&dst, data, DecodeOptions{Backend: BackendGo, Crops: crops})
		}()
		if d := time.Since(t0); d > 2*time.Second {
			t.Errorf("%s: %v for %d bytes", what, d, len(data))
		}
		if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrFormat) {
			t.Fatalf("%s: error %v wraps no sentinel", what, err)
		}
	}
	return err
}

// markers returns the offsets of the markers of a JPEG (0xFF then a code
// that is not 0x00 or 0xFF).
func markers(data []byte) []int {
	var out []int
	for i := 0; i+1 < len(data); i++ {
		if data[i] == 0xff && data[i+1] != 0 && data[i+1] != 0xff {
			out = append(out, i)
		}
	}
	return out
}

// TestJPEGBadInputZoo: damaged files give errors (or, for damage libjpeg
// tolerates, an image), never a panic or a hang: every file of the zoo is
// cut before, inside and after every marker, has every byte of its headers
// and a sample of its entropy-coded bytes bit-flipped, declares huge sizes,
// carries bad Huffman tables, or has too many scans.
func TestJPEGBadInputZoo(t *testing.T) {
	names := []string{"cj_420_61x43", "cj_420_prog_61x43", "cj_420_rst1_61x43", "cj_422_rst3b_61x43", "cj_gray_61x43",
		"cj_420_3scans_61x43", "pil_cmyk_prog_61x43", "cj_440_prog_17x33", "cj_420_prog_rst2b_61x43", "cj_420_opt_61x43"}
	corpus := jpegCorpus(t)
	cases := 0
	for _, name := range names {
		data, ok := corpus[name+".jpg"]
		if !ok {
			t.Fatalf("no %s", name)
		}
		ms := markers(data)
		for _, m := range ms {
			for _, cut := range []int{m, m + 1, m + 2, m + 3, m + 5} {
				if cut < len(data)-2 {
					if zooDecode(t, name+" truncated", data[:cut]) == nil {
						t.Errorf("%s cut at %d (marker %#x at %d): no error", name, cut, data[m+1], m)
					}
					cases++
				}
			}
		}
		sos := bytes.Index(data, []byte{0xff, 0xda})
		for i := 2; i < len(data)-2; i++ {
			if i > sos+12 && i%7 != 0 {
				continue // every header byte, one entropy byte in 7
			}
			for bit := 0; bit < 8; bit++ {
				b := bytes.Clone(data)
				b[i] ^= 1 << bit
				zooDecode(t, name+" bit flip", b)
				cases++
			}
		}
		for _, sz := range [][2]int{{65535, 65535}, {8000, 8000}, {65535, 1}, {1, 65535}, {4096, 4096}} {
			err := zooDecode(t, name+" huge", withSOFSize(t, data, sz[0], sz[1]))
			if err == nil {
				t.Errorf("%s declared %dx%d: decoded", name, sz[0], sz[1])
			}
			cases++
		}
		if zooDecode(t, name+" bad Huffman", badHuffman(t, data)) == nil {
			t.Errorf("%s with an over-subscribed Huffman table: decoded", name)
		}
		cases++
	}
	// Huffman tables: a DC symbol over 15, no codes at all, more symbols
	// than the counts say.
	jpg := corpus["cj_420_61x43.jpg"]
	dht := bytes.Index(jpg, []byte{0xff, 0xc4})
	for what, edit := range map[string]func(b []byte){
		"dc symbol 16":  func(b []byte) { b[dht+5+16] = 16 },
		"no codes":      func(b []byte) { clear(b[dht+5 : dht+5+16]) },
		"table class 2": func(b []byte) { b[dht+4] = 0x20 },
	} {
		b := bytes.Clone(jpg)
		edit(b)
		if zooDecode(t, what, b) == nil {
			t.Errorf("%s: decoded", what)
		}
		cases++
	}
	// Too many scans: past the limit the count refuses the file at once;
	// 499 bogus scans after a valid progressive file end in an error.
	for _, n := range []int{499, 600, 5000} {
		if zooDecode(t, "many scans", manyScans(t, n)) == nil {
			t.Errorf("%d scans: decoded", n)
		}
		cases++
	}
	t.Logf("%d damaged files", cases)
}
