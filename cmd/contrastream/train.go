package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/sinks"
	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages"
	"github.com/contrastream/contrastream/stages/augment"
	"github.com/contrastream/contrastream/stages/image"
	"github.com/contrastream/contrastream/stages/train"
	"github.com/contrastream/contrastream/stages/train/loss"
	"github.com/contrastream/contrastream/stages/train/nn"
	"github.com/contrastream/contrastream/stages/train/optim"
)

var trainCommand = command{
	summary:    "train a SimCLR encoder on image shards (checkpoints, metrics, evaluation)",
	run:        runTrain,
	ownSignals: true,
}

// trainConfig is the resolved configuration of a training run, saved as
// RUN/config.json and in every checkpoint.
type trainConfig struct {
	Data          string  `json:"data"`
	Out           string  `json:"out"`
	Model         string  `json:"model"`
	Epochs        int     `json:"epochs"`
	Minutes       float64 `json:"minutes,omitempty"`
	MaxSteps      int     `json:"max_steps,omitempty"`
	Batch         int     `json:"batch"`
	LR            float64 `json:"lr"`
	LRScaling     string  `json:"lr_scaling"`
	Optimizer     string  `json:"optimizer"`
	Momentum      float64 `json:"momentum"`
	WeightDecay   float64 `json:"weight_decay"`
	Temperature   float64 `json:"temperature"`
	WarmupEpochs  float64 `json:"warmup_epochs"`
	Size          int     `json:"size"`
	Channels      int     `json:"channels"`
	MinScale      float64 `json:"min_scale"`
	ColorStrength float64 `json:"color_strength"`
	Blur          bool    `json:"blur"`
	HeadDepth     int     `json:"head_depth"`
	HeadBN        bool    `json:"head_bn"`
	Workers       int     `json:"workers"`
	Threads       int     `json:"threads"`
	Seed          uint64  `json:"seed"`
	ShuffleBuffer int     `json:"shuffle_buffer"`
	CkptEvery     int     `json:"checkpoint_every"`
	Keep          int     `json:"keep"`
	EvalEvery     int     `json:"eval_every"`
	EvalTrain     string  `json:"eval_train,omitempty"`
	EvalTest      string  `json:"eval_test,omitempty"`
	KNNK          int     `json:"knn_k"`
	MetricsAddr   string  `json:"metrics_addr,omitempty"`
	JSON          bool    `json:"-"`
	Resume        bool    `json:"-"`
}

func (c *trainConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.Data, "data", "", "training shards: a glob, a folder or a comma-separated list (required)")
	fs.StringVar(&c.Out, "out", "", "run `folder`: config.json, checkpoints/, metrics.jsonl, plots (required)")
	fs.StringVar(&c.Model, "model", "small", "encoder: small or resnet18")
	fs.IntVar(&c.Epochs, "epochs", 10, "epochs to train")
	fs.Float64Var(&c.Minutes, "minutes", 0, "stop gracefully after this many minutes of training (0: no limit)")
	fs.IntVar(&c.MaxSteps, "max-steps", 0, "stop gracefully after this many steps in all (0: no limit; the schedule still spans --epochs)")
	fs.IntVar(&c.Batch, "batch", 256, "images per step (each gives 2 views)")
	fs.Float64Var(&c.LR, "lr", 0.3, "base learning rate (scaled by --lr-scaling)")
	fs.StringVar(&c.LRScaling, "lr-scaling", "linear", "learning-rate scaling in the batch size: none, linear (lr·B/256) or sqrt (lr·√B)")
	fs.StringVar(&c.Optimizer, "optimizer", "sgd", "sgd, lars or adamw")
	fs.Float64Var(&c.Momentum, "momentum", 0.9, "momentum (sgd, lars)")
	fs.Float64Var(&c.WeightDecay, "weight-decay", 5e-4, "L2 weight decay (not on batch-norm and bias parameters)")
	fs.Float64Var(&c.Temperature, "temperature", 0.5, "NT-Xent temperature τ")
	fs.Float64Var(&c.WarmupEpochs, "warmup-epochs", 1, "linear warm-up, then cosine decay")
	fs.IntVar(&c.Size, "size", 0, "view side in pixels (0: the images' side)")
	fs.IntVar(&c.Channels, "channels", 0, "model input channels: 1 or 3 (0: as the images)")
	fs.Float64Var(&c.MinScale, "min-scale", 0.08, "smallest crop area of RandomResizedCrop")
	fs.Float64Var(&c.ColorStrength, "color-strength", 0.5, "SimCLR colour-jitter strength s")
	fs.BoolVar(&c.Blur, "blur", false, "Gaussian blur (p=0.5), as SimCLR at ImageNet scale")
	fs.IntVar(&c.HeadDepth, "head-depth", 2, "Linear layers in the projection head")
	fs.BoolVar(&c.HeadBN, "head-bn", true, "batch norm in the projection head (Linear → BN → ReLU)")
	fs.IntVar(&c.Workers, "workers", 0, "goroutines for decode and for views (0: one per CPU)")
	fs.IntVar(&c.Threads, "threads", 0, "training threads (0: one per CPU)")
	fs.Uint64Var(&c.Seed, "seed", 0, "seed: weights, data order and views")
	fs.IntVar(&c.ShuffleBuffer, "shuffle-buffer", 4096, "samples in the shuffle buffer (0: off)")
	fs.IntVar(&c.CkptEvery, "checkpoint-every", 0, "checkpoint every this many steps (0: every epoch)")
	fs.IntVar(&c.Keep, "keep", 3, "checkpoints to keep")
	fs.IntVar(&c.EvalEvery, "eval-every", 1, "kNN evaluation every this many epochs (0: at the end only)")
	fs.StringVar(&c.EvalTrain, "eval-train", "", "labeled shards for the kNN memory bank (default: --data when it has labels)")
	fs.StringVar(&c.EvalTest, "eval-test", "", "labeled shards to evaluate on (no evaluation without it)")
	fs.IntVar(&c.KNNK, "knn-k", 200, "neighbours of the kNN evaluation (0: 200)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "serve Prometheus /metrics on this address (e.g. 127.0.0.1:9090)")
	fs.BoolVar(&c.JSON, "json", false, "print one JSON object per step record on stdout (progress stays on stderr)")
	fs.BoolVar(&c.Resume, "resume", false, "continue from the latest checkpoint in --out, bit-identically")
}

func runTrain(ctx context.Context, args []string) error {
	fs := newDataFlagSet("train", "usage: contrastream train --data GLOB --out RUN [--model M --epochs E --batch B --lr ...] [--resume]\n\n"+
		"Trains a SimCLR encoder + projection head with NT-Xent. SIGINT (Ctrl-C) finishes\n"+
		"the step in progress, writes a checkpoint and exits 0; a second one aborts.\n"+
		"--resume continues from RUN's latest checkpoint exactly as if never stopped.")
	var cfg trainConfig
	cfg.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.Out == "" {
		fs.Usage()
		return errors.New("--out is required")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if cfg.Resume {
		saved, err := loadTrainConfig(cfg.Out)
		if err != nil {
			return err
		}
		// A resumed run keeps its configuration (the schedule spans the
		// saved --epochs); only when to stop may change.
		for name := range set {
			switch name {
			case "out", "resume", "json", "minutes", "max-steps", "metrics-addr":
			default:
				fmt.Fprintf(os.Stderr, "train: --resume keeps the run's saved configuration; ignoring --%s\n", name)
			}
		}
		saved.Out, saved.Resume, saved.JSON, saved.MetricsAddr = cfg.Out, true, cfg.JSON, cfg.MetricsAddr
		saved.Minutes, saved.MaxSteps = cfg.Minutes, cfg.MaxSteps
		cfg = saved
	} else if cfg.Data == "" {
		fs.Usage()
		return errors.New("--data is required")
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res, err := trainRun(ctx, cfg, trainHooks{
		stop:     make(chan struct{}),
		abort:    cancel,
		progress: os.Stderr,
		jsonOut:  jsonWriter(cfg.JSON),
	})
	if err != nil {
		return err
	}
	if !cfg.JSON {
		res.print(os.Stdout)
	}
	return nil
}

// watchSignals makes the first SIGINT or SIGTERM stop the run gracefully
// (the step in progress finishes and a checkpoint is written) and the second
// abort it. It returns at once; the watcher ends with ctx.
func watchSignals(ctx context.Context, stop func(), abort context.CancelFunc) {
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		defer signal.Stop(sig)
		for n := 1; ; n++ {
			select {
			case <-sig:
				if n > 1 {
					abort()
					return
				}
				fmt.Fprintln(os.Stderr, "\ncontrastream: stopping after this step (press Ctrl-C again to abort)")
				stop()
			case <-ctx.Done():
				return
			}
		}
	}()
}

func jsonWriter(on bool) io.Writer {
	if on {
		return os.Stdout
	}
	return nil
}

func loadTrainConfig(dir string) (trainConfig, error) {
	var cfg trainConfig
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return cfg, fmt.Errorf("--resume: %w (is %s a run folder?)", err, dir)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return cfg, fmt.Errorf("--resume: %s: %w", filepath.Join(dir, "config.json"), err)
	}
	return cfg, nil
}

// trainHooks connect a run to its caller (the CLI, the quickstart, tests).
type trainHooks struct {
	stop     chan struct{}      // closed to stop gracefully (may be nil)
	abort    context.CancelFunc // if set, SIGINT/SIGTERM stop the run gracefully, a second one calls abort
	progress io.Writer          // human progress (nil: none)
	jsonOut  io.Writer          // step records as JSON lines (nil: none)
}

// trainResult summarizes a finished run.
type trainResult struct {
	Out        string             `json:"out"`
	Steps      int                `json:"steps"`
	Epochs     int                `json:"epochs"`
	Seconds    float64            `json:"seconds"`
	PairsPerS  float64            `json:"pairs_per_s"`
	DataWait   float64            `json:"data_wait"`
	LastLoss   float64            `json:"loss"`
	Eval       map[string]float64 `json:"eval,omitempty"`
	Checkpoint string             `json:"checkpoint"`
	Stopped    bool               `json:"stopped"`
	Stats      pipeline.RunStats  `json:"stages"`
}

func (r trainResult) print(w io.Writer) {
	fmt.Fprintf(w, "train: %d steps (%d epochs) in %s, %.0f pairs/s, waiting for data %.0f%% of the time\n",
		r.Steps, r.Epochs, time.Duration(r.Seconds*float64(time.Second)).Round(time.Second), r.PairsPerS, 100*r.DataWait)
	fmt.Fprintf(w, "train: last loss %.4f", r.LastLoss)
	for k, v := range r.Eval {
		fmt.Fprintf(w, ", %s %.4f", k, v)
	}
	fmt.Fprintf(w, "\ntrain: checkpoint %s\n", r.Checkpoint)
	if r.Stopped {
		fmt.Fprintln(w, "train: stopped early; continue with --resume")
	}
}

// trainRun builds and runs the training pipeline of cfg:
//
//	parquet → decode → views → tensorize → train → {checkpoint, metrics, progress}
func trainRun(ctx context.Context, cfg trainConfig, hooks trainHooks) (trainResult, error) {
	res := trainResult{Out: cfg.Out}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Batch < 2 || cfg.Epochs < 1 {
		return res, fmt.Errorf("--batch must be >= 2 and --epochs >= 1")
	}
	// The images' side and channels, from the first sample.
	if cfg.Size == 0 || cfg.Channels == 0 {
		w, c, err := peekImage(cfg.Data)
		if err != nil {
			return res, err
		}
		if cfg.Size == 0 {
			cfg.Size = w
		}
		if cfg.Channels == 0 {
			cfg.Channels = c
		}
	}
	if cfg.Size < 16 {
		return res, fmt.Errorf("view size %d: the models need a side of at least 16", cfg.Size)
	}
	if err := stages.CheckViewSide("--size", cfg.Size); err != nil {
		return res, err
	}
	tz := &stages.Tensorize{BatchSize: cfg.Batch, DropLast: true}
	if err := tz.CheckMemory([][3]int{{cfg.Channels, cfg.Size, cfg.Size}, {cfg.Channels, cfg.Size, cfg.Size}}); err != nil {
		return res, err
	}

	var ck *sinks.Checkpoint
	var cursor sources.Cursor
	if cfg.Resume {
		var err error
		if ck, err = loadCheckpoint(cfg.Out); err != nil {
			return res, fmt.Errorf("--resume: %w", err)
		}
		cursor = ck.Cursor
	} else if _, err := sinks.LatestCheckpoint(cfg.Out); err == nil {
		return res, fmt.Errorf("%s already holds checkpoints: use --resume to continue, or another --out", cfg.Out)
	}
	cfgJSON, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return res, err
	}

	src, err := sources.NewSource(sources.ParquetConfig{
		Glob: cfg.Data, Seed: cfg.Seed, ShuffleBuffer: cfg.ShuffleBuffer, Epochs: cfg.Epochs, Cursor: cursor})
	if err != nil {
		return res, err
	}
	spe := int(src.Plan().EpochSize()) / cfg.Batch
	if spe < 1 {
		return res, fmt.Errorf("%d images per epoch make no batch of %d", src.Plan().EpochSize(), cfg.Batch)
	}
	total := spe * cfg.Epochs

	model, err := nn.NewSimCLR(nn.Config{Model: cfg.Model, InChannels: cfg.Channels, HeadDepth: cfg.HeadDepth,
		HeadBN: cfg.HeadBN, Seed: cfg.Seed, Threads: cfg.Threads})
	if err != nil {
		return res, err
	}
	defer model.Close()
	opt, err := newOptimizer(cfg)
	if err != nil {
		return res, err
	}
	scaling, err := optim.ParseScaling(cfg.LRScaling)
	if err != nil {
		return res, err
	}
	sched := optim.WarmupCosine{Peak: scaling.Apply(cfg.LR, cfg.Batch), WarmupSteps: int(cfg.WarmupEpochs * float64(spe)), TotalSteps: total}
	if err := sched.Validate(); err != nil {
		return res, err
	}
	startStep := 0
	if ck != nil {
		if err := nn.LoadStateDict(model, ck.Tensors); err != nil {
			return res, fmt.Errorf("--resume: %s: %w", ck.Path, err)
		}
		if len(ck.Optimizer) > 0 {
			if err := opt.LoadState(model.Params(), ck.Optimizer); err != nil {
				return res, fmt.Errorf("--resume: %s: %w", ck.Path, err)
			}
		}
		startStep = int(ck.Step)
	}

	evalFn, err := newEvaluator(ctx, cfg)
	if err != nil {
		return res, err
	}
	every := cfg.CkptEvery
	if every == 0 {
		every = spe
	}
	trainer := &train.Trainer{
		Model: model, Loss: &loss.NTXent{Temperature: float32(cfg.Temperature)}, Opt: opt, Schedule: sched,
		StartStep: startStep, SnapshotEvery: every, Eval: evalFn, EvalEvery: cfg.EvalEvery, Stop: hooks.stop,
		MaxSteps: cfg.MaxSteps,
	}
	// Everything is checked: only now the run folder is made (a refused
	// run leaves none behind).
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return res, err
	}
	if !cfg.Resume {
		if err := sinks.WriteFileAtomic(filepath.Join(cfg.Out, "config.json"), func(w io.Writer) error {
			_, err := w.Write(append(cfgJSON, '\n'))
			return err
		}); err != nil {
			return res, err
		}
	}
	p := pipeline.New("train")
	rows := pipeline.Source[*sources.Sample](p, "parquet", src)
	batches := stages.ViewPipeline{
		Decode:    &stages.Decode{Channels: cfg.Channels},
		Views:     &stages.Views{Aug: viewRecipe(cfg), Seed: cfg.Seed},
		Tensorize: tz,
		Workers:   cfg.Workers,
	}.Add(p, rows)
	steps := pipeline.Apply(p, "train", batches, trainer)

	ckpt := &sinks.Checkpointer{Dir: cfg.Out, Keep: cfg.Keep}
	lastSaved := -1
	pipeline.Sink(p, "checkpoint", steps, sinks.CheckpointSink[*train.Step]{C: ckpt, State: func(s *train.Step) *sinks.CheckpointState {
		if s.Snapshot == nil || s.Snapshot.Step == lastSaved {
			return nil
		}
		lastSaved = s.Snapshot.Step
		return &sinks.CheckpointState{
			Step: int64(s.Snapshot.Step), Epoch: s.Snapshot.Epoch, Cursor: s.Snapshot.Cursor, Seed: cfg.Seed,
			Schedule: int64(s.Snapshot.Step), Model: cfg.Model, Config: cfgJSON,
			Tensors: s.Snapshot.Model, Optimizer: s.Snapshot.Optimizer, Meta: map[string]string{"optimizer": cfg.Optimizer},
		}
	}})
	var stopOnce sync.Once
	stop := func() { // from the timer or a signal, at most once
		stopOnce.Do(func() {
			if hooks.stop != nil {
				close(hooks.stop)
			}
			p.Stop()
		})
	}
	mon := newTrainMonitor(cfg, total, startStep, hooks)
	mon.atMaxSteps = func() { stop() }
	if err := mon.open(p.Stats); err != nil {
		return res, err
	}
	pipeline.Sink(p, "metrics", steps, mon)

	if cfg.Minutes > 0 {
		t := time.AfterFunc(time.Duration(cfg.Minutes*float64(time.Minute)), stop)
		defer t.Stop()
	}
	if hooks.abort != nil {
		watchSignals(ctx, stop, hooks.abort)
	}
	start := time.Now()
	runErr := p.Run(ctx)
	mon.finish()
	res.Seconds = time.Since(start).Seconds()
	res.Stats = p.Stats()
	res.Steps, res.LastLoss, res.Eval, res.DataWait = mon.lastStep, mon.lastLoss, mon.lastEval, mon.dataWait()
	res.Epochs = res.Steps / spe
	if res.Seconds > 0 {
		res.PairsPerS = float64(mon.pairs) / res.Seconds
	}
	if hooks.stop != nil {
		select {
		case <-hooks.stop:
			res.Stopped = true
		default:
		}
	}
	if path, err := sinks.LatestCheckpoint(cfg.Out); err == nil {
		res.Checkpoint = path
	}
	if runErr != nil {
		return res, runErr
	}
	if hooks.jsonOut != nil {
		v := struct {
			Type string `json:"type"`
			trainResult
		}{"summary", res}
		if err := json.NewEncoder(hooks.jsonOut).Encode(v); err != nil {
			return res, err
		}
	}
	return res, nil
}

// viewRecipe is SimCLR's augmentation with the run's crop scale, colour
// strength and blur.
func viewRecipe(cfg trainConfig) augment.Augmentation {
	s := cfg.ColorStrength
	ops := []augment.Augmentation{
		augment.RandomResizedCrop{Size: cfg.Size, Scale: [2]float32{float32(cfg.MinScale), 1}, Ratio: [2]float32{3.0 / 4, 4.0 / 3}},
		augment.HorizontalFlip{P: 0.5},
		augment.RandomApply{Aug: augment.ColorJitter{Brightness: 0.8 * s, Contrast: 0.8 * s, Saturation: 0.8 * s, Hue: 0.2 * s}, P: 0.8},
		augment.RandomGrayscale{P: 0.2},
	}
	if cfg.Blur {
		ops = append(ops, augment.RandomApply{Aug: augment.GaussianBlur{Kernel: cfg.Size/10/2*2 + 1, Sigma: [2]float32{0.1, 2}}, P: 0.5})
	}
	return augment.Chain(ops...)
}

func newOptimizer(cfg trainConfig) (optim.Optimizer, error) {
	switch cfg.Optimizer {
	case "sgd":
		return &optim.SGD{Momentum: cfg.Momentum, WeightDecay: cfg.WeightDecay}, nil
	case "lars":
		return &optim.LARS{Momentum: cfg.Momentum, WeightDecay: cfg.WeightDecay}, nil
	case "adamw":
		return &optim.AdamW{WeightDecay: cfg.WeightDecay}, nil
	}
	return nil, fmt.Errorf("--optimizer %q: want sgd, lars or adamw", cfg.Optimizer)
}

// peekImage returns the side and channels of the first image of the shards.
func peekImage(glob string) (side, channels int, err error) {
	src, err := sources.NewSource(sources.ParquetConfig{Glob: glob, InOrder: true, Epochs: 1})
	if err != nil {
		return 0, 0, err
	}
	var first *sources.Sample
	errFirst := errors.New("first")
	err = src.Produce(context.Background(), func(s *sources.Sample) error { first = s; return errFirst })
	if first == nil {
		if err == nil || errors.Is(err, errFirst) {
			err = fmt.Errorf("%s: no images", glob)
		}
		return 0, 0, err
	}
	h, err := image.DecodeHeader(first.Bytes)
	if err == nil {
		err = image.DecodeOptions{}.CheckPixels(h) // the limit Decode applies
	}
	if err != nil {
		return 0, 0, fmt.Errorf("the first image, %s, gives no view side or channels (set --size and --channels): %w", first.Key(), err)
	}
	side = min(h.W, h.H)
	if err := stages.CheckViewSide("the first image's side (set --size)", side); err != nil {
		return 0, 0, fmt.Errorf("%s is %dx%d: %w", first.Key(), h.W, h.H, err)
	}
	c := 3
	if h.Gray {
		c = 1
	}
	return side, c, nil
}
