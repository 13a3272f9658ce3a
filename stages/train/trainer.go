package train

import (
	"context"
	"fmt"
	"math"
	"time"

	"gorgonia.org/tensor"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages"
	"github.com/contrastream/contrastream/stages/train/loss"
	"github.com/contrastream/contrastream/stages/train/nn"
	"github.com/contrastream/contrastream/stages/train/optim"
)

// Step is what the trainer emits after each optimizer step.
type Step struct {
	Step     int     `json:"step"`  // optimizer steps completed, this one included
	Epoch    int     `json:"epoch"` // epoch of the batch
	Loss     float64 `json:"loss"`
	LR       float64 `json:"lr"`
	PosSim   float64 `json:"pos_sim"`         // mean cosine similarity of positive pairs
	NegSim   float64 `json:"neg_sim"`         // mean cosine similarity of negative pairs
	Accuracy float64 `json:"contrastive_acc"` // anchors whose nearest other view is their positive
	GradNorm float64 `json:"grad_norm"`       // L2 norm of all gradients before the update
	Pairs    int     `json:"pairs"`           // images in the batch (2 views each)
	// Seconds is the wall time since the previous step ended; Wait is the
	// part of it spent waiting for this batch. DataWait = Wait/Seconds tells
	// whether training is input-bound (near 1) or compute-bound (near 0).
	Seconds   float64        `json:"step_seconds"`
	Wait      float64        `json:"wait_seconds"`
	DataWait  float64        `json:"data_wait"`
	PairsPerS float64        `json:"pairs_per_s"`
	Cursor    sources.Cursor `json:"cursor"` // resumes the data after this batch
	Time      time.Time      `json:"time"`
	// EpochEnd is set on the last step of an epoch (known when the next
	// epoch's first batch arrives, or at the end of the input).
	EpochEnd bool `json:"epoch_end,omitempty"`
	// Eval holds the evaluation run after this step, if one was due.
	Eval map[string]float64 `json:"eval,omitempty"`
	// Snapshot is a copy of the training state after this step, every
	// SnapshotEvery steps and after the last step; nil otherwise.
	Snapshot *Snapshot `json:"-"`
	// Final marks the record emitted by Flush when the input ended; it
	// repeats the last step and carries the last snapshot.
	Final bool `json:"final,omitempty"`
}

// Snapshot is a consistent copy of everything needed to resume: model
// tensors (state_dict names, batch-norm buffers included), optimizer state,
// and the position in the data and the schedule. It is a deep copy, so a
// checkpoint sink may write it while training goes on.
type Snapshot struct {
	Step      int
	Epoch     int // epoch of the next batch
	Cursor    sources.Cursor
	Model     []nn.Named
	Optimizer []nn.Named
}

// Trainer is the training stage: it takes *stages.Batch (and releases each)
// and gives *Step, one per batch.
//
// For each batch it stacks views 0 and 1 into one [2N, C, H, W] input (so
// batch normalization sees both views, as in SimCLR; further views are
// ignored), runs Model forward in training mode, Loss forward and backward,
// Model backward, and one Opt step with the learning rate Schedule gives for
// the step. A NaN or infinite loss is a fatal error naming the step; the
// parameters are then left as the last good step made them and no snapshot
// of the bad step is emitted. Eval runs after the last step of every
// EvalEvery-th epoch and at the end.
//
// It holds the model, so it runs with one worker (it has Flush). Steady
// state allocates nothing per batch except the emitted record; snapshots
// copy the state.
type Trainer struct {
	Model    *nn.SimCLR
	Loss     *loss.NTXent
	Opt      optim.Optimizer
	Schedule optim.Schedule
	// StartStep is the number of steps already done (when resuming): the
	// schedule continues from there and step numbers count on.
	StartStep int
	// SnapshotEvery emits a Snapshot every this many steps (0: only after
	// the last step).
	SnapshotEvery int
	// Eval, if set, evaluates the model (e.g. kNN accuracy); it is called
	// on the trainer's goroutine between steps, so it may use Model freely
	// (in evaluation mode). EvalEvery is in epochs (0: only at the end).
	Eval      func(ctx context.Context, m *nn.SimCLR) (map[string]float64, error)
	EvalEvery int
	// Stop, when closed, makes the trainer release further batches without
	// training on them, so a graceful stop (pipeline.Stop on SIGINT) ends
	// after the step in progress; Flush then snapshots that state, whose
	// cursor points just after the last batch trained on.
	Stop <-chan struct{}
	// MaxSteps, if positive, ends training at that step count (resumed
	// steps included): later batches are released untrained. The caller
	// should also stop the pipeline's sources when it sees that step.
	MaxSteps int

	step     int
	epoch    int
	last     *Step
	input    *tensor.Dense
	inputBuf []float32
	dz       *tensor.Dense
	lastEnd  time.Time
}

// Setup checks the configuration.
func (t *Trainer) Setup(context.Context) error {
	switch {
	case t.Model == nil || t.Loss == nil || t.Opt == nil || t.Schedule == nil:
		return fmt.Errorf("train: Trainer needs Model, Loss, Opt and Schedule")
	case t.StartStep < 0 || t.SnapshotEvery < 0 || t.EvalEvery < 0:
		return fmt.Errorf("train: negative StartStep, SnapshotEvery or EvalEvery")
	}
	t.step, t.epoch, t.last = t.StartStep, -1, nil
	t.lastEnd = time.Now()
	return nil
}

// stack copies views 0 and 1 of b into the [2N, C, H, W] input tensor.
func (t *Trainer) stack(b *stages.Batch) (*tensor.Dense, error) {
	if len(b.Views) < 2 {
		return nil, fmt.Errorf("train: batch has %d views, want at least 2", len(b.Views))
	}
	v0, v1 := b.Views[0], b.Views[1]
	s0, s1 := v0.Shape(), v1.Shape()
	if len(s0) != 4 || !s0.Eq(s1) {
		return nil, fmt.Errorf("train: views 0 and 1 have shapes %v and %v, want one [N,C,H,W]", s0, s1)
	}
	d0, ok0 := v0.Data().([]float32)
	d1, ok1 := v1.Data().([]float32)
	if !ok0 || !ok1 {
		return nil, fmt.Errorf("train: views must be float32 tensors (Tensorize without Uint8)")
	}
	n := len(d0)
	if cap(t.inputBuf) < 2*n {
		t.inputBuf = make([]float32, 2*n)
	}
	buf := t.inputBuf[:2*n]
	copy(buf, d0)
	copy(buf[n:], d1)
	if t.input == nil || t.input.Shape()[0] != 2*s0[0] || !t.input.Shape()[1:].Eq(s0[1:]) ||
		len(t.input.Data().([]float32)) != 2*n {
		t.input = tensor.New(tensor.WithShape(2*s0[0], s0[1], s0[2], s0[3]), tensor.WithBacking(buf))
	}
	return t.input, nil
}

// Process runs one training step on b.
func (t *Trainer) Process(ctx context.Context, b *stages.Batch, emit func(*Step)) error {
	start := time.Now()
	wait := start.Sub(t.lastEnd)
	defer b.Release()
	if t.stopped() || (t.MaxSteps > 0 && t.step >= t.MaxSteps) {
		return nil
	}
	if b.Size() < 2 {
		return nil // NT-Xent needs negatives; a 1-sample tail batch is skipped
	}
	if t.last != nil && b.Epoch != t.epoch {
		if err := t.endEpoch(ctx, emit); err != nil {
			return err
		}
	}
	t.epoch = b.Epoch
	x, err := t.stack(b)
	if err != nil {
		return pipeline.Fatal(err)
	}
	lr := t.Schedule.LR(t.step)
	params := t.Model.Params()
	nn.ZeroGrad(params)
	z := t.Model.Forward(x, true)
	st, err := t.Loss.ForwardTensor(z)
	if err != nil {
		return pipeline.Fatal(fmt.Errorf("train: step %d: %w", t.step+1, err))
	}
	if math.IsNaN(st.Loss) || math.IsInf(st.Loss, 0) {
		return pipeline.Fatal(fmt.Errorf("train: loss is %v at step %d (epoch %d, lr %.4g): the last good checkpoint is untouched",
			st.Loss, t.step+1, b.Epoch, lr))
	}
	dz := t.dzLike(z)
	if err := t.Loss.BackwardTensor(dz); err != nil {
		return pipeline.Fatal(fmt.Errorf("train: step %d: %w", t.step+1, err))
	}
	t.Model.Backward(dz)
	gn := gradNorm(params)
	if math.IsNaN(gn) || math.IsInf(gn, 0) {
		return pipeline.Fatal(fmt.Errorf("train: gradient norm is %v at step %d (epoch %d)", gn, t.step+1, b.Epoch))
	}
	if err := t.Opt.Step(lr, params); err != nil {
		return pipeline.Fatal(fmt.Errorf("train: step %d: %w", t.step+1, err))
	}
	t.step++
	end := time.Now()
	total := end.Sub(t.lastEnd)
	t.lastEnd = end
	rec := &Step{
		Step: t.step, Epoch: b.Epoch, Loss: st.Loss, LR: lr, PosSim: st.PosSim, NegSim: st.NegSim,
		Accuracy: st.Accuracy, GradNorm: gn, Pairs: b.Size(), Seconds: total.Seconds(), Wait: wait.Seconds(),
		Cursor: b.Cursor, Time: end,
	}
	if total > 0 {
		rec.DataWait = wait.Seconds() / total.Seconds()
		rec.PairsPerS = float64(b.Size()) / total.Seconds()
	}
	if t.SnapshotEvery > 0 && t.step%t.SnapshotEvery == 0 {
		rec.Snapshot = t.snapshot(b.Epoch, b.Cursor)
	}
	t.last = rec
	emit(rec)
	return nil
}

func (t *Trainer) stopped() bool {
	if t.Stop == nil {
		return false
	}
	select {
	case <-t.Stop:
		return true
	default:
		return false
	}
}

// dzLike returns the reused gradient buffer of z's shape.
func (t *Trainer) dzLike(z *tensor.Dense) *tensor.Dense {
	if t.dz == nil || !t.dz.Shape().Eq(z.Shape()) {
		t.dz = tensor.New(tensor.WithShape(z.Shape().Clone()...), tensor.Of(tensor.Float32))
	}
	return t.dz
}

// endEpoch runs the evaluation due at the end of epoch t.epoch and emits it
// as a repeat of the last step record marked EpochEnd.
func (t *Trainer) endEpoch(ctx context.Context, emit func(*Step)) error {
	if t.Eval == nil || t.EvalEvery == 0 || (t.epoch+1)%t.EvalEvery != 0 {
		return nil
	}
	ev, err := t.Eval(ctx, t.Model)
	if err != nil {
		return pipeline.Fatal(fmt.Errorf("train: evaluation after epoch %d: %w", t.epoch, err))
	}
	rec := *t.last
	rec.EpochEnd, rec.Eval, rec.Snapshot = true, ev, nil
	emit(&rec)
	return nil
}

// Flush runs when the input ends (or after a graceful stop): it emits the
// last step again marked Final, with a snapshot of the state, and then,
// unless stopped, the final evaluation as an EpochEnd record.
func (t *Trainer) Flush(ctx context.Context, emit func(*Step)) error {
	if t.last == nil {
		return nil
	}
	rec := *t.last
	rec.Final, rec.EpochEnd, rec.Eval = true, false, nil
	rec.Snapshot = t.snapshot(t.epoch, t.last.Cursor)
	emit(&rec)
	if t.Eval == nil || t.stopped() {
		return nil
	}
	ev, err := t.Eval(ctx, t.Model)
	if err != nil {
		return pipeline.Fatal(fmt.Errorf("train: final evaluation: %w", err))
	}
	end := *t.last
	end.EpochEnd, end.Eval, end.Snapshot = true, ev, nil
	emit(&end)
	return nil
}

func (t *Trainer) snapshot(epoch int, cur sources.Cursor) *Snapshot {
	return &Snapshot{
		Step: t.step, Epoch: epoch, Cursor: cur,
		Model: nn.CloneState(t.Model.StateDict()), Optimizer: nn.CloneState(t.Opt.State()),
	}
}

// gradNorm is the L2 norm of all gradients, accumulated in float64.
func gradNorm(ps []*nn.Param) float64 {
	var s float64
	for _, p := range ps {
		for _, g := range p.GradData() {
			s += float64(g) * float64(g)
		}
	}
	return math.Sqrt(s)
}
