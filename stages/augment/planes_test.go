package augment

import (
	"math"
	"testing"

	"github.com/contrastream/contrastream/stages/image"
)

// TestPlanes: RGB goes through CHW (three planes), gray through the first
// channel's table (one plane), both bit-identical to the table; a wrong
// destination length is an error.
func TestPlanes(t *testing.T) {
	z := Normalize{}.Normalizer()
	tab := Normalize{}.Table()
	for _, c := range []int{1, 3} {
		m := &image.Image{}
		m.Resize(37, 5, c) // not a multiple of the kernel's 16 pixels
		for i := range m.Pix {
			m.Pix[i] = uint8(i*7 + 3)
		}
		dst := make([]float32, c*37*5)
		if err := z.Planes(dst, m); err != nil {
			t.Fatal(err)
		}
		plane := 37 * 5
		for p := range plane {
			for ch := range c {
				want := tab[ch][m.Pix[p*c+ch]]
				if math.Float32bits(dst[ch*plane+p]) != math.Float32bits(want) {
					t.Fatalf("C=%d: plane %d pixel %d is %v, want %v", c, ch, p, dst[ch*plane+p], want)
				}
			}
		}
		if err := z.Planes(dst[:len(dst)-1], m); err == nil {
			t.Errorf("C=%d: a short destination is not an error", c)
		}
	}
}
