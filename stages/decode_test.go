package stages

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	stdimage "image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/pipeline/pipelinetest"
	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages/image"
)

// encoded returns a w×h test picture as PNG (gray or RGBA) or JPEG bytes.
func encoded(t testing.TB, format string, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	switch format {
	case "png-gray":
		m := stdimage.NewGray(stdimage.Rect(0, 0, w, h))
		for i := range m.Pix {
			m.Pix[i] = uint8(i * 7)
		}
		err = png.Encode(&buf, m)
	case "png-rgba":
		m := stdimage.NewNRGBA(stdimage.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				m.SetNRGBA(x, y, color.NRGBA{uint8(x * 9), uint8(y * 5), 90, uint8(x + y)})
			}
		}
		err = png.Encode(&buf, m)
	case "jpeg":
		m := stdimage.NewRGBA(stdimage.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				m.SetRGBA(x, y, color.RGBA{uint8(x * 4), uint8(y * 4), 128, 255})
			}
		}
		err = jpeg.Encode(&buf, m, &jpeg.Options{Quality: 90})
	default:
		t.Fatalf("unknown format %q", format)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sample(row int64, b []byte) *sources.Sample {
	return &sources.Sample{ID: sources.SampleID("shard-0.parquet", row), Shard: "shard-0.parquet", Row: row, Label: -1, Bytes: b}
}

func TestDecodeProcess(t *testing.T) {
	jpg := encoded(t, "jpeg", 40, 30)
	cases := []struct {
		name    string
		stage   *Decode // nil: the zero value
		bytes   []byte
		w, h, c int
		err     error
	}{
		{name: "png gray stays gray", bytes: encoded(t, "png-gray", 9, 7), w: 9, h: 7, c: 1},
		{name: "png gray as RGB", stage: &Decode{Channels: 3}, bytes: encoded(t, "png-gray", 9, 7), w: 9, h: 7, c: 3},
		{name: "png rgba drops alpha", bytes: encoded(t, "png-rgba", 12, 5), w: 12, h: 5, c: 3},
		{name: "jpeg", bytes: jpg, w: 40, h: 30, c: 3},
		{name: "jpeg as gray", stage: &Decode{Channels: 1}, bytes: jpg, w: 40, h: 30, c: 1},
		{name: "jpeg go backend", stage: &Decode{Backend: image.BackendGo, FastUpsample: true}, bytes: jpg, w: 40, h: 30, c: 3},
		{name: "over MaxPixels", stage: &Decode{MaxPixels: 40*30 - 1}, bytes: jpg, err: image.ErrTooLarge},
		{name: "null image", bytes: nil, err: ErrNoImage},
		{name: "empty bytes", bytes: []byte{}, err: image.ErrFormat},
		{name: "not an image", bytes: []byte("%PDF-1.4"), err: image.ErrFormat},
		{name: "truncated jpeg", bytes: jpg[:len(jpg)/2], err: image.ErrCorrupt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.stage
			if st == nil {
				st = &Decode{}
			}
			in := sample(3, tc.bytes)
			var out []*Decoded
			err := st.Process(context.Background(), in, func(d *Decoded) { out = append(out, d) })
			if tc.err != nil {
				if !errors.Is(err, tc.err) || len(out) != 0 {
					t.Fatalf("got %v and %d records, want %v and none", err, len(out), tc.err)
				}
				if !strings.HasPrefix(err.Error(), "stages: ") {
					t.Errorf("error %q lacks the package prefix", err)
				}
				return
			}
			if err != nil || len(out) != 1 {
				t.Fatalf("got %v and %d records", err, len(out))
			}
			d := out[0]
			if d.Sample != in || d.Key() != (pipeline.Key{Shard: "shard-0.parquet", Row: 3}) {
				t.Errorf("sample not carried: %+v", d.Key())
			}
			if m := d.Image; m.W != tc.w || m.H != tc.h || m.C != tc.c || m.Validate() != nil {
				t.Errorf("got %dx%dx%d (%v), want %dx%dx%d", m.W, m.H, m.C, m.Validate(), tc.w, tc.h, tc.c)
			}
			d.Release()
			d.Release() // a second release does nothing
			if d.Sample != nil {
				t.Error("Release kept the sample")
			}
		})
	}
}

// TestDecodeReleaseReuses checks the release contract: a released image
// buffer is handed to a later record instead of a new one.
func TestDecodeReleaseReuses(t *testing.T) {
	s := &Decode{}
	b := encoded(t, "png-gray", 32, 32)
	var last *Decoded
	emit := func(d *Decoded) { last = d }
	if err := s.Process(context.Background(), sample(0, b), emit); err != nil {
		t.Fatal(err)
	}
	// sync.Pool may drop an item (at a GC, and at random under -race), so
	// allow a few tries.
	reused := false
	for i := 0; i < 10 && !reused; i++ {
		prev := last.Image
		last.Release()
		if err := s.Process(context.Background(), sample(1, b), emit); err != nil {
			t.Fatal(err)
		}
		reused = last.Image == prev
	}
	if !reused {
		t.Error("released image buffer was never reused")
	}
}

// TestDecodeInPipeline wires Decode between a source and a sink: the corrupt
// and the null record become counted record errors naming shard and row, the
// others pass, in order.
func TestDecodeInPipeline(t *testing.T) {
	good := encoded(t, "jpeg", 16, 16)
	in := []*sources.Sample{
		sample(0, good), sample(1, good[:40]), sample(2, encoded(t, "png-gray", 8, 8)),
		sample(3, nil), sample(4, good),
	}
	res := pipelinetest.RunStage[*sources.Sample, *Decoded](t, &Decode{}, in, pipeline.Workers(3), pipeline.Ordered())
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	var rows []int64
	for _, d := range res.Out {
		rows = append(rows, d.Sample.Row)
		d.Release()
	}
	if fmt.Sprint(rows) != "[0 2 4]" {
		t.Errorf("rows out: %v, want [0 2 4]", rows)
	}
	if len(res.DeadLetters) != 2 {
		t.Fatalf("dead letters: %+v", res.DeadLetters)
	}
	for i, want := range []int64{1, 3} {
		dl := res.DeadLetters[i]
		if dl.Key.Shard != "shard-0.parquet" || dl.Key.Row != want || dl.Stage != "stage" {
			t.Errorf("dead letter %d: %+v, want shard-0.parquet row %d", i, dl, want)
		}
	}
	if got := res.Stats.Metrics()["stage.errors"]; got != 2 {
		t.Errorf("stage.errors = %v, want 2", got)
	}
}

func ExampleDecode() {
	// Normally a shard source makes the samples; here one PNG in memory.
	var buf bytes.Buffer
	png.Encode(&buf, stdimage.NewGray(stdimage.Rect(0, 0, 64, 48)))
	in := &sources.Sample{Shard: "train-00000.parquet", Row: 7, Bytes: buf.Bytes()}

	dec := &Decode{Channels: 3} // always RGB
	err := dec.Process(context.Background(), in, func(d *Decoded) {
		fmt.Println(d.Key(), d.Image.W, d.Image.H, d.Image.C)
		d.Release() // done with the pixels: the buffer goes back to dec's pool
	})
	fmt.Println(err)

	in.Bytes = in.Bytes[:20] // truncated
	err = dec.Process(context.Background(), in, func(*Decoded) {})
	fmt.Println(errors.Is(err, image.ErrCorrupt))
	// Output:
	// train-00000.parquet#7 64 48 3
	// <nil>
	// true
}

// BenchmarkDecodeStage measures Process per record, with the consumer
// releasing each image as Views does: in steady state the stage itself adds
// no allocation to the decoder's (0 in all for PNG, and for JPEG with
// -tags turbojpeg).
func BenchmarkDecodeStage(b *testing.B) {
	for _, tc := range []struct {
		name  string
		bytes []byte
	}{
		{"png32", encoded(b, "png-rgba", 32, 32)},
		{"jpg96", encoded(b, "jpeg", 96, 96)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := &Decode{Channels: 3}
			in := sample(0, tc.bytes)
			emit := func(d *Decoded) { d.Release() }
			ctx := context.Background()
			b.SetBytes(int64(len(tc.bytes)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if err := s.Process(ctx, in, emit); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
