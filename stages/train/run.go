package train

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages"
	"github.com/contrastream/contrastream/stages/eval"
	"github.com/contrastream/contrastream/stages/image"
	"github.com/contrastream/contrastream/stages/train/loss"
	"github.com/contrastream/contrastream/stages/train/nn"
	"github.com/contrastream/contrastream/stages/train/optim"
)

// Store keeps the checkpoints of a run. sinks.Checkpointer is the one on
// disk (safetensors + zstd, written atomically, the newest kept).
type Store interface {
	// Save writes s. It must not keep s's tensors past its return (a
	// snapshot is a copy, so it may read them while training goes on).
	Save(ctx context.Context, s *Snapshot) error
	// Latest returns the newest snapshot, or an error wrapping
	// ErrNoCheckpoint when the store holds none.
	Latest() (*Snapshot, error)
}

// Locker is implemented by a Store that one run at a time may write
// (sinks.Checkpointer: a flock'd lock file in the run folder). Run and
// Resume take the lock before they look at the store and release it when
// they return, so a second run into the same store is refused instead of
// overwriting the first one's checkpoints. Lock also checks that the store
// can be written, so an unwritable one is found before any training.
type Locker interface {
	Lock() (unlock func() error, err error)
}

// ErrNoCheckpoint is wrapped by Store.Latest when there is no checkpoint.
var ErrNoCheckpoint = errors.New("train: no checkpoint")

// Metrics takes a run's records as they happen (metrics.jsonl, Prometheus,
// plots, a progress line: see package sinks). The records must not be kept
// or changed. Calls come from one goroutine, in order. A failed write is a
// record error of the "metrics" stage: counted, dead-lettered, the run goes
// on.
type Metrics interface {
	WriteStep(*Step) error
	WriteEval(*Eval) error
}

// Starter is implemented by Metrics that want to know about the run before
// its first record (Run calls Start once, before training begins).
type Starter interface {
	Start(Info) error
}

// Info describes a run that is starting.
type Info struct {
	Config        Config // resolved
	StartStep     int    // steps already done (resumed)
	StepsPerEpoch int
	TotalSteps    int                      // StepsPerEpoch × Config.Schedule.Epochs
	Stats         func() pipeline.RunStats // live per-stage statistics
}

// Options connect a run to its caller; unlike the Config, none of it is
// saved.
type Options struct {
	// Store receives the snapshots (required).
	Store Store
	// Metrics receive every Step and Eval record.
	Metrics []Metrics
	// Stop, when closed, stops the run gracefully: the step in progress
	// finishes, a checkpoint is written and Run returns with
	// Result.Stopped. Cancelling Run's context aborts instead (no final
	// checkpoint; the last one saved stays).
	Stop <-chan struct{}
	// Resume continues from this snapshot (Resume sets it from the
	// Store). Without it, Run refuses a Store that holds checkpoints.
	Resume *Snapshot
	// Eval, if set, is the evaluation instead of the one Config.Eval
	// describes (whose Every still applies), e.g. an eval.Suite the caller
	// has loaded already and uses itself too.
	Eval Evaluator
	// DeadLetters, if set, receives the run's bad records: training
	// images that fail (decode, views) and evaluation images that do
	// (eval.Load), all within Data.MaxBad. Run closes it (when it has
	// Close() error) before it returns.
	DeadLetters pipeline.DeadLetterWriter
	// Pipeline options of the training pipeline, e.g. pipeline.WithLogger.
	Pipeline []pipeline.Option
}

// Result is what a finished (or stopped) run did.
type Result struct {
	Config    Config  `json:"config"`     // the resolved configuration
	Steps     int     `json:"steps"`      // steps completed in all, resumed ones included
	StartStep int     `json:"start_step"` // steps done before this call (resumed from)
	Epochs    int     `json:"epochs"`     // completed epochs
	Seconds   float64 `json:"seconds"`    // wall time of this call's training
	PairsPerS float64 `json:"pairs_per_s"`
	DataWait  float64 `json:"data_wait"` // fraction of step time spent waiting for data
	Loss      float64 `json:"loss"`      // of the last step
	Eval      *Eval   `json:"eval,omitempty"`
	// Saved is the step of the last snapshot saved by this call (-1: none).
	Saved   int               `json:"saved_step"`
	Stopped bool              `json:"stopped"` // ended by Stop, Stop.MaxSteps or Stop.Minutes
	Stats   pipeline.RunStats `json:"stages"`
}

// lock takes the store's lock, if it has one.
func lock(s Store) (func() error, error) {
	if l, ok := s.(Locker); ok {
		return l.Lock()
	}
	return func() error { return nil }, nil
}

// Run trains a SimCLR model as cfg says, as one pipeline:
//
//	parquet (from the cursor) → decode → views → tensorize → train → {checkpoint (o.Store), metrics (o.Metrics)}
//
// It returns when the last epoch is done, when the run is stopped
// (o.Stop, cfg.Stop), when ctx is cancelled (ctx's error) or on the first
// fatal error (a NaN loss, a failed checkpoint). Every goroutine it starts
// has ended when it returns. Batches, weights and checkpoints are
// bit-identical for any Data.Workers, and a run resumed from any of its
// checkpoints ends bit-identical to one never stopped.
//
// It holds the Store's lock (Locker) while it runs. Bad records (images
// that do not decode, views that fail) are skipped and dead-lettered (see
// Options.Pipeline) up to Data.MaxBad of the records read; beyond it the
// run fails with pipeline.ErrBadRecordBudget. A run that ends without
// having made a single step is an error too.
func Run(ctx context.Context, cfg Config, o Options) (*Result, error) {
	if o.Store == nil {
		return &Result{Saved: -1}, fmt.Errorf("%w: Options.Store is nil", ErrConfig)
	}
	unlock, err := lock(o.Store)
	if err != nil {
		return &Result{Saved: -1}, err
	}
	res, err := runLocked(ctx, cfg, o)
	return res, errors.Join(err, unlock())
}

// runLocked runs the graph with o.DeadLetters open until it ends.
func runLocked(ctx context.Context, cfg Config, o Options) (*Result, error) {
	dl := o.DeadLetters
	if dl != nil {
		o.Pipeline = append(o.Pipeline[:len(o.Pipeline):len(o.Pipeline)], pipeline.WithDeadLetter(keepOpen{dl}))
	}
	res, err := runGraph(ctx, cfg, o)
	if c, ok := dl.(interface{ Close() error }); ok {
		err = errors.Join(err, c.Close())
	}
	return res, err
}

// keepOpen hides a dead-letter writer's Close from a pipeline, so that
// the evaluation sets' loads and the training pipeline share it.
type keepOpen struct{ w pipeline.DeadLetterWriter }

func (k keepOpen) WriteDeadLetter(d pipeline.DeadLetter) error { return k.w.WriteDeadLetter(d) }

func runGraph(ctx context.Context, cfg Config, o Options) (*Result, error) {
	res := &Result{Saved: -1}
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return res, err
	}
	cfg.absPaths()
	var cursor sources.Cursor
	startStep := 0
	if o.Resume != nil {
		cursor, startStep = o.Resume.Cursor, o.Resume.Step
		res.StartStep = startStep
	} else if s, err := o.Store.Latest(); err == nil {
		return res, fmt.Errorf("train: the store already holds checkpoints (step %d): resume the run, or start it in another store", s.Step)
	} else if !errors.Is(err, ErrNoCheckpoint) {
		return res, err
	}
	src, err := sources.NewSource(sources.ParquetConfig{Glob: cfg.Data.Glob, Seed: cfg.Data.Seed,
		ShuffleBuffer: cfg.Data.ShuffleBuffer, Epochs: cfg.Schedule.Epochs, Cursor: cursor})
	if err != nil {
		if o.Resume != nil && absGlob(o.Resume.Config.Data.Glob) == cfg.Data.Glob {
			return res, configError("Data.Glob", " %s: the run's data cannot be read (%v); if it moved, give its new location", cfg.Data.Glob, err)
		}
		return res, err
	}
	if err := cfg.checkFingerprint(src); err != nil {
		return res, err
	}
	if cfg.Data.Size == 0 || cfg.Model.InChannels == 0 {
		side, channels, err := peekImage(cfg.Data.Glob, src.Shards())
		if err != nil {
			return res, err
		}
		if cfg.Data.Size == 0 {
			cfg.Data.Size = side
		}
		if cfg.Model.InChannels == 0 {
			cfg.Model.InChannels = channels
		}
		if err := cfg.validate(); err != nil {
			return res, err
		}
	}
	if err := stages.CheckViewSide("Data.Size", cfg.Data.Size); err != nil {
		return res, err
	}
	res.Config = cfg
	batch := cfg.Schedule.Batch
	c, side := cfg.Model.InChannels, cfg.Data.Size
	tz := &stages.Tensorize{BatchSize: batch, DropLast: true}
	if err := tz.CheckMemory([][3]int{{c, side, side}, {c, side, side}}); err != nil {
		return res, err
	}
	spe := int(src.Plan().EpochSize()) / batch
	if spe < 1 {
		return res, fmt.Errorf("train: %d images per epoch make no batch of %d", src.Plan().EpochSize(), batch)
	}
	total := spe * cfg.Schedule.Epochs
	if startStep >= total && cfg.Schedule.Epochs > 0 {
		return res, fmt.Errorf("train: nothing to do: the run is complete (step %d of %d, %d epochs)", startStep, total, cfg.Schedule.Epochs)
	}

	model, err := nn.NewSimCLR(cfg.Model)
	if err != nil {
		return res, err
	}
	defer model.Close()
	opt, err := cfg.newOptimizer()
	if err != nil {
		return res, err
	}
	scaling, _ := optim.ParseScaling(cfg.Optimizer.LRScaling) // validated
	sched := optim.WarmupCosine{Peak: scaling.Apply(cfg.Optimizer.LR, batch),
		WarmupSteps: int(cfg.Schedule.WarmupEpochs * float64(spe)), TotalSteps: total}
	if err := sched.Validate(); err != nil {
		return res, err
	}
	if o.Resume != nil {
		if err := nn.LoadStateDict(model, o.Resume.Tensors); err != nil {
			return res, fmt.Errorf("train: resume from step %d: %w", o.Resume.Step, err)
		}
		if len(o.Resume.Optimizer) > 0 {
			if err := opt.LoadState(model.Params(), o.Resume.Optimizer); err != nil {
				return res, fmt.Errorf("train: resume from step %d: %w", o.Resume.Step, err)
			}
		}
	}
	ev := o.Eval
	if ev == nil && cfg.Eval.Test != "" {
		suite, err := loadSuite(ctx, cfg, src.Shards(), o.DeadLetters)
		if err != nil {
			return res, err
		}
		ev = suite
	}
	every := cfg.Checkpoint.Every
	if every == 0 {
		every = spe
	}

	popts := o.Pipeline
	if cfg.Data.MaxBad >= 0 {
		popts = append(popts[:len(popts):len(popts)], pipeline.WithBadRecordBudget(cfg.Data.MaxBad))
	}
	p := pipeline.New("train", popts...)
	stopCh := make(chan struct{})
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stopCh); p.Stop() }) } // the one graceful stop
	trainer := &Trainer{
		Model: model, Loss: &loss.NTXent{Temperature: float32(cfg.Recipe.Temperature)}, Opt: opt, Schedule: sched,
		StartStep: startStep, SnapshotEvery: every, Eval: ev, EvalEvery: cfg.Eval.Every,
		Stop: stopCh, MaxSteps: cfg.Stop.MaxSteps, Halt: halt, Config: cfg,
	}
	rows := pipeline.Source[*sources.Sample](p, "parquet", src)
	// The Views stage is the decoded images' only reader: the decoder
	// reconstructs only what its crops read (stages.Decode.Crops).
	views := &stages.Views{Aug: cfg.Augmentation(), Seed: cfg.Data.Seed}
	batches := stages.ViewPipeline{
		Decode:    &stages.Decode{Channels: cfg.Model.InChannels, Crops: views.Crops},
		Views:     views,
		Tensorize: tz,
		Workers:   cfg.Data.Workers,
	}.Add(p, rows)
	recs := pipeline.Apply(p, "train", batches, trainer)
	t := &tally{last: startStep, saved: -1}
	pipeline.Sink(p, "checkpoint", recs, Checkpoints{Store: o.Store, saved: &t.saved})
	pipeline.Sink(p, "metrics", recs, Report{Metrics: append([]Metrics{t}, o.Metrics...)})

	info := Info{Config: cfg, StartStep: startStep, StepsPerEpoch: spe, TotalSteps: total, Stats: p.Stats}
	for _, m := range o.Metrics {
		if s, ok := m.(Starter); ok {
			if err := s.Start(info); err != nil {
				return res, err
			}
		}
	}
	if cfg.Stop.Minutes > 0 {
		tm := time.AfterFunc(time.Duration(cfg.Stop.Minutes*float64(time.Minute)), halt)
		defer tm.Stop()
	}
	if o.Stop != nil {
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-o.Stop:
				halt()
			case <-done:
			}
		}()
		defer wg.Wait()
		defer close(done)
	}
	start := time.Now()
	runErr := p.Run(ctx)
	res.Seconds = time.Since(start).Seconds()
	res.Stats = p.Stats()
	res.Steps, res.Loss, res.Eval, res.Saved = t.last, t.loss, t.eval, t.saved
	if res.Seconds > 0 {
		res.PairsPerS = float64(t.pairs) / res.Seconds
	}
	if t.stepTotal > 0 {
		res.DataWait = t.wait / t.stepTotal
	}
	select {
	case <-stopCh:
		res.Stopped = true
	default:
	}
	// Completed epochs: all of them when the run ran to its end; else the
	// epochs before the one the next batch comes from.
	switch {
	case runErr == nil && !res.Stopped:
		res.Epochs = cfg.Schedule.Epochs
	case t.steps > 0:
		res.Epochs = t.cursor.Epoch
		if t.cursor.Position >= src.Plan().EpochSize() {
			res.Epochs++
		}
	default:
		res.Epochs = cursor.Epoch
	}
	var bad, read int64
	for _, st := range res.Stats.Stages {
		bad += st.Errors
		if st.Kind == "source" {
			read += st.Out
		}
	}
	if runErr == nil && t.steps == 0 && !res.Stopped {
		return res, fmt.Errorf("train: no training step was made: %d of the %d records read were bad (see the dead letters)", bad, read)
	}
	return res, runErr
}

// Resume continues the run whose newest checkpoint o.Store holds, with the
// Config saved in it, bit-identically. edit, if not nil, may change that
// Config first (Config.Override sets the fields a command line was given):
//
//   - Stop (when this call ends) changes freely;
//   - Data.Glob may point elsewhere (the data moved): the shards must have
//     the saved Data.Fingerprint, or the resume is refused;
//   - hyper-parameters (Optimizer.LR after a NaN, the recipe, the epochs,
//     the evaluation, checkpointing, workers, threads) may change, and each
//     change is appended to Config.History (step, field, from, to, time),
//     saved with every later checkpoint;
//   - what the saved weights, optimizer state or data position depend on
//     (the architecture, the seeds, the shuffle buffer, the view size, the
//     batch, the optimizer) is refused with a ConfigError naming the field.
//
// Without changes the run ends bit-identical to one never stopped.
func Resume(ctx context.Context, o Options, edit func(*Config) error) (*Result, error) {
	if o.Store == nil {
		return &Result{Saved: -1}, fmt.Errorf("%w: Options.Store is nil", ErrConfig)
	}
	unlock, err := lock(o.Store)
	if err != nil {
		return &Result{Saved: -1}, err
	}
	res, err := resume(ctx, o, edit)
	return res, errors.Join(err, unlock())
}

func resume(ctx context.Context, o Options, edit func(*Config) error) (*Result, error) {
	snap, err := o.Store.Latest()
	if err != nil {
		return &Result{Saved: -1}, err
	}
	saved := snap.Config
	saved.absPaths()
	cfg := saved
	cfg.History = slices.Clone(saved.History)
	if edit != nil {
		if err := edit(&cfg); err != nil {
			return &Result{Saved: -1}, err
		}
	}
	cfg.absPaths()
	changes, err := resumeChanges(saved, cfg, snap.Step, time.Now().UTC())
	if err != nil {
		return &Result{Saved: -1}, err
	}
	cfg.History = appendHistory(saved.History, changes)
	o.Resume = snap
	return runLocked(ctx, cfg, o)
}

// Checkpoints is the sink that saves a trainer's snapshots to Store (and
// ignores its other records). A failed save is fatal: it ends the run.
// It runs with one worker.
type Checkpoints struct {
	Store Store
	saved *int
}

// Consume saves in if it is a *Snapshot.
func (c Checkpoints) Consume(ctx context.Context, in Record) error {
	s, ok := in.(*Snapshot)
	if !ok {
		return nil
	}
	if err := c.Store.Save(ctx, s); err != nil {
		return pipeline.Fatal(fmt.Errorf("train: checkpoint of step %d: %w", s.Step, err))
	}
	if c.saved != nil {
		*c.saved = s.Step
	}
	return nil
}

// Report is the sink that hands a trainer's Step and Eval records to each
// of Metrics in turn (and ignores snapshots). It returns the first write
// error, after trying every writer. It runs with one worker.
type Report struct {
	Metrics []Metrics
}

// Consume writes in to every Metrics.
func (r Report) Consume(_ context.Context, in Record) error {
	var first error
	for _, m := range r.Metrics {
		var err error
		switch v := in.(type) {
		case *Step:
			err = m.WriteStep(v)
		case *Eval:
			err = m.WriteEval(v)
		}
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

// tally keeps what Result reports.
type tally struct {
	steps           int            // steps made by this call
	cursor          sources.Cursor // after the last step
	last            int
	loss            float64
	eval            *Eval
	pairs           int64
	wait, stepTotal float64
	saved           int
}

func (t *tally) WriteStep(s *Step) error {
	t.steps++
	t.last, t.loss, t.cursor = s.Step, s.Loss, s.Cursor
	t.pairs += int64(s.Pairs)
	t.wait += s.Wait
	t.stepTotal += s.Seconds
	return nil
}

func (t *tally) WriteEval(e *Eval) error { t.eval = e; return nil }

// loadSuite loads the run's evaluation sets through eval.Load: the memory
// bank from the training shards (opened already) unless Eval.Train names
// others, bad images to dl within Data.MaxBad.
func loadSuite(ctx context.Context, cfg Config, shards []*sources.Shard, dl pipeline.DeadLetterWriter) (*eval.Suite, error) {
	lc := eval.LoadConfig{Side: cfg.Data.Size, Channels: cfg.Model.InChannels, Workers: cfg.Data.Workers,
		MaxBad: cfg.Data.MaxBad, DeadLetters: dl}
	bank, test := lc, lc
	if cfg.Eval.Train == "" || cfg.Eval.Train == cfg.Data.Glob {
		bank.Shards = shards
	} else {
		bank.Glob = cfg.Eval.Train
	}
	test.Glob = cfg.Eval.Test
	tr, err := eval.Load(ctx, bank)
	if err != nil {
		return nil, fmt.Errorf("evaluation train set: %w", err)
	}
	te, err := eval.Load(ctx, test)
	if err != nil {
		return nil, fmt.Errorf("evaluation test set: %w", err)
	}
	return &eval.Suite{Train: tr, Test: te, KNN: eval.KNN{K: cfg.Eval.KNNK}, Linear: cfg.Eval.Linear}, nil
}

// peekImage returns the side and channels of the first image of the
// shards (opened already: no footer is read again).
func peekImage(glob string, shards []*sources.Shard) (side, channels int, err error) {
	src, err := sources.NewSource(sources.ParquetConfig{Shards: shards, InOrder: true, Epochs: 1})
	if err != nil {
		return 0, 0, err
	}
	var first *sources.Sample
	errFirst := errors.New("first")
	err = src.Produce(context.Background(), func(s *sources.Sample) error { first = s; return errFirst })
	if first == nil {
		if err == nil || errors.Is(err, errFirst) {
			err = fmt.Errorf("train: %s: no images", glob)
		}
		return 0, 0, err
	}
	h, err := image.DecodeOptions{}.Check(first.Bytes) // what Decode checks first
	if err != nil {
		return 0, 0, fmt.Errorf("train: the first image, %s, gives no view side or channels (set --size and --channels, or Data.Size and Model.InChannels): %w", first.Key(), err)
	}
	side = min(h.W, h.H)
	if err := stages.CheckViewSide("the first image's side (set --size, or Data.Size)", side); err != nil {
		return 0, 0, fmt.Errorf("train: %s is %dx%d: %w", first.Key(), h.W, h.H, err)
	}
	c := 3
	if h.Gray {
		c = 1
	}
	return side, c, nil
}
