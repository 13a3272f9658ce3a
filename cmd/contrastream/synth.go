package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/contrastream/contrastream/sinks"
	"github.com/contrastream/contrastream/sources"
)

var synthCommand = command{
	summary: "write the built-in synthetic dataset (10 classes of shapes and textures) as Parquet shards",
	run:     runSynth,
}

func runSynth(ctx context.Context, args []string) error {
	fs := newDataFlagSet("synth", "usage: contrastream synth --out DIR [--n N --size S --shards K --seed X] [--json]\n\n"+
		"Writes N labeled RGB PNG images of S×S pixels: "+strings.Join(sources.SynthClasses[:], ", ")+",\n"+
		"each with random colours, position, scale, rotation and noise, drawn from\n"+
		"(seed, index) alone: the same flags give the same bytes.")
	var d dataFlags
	d.register(fs)
	var s sources.Synth
	fs.IntVar(&s.N, "n", 20000, "number of images")
	fs.IntVar(&s.Size, "size", 32, "image side in pixels (8..4096)")
	fs.Uint64Var(&s.Seed, "seed", 0, "seed: image i depends on (seed, i) only")
	fs.IntVar(&s.Classes, "classes", 10, "number of classes (1..10)")
	pngLevel := fs.String("png", "store", "PNG compression: store (fastest to write and decode; the shards' zstd still compresses), speed, default or best")
	if err := fs.Parse(args); err != nil {
		return err
	}
	level, err := sinks.ParsePNGLevel(*pngLevel)
	if err != nil {
		return err
	}
	if err := d.check(fs); err != nil {
		return err
	}
	if s.N <= 0 {
		return errors.New("--n must be > 0")
	}
	if s.Size < 8 || s.Classes < 1 {
		return fmt.Errorf("--size %d / --classes %d out of range", s.Size, s.Classes)
	}
	if err := s.Validate(); err != nil {
		return err
	}
	p := newDataProgress(os.Stderr, "synth")
	sum, err := sinks.WriteSynth(ctx, s, d.shardsConfig(), sinks.ImportOptions{
		Shards: d.shards, Workers: d.workers, Progress: p.update, PNG: level})
	p.done()
	return reportData(os.Stdout, "synth", d, sum, err)
}
