package train_test

import (
	"path/filepath"
	"testing"

	"github.com/contrastream/contrastream/sinks"
	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages/eval"
	"github.com/contrastream/contrastream/stages/train"
)

// TestRunReadsEachFooterOnceAndItsCheckpointEvaluates: a run that finds its view side from the
// first image and evaluates with the training shards as memory bank reads
// the metadata of each shard once (the source, the peek at the first image
// and the memory bank share the opened shards). Not parallel: it counts
// the default store's reads.
func TestRunReadsEachFooterOnceAndItsCheckpointEvaluates(t *testing.T) {
	dir := t.TempDir()
	for i, set := range []string{"train", "test"} {
		if _, err := sinks.WriteSynth(t.Context(), sources.Synth{N: 40, Size: 16, Seed: uint64(i)},
			sinks.ShardsConfig{Dir: filepath.Join(dir, set)}, sinks.ImportOptions{Shards: 2}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := train.DefaultConfig(filepath.Join(dir, "train"))
	cfg.Schedule.Epochs, cfg.Schedule.Batch, cfg.Eval.Test, cfg.Eval.KNNK = 1, 16, filepath.Join(dir, "test"), 5
	cfg.Data.Size, cfg.Model.InChannels = 0, 0 // found from the first image
	before := sources.DefaultStore().Stats().Footers
	res, err := train.Run(t.Context(), cfg, train.Options{Store: &sinks.Checkpointer{Dir: filepath.Join(dir, "run")}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Eval == nil || res.Config.Data.Size != 16 {
		t.Fatalf("no evaluation (%v) or size %d", res.Eval, res.Config.Data.Size)
	}
	if n := sources.DefaultStore().Stats().Footers - before; n != 4 {
		t.Errorf("a run over 2 training and 2 test shards read %d footers, want 4", n)
	}

	// The last checkpoint, rebuilt from itself alone, scores what the run's
	// final evaluation did.
	suite, err := eval.LoadSuite(t.Context(), cfg.Data.Glob, cfg.Eval.Test, 16, 3)
	if err != nil {
		t.Fatal(err)
	}
	suite.KNN = eval.KNN{K: cfg.Eval.KNNK}
	e, err := train.EvaluateLatest(t.Context(), &sinks.Checkpointer{Dir: filepath.Join(dir, "run")}, suite)
	if err != nil {
		t.Fatal(err)
	}
	if e.KNNTop1 != res.Eval.KNNTop1 || e.Step != res.Steps || !e.Final {
		t.Errorf("the last checkpoint scores %v at step %d, the run's final evaluation %v at step %d", e.KNNTop1, e.Step, res.Eval.KNNTop1, res.Steps)
	}
}
