package train_test

import (
	"path/filepath"
	"testing"

	"github.com/contrastream/contrastream/sinks"
	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages/train"
)

// TestRunReadsEachFooterOnce: a run that finds its view side from the
// first image and evaluates with the training shards as memory bank reads
// the metadata of each shard once (the source, the peek at the first image
// and the memory bank share the opened shards). Not parallel: it counts
// the default store's reads.
func TestRunReadsEachFooterOnce(t *testing.T) {
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
}
