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
	"github.com/contrastream/contrastream/stages/eval"
	"github.com/contrastream/contrastream/stages/train/loss"
	"github.com/contrastream/contrastream/stages/train/nn"
	"github.com/contrastream/contrastream/stages/train/optim"
)

// Evaluator scores a model between training steps (eval.Suite is one).
// It is called on the trainer's goroutine, so it may use the model freely
// (in evaluation mode); it must not change its parameters or buffers.
type Evaluator interface {
	Evaluate(ctx context.Context, m *nn.SimCLR) (eval.Scores, error)
}

// Trainer is the training stage: it takes *stages.Batch (and releases each:
// the stream it reads may have no other consumer) and gives Records: a
// *Step per batch trained on, a *Snapshot when a checkpoint is due, an
// *Eval after each evaluation.
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
//	in:  b1   b2   b3 | b4 (epoch 1)   end        SnapshotEvery 2, EvalEvery 1
//	out: s1   s2 S2   s3  E3  s4                   S4 E4
//	     (s: *Step, S: *Snapshot, E: *Eval)
//
// It holds the model, so it runs with one worker (it has Flush) and keeps
// order. Steady state allocates nothing per batch except the Step record;
// a snapshot copies the state (model and optimizer tensors).
type Trainer struct {
	Model    *nn.SimCLR
	Loss     *loss.NTXent
	Opt      optim.Optimizer
	Schedule optim.Schedule
	// StartStep is the number of steps already done (when resuming): the
	// schedule continues from there and step numbers count on.
	StartStep int
	// SnapshotEvery emits a Snapshot every this many steps (0: only after
	// the last step). The last step always gets one (once).
	SnapshotEvery int
	// Eval, if set, evaluates the model every EvalEvery epochs (0: only at
	// the end of the input; not after a stop).
	Eval      Evaluator
	EvalEvery int
	// Stop, when closed, makes the trainer release further batches without
	// training on them, so a graceful stop ends after the step in progress;
	// Flush then snapshots that state, whose cursor points just after the
	// last batch trained on. The caller should also stop the sources
	// (pipeline.Stop); Run does both.
	Stop <-chan struct{}
	// MaxSteps, if positive, ends training at that step count (resumed
	// steps included): later batches are released untrained, and Halt, if
	// set, is called once, on the trainer's goroutine, right after that
	// step (Run's Halt is its graceful stop).
	MaxSteps int
	Halt     func()
	// Config is copied into every Snapshot, so a checkpoint can rebuild
	// its model and resume its run (Run sets it).
	Config Config

	step     int
	epoch    int
	last     *Step
	lastSnap int // step of the last snapshot emitted
	halted   bool
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
	t.step, t.epoch, t.last, t.lastSnap, t.halted = t.StartStep, -1, nil, t.StartStep, false
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
func (t *Trainer) Process(ctx context.Context, b *stages.Batch, emit func(Record)) error {
	start := time.Now()
	wait := start.Sub(t.lastEnd)
	defer b.Release()
	if t.done() {
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
	t.last = rec
	emit(rec)
	if t.SnapshotEvery > 0 && t.step%t.SnapshotEvery == 0 {
		emit(t.snapshot(b.Epoch, b.Cursor))
	}
	if t.MaxSteps > 0 && t.step >= t.MaxSteps && !t.halted {
		t.halted = true
		if t.Halt != nil {
			t.Halt()
		}
	}
	return nil
}

// done reports whether training has ended (stopped or at MaxSteps).
func (t *Trainer) done() bool {
	return t.stopped() || (t.MaxSteps > 0 && t.step >= t.MaxSteps)
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

// endEpoch runs the evaluation due at the end of epoch t.epoch.
func (t *Trainer) endEpoch(ctx context.Context, emit func(Record)) error {
	if t.Eval == nil || t.EvalEvery == 0 || (t.epoch+1)%t.EvalEvery != 0 {
		return nil
	}
	return t.evaluate(ctx, emit, false)
}

// evaluate runs Eval and emits its record.
func (t *Trainer) evaluate(ctx context.Context, emit func(Record), final bool) error {
	sc, err := t.Eval.Evaluate(ctx, t.Model)
	if err != nil {
		if final {
			return pipeline.Fatal(fmt.Errorf("train: final evaluation: %w", err))
		}
		return pipeline.Fatal(fmt.Errorf("train: evaluation after epoch %d: %w", t.epoch, err))
	}
	emit(&Eval{Step: t.last.Step, Epoch: t.epoch, Final: final, Scores: sc, Time: time.Now()})
	return nil
}

// Flush runs when the input ends (or after a graceful stop): it emits a
// snapshot of the state unless the last step already had one, and then,
// unless stopped, the final evaluation.
func (t *Trainer) Flush(ctx context.Context, emit func(Record)) error {
	if t.last == nil {
		return nil
	}
	if t.lastSnap != t.step {
		emit(t.snapshot(t.epoch, t.last.Cursor))
	}
	if t.Eval == nil || t.stopped() {
		return nil
	}
	return t.evaluate(ctx, emit, true)
}

func (t *Trainer) snapshot(epoch int, cur sources.Cursor) *Snapshot {
	t.lastSnap = t.step
	return &Snapshot{
		Step: t.step, Epoch: epoch, Cursor: cur, Config: t.Config,
		Tensors: nn.CloneState(t.Model.StateDict()), Optimizer: nn.CloneState(t.Opt.State()),
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
