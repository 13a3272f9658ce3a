package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/contrastream/contrastream/sinks"
	"github.com/contrastream/contrastream/stages/augment"
	"github.com/contrastream/contrastream/stages/eval"
	"github.com/contrastream/contrastream/stages/train/nn"
)

// evalSets are the labeled sets of an evaluation, decoded once and kept.
type evalSets struct {
	train, test *eval.Labeled
	knn         eval.KNN
	linear      bool
}

// loadEvalSets decodes the memory-bank and test sets at the model's input size.
func loadEvalSets(ctx context.Context, trainGlob, testGlob string, side, channels, k int, linear bool) (*evalSets, error) {
	if err := (eval.KNN{K: k}).Validate(); err != nil {
		return nil, fmt.Errorf("--knn-k %d: %w", k, err)
	}
	tr, err := eval.LoadLabeled(ctx, trainGlob, side, channels, 0)
	if err != nil {
		return nil, fmt.Errorf("evaluation train set: %w", err)
	}
	te, err := eval.LoadLabeled(ctx, testGlob, side, channels, 0)
	if err != nil {
		return nil, fmt.Errorf("evaluation test set: %w", err)
	}
	return &evalSets{train: tr, test: te, knn: eval.KNN{K: k}, linear: linear}, nil
}

// encoder evaluates m's encoder features: kNN top-1 (and the linear probe's
// with linear), plus the seconds it took.
func (e *evalSets) encoder(m *nn.SimCLR) (map[string]float64, error) {
	start := time.Now()
	const batch = 500
	ftr, err := eval.Encode(m, e.train, batch, augment.Normalize{})
	if err != nil {
		return nil, err
	}
	fte, err := eval.Encode(m, e.test, batch, augment.Normalize{})
	if err != nil {
		return nil, err
	}
	out, err := e.score(ftr, fte, m.FeatureDim)
	if err != nil {
		return nil, err
	}
	out["eval_seconds"] = time.Since(start).Seconds()
	return out, nil
}

// pixels evaluates the raw-pixel baseline.
func (e *evalSets) pixels() (map[string]float64, error) {
	ftr, dim := eval.PixelFeatures(e.train, augment.Normalize{})
	fte, _ := eval.PixelFeatures(e.test, augment.Normalize{})
	return e.score(ftr, fte, dim)
}

func (e *evalSets) score(ftr, fte []float32, dim int) (map[string]float64, error) {
	r, err := e.knn.Evaluate(ftr, e.train.Labels, fte, e.test.Labels, dim)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{"knn_top1": r.Top1}
	if e.linear {
		lr, err := eval.LinearProbe{}.Evaluate(ftr, e.train.Labels, fte, e.test.Labels, dim)
		if err != nil {
			return nil, err
		}
		out["linear_top1"] = lr.Top1
	}
	return out, nil
}

// newEvaluator returns the periodic kNN evaluation of a training run, or
// nil without --eval-test. The memory bank is --eval-train, or the
// training data itself.
func newEvaluator(ctx context.Context, cfg trainConfig) (func(ctx context.Context, m *nn.SimCLR) (map[string]float64, error), error) {
	if cfg.EvalTest == "" {
		return nil, nil
	}
	bank := cfg.EvalTrain
	if bank == "" {
		bank = cfg.Data
	}
	sets, err := loadEvalSets(ctx, bank, cfg.EvalTest, cfg.Size, cfg.Channels, cfg.KNNK, false)
	if err != nil {
		return nil, err
	}
	return func(_ context.Context, m *nn.SimCLR) (map[string]float64, error) { return sets.encoder(m) }, nil
}

// newModel builds the (randomly initialised) model of a run's configuration.
func newModel(cfg trainConfig) (*nn.SimCLR, error) {
	return nn.NewSimCLR(nn.Config{Model: cfg.Model, InChannels: cfg.Channels, HeadDepth: cfg.HeadDepth,
		HeadBN: cfg.HeadBN, Seed: cfg.Seed, Threads: cfg.Threads})
}

// modelFromCheckpoint rebuilds a checkpoint's model from the run
// configuration it carries and loads its weights.
func modelFromCheckpoint(ck *sinks.Checkpoint) (*nn.SimCLR, trainConfig, error) {
	var cfg trainConfig
	if err := json.Unmarshal(ck.Config, &cfg); err != nil {
		return nil, cfg, fmt.Errorf("%s: its run configuration: %w", ck.Path, err)
	}
	m, err := newModel(cfg)
	if err != nil {
		return nil, cfg, err
	}
	if err := nn.LoadStateDict(m, ck.Tensors); err != nil {
		m.Close()
		return nil, cfg, fmt.Errorf("%s: %w", ck.Path, err)
	}
	return m, cfg, nil
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
		fmt.Fprintf(os.Stderr, "contrastream: warning: passed over %v\n", e)
	}
	if len(ck.Skipped) > 0 {
		fmt.Fprintf(os.Stderr, "contrastream: warning: using %s (step %d), the newest valid checkpoint\n", ck.Path, ck.Step)
	}
	return ck, nil
}
