package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/contrastream/contrastream/sinks"
	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages"
	"github.com/contrastream/contrastream/stages/train/nn"
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
	cfg := trainConfig{
		Data: trainDir, Out: filepath.Join(out, "run"), Model: "small", Epochs: 8, Minutes: minutes + 0.5, Batch: 256,
		LR: 0.5, LRScaling: "linear", Optimizer: "sgd", Momentum: 0.9, WeightDecay: 5e-4, Temperature: 0.2,
		WarmupEpochs: 1, Size: 32, Channels: 3, MinScale: 0.2, ColorStrength: 0.5, HeadDepth: 2, HeadBN: true,
		Seed: 1, ShuffleBuffer: 2048, Keep: 3, EvalEvery: 0, EvalTest: testDir, KNNK: 200,
	}
	if err := os.RemoveAll(cfg.Out); err != nil {
		return err
	}
	sets, err := loadEvalSets(ctx, trainDir, testDir, cfg.Size, cfg.Channels, cfg.KNNK, false)
	if err != nil {
		return err
	}
	rnd, err := nn.NewSimCLR(nn.Config{Model: cfg.Model, InChannels: cfg.Channels, HeadDepth: cfg.HeadDepth, HeadBN: cfg.HeadBN, Seed: cfg.Seed})
	if err != nil {
		return err
	}
	before, err := sets.encoder(rnd)
	rnd.Close()
	if err != nil {
		return err
	}
	pix, err := sets.pixels()
	if err != nil {
		return err
	}
	step("before training: kNN top-1 %.1f%% (random encoder), %.1f%% (raw pixels)", 100*before["knn_top1"], 100*pix["knn_top1"])

	// 4. Train, then evaluate (the trainer runs the final kNN itself).
	step("training the small encoder for %d epochs (about %.0f minutes on 2 cores; stopped at %.1f) ...", cfg.Epochs, minutes, cfg.Minutes)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res, err := trainRun(ctx, cfg, trainHooks{stop: make(chan struct{}), progress: log,
		abort: cancel})
	if err != nil {
		return err
	}
	after := res.Eval
	if after == nil {
		// A stopped run skips the final evaluation: do it here.
		ck, err := sinks.LoadCheckpoint(res.Checkpoint)
		if err != nil {
			return err
		}
		m, _, err := modelFromCheckpoint(ck)
		if err != nil {
			return err
		}
		after, err = sets.encoder(m)
		m.Close()
		if err != nil {
			return err
		}
	}
	gap := after["knn_top1"] - before["knn_top1"]
	summary := map[string]any{
		"knn_top1_random_init": before["knn_top1"], "knn_top1_trained": after["knn_top1"], "knn_top1_raw_pixels": pix["knn_top1"],
		"gain": gap, "steps": res.Steps, "train_seconds": res.Seconds, "pairs_per_s": res.PairsPerS,
		"data_wait": res.DataWait, "seconds": time.Since(start).Seconds(), "checkpoint": res.Checkpoint,
		"metrics": filepath.Join(cfg.Out, "metrics.jsonl"), "preview": preview, "out": out,
	}
	if jsonOut {
		return json.NewEncoder(os.Stdout).Encode(summary)
	}
	fmt.Fprintf(stdout, "\nquickstart: trained %d steps in %.0fs (%.0f pairs/s, waiting for data %.0f%% of the time)\n",
		res.Steps, res.Seconds, res.PairsPerS, 100*res.DataWait)
	fmt.Fprintf(stdout, "quickstart: kNN top-1 on %d held-out images: %.1f%% random encoder -> %.1f%% trained (%+.1f points; raw pixels %.1f%%)\n",
		sets.test.Len(), 100*before["knn_top1"], 100*after["knn_top1"], 100*gap, 100*pix["knn_top1"])
	if gap > 0.05 {
		fmt.Fprintln(stdout, "quickstart: the encoder learned a representation that the random one does not have.")
	} else {
		fmt.Fprintln(stdout, "quickstart: little was learned in this time; try --minutes 5.")
	}
	fmt.Fprintf(stdout, "quickstart: files under %s:\n", out)
	fmt.Fprintf(stdout, "  data        %s, %s\n", trainDir, testDir)
	fmt.Fprintf(stdout, "  preview     %s\n", preview)
	fmt.Fprintf(stdout, "  checkpoint  %s\n", res.Checkpoint)
	fmt.Fprintf(stdout, "  metrics     %s\n", filepath.Join(cfg.Out, "metrics.jsonl"))
	fmt.Fprintf(stdout, "  config      %s\n", filepath.Join(cfg.Out, "config.json"))
	fmt.Fprintf(stdout, "quickstart: done in %s. Next: contrastream train --data %s --out runs/mine --eval-test %s\n",
		time.Since(start).Round(time.Second), trainDir, testDir)
	return nil
}
