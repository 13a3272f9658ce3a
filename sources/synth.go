package sources

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
)

// SynthClasses names the classes of the synthetic dataset, in label order.
// Classes 0–4 and 8 are single shapes placed at a random position, scale and
// rotation; 5, 6, 7 and 9 are textures that fill the image at a random period,
// angle and phase.
var SynthClasses = [10]string{
	"circle", "square", "triangle", "cross", "ring",
	"stripes", "checker", "dots", "frame", "gradient",
}

// Synth is a labeled procedural image dataset: N RGB images of Size×Size
// pixels in Classes classes (at most 10, see SynthClasses) of shapes and
// textures. Every colour (foreground and background) is drawn at random, as
// are position, scale, rotation, texture period and phase, stroke width and
// the amount of per-pixel background noise, so a class is identified by its
// shape or texture alone: raw pixels and colour histograms do not separate
// the classes, while a small CNN trained contrastively does.
//
// Image i has label i mod Classes (the classes are balanced) and is drawn
// from a PCG generator seeded with (Seed, i) only, so any image can be drawn
// alone, in any order, by any number of workers, with identical bytes. (The
// float32 arithmetic is plain Go; on architectures where the compiler fuses
// multiply-adds, such as arm64, a sample may differ from amd64's by one
// level: the testdata hashes are amd64's.) Shapes are anti-aliased from
// signed distance functions.
//
// The zero value is usable: Size 0 means 32, Classes 0 means 10, and N 0
// means no images. Draw allocates nothing; Produce allocates one pixel
// buffer per emitted image. Safe for concurrent use.
type Synth struct {
	N       int
	Size    int
	Seed    uint64
	Classes int
}

func (s Synth) size() int {
	if s.Size <= 0 {
		return 32
	}
	return s.Size
}

func (s Synth) classes() int {
	if s.Classes <= 0 || s.Classes > len(SynthClasses) {
		return len(SynthClasses)
	}
	return s.Classes
}

// Validate reports a configuration that cannot be drawn.
func (s Synth) Validate() error {
	if s.N < 0 {
		return fmt.Errorf("sources: synth: negative N %d", s.N)
	}
	if s.Size < 0 || s.Size > 4096 || (s.Size > 0 && s.Size < 8) {
		return fmt.Errorf("sources: synth: size %d outside 8..4096", s.Size)
	}
	if s.Classes < 0 || s.Classes > len(SynthClasses) {
		return fmt.Errorf("sources: synth: %d classes, at most %d", s.Classes, len(SynthClasses))
	}
	return nil
}

// ClassNames returns the names of the classes in use, in label order.
func (s Synth) ClassNames() []string {
	return append([]string(nil), SynthClasses[:s.classes()]...)
}

// Label returns the label of image i.
func (s Synth) Label(i int64) int { return int(i % int64(s.classes())) }

// Produce emits images 0..N-1 in order as RawImages (C = 3, Shard
// "synth-<seed>", Row = i); see Synth.
func (s Synth) Produce(ctx context.Context, emit func(RawImage) error) error {
	if err := s.Validate(); err != nil {
		return err
	}
	n := s.size()
	shard := fmt.Sprintf("synth-%d", s.Seed)
	var pcg rand.PCG
	for i := 0; i < s.N; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		pix := make([]byte, n*n*3)
		label := s.draw(pix, int64(i), &pcg)
		if err := emit(RawImage{Shard: shard, Row: int64(i), Label: label, W: n, H: n, C: 3, Pix: pix}); err != nil {
			return err
		}
	}
	return nil
}

// Draw writes image i into dst (Size*Size*3 bytes, RGB, rows top to bottom)
// and returns its label. It panics if dst is too short. It allocates nothing.
func (s Synth) Draw(dst []byte, i int64) int {
	var pcg rand.PCG
	return s.draw(dst, i, &pcg)
}

// synthStream separates the index key from other users of a (seed, i) PCG.
const synthStream = 0x5ec7_a5e5_d17e_0001

func (s Synth) draw(dst []byte, i int64, pcg *rand.PCG) int {
	n := s.size()
	if len(dst) < n*n*3 {
		panic(fmt.Sprintf("sources: synth: dst holds %d bytes, need %d", len(dst), n*n*3))
	}
	label := s.Label(i)
	pcg.Seed(s.Seed, splitmix64(uint64(i)^synthStream))
	p := newSynthParams(pcg, label, float32(n))
	// One per-pixel noise draw per sample from a cheap xorshift generator
	// seeded from the PCG: fast and still a function of (Seed, i) only.
	x := pcg.Uint64() | 1
	amp := p.noise
	for y := 0; y < n; y++ {
		for xx := 0; xx < n; xx++ {
			// Pixel centre in pixel units.
			a := p.alpha(float32(xx)+0.5, float32(y)+0.5)
			o := (y*n + xx) * 3
			for c := 0; c < 3; c++ {
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
				// Triangular noise in [-1, 1): sum of two uniforms.
				u := float32(x&0xffff)/65536 + float32((x>>16)&0xffff)/65536 - 1
				bg := p.bg[c] + p.bgSlope[c]*(float32(xx)-p.half) + amp*u
				v := bg + a*(p.fg[c]-bg)
				dst[o+c] = clamp255(v)
			}
		}
	}
	return label
}

func clamp255(v float32) byte {
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return byte(v + 0.5)
}

// splitmix64 scrambles a counter into a well-mixed 64-bit key.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// synthParams holds the random draws of one image.
type synthParams struct {
	class    int
	fg, bg   [3]float32 // colours, 0..255
	bgSlope  [3]float32 // background gradient per pixel along x
	noise    float32    // noise amplitude
	half     float32    // n/2
	cx, cy   float32    // shape centre (pixels)
	cos, sin float32    // rotation
	r        float32    // shape radius (pixels)
	t        float32    // stroke half-width (pixels)
	period   float32    // texture period (pixels)
	phase    float32    // texture phase (pixels)
}

func newSynthParams(pcg *rand.PCG, class int, n float32) synthParams {
	// Uniform in [lo, hi) from the top 24 bits of a draw.
	f := func(lo, hi float32) float32 { return lo + (hi-lo)*float32(pcg.Uint64()>>40)*(1.0/(1<<24)) }
	p := synthParams{class: class, half: n / 2}
	// Colours: two random colours at least 90 apart in RGB distance, so the
	// shape is always visible, in random roles (dark on light or the reverse).
	for {
		for c := 0; c < 3; c++ {
			p.fg[c] = f(0, 255)
			p.bg[c] = f(0, 255)
		}
		d := float32(0)
		for c := 0; c < 3; c++ {
			d += (p.fg[c] - p.bg[c]) * (p.fg[c] - p.bg[c])
		}
		if d >= 90*90 {
			break
		}
	}
	for c := 0; c < 3; c++ {
		p.bgSlope[c] = f(-24, 24) / n // up to ±24 levels across the image
	}
	p.noise = f(0, 24)
	a := f(0, 2*math.Pi)
	p.cos, p.sin = float32(math.Cos(float64(a))), float32(math.Sin(float64(a)))
	p.r = n * f(0.2, 0.4)
	p.cx = f(p.r, n-p.r)
	p.cy = f(p.r, n-p.r)
	p.t = max(0.8, n*f(0.03, 0.06)) // stroke half-width
	p.period = n * f(0.18, 0.32)
	p.phase = f(0, p.period)
	return p
}

// alpha returns the foreground coverage (0..1) at pixel centre (x, y).
func (p *synthParams) alpha(x, y float32) float32 {
	// Rotated coordinates around the shape centre (shapes) or the image
	// centre (textures).
	var u, v float32
	if p.class >= 5 && p.class != 8 {
		dx, dy := x-p.half, y-p.half
		u, v = p.cos*dx+p.sin*dy, -p.sin*dx+p.cos*dy
	} else {
		dx, dy := x-p.cx, y-p.cy
		u, v = p.cos*dx+p.sin*dy, -p.sin*dx+p.cos*dy
	}
	var d float32 // signed distance in pixels, negative inside
	switch p.class {
	case 0: // circle
		d = hypot(u, v) - p.r
	case 1: // square, half side r*0.85 so its area is close to the circle's
		d = box(u, v, p.r*0.85, p.r*0.85)
	case 2: // equilateral triangle, circumradius 1.2r (its area is small)
		d = triangle(u, v, p.r*1.2)
	case 3: // cross: two bars
		w := max(p.t*1.6, p.r*0.28)
		d = min(box(u, v, p.r, w), box(u, v, w, p.r))
	case 4: // ring
		d = abs(hypot(u, v)-p.r*0.75) - max(p.t, p.r*0.16)
	case 5: // stripes
		d = tri(u+p.phase, p.period) - p.period/4
	case 6: // checker: sign of the product of two square waves
		a := tri(u+p.phase, p.period*2) - p.period/2
		b := tri(v+p.phase, p.period*2) - p.period/2
		d = min(abs(a), abs(b))
		if (a < 0) == (b < 0) {
			d = -d
		}
	case 7: // dots on a rotated square lattice
		cu := mod(u+p.phase, p.period) - p.period/2
		cv := mod(v+p.phase, p.period) - p.period/2
		d = hypot(cu, cv) - p.period*0.28
	case 8: // frame: the outline of a square
		d = abs(box(u, v, p.r*0.85, p.r*0.85)) - max(p.t, p.r*0.12)
	case 9: // gradient: no edge, a ramp across the whole image
		g := u/(p.half*1.4) + 0.5
		return min(1, max(0, g))
	}
	// Coverage of a pixel by an edge at signed distance d.
	return min(1, max(0, 0.5-d))
}

func abs(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

func hypot(x, y float32) float32 { return float32(math.Sqrt(float64(x*x + y*y))) }

func mod(x, m float32) float32 {
	r := x - m*float32(math.Floor(float64(x/m)))
	return r
}

// tri is a triangle wave of period m: 0 at multiples of m, m/2 half way.
func tri(x, m float32) float32 { return abs(mod(x, m) - m/2) }

// box is the signed distance to an axis-aligned rectangle of half sizes hx, hy.
func box(x, y, hx, hy float32) float32 {
	qx, qy := abs(x)-hx, abs(y)-hy
	out := hypot(max(qx, 0), max(qy, 0))
	return out + min(max(qx, qy), 0)
}

// triangle is the signed distance to an equilateral triangle with
// circumradius r, pointing up (after I. Quilez's formula).
func triangle(x, y, r float32) float32 {
	const k = 1.7320508 // sqrt(3)
	s := r * k / 2      // half side
	y = -y              // apex up in image coordinates; centroid at 0
	x = abs(x) - s
	y = y + s/k
	if x+k*y > 0 {
		x, y = (x-k*y)/2, (-k*x-y)/2
	}
	x -= min(max(x, -2*s), 0)
	l := hypot(x, y)
	if y > 0 {
		return -l
	}
	return l
}
