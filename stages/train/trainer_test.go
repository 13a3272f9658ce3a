package train

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/pipeline/pipelinetest"
	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages"
	"github.com/contrastream/contrastream/stages/eval"
	"github.com/contrastream/contrastream/stages/train/loss"
	"github.com/contrastream/contrastream/stages/train/nn"
	"github.com/contrastream/contrastream/stages/train/optim"
)

// fakeBatches makes n batches of b pairs of 16×16 RGB views, the second view
// a noisy copy of the first, so there is something to learn.
func fakeBatches(n, b int, epochOf func(i int) int) []*stages.Batch {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]*stages.Batch, n)
	for i := range out {
		v0 := make([]float32, b*3*16*16)
		v1 := make([]float32, len(v0))
		for j := range v0 {
			v0[j] = float32(rng.NormFloat64())
			v1[j] = v0[j] + 0.3*float32(rng.NormFloat64())
		}
		bt := &stages.Batch{Epoch: epochOf(i), Cursor: sources.Cursor{Epoch: epochOf(i), Position: int64(b * (i + 1))}}
		for _, v := range [][]float32{v0, v1} {
			bt.Views = append(bt.Views, tensor.New(tensor.WithShape(b, 3, 16, 16), tensor.WithBacking(v)))
		}
		for j := range b {
			bt.IDs = append(bt.IDs, uint64(i*b+j))
			bt.Labels = append(bt.Labels, j%2)
		}
		out[i] = bt
	}
	return out
}

func newTrainer(t *testing.T) *Trainer {
	t.Helper()
	m, err := nn.NewSimCLR(nn.Config{Model: "small", Seed: 5, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return &Trainer{
		Model: m, Loss: &loss.NTXent{Temperature: 0.5},
		Opt:      &optim.SGD{Momentum: 0.9, WeightDecay: 1e-4},
		Schedule: optim.WarmupCosine{Peak: 0.1, WarmupSteps: 2, TotalSteps: 12},
	}
}

func run(t *testing.T, tr *Trainer, batches []*stages.Batch) []Record {
	t.Helper()
	if err := tr.Setup(t.Context()); err != nil {
		t.Fatal(err)
	}
	var steps []Record
	emit := func(s Record) { steps = append(steps, s) }
	for _, b := range batches {
		if err := tr.Process(t.Context(), b, emit); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Flush(t.Context(), emit); err != nil {
		t.Fatal(err)
	}
	return steps
}

// split separates a trainer's records by kind.
func split(recs []Record) (steps []*Step, snaps []*Snapshot, evals []*Eval) {
	for _, r := range recs {
		switch v := r.(type) {
		case *Step:
			steps = append(steps, v)
		case *Snapshot:
			snaps = append(snaps, v)
		case *Eval:
			evals = append(evals, v)
		}
	}
	return steps, snaps, evals
}

func weights(m *nn.SimCLR) []float32 {
	var w []float32
	for _, n := range m.StateDict() {
		if n.Tensor.Dtype() == tensor.Float32 {
			w = append(w, n.Tensor.Float32s()...)
		}
	}
	return w
}

func TestTrainerLearnsAndRecords(t *testing.T) {
	tr := newTrainer(t)
	tr.SnapshotEvery = 4
	three := fakeBatches(3, 8, func(int) int { return 0 })
	var bs []*stages.Batch
	for range 4 {
		bs = append(bs, three...)
	}
	recs := run(t, tr, bs)
	steps, snaps, _ := split(recs)
	// s1 s2 s3 s4 S4 ... s12 S12: a snapshot after every 4th step, and
	// none repeated at the end (step 12 has one).
	if len(recs) != 15 || len(steps) != 12 || len(snaps) != 3 {
		t.Fatalf("%d records: %d steps, %d snapshots", len(recs), len(steps), len(snaps))
	}
	for i, s := range steps {
		if s.Step != i+1 || s.Pairs != 8 {
			t.Errorf("record %d: step %d pairs %d", i, s.Step, s.Pairs)
		}
		if s.DataWait < 0 || s.DataWait > 1 || s.GradNorm <= 0 {
			t.Errorf("record %d: data wait %v grad norm %v", i, s.DataWait, s.GradNorm)
		}
	}
	for i, sn := range snaps {
		if sn.Step != 4*(i+1) {
			t.Errorf("snapshot %d at step %d", i, sn.Step)
		}
		if _, ok := recs[5*i+4].(*Snapshot); !ok {
			t.Errorf("record %d is %T, want the snapshot right after step %d", 5*i+4, recs[5*i+4], sn.Step)
		}
	}
	if steps[0].LR != 0 || steps[2].LR != 0.1 {
		t.Errorf("warm-up lr %v %v", steps[0].LR, steps[2].LR)
	}
	// The same batch at steps 1 and 10.
	first, last := steps[0].Loss, steps[9].Loss
	if !(last < first-0.05) {
		t.Errorf("loss did not go down: %v → %v", first, last)
	}
	if snaps[2].Cursor != (sources.Cursor{Epoch: 0, Position: 24}) {
		t.Errorf("final cursor %v", snaps[2].Cursor)
	}
}

func TestTrainerIsDeterministicAndResumesBitIdentically(t *testing.T) {
	batches := fakeBatches(8, 8, func(i int) int { return i / 4 })
	straight := newTrainer(t)
	run(t, straight, batches)
	want := weights(straight.Model)

	again := newTrainer(t)
	run(t, again, batches)
	if !slices.Equal(weights(again.Model), want) {
		t.Fatal("two identical runs differ")
	}

	first := newTrainer(t)
	_, snaps, _ := split(run(t, first, batches[:4]))
	if len(snaps) != 1 {
		t.Fatalf("%d snapshots from Flush, want 1", len(snaps))
	}
	snap := snaps[0]
	resumed := newTrainer(t)
	if err := nn.LoadStateDict(resumed.Model, snap.Tensors); err != nil {
		t.Fatal(err)
	}
	if err := resumed.Opt.LoadState(resumed.Model.Params(), snap.Optimizer); err != nil {
		t.Fatal(err)
	}
	resumed.StartStep = snap.Step
	rs, _, _ := split(run(t, resumed, batches[4:]))
	if rs[0].Step != 5 {
		t.Errorf("resumed step numbering starts at %d", rs[0].Step)
	}
	if !slices.Equal(weights(resumed.Model), want) {
		t.Error("4 steps + resume + 4 steps differs from 8 steps")
	}
}

func TestTrainerEvaluatesAtEpochEnds(t *testing.T) {
	tr := newTrainer(t)
	calls := 0
	tr.Eval = evalFunc(func(_ context.Context, m *nn.SimCLR) (eval.Scores, error) {
		calls++
		return eval.Scores{KNNTop1: float64(calls)}, nil
	})
	tr.EvalEvery = 1
	_, _, evs := split(run(t, tr, fakeBatches(6, 4, func(i int) int { return i / 2 })))
	var evals []float64
	var at []int
	for _, e := range evs {
		evals = append(evals, e.KNNTop1)
		at = append(at, e.Step, e.Epoch)
		if e.Final != (e.Step == 6) {
			t.Errorf("eval at step %d: final %v", e.Step, e.Final)
		}
	}
	// after epochs 0 and 1 (seen when the next begins), then the final one
	if !slices.Equal(evals, []float64{1, 2, 3}) || calls != 3 || !slices.Equal(at, []int{2, 0, 4, 1, 6, 2}) {
		t.Errorf("evaluations %v at (step, epoch) %v", evals, at)
	}
}

func TestTrainerNaNLossIsFatalAndNamesTheStep(t *testing.T) {
	tr := newTrainer(t)
	bs := fakeBatches(3, 4, func(int) int { return 0 })
	bs[2].Views[0].Float32s()[5] = float32(math.NaN())
	res := pipelinetest.RunStage[*stages.Batch, Record](t, tr, bs)
	if !pipeline.IsFatal(res.Err) && !strings.Contains(errString(res.Err), "at step 3") {
		t.Fatalf("err = %v", res.Err)
	}
	var se *pipeline.StageError
	if !errors.As(res.Err, &se) || !strings.Contains(se.Error(), "at step 3") {
		t.Fatalf("err = %v", res.Err)
	}
	// Steps 1 and 2 were emitted (the sink may not see them all: a fatal
	// error cancels the run), the bad step 3 never was.
	steps, snaps, _ := split(res.Out)
	if len(snaps) != 0 {
		t.Errorf("%d snapshots after a fatal error", len(snaps))
	}
	for _, s := range steps {
		if s.Step >= 3 {
			t.Errorf("step %d emitted after the NaN", s.Step)
		}
	}
}

type evalFunc func(context.Context, *nn.SimCLR) (eval.Scores, error)

func (f evalFunc) Evaluate(ctx context.Context, m *nn.SimCLR) (eval.Scores, error) { return f(ctx, m) }

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
