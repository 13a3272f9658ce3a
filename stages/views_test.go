package stages

import (
	"bytes"
	"context"
	stdimage "image"
	"image/png"
	"slices"
	"testing"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/pipeline/pipelinetest"
	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages/augment"
)

// synthSamples returns n synthetic 32×32 PNG samples across two epochs'
// worth of ids (epoch given).
func synthSamples(tb testing.TB, n, epoch int) []*sources.Sample {
	tb.Helper()
	syn := sources.Synth{N: n, Size: 32, Seed: 3}
	out := make([]*sources.Sample, n)
	pix := make([]byte, 32*32*3)
	for i := range out {
		label := syn.Draw(pix, int64(i))
		m := stdimage.NewNRGBA(stdimage.Rect(0, 0, 32, 32))
		for p := range 32 * 32 {
			copy(m.Pix[4*p:4*p+3], pix[3*p:3*p+3])
			m.Pix[4*p+3] = 255
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, m); err != nil {
			tb.Fatal(err)
		}
		out[i] = &sources.Sample{ID: sources.SampleID("synth.parquet", int64(i)), Shard: "synth.parquet",
			Row: int64(i), Epoch: epoch, Position: int64(i), Label: label, Bytes: buf.Bytes()}
	}
	return out
}

// batchBits is what a test keeps of a batch after releasing it.
type batchBits struct {
	ids    []uint64
	labels []int
	views  [][]float32
	epoch  int
	cursor sources.Cursor
}

func runViews(t *testing.T, samples []*sources.Sample, workers int, tz *Tensorize) []batchBits {
	t.Helper()
	p := pipeline.New("views-test")
	rows := pipelinetest.Slice(p, "rows", samples)
	imgs := pipeline.Apply(p, "decode", rows, &Decode{Channels: 3}, pipeline.Workers(workers), pipeline.Ordered())
	views := pipeline.Apply(p, "views", imgs, &Views{Aug: augment.SimCLRCIFAR(24), Seed: 11},
		pipeline.Workers(workers), pipeline.Ordered())
	batches := pipeline.Apply(p, "tensorize", views, tz)
	var got []batchBits
	pipeline.Sink(p, "keep", batches, pipeline.ConsumerFunc[*Batch](func(_ context.Context, b *Batch) error {
		bb := batchBits{ids: slices.Clone(b.IDs), labels: slices.Clone(b.Labels), epoch: b.Epoch, cursor: b.Cursor}
		for v := range b.Views {
			bb.views = append(bb.views, slices.Clone(b.Float32s(v)))
		}
		got = append(got, bb)
		b.Release()
		return nil
	}))
	if err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestViewBatchesAreBitIdenticalForAnyWorkerCount(t *testing.T) {
	samples := synthSamples(t, 40, 0)
	var want []batchBits
	for _, w := range []int{1, 2, 8} {
		got := runViews(t, samples, w, &Tensorize{BatchSize: 8})
		if len(got) != 5 {
			t.Fatalf("workers=%d: %d batches, want 5", w, len(got))
		}
		if w == 1 {
			want = got
			if slices.Equal(got[0].views[0], got[0].views[1]) {
				t.Fatal("the two views of a batch are identical")
			}
			if got[4].cursor != (sources.Cursor{Epoch: 0, Position: 40}) {
				t.Errorf("last cursor %v", got[4].cursor)
			}
			continue
		}
		for i := range got {
			if !slices.Equal(got[i].ids, want[i].ids) || !slices.Equal(got[i].labels, want[i].labels) {
				t.Fatalf("workers=%d batch %d: ids or labels differ", w, i)
			}
			for v := range got[i].views {
				if !slices.Equal(got[i].views[v], want[i].views[v]) {
					t.Fatalf("workers=%d batch %d view %d: pixels differ", w, i, v)
				}
			}
		}
	}
}

func TestViewsDependOnEpochAndSeed(t *testing.T) {
	s0 := synthSamples(t, 1, 0)[0]
	s1 := *s0
	s1.Epoch = 1
	run := func(st *Views, s *sources.Sample) []uint8 {
		d := &Decode{Channels: 3}
		var dec *Decoded
		if err := d.Process(t.Context(), s, func(x *Decoded) { dec = x }); err != nil {
			t.Fatal(err)
		}
		var vs *ViewSet
		if err := st.Process(t.Context(), dec, func(x *ViewSet) { vs = x }); err != nil {
			t.Fatal(err)
		}
		defer vs.Release()
		if len(vs.Views) != 2 || vs.Views[0].W != 24 {
			t.Fatalf("views %d of width %d", len(vs.Views), vs.Views[0].W)
		}
		return slices.Clone(vs.Views[0].Pix)
	}
	base := &Views{Aug: augment.SimCLRCIFAR(24), Seed: 1}
	a, b := run(base, s0), run(base, s0)
	if !slices.Equal(a, b) {
		t.Fatal("same key, different view")
	}
	if slices.Equal(a, run(base, &s1)) {
		t.Error("epoch does not change the view")
	}
	if slices.Equal(a, run(&Views{Aug: augment.SimCLRCIFAR(24), Seed: 2}, s0)) {
		t.Error("seed does not change the view")
	}
}

func TestMultiCropViewsHaveTheirOwnSizes(t *testing.T) {
	st := &Views{Augs: []augment.Augmentation{augment.SimCLRCIFAR(24), augment.SimCLRCIFAR(24), augment.SimCLRCIFAR(12)}}
	if st.Count() != 3 {
		t.Fatal(st.Count())
	}
	res := pipelinetest.RunStage[*Decoded, *ViewSet](t, st, decodeAll(t, synthSamples(t, 3, 0)))
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	for _, vs := range res.Out {
		if vs.Views[0].W != 24 || vs.Views[2].W != 12 {
			t.Errorf("sizes %d %d", vs.Views[0].W, vs.Views[2].W)
		}
	}
	tz := &Tensorize{BatchSize: 3}
	if err := tz.Setup(t.Context()); err != nil {
		t.Fatal(err)
	}
	var b *Batch
	for _, vs := range res.Out {
		if err := tz.Process(t.Context(), vs, func(x *Batch) { b = x }); err != nil {
			t.Fatal(err)
		}
	}
	if b == nil || !slices.Equal(b.Views[2].Shape(), []int{3, 3, 12, 12}) {
		t.Fatalf("batch %v", b)
	}
}

func decodeAll(t *testing.T, s []*sources.Sample) []*Decoded {
	t.Helper()
	d := &Decode{Channels: 3}
	var out []*Decoded
	for _, x := range s {
		if err := d.Process(t.Context(), x, func(v *Decoded) { out = append(out, v) }); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestViewsNeedAnAugmentation(t *testing.T) {
	if err := (&Views{}).Setup(t.Context()); err == nil {
		t.Error("Setup accepted Views without Aug")
	}
}
