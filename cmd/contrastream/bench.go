package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"golang.org/x/term"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/sinks"
	"github.com/contrastream/contrastream/stages"
	"github.com/contrastream/contrastream/stages/image"
)

var benchCommand = command{
	summary: "measure view-pair throughput: shards → decode → views → tensors, no training",
	run:     runBench,
}

func runBench(ctx context.Context, args []string) error {
	fs := newDataFlagSet("bench", "usage: contrastream bench --data GLOB|URL [--size S --workers N --batch B --seconds T --rank R --world W --epochs E] [--json]\n\n"+
		"Runs source → decode → views → tensorize with the SimCLR recipe of the\n"+
		"torchvision comparison in docs/benchmarks.md (RandomResizedCrop, flip, colour\n"+
		"jitter p=0.8, grayscale p=0.2, blur p=0.5 at 224 only, normalize) and prints pairs/s,\n"+
		"images/s and each stage's busy/waiting breakdown.")
	var cfg stages.BenchConfig
	var jsonOut bool
	var backend string
	fs.StringVar(&cfg.Glob, "data", "", "shards: a glob, a folder, a comma-separated list or a bucket URL with a glob (required)")
	fs.IntVar(&cfg.Rank, "rank", 0, "read only this rank's partition, in [0, --world)")
	fs.IntVar(&cfg.World, "world", 1, "number of ranks the epoch is split between")
	fs.IntVar(&cfg.Epochs, "epochs", 0, "stop after this many epochs (0: loop over the data until --seconds)")
	fs.IntVar(&cfg.Size, "size", 224, "view side in pixels (0: 224; at most 4096)")
	fs.IntVar(&cfg.Workers, "workers", 0, "goroutines for decode and for views (0: one per CPU)")
	fs.IntVar(&cfg.Batch, "batch", 256, "samples per batch (0: 256)")
	fs.IntVar(&cfg.Views, "views", 2, "views per image (0: 2)")
	fs.Float64Var(&cfg.Seconds, "seconds", 10, "measured seconds after the warm-up (0: 10)")
	fs.Float64Var(&cfg.Warmup, "warmup", 1, "seconds run before measuring (0: 1; negative: none)")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "seed of the views")
	fs.BoolVar(&cfg.Uint8, "uint8", false, "emit uint8 [B,H,W,C] batches (skip the float conversion)")
	fs.StringVar(&backend, "jpeg", "auto", "JPEG decoder: auto, go or turbo (turbo needs a -tags turbojpeg build)")
	cropDecode := fs.Bool("crop-decode", true, "with the pure-Go JPEG decoder, reconstruct only the parts of each image the views' crops read (false: decode every pixel, to measure the gain)")
	fs.BoolVar(&jsonOut, "json", false, "print JSON objects on stdout (progress each second, then the final report)")
	fs.Float64Var(&cfg.MaxBad, "max-bad", pipeline.DefaultBadRecordBudget, "fraction of the records that may be bad (skipped, listed in --dead-letters) before bench fails (0: 0.01; negative: no limit)")
	deadLetters := fs.String("dead-letters", "bad-records.jsonl", "JSONL `file` listing the bad records: shard, row, stage, reason (made only when one fails)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !(cfg.MaxBad <= 1) {
		return fmt.Errorf("--max-bad %v: want a fraction <= 1 (negative: no limit)", cfg.MaxBad)
	}
	if fs.NArg() > 0 || cfg.Glob == "" {
		fs.Usage()
		return fmt.Errorf("--data is required and takes no positional arguments")
	}
	switch backend {
	case "auto":
		cfg.Backend = image.BackendAuto
	case "go":
		cfg.Backend = image.BackendGo
	case "turbo":
		cfg.Backend = image.BackendTurbo
	default:
		return fmt.Errorf("--jpeg %q: want auto, go or turbo", backend)
	}
	cfg.FullDecode = !*cropDecode
	enc := json.NewEncoder(os.Stdout)
	tty := term.IsTerminal(int(os.Stderr.Fd()))
	cfg.Progress = func(r stages.BenchReport) {
		if jsonOut {
			_ = enc.Encode(r)
		}
		if tty {
			fmt.Fprintf(os.Stderr, "\rbench: %6.1fs %8.1f pairs/s (bottleneck: %s)   ", r.Seconds, r.PairsPerS, r.Bottleneck)
		}
	}
	dl := sinks.JSONL(*deadLetters)
	cfg.DeadLetter = dl
	rep, err := stages.Bench(ctx, cfg)
	err = errors.Join(err, dl.Close())
	if errors.Is(err, pipeline.ErrBadRecordBudget) {
		err = fmt.Errorf("%w\n(the bad records are listed in %s; --max-bad changes the budget)", err, *deadLetters)
	}
	if tty {
		fmt.Fprintln(os.Stderr)
	}
	if jsonOut {
		if jerr := enc.Encode(rep); jerr != nil && err == nil {
			err = jerr
		}
		return err
	}
	if err != nil {
		return err
	}
	fmt.Printf("bench: %d px, %d views, %d workers on %d cores, batch %d\n", rep.Size, rep.Views, rep.Workers, rep.Cores, rep.Batch)
	fmt.Printf("  %.1f pairs/s  (%.1f per core)   %.1f images/s   %.1f views/s   over %.1fs, %d samples\n",
		rep.PairsPerS, rep.PerCore, rep.ImagesPerS, rep.ViewsPerS, rep.Seconds, rep.Samples)
	if rep.BadRecords > 0 {
		fmt.Printf("  %d bad records skipped (listed in %s)\n", rep.BadRecords, *deadLetters)
	}
	if s := rep.Storage; s != nil {
		fmt.Printf("  storage: %d requests, %.1f MB received, %d retries, cache %d hits / %d misses (%.1f MB)\n",
			s.Requests, float64(s.Bytes)/1e6, s.Retries, s.CacheHits, s.CacheMisses, float64(s.CacheBytes)/1e6)
		if o := rep.StorageOpen; o != nil {
			fmt.Printf("           of which listing and opening the shards: %d requests, %.2f MB\n", o.Requests, float64(o.Bytes)/1e6)
		}
	}
	fmt.Println()
	return rep.Stages.WriteTable(os.Stdout)
}
