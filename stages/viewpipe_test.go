package stages_test

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/sinks"
	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages"
	"github.com/contrastream/contrastream/stages/augment"
)

// runViews returns copies of every batch's views of a view stream: per
// batch, per sample, per view, the H·W·C bytes.
func runViews(t *testing.T, cfg stages.ViewStreamConfig) ([][][][]byte, *stages.ViewStream) {
	t.Helper()
	vs, err := stages.NewViewStream(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := pipeline.New("t")
	var out [][][][]byte
	pipeline.Sink(p, "keep", vs.Add(p), pipeline.ConsumerFunc[*stages.Batch](func(_ context.Context, b *stages.Batch) error {
		defer b.Release()
		batch := make([][][]byte, b.Size())
		for i := range batch {
			batch[i] = make([][]byte, cfg.Views)
			for v := range cfg.Views {
				if b.Pixels != nil {
					if b.Shape != [5]int{b.Size(), cfg.Views, 12, 12, 3} {
						t.Errorf("shape %v", b.Shape)
					}
					n := 12 * 12 * 3
					batch[i][v] = bytes.Clone(b.Pixels[(i*cfg.Views+v)*n : (i*cfg.Views+v+1)*n])
				} else {
					d := b.Views[v].Data().([]uint8)
					n := len(d) / b.Views[v].Shape()[0]
					batch[i][v] = bytes.Clone(d[i*n : (i+1)*n])
				}
			}
		}
		out = append(out, batch)
		return nil
	}))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return out, vs
}

// TestViewStreamPacked: packed batches ([B,V,H,W,C], one array) hold the
// same views as the per-view uint8 tensors, for any worker count, with and
// without the partial last batch.
func TestViewStreamPacked(t *testing.T) {
	dir := t.TempDir()
	if _, err := sinks.WriteSynth(context.Background(), sources.Synth{N: 70, Size: 16}, sinks.ShardsConfig{Dir: dir, RowGroupRows: 9},
		sinks.ImportOptions{Shards: 2, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	for _, dropLast := range []bool{false, true} {
		cfg := stages.ViewStreamConfig{
			Source: sources.ParquetConfig{Glob: dir, Seed: 2, Epochs: 1, ShuffleBuffer: 8},
			Recipe: stages.Recipe{Size: 12}, Views: 3, Batch: 16, Workers: 1, Output: stages.Uint8, DropLast: dropLast,
		}
		ref, _ := runViews(t, cfg)
		cfg.Output, cfg.Workers = stages.Packed, 3
		got, vs := runViews(t, cfg)
		want := 5 // 4 full, 1 partial of 6
		if dropLast {
			want = 4
		}
		if len(got) != want || len(ref) != want || vs.BatchesPerEpoch() != 4 {
			t.Fatalf("DropLast %v: %d packed batches, %d uint8, %d per epoch; want %d", dropLast, len(got), len(ref), vs.BatchesPerEpoch(), want)
		}
		for b := range got {
			for i := range got[b] {
				for v := range got[b][i] {
					if !bytes.Equal(got[b][i][v], ref[b][i][v]) {
						t.Fatalf("batch %d sample %d view %d differs", b, i, v)
					}
				}
			}
		}
	}
}

func TestRecipe(t *testing.T) {
	for _, tc := range []struct {
		r    stages.Recipe
		want string
	}{
		{stages.Recipe{Size: 96}, "simclr size=96 min_scale=0.08 color_strength=0.5 blur=off"},
		{stages.Recipe{Size: 224}, "simclr size=224 min_scale=0.08 color_strength=0.5 blur=on"},
		{stages.Recipe{Size: 32, MinScale: 0.2, ColorStrength: 1, Blur: "on"}, "simclr size=32 min_scale=0.2 color_strength=1 blur=on"},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.r, got, tc.want)
		}
		if _, err := tc.r.Augmentation(); err != nil {
			t.Error(err)
		}
	}
	for _, tc := range []struct {
		r    stages.Recipe
		want string
	}{
		{stages.Recipe{Name: "byol", Size: 32}, `recipe "byol"`},
		{stages.Recipe{Size: 0}, "size 0"},
		{stages.Recipe{Size: 32, MinScale: 2}, "min scale 2"},
		{stages.Recipe{Size: 32, Blur: "yes"}, `blur "yes"`},
	} {
		if _, err := tc.r.Augmentation(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.r, err, tc.want)
		}
	}
}

// TestViewStreamCropDecodeWiring: a view stream hands its Views stage's
// crop boxes to its Decode stage unless FullDecode.
func TestViewStreamCropDecodeWiring(t *testing.T) {
	dir := t.TempDir()
	if _, err := sinks.WriteSynth(context.Background(), sources.Synth{N: 8, Size: 16}, sinks.ShardsConfig{Dir: dir},
		sinks.ImportOptions{Shards: 1, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	for _, full := range []bool{false, true} {
		vs, err := stages.NewViewStream(stages.ViewStreamConfig{Source: sources.ParquetConfig{Glob: dir}, Recipe: stages.Recipe{Size: 12}, Batch: 4, FullDecode: full})
		if err != nil {
			t.Fatal(err)
		}
		if got := vs.Pipeline.Decode.Crops != nil; got == full {
			t.Errorf("FullDecode %v: Decode.Crops set: %v", full, got)
		}
	}
}

// TestViewStreamNormalize: the float32 batches ([B,C,H,W] per view) are
// (float32(v)/255 − mean)/std of the uint8 views with Normalize's
// statistics, value for value, and Tensorize gets them; bad statistics are
// refused before anything runs.
func TestViewStreamNormalize(t *testing.T) {
	dir := t.TempDir()
	if _, err := sinks.WriteSynth(context.Background(), sources.Synth{N: 20, Size: 16}, sinks.ShardsConfig{Dir: dir},
		sinks.ImportOptions{Shards: 1, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	norm := augment.Normalize{Mean: [3]float32{0.4, 0.5, 0.6}, Std: [3]float32{0.3, 0.2, 0.7}}
	cfg := stages.ViewStreamConfig{
		Source: sources.ParquetConfig{Glob: dir, Seed: 4, Epochs: 1},
		Recipe: stages.Recipe{Size: 12}, Views: 2, Batch: 8, Workers: 2, Output: stages.Uint8, Normalize: norm,
	}
	ref, _ := runViews(t, cfg) // HWC bytes
	cfg.Output = stages.Float32
	vs, err := stages.NewViewStream(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if vs.Pipeline.Tensorize.Normalize != norm {
		t.Fatalf("Tensorize.Normalize %v, want %v", vs.Pipeline.Tensorize.Normalize, norm)
	}
	p := pipeline.New("t")
	n := 0
	pipeline.Sink(p, "check", vs.Add(p), pipeline.ConsumerFunc[*stages.Batch](func(_ context.Context, b *stages.Batch) error {
		defer b.Release()
		for v := range 2 {
			f := b.Float32s(v)
			for i := range b.Size() {
				for c := range 3 {
					for px := range 144 {
						u := ref[n][i][v][px*3+c]
						want := (float32(u)/255 - norm.Mean[c]) / norm.Std[c]
						if got := f[(i*3+c)*144+px]; got != want {
							t.Fatalf("batch %d sample %d view %d channel %d pixel %d: %v from level %d, want %v", n, i, v, c, px, got, u, want)
						}
					}
				}
			}
		}
		n++
		return nil
	}))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n != len(ref) || n != 3 {
		t.Fatalf("%d float32 batches, %d uint8; want 3", n, len(ref))
	}

	inf := float32(math.Inf(1))
	for _, c := range []struct {
		n    augment.Normalize
		want string
	}{
		{augment.Normalize{Std: [3]float32{0.2, 0, 0.2}}, "normalize std [0.2 0 0.2]: want finite numbers > 0"},
		{augment.Normalize{Std: [3]float32{0.2, -1, 0.2}}, "normalize std [0.2 -1 0.2]"},
		{augment.Normalize{Std: [3]float32{0.2, inf, 0.2}}, "normalize std [0.2 +Inf 0.2]"},
		{augment.Normalize{Mean: [3]float32{inf, 0, 0}, Std: [3]float32{1, 1, 1}}, "normalize mean [+Inf 0 0]: want finite numbers"},
		{augment.Normalize{Mean: [3]float32{0.5, 0.5, 0.5}}, "normalize mean [0.5 0.5 0.5] without a std"},
	} {
		cfg.Normalize = c.n
		if _, err := stages.NewViewStream(cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v; want an error with %q", c.n, err, c.want)
		}
	}
}
