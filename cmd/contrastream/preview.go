package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/contrastream/contrastream/sinks"
	"github.com/contrastream/contrastream/stages"
)

var previewCommand = command{
	summary: "draw a PNG grid of images and their augmented views",
	run:     runPreview,
}

func runPreview(ctx context.Context, args []string) error {
	fs := newDataFlagSet("preview", "usage: contrastream preview --data GLOB --out FILE.png [--pairs N --size S]\n\n"+
		"One row per image: the original, then its views, made exactly as training\n"+
		"makes them (SimCLR recipe, views keyed by seed, epoch, sample and view).")
	var cfg stages.PreviewConfig
	var out string
	fs.StringVar(&cfg.Glob, "data", "", "shards: a glob, a folder or a comma-separated list (required)")
	fs.StringVar(&out, "out", "", "output PNG `file` (required)")
	fs.IntVar(&cfg.Rows, "pairs", 8, "images to show, one row each (0: 8)")
	fs.IntVar(&cfg.Size, "size", 96, "view side in pixels (0: 96; at most 4096)")
	fs.IntVar(&cfg.Views, "views", 2, "views per image (0: 2)")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "seed of the views")
	fs.IntVar(&cfg.Epoch, "epoch", 0, "epoch whose views to show")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 || cfg.Glob == "" || out == "" {
		fs.Usage()
		return fmt.Errorf("--data and --out are required")
	}
	if err := sinks.WriteFileAtomic(out, func(w io.Writer) error { return stages.Preview(ctx, cfg, w) }); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "preview: wrote %s\n", out)
	return nil
}
