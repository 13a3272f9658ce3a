package image

import (
	"bytes"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/contrastream/contrastream/internal/cputime"
)

// benchSet loads the image set made by ../shared/bench/make_data.py from
// $BENCH_DATA (default /tmp/bench-data); the benchmark is skipped without it.
func benchSet(b *testing.B, name string) [][]byte {
	dir := os.Getenv("BENCH_DATA")
	if dir == "" {
		dir = "/tmp/bench-data"
	}
	files, _ := filepath.Glob(filepath.Join(dir, name, "*"))
	sort.Strings(files)
	if len(files) == 0 {
		b.Skipf("no %s images in %s: run BENCH_DATA=%s /usr/bin/python3 ../shared/bench/make_data.py", name, dir, dir)
	}
	var blobs [][]byte
	for _, f := range files {
		d, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		blobs = append(blobs, d)
	}
	return blobs
}

// BenchmarkDecode decodes every image of a set in turn, one per iteration, so
// ns/op is the wall time per image on one goroutine, and cpu-us/op the
// process CPU time per image (GC included; the figure to compare on a loaded
// machine). Variants:
//
//	go       pure Go: image/jpeg or image/png, then this package's conversion to RGB
//	go-fast  go with FastUpsample (replicated chroma, converted two pixels at a time)
//	turbo    libjpeg-turbo through cgo (needs -tags turbojpeg)
//	turbo-fast turbo with FastDCT and FastUpsample
//	turbo-s2 turbo with MinSide so that it decodes at 1/2 scale (jpg500 only)
//	turbo-s4 same at 1/4 scale (jpg500 only)
//	std      image/jpeg alone, to YCbCr, with no conversion: the floor of the go path
//
// Sets: png32, jpg96 and jpg500 from make_data.py; jpg96p and jpg500p are
// progressive copies of jpg96 and jpg500 (skipped when absent), made with
// Debian's PIL from the same directory:
//
//	cd $BENCH_DATA && /usr/bin/python3 -c 'import glob, os; from PIL import Image
//	for s in ["jpg500", "jpg96"]:
//	    os.makedirs(s + "p", exist_ok=True)
//	    for f in sorted(glob.glob(s + "/*.jpg")):
//	        Image.open(f).save(s + "p/" + os.path.basename(f), format="JPEG", quality=90, progressive=True)'
func BenchmarkDecode(b *testing.B) {
	sets := []struct {
		name string
	}{{"png32"}, {"jpg96"}, {"jpg500"}, {"jpg96p"}, {"jpg500p"}}
	variants := []struct {
		name string
		opt  DecodeOptions
		std  bool
	}{
		{name: "go", opt: DecodeOptions{Backend: BackendGo}},
		{name: "go-fast", opt: DecodeOptions{Backend: BackendGo, FastUpsample: true}},
		{name: "turbo", opt: DecodeOptions{Backend: BackendTurbo}},
		{name: "turbo-fast", opt: DecodeOptions{Backend: BackendTurbo, FastDCT: true, FastUpsample: true}},
		{name: "turbo-s2", opt: DecodeOptions{Backend: BackendTurbo, MinSide: 150}},
		{name: "turbo-s4", opt: DecodeOptions{Backend: BackendTurbo, MinSide: 90}},
		{name: "std", std: true},
	}
	for _, s := range sets {
		b.Run(s.name, func(b *testing.B) {
			blobs := benchSet(b, s.name)
			var total int
			for _, d := range blobs {
				total += len(d)
			}
			for _, v := range variants {
				b.Run(v.name, func(b *testing.B) {
					isPNG := s.name == "png32"
					switch {
					case v.opt.Backend == BackendTurbo && !HaveTurbo:
						b.Skip("built without -tags turbojpeg")
					case v.opt.Backend == BackendTurbo && isPNG:
						b.Skip("PNG is always decoded in pure Go")
					case v.opt.MinSide > 0 && s.name != "jpg500":
						b.Skip("reduced scale only measured on jpg500")
					case (v.std || v.opt.FastUpsample) && isPNG:
						b.Skip("JPEG only")
					}
					var dst Image
					b.SetBytes(int64(total / len(blobs)))
					b.ReportAllocs()
					b.ResetTimer()
					cpu0 := int64(cputime.Now())
					defer func() {
						if cpu := int64(cputime.Now()) - cpu0; cpu > 0 {
							b.ReportMetric(float64(cpu)/1e3/float64(b.N), "cpu-us/op")
						}
					}()
					for i := 0; i < b.N; i++ {
						d := blobs[i%len(blobs)]
						if v.std {
							if _, err := jpeg.Decode(bytes.NewReader(d)); err != nil {
								b.Fatal(err)
							}
							continue
						}
						if err := Decode(&dst, d, v.opt); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// rrcBox draws a crop box as torchvision's RandomResizedCrop (scale
// 0.08–1, ratio 3/4–4/3) does; augment.RandomResizedCrop.Params is the
// one the Views stage uses (this package cannot import augment).
func rrcBox(w, h int, rng *rand.Rand) Rect {
	area := float64(w * h)
	lr0, lr1 := math.Log(3.0/4), math.Log(4.0/3)
	for range 10 {
		target := area * (0.08 + 0.92*rng.Float64())
		aspect := math.Exp(lr0 + (lr1-lr0)*rng.Float64())
		cw := int(math.RoundToEven(math.Sqrt(target * aspect)))
		ch := int(math.RoundToEven(math.Sqrt(target / aspect)))
		if 0 < cw && cw <= w && 0 < ch && ch <= h {
			y, x := rng.IntN(h-ch+1), rng.IntN(w-cw+1)
			return Rect{x, y, x + cw, y + ch}
		}
	}
	return Rect{0, 0, w, h}
}

// BenchmarkDecodeCrops decodes jpg500 with the pure-Go decoder, in full
// and with the union of two RandomResizedCrop boxes per image (what the
// Views stage passes at any view size), and reports the share of MCUs
// reconstructed and of MCU rows entropy decoded.
//
//	BENCH_DATA=/tmp/stream-bench/data go test -run XXX -bench DecodeCrops ./stages/image/
func BenchmarkDecodeCrops(b *testing.B) {
	blobs := benchSet(b, "jpg500")
	rng := rand.New(rand.NewPCG(7, 7))
	crops := make([][]Rect, 64*len(blobs))
	var mcus, rec, rows, decRows float64
	d := new(jpegDecoder)
	for i := range crops {
		data := blobs[i%len(blobs)]
		h, err := DecodeHeader(data)
		if err != nil {
			b.Fatal(err)
		}
		crops[i] = []Rect{rrcBox(h.W, h.H, rng), rrcBox(h.W, h.H, rng)}
		if i < 4*len(blobs) {
			var dst Image
			d.crops = crops[i]
			if err := d.decode(&dst, data, 3, false); err != nil {
				b.Fatal(err)
			}
			mcus += float64(d.mcusX * d.mcusY)
			rows += float64(d.mcusY)
			decRows += float64(d.lastRow + 1)
			for _, p := range d.plan {
				rec += float64(max(p.m1-p.m0, 0))
			}
		}
	}
	for _, crop := range []bool{false, true} {
		name := "full"
		if crop {
			name = "crops"
		}
		b.Run(name, func(b *testing.B) {
			var dst Image
			cpu0 := int64(cputime.Now())
			for i := 0; i < b.N; i++ {
				opt := DecodeOptions{Backend: BackendGo}
				if crop {
					opt.Crops = crops[i%len(crops)]
				}
				if err := Decode(&dst, blobs[i%len(crops)%len(blobs)], opt); err != nil {
					b.Fatal(err)
				}
			}
			if cpu := int64(cputime.Now()) - cpu0; cpu > 0 {
				b.ReportMetric(float64(cpu)/1e3/float64(b.N), "cpu-us/op")
			}
			if crop {
				b.ReportMetric(100*rec/mcus, "%mcus")
				b.ReportMetric(100*decRows/rows, "%rows")
			}
		})
	}
}
