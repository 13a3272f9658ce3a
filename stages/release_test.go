package stages

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/pipeline/pipelinetest"
	"github.com/contrastream/contrastream/stages/augment"
	"github.com/contrastream/contrastream/stages/image"
)

// failOddRows is an augmentation that fails on odd rows (it reads the row
// from the first pixel, which the test sets).
type failOddRows struct{ base augment.Augmentation }

func (f failOddRows) Augment(dst, src *image.Image, rng *rand.Rand) error {
	if src.Pix[0]%2 == 1 {
		return fmt.Errorf("odd pixel %d", src.Pix[0])
	}
	return f.base.Augment(dst, src, rng)
}

// TestReleasingStagesKeepTheKeyOfABadRecord: Views and Tensorize release
// their input (Decoded, ViewSet) before the pipeline routes their error, and
// the release clears the sample. The dead letter must still name the
// record's shard and row (it was a nil-pointer panic in Sample.Key).
func TestReleasingStagesKeepTheKeyOfABadRecord(t *testing.T) {
	samples := synthSamples(t, 12, 0)
	t.Run("views", func(t *testing.T) {
		var in []*Decoded
		for _, d := range decodeAll(t, samples) {
			d.Image.Pix[0] = uint8(d.Sample.Row)
			in = append(in, d)
		}
		for _, opts := range [][]pipeline.StageOption{nil, {pipeline.Workers(3), pipeline.Ordered()}} {
			res := pipelinetest.RunStage[*Decoded, *ViewSet](t,
				&Views{Aug: failOddRows{augment.SimCLRCIFAR(16)}, Seed: 1}, in, opts...)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			for _, vs := range res.Out {
				vs.Release()
			}
			checkOddRowsDeadLettered(t, res.DeadLetters, "odd pixel")
			in = in[:0]
			for _, d := range decodeAll(t, samples) {
				d.Image.Pix[0] = uint8(d.Sample.Row)
				in = append(in, d)
			}
		}
	})
	t.Run("tensorize", func(t *testing.T) {
		var in []*ViewSet
		for i := range 12 {
			w := 4
			if i%2 == 1 {
				w = 5 // not the first view set's size: a record error
			}
			in = append(in, viewSet(uint64(i), 0, 2, w, 1))
		}
		res := pipelinetest.RunStage[*ViewSet, *Batch](t, &Tensorize{BatchSize: 2}, in)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		if len(res.Out) != 3 {
			t.Errorf("%d batches, want 3", len(res.Out))
		}
		checkOddRowsDeadLettered(t, res.DeadLetters, "want 4x4x3")
	})
}

func checkOddRowsDeadLettered(t *testing.T, dls []pipeline.DeadLetter, reason string) {
	t.Helper()
	if len(dls) != 6 {
		t.Fatalf("%d dead letters, want 6: %+v", len(dls), dls)
	}
	for _, d := range dls {
		if d.Key.Shard == "" || d.Key.Row%2 != 1 || !strings.Contains(d.Reason, reason) {
			t.Errorf("dead letter %+v: want an odd row of a named shard, reason %q", d, reason)
		}
	}
}

// TestTeeOfViewSets: behind pipeline.Tee with ViewSet.Clone, Tensorize
// (which releases each view set) and a second consumer read the same
// views: every pixel the second consumer keeps is the one Tensorize put in
// its batch, though the pooled view buffers are reused all along.
func TestTeeOfViewSets(t *testing.T) {
	samples := synthSamples(t, 24, 0)
	p := pipeline.New("tee")
	imgs := pipeline.Apply(p, "decode", pipelinetest.Slice(p, "rows", samples), &Decode{Channels: 3})
	views := pipeline.Apply(p, "views", imgs, &Views{Aug: augment.SimCLRCIFAR(16), Seed: 3},
		pipeline.Workers(3), pipeline.Ordered())
	both := pipeline.Tee(p, "views-copy", views, (*ViewSet).Clone)
	batches := pipelinetest.Collect(p, "batches", pipeline.Apply(p, "tensorize", both,
		&Tensorize{BatchSize: 4, Uint8: true, InFlight: 8}))
	copies := pipelinetest.Collect(p, "copies", both)
	if err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	bs, cs := batches.Items(), copies.Items()
	if len(bs) != 6 || len(cs) != 24 {
		t.Fatalf("%d batches, %d view sets; want 6, 24", len(bs), len(cs))
	}
	for i, vs := range cs {
		b, j := bs[i/4], i%4
		for v, m := range vs.Views {
			n := m.W * m.H * m.C
			if got := b.Views[v].Data().([]uint8)[j*n : (j+1)*n]; string(got) != string(m.Pix[:n]) {
				t.Fatalf("sample %d view %d: the copy differs from the batch", i, v)
			}
		}
	}
}

// TestBatchClone: a clone of a partial float batch equals it and keeps its
// values once the original is released and its buffer reused.
func TestBatchClone(t *testing.T) {
	tz := &Tensorize{BatchSize: 3, InFlight: 1}
	if err := tz.Setup(t.Context()); err != nil {
		t.Fatal(err)
	}
	var out []*Batch
	emit := func(b *Batch) { out = append(out, b) }
	for i := range 2 {
		if err := tz.Process(t.Context(), viewSet(uint64(i), 0, 2, 4, uint8(10+i)), emit); err != nil {
			t.Fatal(err)
		}
	}
	if err := tz.Flush(t.Context(), emit); err != nil || len(out) != 1 {
		t.Fatalf("flush: %v, %d batches", err, len(out))
	}
	b := out[0]
	c := b.Clone()
	want := slices.Clone(b.Float32s(1))
	if !slices.Equal(c.Float32s(1), want) || !slices.Equal(c.IDs, b.IDs) || c.Size() != 2 ||
		!slices.Equal([]int(c.Views[0].Shape()), []int(b.Views[0].Shape())) {
		t.Fatalf("clone differs: ids %v shape %v", c.IDs, c.Views[0].Shape())
	}
	b.Release()
	out = out[:0]
	for i := range 3 {
		if err := tz.Process(t.Context(), viewSet(uint64(5+i), 0, 2, 4, 200), emit); err != nil {
			t.Fatal(err)
		}
	}
	if len(out) != 1 || out[0] != b {
		t.Fatal("the pool did not hand the released batch back")
	}
	if !slices.Equal(c.Float32s(1), want) || !slices.Equal(c.IDs, []uint64{0, 1}) {
		t.Error("the clone changed when its original's buffer was reused")
	}
	c.Release() // a clone belongs to no pool: nothing happens
}
