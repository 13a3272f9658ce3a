// Package quickstart is `contrastream quickstart` as one library call: the
// whole mission on the built-in synthetic dataset, in one folder.
//
// [Run] writes a training set and a held-out test set of synthetic images
// (sinks.WriteSynth), draws a preview of the augmentations
// (stages.Preview), scores the randomly initialised encoder and the raw
// pixels with kNN on the test set (train.EvaluateInit, eval.Suite.Pixels),
// trains it with SimCLR (train.Run into a sinks.RunFolder, which evaluates
// at the end) and returns the scores before and after. A run stopped early
// (Config.Stop, or the time limit) is scored from its last checkpoint
// (train.EvaluateLatest). It costs what its parts cost: with the defaults
// about two minutes of training on 2 cores, 12,000 images of 32×32 on disk
// (about 37 MB) and the memory of the evaluation sets (12,000×3 KB).
//
// The package sits beside sinks (it imports sources, stages, stages/eval,
// stages/train and sinks); nothing in the library imports it.
package quickstart

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/contrastream/contrastream/sinks"
	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages"
	"github.com/contrastream/contrastream/stages/eval"
	"github.com/contrastream/contrastream/stages/train"
)

// Config is one quickstart. DefaultConfig gives the command's; Run checks
// it and refuses a bad field with a *ConfigError.
type Config struct {
	// Out is the folder: data/train and data/test (shards), preview.png and
	// run/ (the run folder, replaced by every Run). Required.
	Out string
	// N is the number of training images; the test set has N/5 others (at
	// least 1). At least Train.Schedule.Batch: an epoch needs one batch.
	N int
	// Minutes is the expected training time; training stops gracefully at
	// Minutes + 0.5 (Run sets Train.Stop.Minutes). At least 0.
	Minutes float64
	// Train is the run's recipe (model, schedule, optimizer, views); Run
	// fills Data.Glob and Eval.Test with the folders it writes and Stop
	// with Minutes. Train.Data.Size is also the side of the synthetic
	// images. DefaultConfig's is a recipe that learns on the synthetic data
	// in two minutes; a smaller one (Schedule.Batch, Epochs) makes a
	// quick check.
	Train train.Config
	// Log, if set, receives a line per stage ("quickstart: ...") and the
	// training progress (sinks.Progress).
	Log io.Writer
	// Stop, if set, stops training gracefully when closed: the step in
	// progress finishes and is checkpointed, and the checkpoint is scored.
	Stop <-chan struct{}
}

// DefaultConfig returns the command's quickstart in out: 10,000 training
// images of 32×32, two minutes, the small encoder trained for 8 epochs of
// 256 images (SGD at lr 0.5·B/256, τ 0.2, crops down to 20% of the area,
// a shuffle buffer of 2,048), scored by kNN (k 200) at the end only.
func DefaultConfig(out string) Config {
	t := train.DefaultConfig("")
	t.Model.Seed, t.Data.Seed, t.Data.Size, t.Model.InChannels = 1, 1, 32, 3
	t.Schedule.Epochs = 8
	t.Optimizer.LR, t.Recipe.Temperature, t.Recipe.MinScale = 0.5, 0.2, 0.2
	t.Data.ShuffleBuffer, t.Eval.Every = 2048, 0
	return Config{Out: out, N: 10000, Minutes: 2, Train: t}
}

// ConfigError is a Config field that cannot run: Field is its name ("N"),
// and the message is Field followed by Problem, so a command line can name
// its own flag instead.
type ConfigError struct {
	Field   string
	Problem string // follows the field: " -1: want minutes >= 0"
}

func (e *ConfigError) Error() string { return "quickstart: " + e.Field + e.Problem }

// Validate reports the first field of c that cannot run (a *ConfigError).
// The training recipe itself is checked by train.Run.
func (c Config) Validate() error {
	batch := c.Train.WithDefaults().Schedule.Batch
	switch {
	case c.Out == "":
		return &ConfigError{"Out", " is empty: no output folder"}
	case math.IsNaN(c.Minutes) || math.IsInf(c.Minutes, 0) || c.Minutes < 0:
		return &ConfigError{"Minutes", fmt.Sprintf(" %v: want a finite number of minutes >= 0", c.Minutes)}
	case c.N < batch:
		return &ConfigError{"N", fmt.Sprintf(" %d: want at least %d training images (one batch)", c.N, batch)}
	case c.Train.Data.Size < 16:
		return &ConfigError{"Train.Data.Size", fmt.Sprintf(" %d: want an image side of at least 16", c.Train.Data.Size)}
	}
	return nil
}

// Result is what a quickstart did. The JSON names are those of
// `contrastream quickstart --json`.
type Result struct {
	KNNRandomInit float64 `json:"knn_top1_random_init"` // kNN top-1 of the initial encoder
	KNNTrained    float64 `json:"knn_top1_trained"`     // and of the trained one
	KNNRawPixels  float64 `json:"knn_top1_raw_pixels"`  // and of the raw pixels
	Gain          float64 `json:"gain"`                 // KNNTrained - KNNRandomInit
	Steps         int     `json:"steps"`
	TrainSeconds  float64 `json:"train_seconds"`
	PairsPerS     float64 `json:"pairs_per_s"`
	DataWait      float64 `json:"data_wait"` // fraction of step time spent waiting for data
	Seconds       float64 `json:"seconds"`   // the whole quickstart
	Checkpoint    string  `json:"checkpoint"`
	Metrics       string  `json:"metrics"` // metrics.jsonl of the run
	Preview       string  `json:"preview"`
	Out           string  `json:"out"`

	TrainData  string `json:"-"` // the training shards' folder
	TestData   string `json:"-"` // the test shards' folder
	TestImages int    `json:"-"` // images in the test set
	RunDir     string `json:"-"` // the run folder (config.json, checkpoints, plots)
	Stopped    bool   `json:"-"` // training ended early (Stop or the time limit)
}

// ErrStoppedBeforeTraining is returned when Config.Stop was closed before
// the first training step: there is no trained model to score.
var ErrStoppedBeforeTraining = errors.New("quickstart: stopped before the first training step: nothing was trained")

// Run does the quickstart c describes (see the package doc). It returns
// when it is done, when training is stopped and scored, or on the first
// error; cancelling ctx aborts it with ctx's error. Stop closed before
// training has made a step gives ErrStoppedBeforeTraining.
func Run(ctx context.Context, c Config) (*Result, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	logf := func(format string, a ...any) {
		if c.Log != nil {
			fmt.Fprintf(c.Log, "quickstart: "+format+"\n", a...)
		}
	}
	r := &Result{Out: c.Out, TrainData: filepath.Join(c.Out, "data", "train"), TestData: filepath.Join(c.Out, "data", "test"),
		Preview: filepath.Join(c.Out, "preview.png"), RunDir: filepath.Join(c.Out, "run")}
	r.Metrics = filepath.Join(r.RunDir, "metrics.jsonl")
	side := c.Train.Data.Size

	// 1. Data: a training set and a held-out test set of other images.
	for _, d := range []struct {
		dir  string
		n    int
		seed uint64
	}{{r.TrainData, c.N, 1}, {r.TestData, max(c.N/5, 1), 2}} {
		sum, err := sinks.WriteSynth(ctx, sources.Synth{N: d.n, Size: side, Seed: d.seed},
			sinks.ShardsConfig{Dir: d.dir, Overwrite: true}, sinks.ImportOptions{Shards: 2})
		if err != nil {
			return nil, err
		}
		logf("wrote %d synthetic %d×%d images to %s (%.1fs)", sum.Rows, side, side, d.dir, sum.Seconds)
	}

	// 2. What the augmentations do.
	if err := sinks.WriteFileAtomic(r.Preview, func(w io.Writer) error {
		return stages.Preview(ctx, stages.PreviewConfig{Glob: r.TrainData, Rows: 8, Size: 2 * side, Seed: 1}, w)
	}); err != nil {
		return nil, err
	}
	logf("augmentation preview: %s", r.Preview)

	// 3. The random encoder and the raw pixels, measured with the kNN
	// that scores the trained encoder.
	cfg := c.Train
	cfg.Data.Glob, cfg.Eval.Test, cfg.Stop.Minutes = r.TrainData, r.TestData, c.Minutes+0.5
	if err := os.RemoveAll(r.RunDir); err != nil {
		return nil, err
	}
	suite, err := eval.LoadSuite(ctx, r.TrainData, r.TestData, side, cfg.Model.InChannels)
	if err != nil {
		return nil, err
	}
	suite.KNN = eval.KNN{K: cfg.Eval.KNNK}
	r.TestImages = suite.Test.Len()
	before, err := train.EvaluateInit(ctx, cfg.Model, suite)
	if err != nil {
		return nil, err
	}
	pix, err := suite.Pixels()
	if err != nil {
		return nil, err
	}
	r.KNNRandomInit, r.KNNRawPixels = before.KNNTop1, pix.KNNTop1
	logf("before training: kNN top-1 %.1f%% (random encoder), %.1f%% (raw pixels)", 100*before.KNNTop1, 100*pix.KNNTop1)

	// 4. Train; the run scores the trained encoder at its end.
	logf("training the %s encoder for %d epochs (about %.0f minutes on 2 cores; stopped at %.1f) ...",
		cfg.Model.Model, cfg.Schedule.Epochs, c.Minutes, cfg.Stop.Minutes)
	rf := sinks.NewRunFolder(r.RunDir)
	rf.Checkpoints.Warn = func(err error) { logf("warning: passed over %v", err) }
	var extra []train.Metrics
	if c.Log != nil {
		p := &sinks.Progress{W: c.Log}
		defer p.Close()
		extra = append(extra, p)
	}
	o := rf.Options(extra...)
	o.Stop, o.Eval = c.Stop, suite
	res, err := train.Run(ctx, cfg, o)
	if err = errors.Join(err, rf.Close()); err != nil {
		return nil, err
	}
	if res.Eval == nil && res.Saved < 0 {
		return nil, ErrStoppedBeforeTraining
	}
	if res.Eval == nil { // a stopped run skips the final evaluation
		if res.Eval, err = train.EvaluateLatest(ctx, &sinks.Checkpointer{Dir: r.RunDir, Warn: rf.Checkpoints.Warn}, suite); err != nil {
			return nil, err
		}
	}
	r.KNNTrained = res.Eval.KNNTop1
	r.Gain = r.KNNTrained - r.KNNRandomInit
	r.Steps, r.TrainSeconds, r.PairsPerS, r.DataWait, r.Stopped = res.Steps, res.Seconds, res.PairsPerS, res.DataWait, res.Stopped
	if r.Checkpoint, err = sinks.LatestCheckpoint(r.RunDir); err != nil {
		return nil, err
	}
	r.Seconds = time.Since(start).Seconds()
	return r, nil
}
