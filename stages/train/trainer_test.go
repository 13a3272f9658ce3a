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

func run(t *testing.T, tr *Trainer, batches []*stages.Batch) []*Step {
	t.Helper()
	if err := tr.Setup(t.Context()); err != nil {
		t.Fatal(err)
	}
	var steps []*Step
	emit := func(s *Step) { steps = append(steps, s) }
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
	steps := run(t, tr, bs)
	if len(steps) != 13 || !steps[12].Final || steps[12].Snapshot == nil {
		t.Fatalf("%d records; last %+v", len(steps), steps[len(steps)-1])
	}
	for i, s := range steps[:12] {
		if s.Step != i+1 || s.Pairs != 8 || (s.Snapshot != nil) != ((i+1)%4 == 0) {
			t.Errorf("record %d: step %d pairs %d snapshot %v", i, s.Step, s.Pairs, s.Snapshot != nil)
		}
		if s.DataWait < 0 || s.DataWait > 1 || s.GradNorm <= 0 {
			t.Errorf("record %d: data wait %v grad norm %v", i, s.DataWait, s.GradNorm)
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
	if steps[12].Snapshot.Cursor != (sources.Cursor{Epoch: 0, Position: 24}) {
		t.Errorf("final cursor %v", steps[12].Snapshot.Cursor)
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
	steps := run(t, first, batches[:4])
	snap := steps[len(steps)-1].Snapshot
	resumed := newTrainer(t)
	if err := nn.LoadStateDict(resumed.Model, snap.Model); err != nil {
		t.Fatal(err)
	}
	if err := resumed.Opt.LoadState(resumed.Model.Params(), snap.Optimizer); err != nil {
		t.Fatal(err)
	}
	resumed.StartStep = snap.Step
	rs := run(t, resumed, batches[4:])
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
	tr.Eval = func(_ context.Context, m *nn.SimCLR) (map[string]float64, error) {
		calls++
		return map[string]float64{"knn_top1": float64(calls)}, nil
	}
	tr.EvalEvery = 1
	steps := run(t, tr, fakeBatches(6, 4, func(i int) int { return i / 2 }))
	var evals []float64
	for _, s := range steps {
		if s.Eval != nil {
			evals = append(evals, s.Eval["knn_top1"])
		}
	}
	// after epochs 0 and 1 (seen when the next begins), then the final one
	if !slices.Equal(evals, []float64{1, 2, 3}) || calls != 3 {
		t.Errorf("evaluations %v", evals)
	}
}

func TestTrainerNaNLossIsFatalAndNamesTheStep(t *testing.T) {
	tr := newTrainer(t)
	bs := fakeBatches(3, 4, func(int) int { return 0 })
	bs[2].Views[0].Float32s()[5] = float32(math.NaN())
	res := pipelinetest.RunStage[*stages.Batch, *Step](t, tr, bs)
	if !pipeline.IsFatal(res.Err) && !strings.Contains(errString(res.Err), "at step 3") {
		t.Fatalf("err = %v", res.Err)
	}
	var se *pipeline.StageError
	if !errors.As(res.Err, &se) || !strings.Contains(se.Error(), "at step 3") {
		t.Fatalf("err = %v", res.Err)
	}
	// Steps 1 and 2 were emitted (the sink may not see them all: a fatal
	// error cancels the run), the bad step 3 never was.
	for _, s := range res.Out {
		if s.Step >= 3 {
			t.Errorf("step %d emitted after the NaN", s.Step)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
