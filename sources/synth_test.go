package sources

import (
	"bytes"
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"math"
	"math/cmplx"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func TestSynthDeterministic(t *testing.T) {
	s := Synth{N: 40, Seed: 7}
	var got []RawImage
	if err := s.Produce(context.Background(), func(r RawImage) error {
		got = append(got, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 40 {
		t.Fatalf("%d images", len(got))
	}
	buf := make([]byte, 32*32*3)
	// Drawn alone, in reverse order, image i equals the produced one.
	for i := len(got) - 1; i >= 0; i-- {
		r := got[i]
		if r.W != 32 || r.H != 32 || r.C != 3 || r.Row != int64(i) || r.Shard != "synth-7" {
			t.Fatalf("image %d: %+v", i, r)
		}
		if l := s.Draw(buf, int64(i)); l != r.Label || l != i%10 || !bytes.Equal(buf, r.Pix) {
			t.Fatalf("image %d differs when drawn alone (label %d vs %d)", i, l, r.Label)
		}
	}
	other := make([]byte, len(buf))
	Synth{Seed: 8}.Draw(other, 3)
	if bytes.Equal(other, got[3].Pix) {
		t.Error("seeds 7 and 8 draw the same image 3")
	}
	if allocs := testing.AllocsPerRun(20, func() { s.Draw(buf, 5) }); allocs != 0 {
		t.Errorf("Draw allocates %v times", allocs)
	}
}

func TestSynthConfig(t *testing.T) {
	for _, tc := range []struct {
		s       Synth
		err     string
		classes int
	}{
		{Synth{}, "", 10},
		{Synth{Classes: 4, Size: 8}, "", 4},
		{Synth{N: -1}, "negative N", 0},
		{Synth{Size: 5}, "size 5", 0},
		{Synth{Classes: 11}, "11 classes", 0},
	} {
		err := tc.s.Validate()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%+v: err %v, want %q", tc.s, err, tc.err)
			}
			if perr := tc.s.Produce(context.Background(), func(RawImage) error { return nil }); perr == nil {
				t.Errorf("%+v: Produce accepted it", tc.s)
			}
			continue
		}
		if err != nil || len(tc.s.ClassNames()) != tc.classes {
			t.Errorf("%+v: %v, %d classes", tc.s, err, len(tc.s.ClassNames()))
		}
	}
	if got := (Synth{Classes: 3}).Label(7); got != 1 {
		t.Errorf("Label(7) with 3 classes = %d", got)
	}
}

// TestSynthGolden pins the bytes of the first images (amd64; see Synth), so
// that a change to the generator is a visible, deliberate change of dataset.
// Regenerate with go test ./sources -run SynthGolden -update.
func TestSynthGolden(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("golden hashes are amd64's: other architectures may fuse multiply-adds")
	}
	var lines []string
	for _, size := range []int{32, 64} {
		s := Synth{Size: size, Seed: 1}
		buf := make([]byte, size*size*3)
		for i := int64(0); i < 12; i++ {
			label := s.Draw(buf, i)
			lines = append(lines, fmt.Sprintf("size=%d i=%d label=%d sha256=%x", size, i, label, sha256.Sum256(buf)))
		}
	}
	got := strings.Join(lines, "\n") + "\n"
	path := filepath.Join("testdata", "synth_golden.txt")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("synthetic images changed:\n got:\n%s\nwant:\n%s", got, want)
	}
}

// synthSet draws n images (from index off) as float64 vectors.
func synthSet(s Synth, off, n int) ([][]float64, []int) {
	size := s.size()
	buf := make([]byte, size*size*3)
	xs := make([][]float64, n)
	ys := make([]int, n)
	for i := range xs {
		ys[i] = s.Draw(buf, int64(off+i))
		v := make([]float64, len(buf))
		for j, b := range buf {
			v[j] = float64(b) / 255
		}
		xs[i] = v
	}
	return xs, ys
}

// nearestCentroid fits class means on (xs, ys) and returns the accuracy on
// (tx, ty).
func nearestCentroid(xs [][]float64, ys []int, tx [][]float64, ty []int, k int) float64 {
	d := len(xs[0])
	mean := make([][]float64, k)
	cnt := make([]float64, k)
	for c := range mean {
		mean[c] = make([]float64, d)
	}
	for i, x := range xs {
		for j, v := range x {
			mean[ys[i]][j] += v
		}
		cnt[ys[i]]++
	}
	for c := range mean {
		for j := range mean[c] {
			mean[c][j] /= cnt[c]
		}
	}
	right := 0
	for i, x := range tx {
		best, bestD := 0, math.Inf(1)
		for c := range mean {
			s := 0.0
			for j, v := range x {
				s += (v - mean[c][j]) * (v - mean[c][j])
			}
			if s < bestD {
				best, bestD = c, s
			}
		}
		if best == ty[i] {
			right++
		}
	}
	return float64(right) / float64(len(tx))
}

// spectrum maps an RGB image vector to a colour- and position-invariant
// feature: the normalised magnitude of the 2-D DFT of its luminance, minus
// the DC term.
func spectrum(v []float64, n int) []float64 {
	lum := make([]complex128, n*n)
	for i := range lum {
		lum[i] = complex(0.299*v[3*i]+0.587*v[3*i+1]+0.114*v[3*i+2], 0)
	}
	dft := func(get func(k int) complex128, set func(k int, c complex128)) {
		tmp := make([]complex128, n)
		for f := 0; f < n; f++ {
			var s complex128
			for k := 0; k < n; k++ {
				s += get(k) * cmplx.Exp(complex(0, -2*math.Pi*float64(f*k)/float64(n)))
			}
			tmp[f] = s
		}
		for f := range tmp {
			set(f, tmp[f])
		}
	}
	for y := 0; y < n; y++ {
		dft(func(k int) complex128 { return lum[y*n+k] }, func(k int, c complex128) { lum[y*n+k] = c })
	}
	for x := 0; x < n; x++ {
		dft(func(k int) complex128 { return lum[k*n+x] }, func(k int, c complex128) { lum[k*n+x] = c })
	}
	out := make([]float64, n*n)
	norm := 0.0
	for i := 1; i < len(lum); i++ {
		out[i] = cmplx.Abs(lum[i])
		norm += out[i] * out[i]
	}
	norm = math.Sqrt(norm) + 1e-9
	for i := range out {
		out[i] /= norm
	}
	return out
}

// TestSynthClassesLiveInShape checks the dataset's two promises with simple
// classifiers: raw pixels do not separate the classes (colours and
// positions are random), while a colour- and position-invariant shape
// feature does, so the class information is there for a CNN to learn.
func TestSynthClassesLiveInShape(t *testing.T) {
	if testing.Short() {
		t.Skip("draws 1,500 images and their spectra")
	}
	const n = 16
	s := Synth{Size: n, Seed: 3}
	xs, ys := synthSet(s, 0, 1000)
	tx, ty := synthSet(s, 1000, 500)
	raw := nearestCentroid(xs, ys, tx, ty, 10)
	for i := range xs {
		xs[i] = spectrum(xs[i], n)
	}
	for i := range tx {
		tx[i] = spectrum(tx[i], n)
	}
	shape := nearestCentroid(xs, ys, tx, ty, 10)
	t.Logf("nearest class mean, 10 classes: raw pixels %.1f%%, |DFT| of luminance %.1f%%", 100*raw, 100*shape)
	if raw > 0.30 {
		t.Errorf("raw pixels separate the classes too well: %.1f%% (chance 10%%)", 100*raw)
	}
	if shape < 2*raw || shape < 0.35 {
		t.Errorf("a shape feature separates the classes no better than raw pixels: %.1f%% vs %.1f%%", 100*shape, 100*raw)
	}
}

func BenchmarkSynthDraw(b *testing.B) {
	for _, size := range []int{32, 96} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			s := Synth{Size: size, Seed: 1}
			buf := make([]byte, size*size*3)
			b.ReportAllocs()
			b.SetBytes(int64(len(buf)))
			for i := 0; i < b.N; i++ {
				s.Draw(buf, int64(i))
			}
		})
	}
}

func ExampleSynth() {
	s := Synth{N: 3, Size: 32, Seed: 42}
	err := s.Produce(context.Background(), func(r RawImage) error {
		fmt.Printf("%v %s %dx%dx%d\n", r.Key(), SynthClasses[r.Label], r.W, r.H, r.C)
		return nil
	})
	fmt.Println(err)
	// Output:
	// synth-42#0 circle 32x32x3
	// synth-42#1 square 32x32x3
	// synth-42#2 triangle 32x32x3
	// <nil>
}

// TestSynthDump writes images for the learnability check
// (testdata/synth_simclr.py) when CONTRASTREAM_SYNTH_DUMP names a folder:
// train.u8 / test.u8 (N×32×32×3 uint8) and their labels. It is not a check
// by itself and skips otherwise.
func TestSynthDump(t *testing.T) {
	dir := os.Getenv("CONTRASTREAM_SYNTH_DUMP")
	if dir == "" {
		t.Skip("set CONTRASTREAM_SYNTH_DUMP=DIR to write images for testdata/synth_simclr.py")
	}
	for _, split := range []struct {
		name string
		s    Synth
	}{{"train", Synth{N: 10000, Seed: 0}}, {"test", Synth{N: 2000, Seed: 1}}} {
		pix := make([]byte, 0, split.s.N*32*32*3)
		labels := make([]byte, split.s.N)
		buf := make([]byte, 32*32*3)
		for i := 0; i < split.s.N; i++ {
			labels[i] = byte(split.s.Draw(buf, int64(i)))
			pix = append(pix, buf...)
		}
		if err := os.WriteFile(filepath.Join(dir, split.name+".u8"), pix, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, split.name+"-labels.u8"), labels, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
