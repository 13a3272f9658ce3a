package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/contrastream/contrastream/sinks/quickstart"
)

var quickstartCommand = command{
	summary:    "the whole mission on built-in synthetic data: data, views, training, evaluation (~3 min)",
	run:        runQuickstart,
	ownSignals: true,
}

// quickstartFlagOf names the flag of each quickstart.Config field.
var quickstartFlagOf = map[string]string{"Out": "--out", "N": "--n", "Minutes": "--minutes"}

func runQuickstart(ctx context.Context, args []string) error {
	fs := newDataFlagSet("quickstart", "usage: contrastream quickstart [--out DIR]\n\n"+
		"Makes the built-in synthetic dataset (10 classes of shapes and textures with\n"+
		"random colours, positions and scales), draws a preview of the augmentations,\n"+
		"measures the randomly initialised `small` encoder with kNN, trains it with\n"+
		"SimCLR for about two minutes, measures it again, and prints what it did and\n"+
		"where the files are.")
	cfg := quickstart.DefaultConfig("quickstart")
	var jsonOut bool
	fs.StringVar(&cfg.Out, "out", cfg.Out, "output `folder`")
	fs.Float64Var(&cfg.Minutes, "minutes", cfg.Minutes, "expected training time; training stops at this plus half a minute")
	fs.IntVar(&cfg.N, "n", cfg.N, fmt.Sprintf("training images (at least %d, one batch; the test set has n/5 others)", cfg.Train.Schedule.Batch))
	fs.BoolVar(&jsonOut, "json", false, "print one JSON summary object on stdout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var ce *quickstart.ConfigError
	if err := cfg.Validate(); errors.As(err, &ce) && quickstartFlagOf[ce.Field] != "" {
		return errors.New(quickstartFlagOf[ce.Field] + ce.Problem)
	} else if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := make(chan struct{})
	var once sync.Once
	watchSignals(ctx, func() { once.Do(func() { close(stop) }) }, cancel)
	cfg.Log, cfg.Stop = os.Stderr, stop
	r, err := quickstart.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if jsonOut {
		return json.NewEncoder(os.Stdout).Encode(r)
	}
	w := os.Stdout
	fmt.Fprintf(w, "\nquickstart: trained %d steps in %.0fs (%.0f pairs/s, waiting for data %.0f%% of the time)\n",
		r.Steps, r.TrainSeconds, r.PairsPerS, 100*r.DataWait)
	fmt.Fprintf(w, "quickstart: kNN top-1 on %d held-out images: %.1f%% random encoder -> %.1f%% trained (%+.1f points; raw pixels %.1f%%)\n",
		r.TestImages, 100*r.KNNRandomInit, 100*r.KNNTrained, 100*r.Gain, 100*r.KNNRawPixels)
	if r.Gain > 0.05 {
		fmt.Fprintln(w, "quickstart: the encoder learned a representation that the random one does not have.")
	} else {
		fmt.Fprintln(w, "quickstart: little was learned in this time; try --minutes 5.")
	}
	fmt.Fprintf(w, "quickstart: files under %s:\n", r.Out)
	fmt.Fprintf(w, "  data        %s, %s\n", r.TrainData, r.TestData)
	fmt.Fprintf(w, "  preview     %s\n", r.Preview)
	fmt.Fprintf(w, "  checkpoint  %s\n", r.Checkpoint)
	fmt.Fprintf(w, "  metrics     %s\n", r.Metrics)
	fmt.Fprintf(w, "  config      %s\n", filepath.Join(r.RunDir, "config.json"))
	fmt.Fprintf(w, "quickstart: done in %s. Next: contrastream train --data %s --out runs/mine --eval-test %s\n",
		time.Duration(r.Seconds*float64(time.Second)).Round(time.Second), r.TrainData, r.TestData)
	return nil
}
