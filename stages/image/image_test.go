package image

import (
	"bytes"
	"errors"
	"fmt"
	stdimage "image"
	"image/color"
	"image/png"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		m    Image
		ok   bool
	}{
		{"zero value", Image{C: 3}, true},
		{"tight rgb", Image{W: 2, H: 2, C: 3, Stride: 6, Pix: make([]uint8, 12)}, true},
		{"padded stride", Image{W: 2, H: 2, C: 1, Stride: 4, Pix: make([]uint8, 6)}, true},
		{"two channels", Image{W: 1, H: 1, C: 2, Stride: 2, Pix: make([]uint8, 2)}, false},
		{"short stride", Image{W: 2, H: 1, C: 3, Stride: 5, Pix: make([]uint8, 6)}, false},
		{"short pix", Image{W: 2, H: 2, C: 3, Stride: 6, Pix: make([]uint8, 11)}, false},
		{"negative", Image{W: -1, H: 2, C: 3}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.m.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
}

func TestResizeReusesBuffer(t *testing.T) {
	var m Image
	m.Resize(10, 10, 3)
	p := &m.Pix[0]
	m.Resize(5, 4, 1)
	if &m.Pix[0] != p || len(m.Pix) != 20 || m.Stride != 5 {
		t.Fatalf("Resize did not reuse the buffer: len %d stride %d", len(m.Pix), m.Stride)
	}
	if n := testing.AllocsPerRun(100, func() { m.Resize(10, 10, 3) }); n != 0 {
		t.Fatalf("Resize allocated %v times", n)
	}
}

func TestStdRoundTrip(t *testing.T) {
	rgb := stdimage.NewRGBA(stdimage.Rect(0, 0, 5, 3))
	gray := stdimage.NewGray(stdimage.Rect(0, 0, 4, 4))
	for i := range rgb.Pix {
		rgb.Pix[i] = uint8(i * 7)
		if i%4 == 3 {
			rgb.Pix[i] = 0xff
		}
	}
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 13)
	}
	nrgba := stdimage.NewNRGBA(rgb.Rect)
	copy(nrgba.Pix, rgb.Pix)
	ycc := stdimage.NewYCbCr(stdimage.Rect(0, 0, 4, 2), stdimage.YCbCrSubsampleRatio444)
	pal := stdimage.NewPaletted(stdimage.Rect(0, 0, 2, 2), color.Palette{color.Gray{10}, color.Gray{200}})
	pal.Pix = []uint8{0, 1, 1, 0}
	tests := []struct {
		name  string
		in    stdimage.Image
		wantC int
	}{
		{"rgba", rgb, 3},
		{"nrgba", nrgba, 3},
		{"gray", gray, 1},
		{"ycbcr", ycc, 3},
		{"gray palette", pal, 1},
		{"sub image", rgb.SubImage(stdimage.Rect(1, 1, 4, 3)), 3},
		{"gray16", stdimage.NewGray16(stdimage.Rect(0, 0, 3, 3)), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Image
			if err := FromStd(&m, tt.in); err != nil {
				t.Fatal(err)
			}
			if m.C != tt.wantC || m.W != tt.in.Bounds().Dx() || m.H != tt.in.Bounds().Dy() {
				t.Fatalf("got %dx%dx%d", m.W, m.H, m.C)
			}
			back := m.ToStd()
			b := tt.in.Bounds()
			for y := 0; y < m.H; y++ {
				for x := 0; x < m.W; x++ {
					want := color.NRGBAModel.Convert(tt.in.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
					got := color.NRGBAModel.Convert(back.At(x, y)).(color.NRGBA)
					want.A, got.A = 0, 0
					if got != want {
						t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, got, want)
					}
				}
			}
		})
	}
}

func TestGrayToRGB(t *testing.T) {
	g := Image{W: 3, H: 2, C: 1, Stride: 4, Pix: []uint8{1, 2, 3, 99, 4, 5, 6}}
	var d Image
	GrayToRGB(&d, &g)
	want := []uint8{1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6}
	if !bytes.Equal(d.Pix, want) || d.C != 3 {
		t.Fatalf("GrayToRGB = %v", d.Pix)
	}
	var d2 Image
	GrayToRGB(&d2, &d) // RGB passes through
	if !bytes.Equal(d2.Pix, want) {
		t.Fatalf("GrayToRGB(rgb) = %v", d2.Pix)
	}
}

func TestCopyFromPaddedStride(t *testing.T) {
	src := Image{W: 2, H: 2, C: 1, Stride: 3, Pix: []uint8{1, 2, 0, 3, 4}}
	c := src.Clone()
	if !bytes.Equal(c.Pix, []uint8{1, 2, 3, 4}) || c.Stride != 2 {
		t.Fatalf("Clone = %+v", c)
	}
}

func ExampleFromStd() {
	std := stdimage.NewRGBA(stdimage.Rect(0, 0, 2, 1))
	std.Set(0, 0, color.RGBA{255, 0, 0, 255})
	std.Set(1, 0, color.RGBA{0, 0, 255, 255})
	var m Image
	if err := FromStd(&m, std); err != nil {
		panic(err)
	}
	fmt.Println(m.W, m.H, m.C, m.Pix)
	var buf bytes.Buffer
	if err := png.Encode(&buf, m.ToStd()); err != nil {
		panic(err)
	}
	fmt.Println(buf.Len() > 0)
	// Output:
	// 2 1 3 [255 0 0 0 0 255]
	// true
}
