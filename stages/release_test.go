package stages

import (
	"fmt"
	"math/rand/v2"
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
