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
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/sinks"
	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages"
	"github.com/contrastream/contrastream/stages/train"
)

var trainCommand = command{
	summary:    "train a SimCLR encoder on image shards (checkpoints, metrics, evaluation)",
	run:        runTrain,
	ownSignals: true,
}

// trainFlags are the flags of `train` that are not part of the run's
// train.Config.
type trainFlags struct {
	out, metricsAddr string
	seed             uint64
	keep             int
	jsonOut, resume  bool
}

func registerTrain(fs *flag.FlagSet, c *train.Config, f *trainFlags) {
	fs.StringVar(&c.Data.Glob, "data", "", "training shards: a glob, a folder or a comma-separated list (required)")
	fs.StringVar(&f.out, "out", "", "run `folder`: config.json, checkpoints/, metrics.jsonl, plots (required)")
	fs.StringVar(&c.Model.Model, "model", c.Model.Model, "encoder: small or resnet18")
	fs.IntVar(&c.Schedule.Epochs, "epochs", c.Schedule.Epochs, "epochs to train")
	fs.Float64Var(&c.Stop.Minutes, "minutes", 0, "stop gracefully after this many minutes of training (0: no limit)")
	fs.IntVar(&c.Stop.MaxSteps, "max-steps", 0, "stop gracefully after this many steps in all (0: no limit; the schedule still spans --epochs)")
	fs.IntVar(&c.Schedule.Batch, "batch", c.Schedule.Batch, "images per step (each gives 2 views)")
	fs.Float64Var(&c.Optimizer.LR, "lr", c.Optimizer.LR, "base learning rate (scaled by --lr-scaling)")
	fs.StringVar(&c.Optimizer.LRScaling, "lr-scaling", c.Optimizer.LRScaling, "learning-rate scaling in the batch size: none, linear (lr·B/256) or sqrt (lr·√B)")
	fs.StringVar(&c.Optimizer.Name, "optimizer", c.Optimizer.Name, "sgd, lars or adamw")
	fs.Float64Var(&c.Optimizer.Momentum, "momentum", c.Optimizer.Momentum, "momentum (sgd, lars)")
	fs.Float64Var(&c.Optimizer.WeightDecay, "weight-decay", c.Optimizer.WeightDecay, "L2 weight decay (not on batch-norm and bias parameters)")
	fs.Float64Var(&c.Recipe.Temperature, "temperature", c.Recipe.Temperature, "NT-Xent temperature τ (0: 0.5)")
	fs.Float64Var(&c.Schedule.WarmupEpochs, "warmup-epochs", c.Schedule.WarmupEpochs, "linear warm-up, then cosine decay")
	fs.IntVar(&c.Data.Size, "size", 0, "view side in pixels (0: the images' side)")
	fs.IntVar(&c.Model.InChannels, "channels", 0, "model input channels: 1 or 3 (0: as the images)")
	fs.Float64Var(&c.Recipe.MinScale, "min-scale", c.Recipe.MinScale, "smallest crop area of RandomResizedCrop")
	fs.Float64Var(&c.Recipe.ColorStrength, "color-strength", c.Recipe.ColorStrength, "SimCLR colour-jitter strength s")
	fs.BoolVar(&c.Recipe.Blur, "blur", false, "Gaussian blur (p=0.5), as SimCLR at ImageNet scale")
	fs.IntVar(&c.Model.HeadDepth, "head-depth", c.Model.HeadDepth, "Linear layers in the projection head")
	fs.BoolVar(&c.Model.HeadBN, "head-bn", c.Model.HeadBN, "batch norm in the projection head (Linear → BN → ReLU)")
	fs.IntVar(&c.Data.Workers, "workers", 0, "goroutines for decode and for views (0: one per CPU)")
	fs.Float64Var(&c.Data.MaxBad, "max-bad", pipeline.DefaultBadRecordBudget, "fraction of the records that may be bad (skipped, listed in RUN/bad-records.jsonl) before the run fails (0: 0.01; negative: no limit)")
	fs.IntVar(&c.Model.Threads, "threads", 0, "training threads (0: one per CPU)")
	fs.Uint64Var(&f.seed, "seed", 0, "seed: weights, data order and views")
	fs.IntVar(&c.Data.ShuffleBuffer, "shuffle-buffer", c.Data.ShuffleBuffer, "samples in the shuffle buffer (0: off)")
	fs.IntVar(&c.Checkpoint.Every, "checkpoint-every", 0, "checkpoint every this many steps (0: every epoch)")
	fs.IntVar(&c.Checkpoint.Keep, "keep", c.Checkpoint.Keep, "checkpoints to keep (0: 3; -1: all)")
	fs.IntVar(&c.Eval.Every, "eval-every", c.Eval.Every, "kNN evaluation every this many epochs (0: at the end only)")
	fs.StringVar(&c.Eval.Train, "eval-train", "", "labeled shards for the kNN memory bank (default: --data when it has labels)")
	fs.StringVar(&c.Eval.Test, "eval-test", "", "labeled shards to evaluate on (no evaluation without it)")
	fs.IntVar(&c.Eval.KNNK, "knn-k", c.Eval.KNNK, "neighbours of the kNN evaluation (0: 200)")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus /metrics on this address (e.g. 127.0.0.1:9090)")
	fs.BoolVar(&f.jsonOut, "json", false, "print one JSON object per step record on stdout (progress stays on stderr)")
	fs.BoolVar(&f.resume, "resume", false, "continue from the latest checkpoint in --out, bit-identically (other flags given change the run, recorded in its history)")
}

func runTrain(ctx context.Context, args []string) error {
	fs := newDataFlagSet("train", "usage: contrastream train --data GLOB --out RUN [--model M --epochs E --batch B --lr ...] [--resume]\n\n"+
		"Trains a SimCLR encoder + projection head with NT-Xent. SIGINT (Ctrl-C) finishes\n"+
		"the step in progress, writes a checkpoint and exits 0; a second one aborts.\n"+
		"--resume continues from RUN's latest checkpoint exactly as if never stopped;\n"+
		"flags given with it change the saved run from the resumed step on (--data: the\n"+
		"dataset moved, checked by its fingerprint; --lr, --epochs, ...: recorded in the\n"+
		"run's history in config.json) or are refused (--batch, --seed, --model, ...).")
	cfg := train.DefaultConfig("")
	var f trainFlags
	registerTrain(fs, &cfg, &f)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if f.out == "" {
		fs.Usage()
		return errors.New("--out is required")
	}
	cfg.Data.Seed, cfg.Model.Seed = f.seed, f.seed
	var override []string // with --resume: the Config fields of the flags given
	if f.resume {
		// A resumed run keeps its saved configuration but for the flags
		// given: train.Resume refuses those it cannot change and records
		// the others in the run's history.
		fs.Visit(func(fl *flag.Flag) { override = append(override, trainFieldsOf("--"+fl.Name)...) })
	} else if cfg.Data.Glob == "" {
		fs.Usage()
		return errors.New("--data is required")
	} else if err := stages.CheckViewSide("--size", cfg.Data.Size); cfg.Data.Size != 0 && err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := make(chan struct{})
	var once sync.Once
	watchSignals(ctx, func() { once.Do(func() { close(stop) }) }, cancel)
	out := trainOutput{progress: os.Stderr, metricsAddr: f.metricsAddr}
	if f.jsonOut {
		out.json = os.Stdout
	}
	res, err := out.run(ctx, cfg, f.out, f.resume, override, stop)
	if errors.Is(err, pipeline.ErrBadRecordBudget) {
		err = fmt.Errorf("%w\n(the bad records are listed in %s; --max-bad changes the budget)", err, filepath.Join(f.out, sinks.BadRecordsName))
	}
	if err != nil {
		return flagError(err)
	}
	if !f.jsonOut {
		res.print(os.Stdout)
	}
	return nil
}

// trainFlagOf names the flag of each train.Config field.
var trainFlagOf = map[string]string{
	"Data.Glob": "--data", "Data.Size": "--size", "Data.ShuffleBuffer": "--shuffle-buffer", "Data.Workers": "--workers",
	"Model.Model": "--model", "Model.InChannels": "--channels", "Model.HeadDepth": "--head-depth", "Model.Threads": "--threads",
	"Schedule.Batch": "--batch", "Schedule.Epochs": "--epochs", "Schedule.WarmupEpochs": "--warmup-epochs",
	"Optimizer.Name": "--optimizer", "Optimizer.LRScaling": "--lr-scaling", "Optimizer.LR": "--lr",
	"Recipe.MinScale": "--min-scale", "Recipe.Temperature": "--temperature", "Recipe.ColorStrength": "--color-strength",
	"Checkpoint.Every": "--checkpoint-every", "Eval.Every": "--eval-every", "Eval.KNNK": "--knn-k",
	"Stop.MaxSteps": "--max-steps", "Stop.Minutes": "--minutes",
	"Data.MaxBad": "--max-bad", "Optimizer.Momentum": "--momentum", "Optimizer.WeightDecay": "--weight-decay",
	"Checkpoint.Keep": "--keep", "Recipe.Blur": "--blur", "Model.HeadBN": "--head-bn",
	"Eval.Train": "--eval-train", "Eval.Test": "--eval-test", "Data.Seed": "--seed", "Model.Seed": "--seed",
}

// trainFieldsOf returns the train.Config fields a flag sets (none for the
// flags that are not part of the run's Config: --out, --json, ...).
func trainFieldsOf(flagName string) []string {
	var out []string
	for field, f := range trainFlagOf {
		if f == flagName {
			out = append(out, field)
		}
	}
	sort.Strings(out)
	return out
}

// flagError says a train.ConfigError in terms of the flag that set it.
func flagError(err error) error {
	var ce *train.ConfigError
	if errors.As(err, &ce) {
		if f, ok := trainFlagOf[ce.Field]; ok {
			return errors.New(f + ce.Problem)
		}
	}
	return err
}

// trainOutput is where a command's training run reports, besides its run
// folder.
type trainOutput struct {
	progress    io.Writer // human progress (nil: none)
	json        io.Writer // step and eval records, then a summary, as JSON lines (nil: none)
	metricsAddr string    // Prometheus address ("": none)
}

// run trains cfg in the run folder dir (or resumes the run there, taking
// cfg.Stop and the override fields from cfg) and returns its summary.
func (t trainOutput) run(ctx context.Context, cfg train.Config, dir string, resume bool, override []string, stop <-chan struct{}) (*trainSummary, error) {
	rf := sinks.NewRunFolder(dir)
	rf.Checkpoints.Warn = warnSkipped
	var extra []train.Metrics
	if t.progress != nil {
		p := &sinks.Progress{W: t.progress}
		defer p.Close()
		extra = append(extra, p)
	}
	if t.json != nil {
		extra = append(extra, sinks.MetricsJSONLTo(t.json))
	}
	if t.metricsAddr != "" {
		prom, err := sinks.NewPrometheus(t.metricsAddr, nil)
		if err != nil {
			return nil, err
		}
		defer prom.Close()
		prom.SetStorage(sources.DefaultStore().Stats)
		fmt.Fprintf(os.Stderr, "train: Prometheus metrics on http://%s/metrics\n", prom.Addr())
		extra = append(extra, prom)
	}
	o := rf.Options(extra...)
	o.Stop = stop
	store0 := sources.DefaultStore().Stats()
	var res *train.Result
	var err error
	if resume {
		res, err = train.Resume(ctx, o, func(c *train.Config) error {
			c.Stop = cfg.Stop
			return c.Override(cfg, override...)
		})
	} else {
		res, err = train.Run(ctx, cfg, o)
	}
	err = errors.Join(err, rf.Close())
	if err != nil {
		return nil, err
	}
	sum := &trainSummary{Type: "summary", Out: dir, Result: res}
	if st := sources.DefaultStore().Stats().Sub(store0); st != (sources.StoreStats{}) {
		sum.Storage = &st
	}
	if path, err := sinks.LatestCheckpoint(dir); err == nil {
		sum.Checkpoint = path
	}
	if t.json != nil {
		if err := json.NewEncoder(t.json).Encode(sum); err != nil {
			return nil, err
		}
	}
	return sum, nil
}

// trainSummary is the last line of `train --json`.
type trainSummary struct {
	Type       string `json:"type"` // "summary"
	Out        string `json:"out"`
	Checkpoint string `json:"checkpoint"`
	// Storage is the bucket traffic of the run (shards and evaluation sets
	// read from bucket URLs); absent when everything was local.
	Storage *sources.StoreStats `json:"storage,omitempty"`
	*train.Result
}

func (r *trainSummary) print(w io.Writer) {
	epochs := fmt.Sprintf("%d epochs", r.Epochs)
	if r.Epochs == 1 {
		epochs = "1 epoch"
	}
	steps := fmt.Sprintf("%d steps (%s)", r.Steps, epochs)
	if r.StartStep > 0 {
		steps = fmt.Sprintf("%d steps after resuming at step %d (%d in all, %s)", r.Steps-r.StartStep, r.StartStep, r.Steps, epochs)
	}
	took := time.Duration(r.Seconds * float64(time.Second))
	if took < 10*time.Second {
		took = took.Round(time.Millisecond)
	} else {
		took = took.Round(time.Second)
	}
	fmt.Fprintf(w, "train: %s in %s, %.0f pairs/s, waiting for data %.0f%% of the time\n",
		steps, took, r.PairsPerS, 100*r.DataWait)
	for _, c := range r.Config.History {
		if c.Step == r.StartStep && r.StartStep > 0 {
			name := c.Field
			if f, ok := trainFlagOf[c.Field]; ok {
				name = f
			}
			fmt.Fprintf(w, "train: resumed with %s %s (was %s), recorded in the run's history\n", name, c.To, c.From)
		}
	}
	fmt.Fprintf(w, "train: last loss %.4f", r.Loss)
	if e := r.Eval; e != nil {
		fmt.Fprintf(w, ", knn_top1 %.4f", e.KNNTop1)
		if e.HasLinear {
			fmt.Fprintf(w, ", linear_top1 %.4f", e.LinearTop1)
		}
	}
	fmt.Fprintf(w, "\ntrain: checkpoint %s\n", r.Checkpoint)
	if s := r.Storage; s != nil {
		fmt.Fprintf(w, "train: storage: %d requests, %.1f MB received, %d retries, cache %d hits / %d misses (%.1f MB)\n",
			s.Requests, float64(s.Bytes)/1e6, s.Retries, s.CacheHits, s.CacheMisses, float64(s.CacheBytes)/1e6)
	}
	if r.Stopped {
		fmt.Fprintln(w, "train: stopped early; continue with --resume")
	}
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
