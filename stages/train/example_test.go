package train_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/sinks"
	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages"
	"github.com/contrastream/contrastream/stages/augment"
	"github.com/contrastream/contrastream/stages/train"
	"github.com/contrastream/contrastream/stages/train/loss"
	"github.com/contrastream/contrastream/stages/train/nn"
	"github.com/contrastream/contrastream/stages/train/optim"
)

// A whole run: train on synthetic shards, stop at step 3 (a checkpoint is
// written), resume from the checkpoint alone, evaluate at the end, and
// check the weights against a run that was never stopped.
func Example() {
	ctx, dir := context.Background(), must(os.MkdirTemp("", "run"))
	defer os.RemoveAll(dir)
	for i, set := range []string{"train", "test"} {
		must(sinks.WriteSynth(ctx, sources.Synth{N: 64, Size: 16, Seed: uint64(i)},
			sinks.ShardsConfig{Dir: filepath.Join(dir, set)}, sinks.ImportOptions{}))
	}
	cfg := train.DefaultConfig(filepath.Join(dir, "train"))
	cfg.Schedule.Epochs, cfg.Schedule.Batch, cfg.Eval.Test, cfg.Eval.KNNK = 2, 16, filepath.Join(dir, "test"), 10
	cfg.Stop.MaxSteps = 3 // a graceful stop; Options.Stop and ctx stop it too
	run := &sinks.Checkpointer{Dir: filepath.Join(dir, "run")}
	res := must(train.Run(ctx, cfg, train.Options{Store: run}))
	fmt.Println("stopped:", res.Stopped, "at step", res.Steps, "saved", res.Saved)
	res = must(train.Resume(ctx, train.Options{Store: run}, func(c *train.Config) error { c.Stop.MaxSteps = 0; return nil }))
	fmt.Println("resumed at step", res.StartStep, "to", res.Steps, "evaluated:", res.Eval.Final)
	cfg.Stop.MaxSteps = 0
	once := &sinks.Checkpointer{Dir: filepath.Join(dir, "once")}
	must(train.Run(ctx, cfg, train.Options{Store: once}))
	a, b := must(run.Latest()), must(once.Latest())
	fmt.Println("bit-identical to a run never stopped:", reflect.DeepEqual(a.Tensors, b.Tensors))
	// Output:
	// stopped: true at step 3 saved 3
	// resumed at step 3 to 8 evaluated: true
	// bit-identical to a run never stopped: true
}

// The graph that train.Run builds, assembled by hand: a Parquet source,
// decode, views, tensorize and the Trainer, whose records go to a
// checkpoint store and to a function of our own.
func ExampleTrainer() {
	ctx, dir := context.Background(), must(os.MkdirTemp("", "graph"))
	defer os.RemoveAll(dir)
	must(sinks.WriteSynth(ctx, sources.Synth{N: 64, Size: 16}, sinks.ShardsConfig{Dir: dir}, sinks.ImportOptions{}))
	model := must(nn.NewSimCLR(nn.Config{Model: "small", InChannels: 3, HeadDepth: 2, HeadBN: true, Seed: 1}))
	defer model.Close()

	p := pipeline.New("simclr",
		pipeline.WithDeadLetter(sinks.JSONL(filepath.Join(dir, "bad-records.jsonl"))),
		pipeline.WithBadRecordBudget(0.001)) // fail above 0.1% bad records
	rows := sources.Parquet(p, sources.ParquetConfig{Glob: dir, ShuffleBuffer: 32, Epochs: 2, Seed: 1})
	imgs := pipeline.Apply(p, "decode", rows, &stages.Decode{Channels: 3}, pipeline.Workers(4), pipeline.Ordered())
	views := pipeline.Apply(p, "views", imgs, &stages.Views{Aug: augment.SimCLR(16, 1, true), Seed: 1},
		pipeline.Workers(4), pipeline.Ordered())
	batches := pipeline.Apply(p, "tensorize", views, &stages.Tensorize{BatchSize: 16, DropLast: true})
	recs := pipeline.Apply(p, "train", batches, &train.Trainer{Model: model, Loss: &loss.NTXent{Temperature: 0.2},
		Opt: &optim.LARS{Momentum: 0.9, WeightDecay: 1e-6}, SnapshotEvery: 4,
		Schedule: optim.WarmupCosine{Peak: 0.3, WarmupSteps: 2, TotalSteps: 8}})
	store := &sinks.Checkpointer{Dir: filepath.Join(dir, "run")}
	pipeline.Sink(p, "checkpoint", recs, train.Checkpoints{Store: store}) // saves each *train.Snapshot
	pipeline.Sink(p, "log", recs, pipeline.ConsumerFunc[train.Record](func(_ context.Context, r train.Record) error {
		if s, ok := r.(*train.Step); ok {
			fmt.Println("step", s.Step, "epoch", s.Epoch, "pairs", s.Pairs) // s.DataWait near 1: input-bound
		}
		return nil
	}))
	if err := p.Run(ctx); err != nil { // starts every goroutine, returns when all have stopped
		fmt.Println(err)
	}
	fmt.Println("checkpoint at step", must(store.Latest()).Step, "bottleneck found:", p.Stats().Bottleneck() != "")
	// Output:
	// step 1 epoch 0 pairs 16
	// step 2 epoch 0 pairs 16
	// step 3 epoch 0 pairs 16
	// step 4 epoch 0 pairs 16
	// step 5 epoch 1 pairs 16
	// step 6 epoch 1 pairs 16
	// step 7 epoch 1 pairs 16
	// step 8 epoch 1 pairs 16
	// checkpoint at step 8 bottleneck found: true
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
