package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/contrastream/contrastream/sinks"
	"github.com/contrastream/contrastream/stages/eval"
	"github.com/contrastream/contrastream/stages/train"
)

var evalCommand = command{
	summary: "evaluate a checkpoint's encoder: kNN (and linear-probe) accuracy",
	run:     runEval,
}

func runEval(ctx context.Context, args []string) error {
	fs := newDataFlagSet("eval", "usage: contrastream eval --checkpoint CKPT --train GLOB --test GLOB [--knn-k K] [--linear] [--json]\n\n"+
		"kNN as lightly's benchmarks: L2-normalized encoder features, cosine similarity,\n"+
		"the K nearest training images vote with weight exp(sim/0.1). --linear adds a\n"+
		"logistic-regression probe on the frozen features. CKPT is a checkpoint file or a\n"+
		"run folder (its latest checkpoint). --random and --pixels give the baselines.")
	var ckPath, trainGlob, testGlob string
	var k int
	var linear, jsonOut, random, pixels bool
	fs.StringVar(&ckPath, "checkpoint", "", "checkpoint file or run folder (required)")
	fs.StringVar(&trainGlob, "train", "", "labeled shards: the kNN memory bank / probe training set (required)")
	fs.StringVar(&testGlob, "test", "", "labeled shards to evaluate on (required)")
	fs.IntVar(&k, "knn-k", 200, "neighbours (0: 200; at most the memory bank's size)")
	fs.BoolVar(&linear, "linear", false, "also train and score a linear probe")
	fs.BoolVar(&random, "random", false, "also evaluate the randomly initialised encoder of the same run (seed)")
	fs.BoolVar(&pixels, "pixels", false, "also evaluate kNN on raw pixels")
	fs.BoolVar(&jsonOut, "json", false, "print one JSON object on stdout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 || ckPath == "" || trainGlob == "" || testGlob == "" {
		fs.Usage()
		return fmt.Errorf("--checkpoint, --train and --test are required")
	}
	knn := eval.KNN{K: k}
	if err := knn.Validate(); err != nil {
		return fmt.Errorf("--knn-k %d: %w", k, err)
	}
	ck, err := loadCheckpoint(ckPath)
	if err != nil {
		return err
	}
	snap, err := ck.Snapshot()
	if err != nil {
		return err
	}
	arch := snap.Config.Model
	suite, err := eval.LoadSuite(ctx, trainGlob, testGlob, snap.Config.Data.Size, arch.InChannels)
	if err != nil {
		return err
	}
	suite.KNN, suite.Linear = knn, linear
	k = knn.Neighbours(suite.Train.Len())
	results := map[string]eval.Scores{}
	e, err := train.Evaluate(ctx, snap, suite)
	if err != nil {
		return fmt.Errorf("%s: %w", ck.Path, err)
	}
	results["checkpoint"] = e.Scores
	if random {
		if results["random_init"], err = train.EvaluateInit(ctx, arch, suite); err != nil {
			return err
		}
	}
	if pixels {
		if results["raw_pixels"], err = suite.Pixels(); err != nil {
			return err
		}
	}
	if jsonOut {
		return json.NewEncoder(os.Stdout).Encode(map[string]any{
			"checkpoint": ck.Path, "step": ck.Step, "model": arch.Model, "train": suite.Train.Len(), "test": suite.Test.Len(),
			"knn_k": k, "results": results})
	}
	fmt.Printf("eval: %s (model %s, step %d); memory bank %d images, test %d images, k=%d\n",
		ck.Path, arch.Model, ck.Step, suite.Train.Len(), suite.Test.Len(), k)
	names := make([]string, 0, len(results))
	for n := range results {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		r := results[n]
		fmt.Printf("  %-11s kNN top-1 %.2f%%", n, 100*r.KNNTop1)
		if r.HasLinear {
			fmt.Printf("   linear top-1 %.2f%%", 100*r.LinearTop1)
		}
		fmt.Println()
	}
	return nil
}

// loadCheckpoint loads the checkpoint path means (a file, or a run folder's
// newest valid checkpoint) and warns on stderr about each damaged or missing
// one it passed over.
func loadCheckpoint(path string) (*sinks.Checkpoint, error) {
	ck, err := sinks.LoadCheckpoint(path)
	if err != nil {
		return nil, err
	}
	for _, e := range ck.Skipped {
		warnSkipped(e)
	}
	if len(ck.Skipped) > 0 {
		fmt.Fprintf(os.Stderr, "contrastream: warning: using %s (step %d), the newest valid checkpoint\n", ck.Path, ck.Step)
	}
	return ck, nil
}

func warnSkipped(err error) { fmt.Fprintf(os.Stderr, "contrastream: warning: passed over %v\n", err) }
