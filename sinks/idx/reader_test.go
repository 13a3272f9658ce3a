package idx

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/contrastream/contrastream/sources"
)

// idxBytes builds an IDX file: magic 00 00 typ len(dims), the dims, data.
func idxBytes(typ byte, dims []uint32, data []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, typ, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, d)
	}
	b.Write(data)
	return b.Bytes()
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func TestReader(t *testing.T) {
	images := idxBytes(Uint8, []uint32{3, 2, 4}, seq(24))
	for _, tc := range []struct {
		name    string
		in      []byte
		dims    []int
		items   int    // items read before the error
		wantErr string // "" = clean io.EOF after the items
		trunc   bool   // error wraps ErrTruncated
	}{
		{"images", images, []int{3, 2, 4}, 3, "", false},
		{"gzipped images", gz(images), []int{3, 2, 4}, 3, "", false},
		{"labels", idxBytes(Uint8, []uint32{5}, seq(5)), []int{5}, 5, "", false},
		{"int32 items", idxBytes(Int32, []uint32{2, 3}, seq(24)), []int{2, 3}, 2, "", false},
		{"no items", idxBytes(Uint8, []uint32{0, 28, 28}, nil), []int{0, 28, 28}, 0, "", false},
		{"trailing bytes are ignored", idxBytes(Uint8, []uint32{2}, seq(9)), []int{2}, 2, "", false},
		{"data cut short", idxBytes(Uint8, []uint32{3, 2, 4}, seq(20)), nil, 2, "item 2 of 3", true},
		{"gzipped, cut short", gz(idxBytes(Uint8, []uint32{3, 2, 4}, seq(20))), nil, 2, "item 2 of 3", true},
		{"empty file", nil, nil, 0, "header cut short", true},
		{"header cut short", idxBytes(Uint8, []uint32{3, 2, 4}, nil)[:9], nil, 0, "header cut short", true},
		{"not idx", []byte("PK\x03\x04 a zip file"), nil, 0, "not an IDX file", false},
		{"unknown type", idxBytes(0x42, []uint32{1}, seq(1)), nil, 0, "unknown element type 0x42", false},
		{"zero dimensions", idxBytes(Uint8, nil, seq(1)), nil, 0, "zero dimensions", false},
		{"zero-size items", idxBytes(Uint8, []uint32{1<<31 - 1, 0}, nil), nil, 0, "size zero", false},
		{"huge item", idxBytes(Float64, []uint32{1, 1 << 16, 1 << 16}, nil), nil, 0, "exceeds", false},
		{"broken gzip", []byte{0x1f, 0x8b, 0, 0}, nil, 0, "gzip", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x, err := NewReader(bytes.NewReader(tc.in), "f.idx")
			items := 0
			if err == nil {
				if tc.dims != nil && fmt.Sprint(x.Dims) != fmt.Sprint(tc.dims) {
					t.Errorf("dims %v, want %v", x.Dims, tc.dims)
				}
				var buf []byte
				for {
					buf, err = x.Next(buf)
					if err != nil {
						break
					}
					if len(buf) != x.ItemSize() {
						t.Fatalf("item of %d bytes, want %d", len(buf), x.ItemSize())
					}
					items++
				}
				x.Close()
			}
			if items != tc.items {
				t.Errorf("read %d items, want %d", items, tc.items)
			}
			if tc.wantErr == "" {
				if err != io.EOF {
					t.Fatalf("err = %v, want io.EOF", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "f.idx") || !strings.HasPrefix(err.Error(), "idx: ") {
				t.Fatalf("err = %v, want one naming f.idx with %q", err, tc.wantErr)
			}
			if errors.Is(err, ErrTruncated) != tc.trunc {
				t.Errorf("errors.Is(err, ErrTruncated) = %v, want %v", !tc.trunc, tc.trunc)
			}
		})
	}
}

func TestReaderValues(t *testing.T) {
	x, err := NewReader(bytes.NewReader(idxBytes(Uint8, []uint32{2, 2, 3}, seq(12))), "v")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := x.Next(nil)
	a = bytes.Clone(a)
	b, _ := x.Next(nil)
	if !bytes.Equal(a, seq(12)[:6]) || !bytes.Equal(b, seq(12)[6:]) {
		t.Fatalf("items %v %v", a, b)
	}
	if allocs := testing.AllocsPerRun(100, func() {
		x, _ := NewReader(bytes.NewReader(idxBytes(Uint8, []uint32{1, 2, 3}, seq(6))), "v")
		buf := make([]byte, 0, 8)
		x.Next(buf)
	}); allocs > 20 {
		t.Errorf("%v allocations", allocs)
	}
}

// writeIDXPair writes images (n of h×w, pixel i,j = byte(i+j)) and labels
// (i%10) files into dir, gzipped or not, and returns their paths.
func writeIDXPair(t testing.TB, dir string, n, h, w int, gzipped bool) (string, string) {
	t.Helper()
	pix := make([]byte, n*h*w)
	for i := 0; i < n; i++ {
		for j := 0; j < h*w; j++ {
			pix[i*h*w+j] = byte(i + j)
		}
	}
	labs := make([]byte, n)
	for i := range labs {
		labs[i] = byte(i % 10)
	}
	im := idxBytes(Uint8, []uint32{uint32(n), uint32(h), uint32(w)}, pix)
	lb := idxBytes(Uint8, []uint32{uint32(n)}, labs)
	if gzipped {
		im, lb = gz(im), gz(lb)
	}
	ip, lp := filepath.Join(dir, "images-idx3-ubyte"), filepath.Join(dir, "labels-idx1-ubyte")
	if err := os.WriteFile(ip, im, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lp, lb, 0o644); err != nil {
		t.Fatal(err)
	}
	return ip, lp
}

func collectIDX(t *testing.T, s Source) ([]sources.RawImage, error) {
	t.Helper()
	var out []sources.RawImage
	err := s.Produce(context.Background(), func(r sources.RawImage) error {
		out = append(out, r)
		return nil
	})
	return out, err
}

func TestIDXSource(t *testing.T) {
	for _, gzipped := range []bool{false, true} {
		t.Run(fmt.Sprint("gzip=", gzipped), func(t *testing.T) {
			ip, lp := writeIDXPair(t, t.TempDir(), 13, 3, 5, gzipped)
			got, err := collectIDX(t, Source{Images: ip, Labels: lp})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 13 {
				t.Fatalf("%d images, want 13", len(got))
			}
			for i, r := range got {
				if r.W != 5 || r.H != 3 || r.C != 1 || r.Label != i%10 || r.Row != int64(i) || r.Shard != "images-idx3-ubyte" || r.Pix[4] != byte(i+4) {
					t.Fatalf("image %d = %+v", i, r)
				}
				if r.Key().String() != fmt.Sprintf("images-idx3-ubyte#%d", i) {
					t.Fatalf("key %v", r.Key())
				}
			}
			if &got[0].Pix[0] == &got[1].Pix[0] {
				t.Error("emitted images share a pixel buffer")
			}
			got, err = collectIDX(t, Source{Images: ip, Limit: 4})
			if err != nil || len(got) != 4 || got[3].Label != -1 {
				t.Fatalf("Limit 4 without labels: %d images, %v", len(got), err)
			}
		})
	}
}

func TestIDXSourceErrors(t *testing.T) {
	dir := t.TempDir()
	ip, lp := writeIDXPair(t, dir, 4, 2, 2, false)
	ip5, _ := writeIDXPair(t, t.TempDir(), 5, 2, 2, true)
	short := filepath.Join(dir, "short")
	full, _ := os.ReadFile(ip)
	os.WriteFile(short, full[:len(full)-3], 0o644)
	// The same, gzipped: its size is known only at its end.
	shortGz := filepath.Join(dir, "short.gz")
	os.WriteFile(shortGz, gz(full[:len(full)-3]), 0o644)
	for _, tc := range []struct {
		name string
		s    Source
		want string
	}{
		{"no images", Source{}, "no images file"},
		{"missing", Source{Images: filepath.Join(dir, "nope")}, "nope"},
		{"labels as images", Source{Images: lp}, "not an images file"},
		{"images as labels", Source{Images: ip, Labels: ip}, "not a labels file"},
		{"mismatched counts", Source{Images: ip5, Labels: lp}, "holds 5 images but"},
		{"truncated", Source{Images: short, Labels: lp}, "header declares 4 items of 4 bytes (32 bytes with the header) but the file holds 29"},
		{"truncated gzipped", Source{Images: shortGz, Labels: lp}, "item 3 of 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := collectIDX(t, tc.s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// FuzzIDX checks that no input makes the IDX reader panic, hang or
// allocate without bound, gzipped or not.
func FuzzIDX(f *testing.F) {
	f.Add(idxBytes(Uint8, []uint32{3, 2, 4}, seq(24)))
	f.Add(gz(idxBytes(Uint8, []uint32{3, 2, 4}, seq(24))))
	f.Add(idxBytes(Uint8, []uint32{5}, seq(5)))
	f.Add(idxBytes(Float64, []uint32{2, 3}, seq(40)))
	f.Add([]byte{0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 28, 0, 0, 0, 28})
	f.Add([]byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := NewReader(bytes.NewReader(b), "fuzz")
		if err != nil {
			return
		}
		defer x.Close()
		if x.ItemSize() > maxItemSize {
			t.Fatalf("item size %d", x.ItemSize())
		}
		var buf []byte
		for i := 0; ; i++ {
			buf, err = x.Next(buf)
			if err != nil {
				if err != io.EOF && !errors.Is(err, ErrTruncated) && !strings.Contains(err.Error(), "fuzz") {
					t.Fatalf("error without the file name: %v", err)
				}
				return
			}
			// Every item read is data that was in the input: at most
			// len(b) bytes uncompressed, and at most deflate's maximum
			// expansion (1032:1, RFC 1951's 258-byte match per 2 bits)
			// of it when gzipped (the fuzzer found a 19-byte gzip stream
			// holding 21 one-byte items).
			got := x.HeaderSize() + int64(i+1)*int64(x.ItemSize())
			limit := int64(len(b))
			if x.Gzipped() {
				limit = 1032*int64(len(b)) + 64
			}
			if got > limit {
				t.Fatalf("read %d items of %d bytes (%d bytes with the header) from %d input bytes (gzipped %v)", i+1, x.ItemSize(), got, len(b), x.Gzipped())
			}
		}
	})
}

// The Fashion-MNIST files from Debian's dataset-fashion-mnist package.
const fashionDir = "/usr/share/datasets/fashion-mnist"

func TestIDXFashionMNIST(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		n      int
	}{{"train", 60000}, {"t10k", 10000}} {
		ip := filepath.Join(fashionDir, tc.prefix+"-images-idx3-ubyte.gz")
		lp := filepath.Join(fashionDir, tc.prefix+"-labels-idx1-ubyte.gz")
		if _, err := os.Stat(ip); err != nil {
			t.Skipf("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist): %v", err)
		}
		images, labels, n, err := Source{Images: ip, Labels: lp}.Open()
		if err != nil {
			t.Fatal(err)
		}
		if n != tc.n || images.Dims[1] != 28 || images.Dims[2] != 28 {
			t.Errorf("%s: %d images of %v", tc.prefix, n, images.Dims[1:])
		}
		images.Close()
		labels.Close()
	}
}

func ExampleSource() {
	dir, _ := os.MkdirTemp("", "idx")
	defer os.RemoveAll(dir)
	// Two 2×3 images and their labels, as MNIST stores them.
	os.WriteFile(filepath.Join(dir, "img"), idxBytes(Uint8, []uint32{2, 2, 3}, seq(12)), 0o644)
	os.WriteFile(filepath.Join(dir, "lab"), gz(idxBytes(Uint8, []uint32{2}, []byte{7, 2})), 0o644)

	src := Source{Images: filepath.Join(dir, "img"), Labels: filepath.Join(dir, "lab")}
	err := src.Produce(context.Background(), func(r sources.RawImage) error {
		fmt.Printf("%v: %dx%d label %d pixels %v\n", r.Key(), r.W, r.H, r.Label, r.Pix)
		return nil
	})
	fmt.Println(err)
	// Output:
	// img#0: 3x2 label 7 pixels [0 7 14 21 28 35]
	// img#1: 3x2 label 2 pixels [42 49 56 63 70 77]
	// <nil>
}
