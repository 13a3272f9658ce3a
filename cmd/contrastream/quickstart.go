package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/contrastream/contrastream/sinks"
	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages"
	"github.com/contrastream/contrastream/stages/eval"
	"github.com/contrastream/contrastream/stages/train"
)

var quickstartCommand = command{
	summary:    "the whole mission on built-in synthetic data: data, views, training, evaluation (~3 min)",
	run:        runQuickstart,
	ownSignals: true,
}

func runQuickstart(ctx context.Context, args []string) error {
	fs := newDataFlagSet("quickstart", "usage: contrastream quickstart [--out DIR]\n\n"+
		"Makes the built-in synthetic dataset (10 classes of shapes and textures with\n"+
		"random colours, positions and scales), draws a preview of the augmentations,\n"+
		"measures the randomly initialised `small` encoder with kNN, trains it with\n"+
		"SimCLR for about two minutes, measures it again, and prints what it did and\n"+
		"where the files are.")
	var out string
	var minutes float64
	var n int
	var jsonOut bool
	fs.StringVar(&out, "out", "quickstart", "output `folder`")
	fs.Float64Var(&minutes, "minutes", 2, "expected training time; training stops at this plus half a minute")
	fs.IntVar(&n, "n", 10000, "training images")
	fs.BoolVar(&jsonOut, "json", false, "print one JSON summary object on stdout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	log := os.Stderr
	var stdout io.Writer = os.Stdout
	if jsonOut {
		stdout = io.Discard
	}
	start := time.Now()
	step := func(format string, a ...any) { fmt.Fprintf(log, "quickstart: "+format+"\n", a...) }

	// 1. Data: a training set and a held-out test set of other images.
	trainDir, testDir := filepath.Join(out, "data", "train"), filepath.Join(out, "data", "test")
	for _, d := range []struct {
		dir  string
		n    int
		seed uint64
	}{{trainDir, n, 1}, {testDir, n / 5, 2}} {
		sum, err := sinks.WriteSynth(ctx, sources.Synth{N: d.n, Size: 32, Seed: d.seed},
			sinks.ShardsConfig{Dir: d.dir, Overwrite: true}, sinks.ImportOptions{Shards: 2})
		if err != nil {
			return err
		}
		step("wrote %d synthetic 32×32 images to %s (%.1fs)", sum.Rows, d.dir, sum.Seconds)
	}

	// 2. What the augmentations do.
	preview := filepath.Join(out, "preview.png")
	if err := sinks.WriteFileAtomic(preview, func(w io.Writer) error {
		return stages.Preview(ctx, stages.PreviewConfig{Glob: trainDir, Rows: 8, Size: 64, Seed: 1}, w)
	}); err != nil {
		return err
	}
	step("augmentation preview: %s", preview)

	// 3. The random encoder, measured with the same kNN as after training.
	cfg := train.DefaultConfig(trainDir)
	cfg.Model.Seed, cfg.Data.Seed, cfg.Data.Size, cfg.Model.InChannels = 1, 1, 32, 3
	cfg.Schedule.Epochs, cfg.Stop.Minutes = 8, minutes+0.5
	cfg.Optimizer.LR, cfg.Recipe.Temperature, cfg.Recipe.MinScale = 0.5, 0.2, 0.2
	cfg.Data.ShuffleBuffer, cfg.Eval.Every, cfg.Eval.Test = 2048, 0, testDir
	runDir := filepath.Join(out, "run")
	if err := os.RemoveAll(runDir); err != nil {
		return err
	}
	suite, err := eval.LoadSuite(ctx, trainDir, testDir, cfg.Data.Size, cfg.Model.InChannels)
	if err != nil {
		return err
	}
	suite.KNN = eval.KNN{K: cfg.Eval.KNNK}
	before, err := train.EvaluateInit(ctx, cfg.Model, suite)
	if err != nil {
		return err
	}
	pix, err := suite.Pixels()
	if err != nil {
		return err
	}
	step("before training: kNN top-1 %.1f%% (random encoder), %.1f%% (raw pixels)", 100*before.KNNTop1, 100*pix.KNNTop1)

	// 4. Train, then evaluate (the trainer runs the final kNN itself).
	step("training the small encoder for %d epochs (about %.0f minutes on 2 cores; stopped at %.1f) ...", cfg.Schedule.Epochs, minutes, cfg.Stop.Minutes)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := make(chan struct{})
	var once sync.Once
	watchSignals(ctx, func() { once.Do(func() { close(stop) }) }, cancel)
	res, err := trainOutput{progress: log, eval: suite}.run(ctx, cfg, runDir, false, nil, stop)
	if err != nil {
		return err
	}
	if res.Eval == nil { // a stopped run skips the final evaluation
		if res.Eval, err = train.EvaluateLatest(ctx, &sinks.Checkpointer{Dir: runDir}, suite); err != nil {
			return err
		}
	}
	after := res.Eval.Scores
	gap := after.KNNTop1 - before.KNNTop1
	summary := map[string]any{
		"knn_top1_random_init": before.KNNTop1, "knn_top1_trained": after.KNNTop1, "knn_top1_raw_pixels": pix.KNNTop1,
		"gain": gap, "steps": res.Steps, "train_seconds": res.Seconds, "pairs_per_s": res.PairsPerS,
		"data_wait": res.DataWait, "seconds": time.Since(start).Seconds(), "checkpoint": res.Checkpoint,
		"metrics": filepath.Join(runDir, "metrics.jsonl"), "preview": preview, "out": out,
	}
	if jsonOut {
		return json.NewEncoder(os.Stdout).Encode(summary)
	}
	fmt.Fprintf(stdout, "\nquickstart: trained %d steps in %.0fs (%.0f pairs/s, waiting for data %.0f%% of the time)\n",
		res.Steps, res.Seconds, res.PairsPerS, 100*res.DataWait)
	fmt.Fprintf(stdout, "quickstart: kNN top-1 on %d held-out images: %.1f%% random encoder -> %.1f%% trained (%+.1f points; raw pixels %.1f%%)\n",
		suite.Test.Len(), 100*before.KNNTop1, 100*after.KNNTop1, 100*gap, 100*pix.KNNTop1)
	if gap > 0.05 {
		fmt.Fprintln(stdout, "quickstart: the encoder learned a representation that the random one does not have.")
	} else {
		fmt.Fprintln(stdout, "quickstart: little was learned in this time; try --minutes 5.")
	}
	fmt.Fprintf(stdout, "quickstart: files under %s:\n", out)
	fmt.Fprintf(stdout, "  data        %s, %s\n", trainDir, testDir)
	fmt.Fprintf(stdout, "  preview     %s\n", preview)
	fmt.Fprintf(stdout, "  checkpoint  %s\n", res.Checkpoint)
	fmt.Fprintf(stdout, "  metrics     %s\n", filepath.Join(runDir, "metrics.jsonl"))
	fmt.Fprintf(stdout, "  config      %s\n", filepath.Join(runDir, "config.json"))
	fmt.Fprintf(stdout, "quickstart: done in %s. Next: contrastream train --data %s --out runs/mine --eval-test %s\n",
		time.Since(start).Round(time.Second), trainDir, testDir)
	return nil
}
