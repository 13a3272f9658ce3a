package image

import (
	"bytes"
	"image/jpeg"
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
func BenchmarkDecode(b *testing.B) {
	sets := []struct {
		name string
	}{{"png32"}, {"jpg96"}, {"jpg500"}}
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
