package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
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
	ck, err := loadCheckpoint(ckPath)
	if err != nil {
		return err
	}
	m, cfg, err := modelFromCheckpoint(ck)
	if err != nil {
		return err
	}
	defer m.Close()
	sets, err := loadEvalSets(ctx, trainGlob, testGlob, cfg.Size, cfg.Channels, k, linear)
	if err != nil {
		return err
	}
	results := map[string]map[string]float64{}
	if results["checkpoint"], err = sets.encoder(m); err != nil {
		return err
	}
	if random {
		r, err := newModel(cfg)
		if err != nil {
			return err
		}
		defer r.Close()
		if results["random_init"], err = sets.encoder(r); err != nil {
			return err
		}
	}
	if pixels {
		if results["raw_pixels"], err = sets.pixels(); err != nil {
			return err
		}
	}
	if jsonOut {
		return json.NewEncoder(os.Stdout).Encode(map[string]any{
			"checkpoint": ck.Path, "step": ck.Step, "model": ck.Model, "train": sets.train.Len(), "test": sets.test.Len(),
			"knn_k": sets.knn.Neighbours(sets.train.Len()), "results": results})
	}
	fmt.Printf("eval: %s (model %s, step %d); memory bank %d images, test %d images, k=%d\n",
		ck.Path, ck.Model, ck.Step, sets.train.Len(), sets.test.Len(), sets.knn.Neighbours(sets.train.Len()))
	names := make([]string, 0, len(results))
	for n := range results {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		r := results[n]
		fmt.Printf("  %-11s kNN top-1 %.2f%%", n, 100*r["knn_top1"])
		if v, ok := r["linear_top1"]; ok {
			fmt.Printf("   linear top-1 %.2f%%", 100*v)
		}
		fmt.Println()
	}
	return nil
}
