package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/term"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/sinks"
	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages"
	"github.com/contrastream/contrastream/stages/augment"
	"github.com/contrastream/contrastream/stages/image"
)

var streamCommand = command{
	summary: "write uint8 view batches as an Arrow IPC stream (stdout or a Unix socket) for PyTorch",
	run:     runStream,
}

func runStream(ctx context.Context, args []string) error {
	fs := newDataFlagSet("stream", "usage: contrastream stream --data GLOB [--size S --views V --batch B --rank R --world W --cursor C] [--socket PATH] [--shm-fd FD]\n\n"+
		"Runs source → decode → views → uint8 batches for one rank and writes them as an\n"+
		"Arrow IPC stream: one record batch per training batch, the pixels of all views\n"+
		"in one uint8 [B,V,H,W,C] buffer, with label, sample id, shard, row, epoch and\n"+
		"position (the cursor after a batch is epoch:last position+1). Every rank sends\n"+
		"the same number of full batches per epoch. The Python loader (python/,\n"+
		"contrastream.torch.ViewLoader) runs this per rank. It exits when its reader\n"+
		"goes away or its parent dies.\n\n"+
		"With --shm-fd (Linux), the pixels travel through shared memory instead: FD is an\n"+
		"inherited file descriptor of a memfd (or a tmpfs file) that the reader made;\n"+
		"the stream sizes it to --shm-slots slots and writes each batch's pixels straight\n"+
		"into a free slot. The Arrow IPC stream then has a uint64 column views_offset\n"+
		"(each sample's byte offset in the file) in place of views, and its metadata\n"+
		"says contrastream.transport=shm, shm_slots and shm_slot_bytes. The reader hands\n"+
		"a slot back, once done with it, by writing its index as a little-endian uint32\n"+
		"on the stream's stdin (or on the socket with --socket); a slot is not reused\n"+
		"before. Closing stdin means the reader went away. With --float32 the slots hold\n"+
		"the views normalized, (v/255 - mean)/std per channel, as float32 [B,V,C,H,W]\n"+
		"(metadata dtype=float32, layout=BVCHW, and mean and std as r,g,b): model input,\n"+
		"nothing left to convert. --mean and --std choose the statistics (default\n"+
		"ImageNet's mean 0.485,0.456,0.406 and std 0.229,0.224,0.225); each takes 3\n"+
		"comma-separated numbers (r,g,b; gray views use the first), or with --channels 1\n"+
		"also one.")
	var cfg sinks.StreamConfig
	src := &cfg.View.Source
	var cursor, backend, digests, meanFlag, stdFlag string
	shmFD := -1
	fs.StringVar(&src.Glob, "data", "", "shards: a glob, a folder or a comma-separated list (required)")
	fs.IntVar(&cfg.View.Recipe.Size, "size", 224, "view side in pixels")
	fs.IntVar(&cfg.View.Views, "views", 2, "views per image")
	fs.IntVar(&cfg.View.Batch, "batch", 256, "samples per batch (each rank)")
	fs.Uint64Var(&src.Seed, "seed", 0, "seed: data order and views")
	fs.IntVar(&src.Rank, "rank", 0, "this process's rank in [0, --world)")
	fs.IntVar(&src.World, "world", 1, "number of ranks the epoch is split between")
	fs.IntVar(&src.Epochs, "epochs", 1, "epochs to send, counted from epoch 0 (0: until stopped)")
	fs.StringVar(&cursor, "cursor", "0:0", "start at `epoch:position` (the cursor after the last batch consumed)")
	fs.IntVar(&src.ShuffleBuffer, "shuffle-buffer", 4096, "samples in the shuffle buffer (0: off)")
	fs.StringVar(&cfg.View.Recipe.Name, "recipe", "simclr", "view recipe: simclr")
	fs.Float64Var(&cfg.View.Recipe.MinScale, "min-scale", 0.08, "smallest crop area of RandomResizedCrop")
	fs.Float64Var(&cfg.View.Recipe.ColorStrength, "color-strength", 0.5, "SimCLR colour-jitter strength s")
	fs.StringVar(&cfg.View.Recipe.Blur, "blur", "auto", "Gaussian blur p=0.5: auto (at 224 px and above), on or off")
	fs.IntVar(&cfg.View.Channels, "channels", 3, "channels of the views: 3 or 1")
	fs.IntVar(&cfg.View.Workers, "workers", 0, "goroutines for decode and for views (0: one per CPU, i.e. GOMAXPROCS)")
	fs.IntVar(&cfg.View.InFlight, "in-flight", 4, "batch buffers in flight (memory: this many batches)")
	fs.StringVar(&backend, "jpeg", "auto", "JPEG decoder: auto, go or turbo (turbo needs a -tags turbojpeg build)")
	fs.StringVar(&cfg.Socket, "socket", "", "listen on this Unix socket `path`, send the stream to the first reader (default: stdout)")
	fs.StringVar(&cfg.DeadLetters, "dead-letters", "", "JSONL `file` for bad records (default bad-records-rank<R>.jsonl; made only when one fails)")
	fs.Float64Var(&cfg.BadRecordBudget, "max-bad", pipeline.DefaultBadRecordBudget, "fraction of the records that may be bad (skipped, listed in --dead-letters) before the stream fails (0: 0.01; negative: no limit)")
	fs.StringVar(&cfg.ExpectFingerprint, "expect-fingerprint", "", "refuse shards whose fingerprint differs (the one saved with --cursor)")
	fs.IntVar(&cfg.ParentPID, "parent-pid", 0, "exit when the parent process is no longer this pid (0: the parent at start; -1: never)")
	fs.IntVar(&shmFD, "shm-fd", -1, "shared-memory transport: the inherited `fd` of a memfd to put the pixels in (see above; -1: off, the pixels go in the stream)")
	fs.IntVar(&cfg.ShmSlots, "shm-slots", 0, "with --shm-fd: batch slots in the shared memory, all the batches in flight (0: --in-flight + 4; at least 2)")
	fs.BoolVar(&cfg.Float32, "float32", false, "with --shm-fd: put the views in the slots normalized (--mean/--std, default ImageNet's), float32 [B,V,C,H,W] (metadata dtype=float32, layout=BVCHW, mean, std)")
	fs.StringVar(&meanFlag, "mean", "", "with --float32: per-channel `r,g,b` mean of the normalization (default ImageNet's 0.485,0.456,0.406; with --channels 1, one value also)")
	fs.StringVar(&stdFlag, "std", "", "with --float32: per-channel `r,g,b` std of the normalization, each > 0 (default ImageNet's 0.229,0.224,0.225; with --channels 1, one value also)")
	fs.StringVar(&digests, "digests", "", "write one JSON line per batch (SHA-256 of the pixels, ids, labels, cursor) to this `file`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 || src.Glob == "" {
		fs.Usage()
		return fmt.Errorf("--data is required and takes no positional arguments")
	}
	if !(cfg.BadRecordBudget <= 1) {
		return fmt.Errorf("--max-bad %v: want a fraction <= 1 (negative: no limit)", cfg.BadRecordBudget)
	}
	if meanFlag != "" || stdFlag != "" {
		mean, err := parseStats("--mean", meanFlag, augment.ImageNetMean, false, cfg.View.Channels)
		if err != nil {
			return err
		}
		std, err := parseStats("--std", stdFlag, augment.ImageNetStd, true, cfg.View.Channels)
		if err != nil {
			return err
		}
		if !cfg.Float32 {
			return fmt.Errorf("--mean and --std need --float32 (the uint8 views are not normalized)")
		}
		cfg.View.Normalize = augment.Normalize{Mean: mean, Std: std}
	}
	var err error
	if src.Cursor, err = sources.ParseCursor(cursor); err != nil {
		return fmt.Errorf("--cursor: %w", err)
	}
	switch backend {
	case "auto":
		cfg.View.Backend = image.BackendAuto
	case "go":
		cfg.View.Backend = image.BackendGo
	case "turbo":
		cfg.View.Backend = image.BackendTurbo
	default:
		return fmt.Errorf("--jpeg %q: want auto, go or turbo", backend)
	}
	if cfg.DeadLetters == "" {
		cfg.DeadLetters = fmt.Sprintf("bad-records-rank%d.jsonl", src.Rank)
	}
	if digests != "" {
		f, err := os.Create(digests)
		if err != nil {
			return err
		}
		defer f.Close()
		cfg.Digests = f
	}
	if shmFD >= 0 {
		if shmFD <= 2 {
			return fmt.Errorf("--shm-fd %d is stdin, stdout or stderr: pass the memfd as another descriptor", shmFD)
		}
		f := os.NewFile(uintptr(shmFD), fmt.Sprintf("shm-fd %d", shmFD))
		if _, err := f.Stat(); err != nil {
			return fmt.Errorf("--shm-fd %d: not an open file descriptor: %w", shmFD, err)
		}
		defer f.Close()
		cfg.Shm = f
		if cfg.Socket == "" {
			cfg.Returns = os.Stdin
		}
	} else if cfg.ShmSlots != 0 {
		return fmt.Errorf("--shm-slots needs --shm-fd")
	}
	if cfg.Socket == "" {
		if term.IsTerminal(int(os.Stdout.Fd())) {
			return fmt.Errorf("stdout is a terminal: pipe the stream into a reader or give --socket")
		}
		cfg.W = os.Stdout
	}
	// A reader that goes away makes writes fail with EPIPE (reported, a
	// clean exit) instead of killing the process with SIGPIPE.
	signal.Ignore(syscall.SIGPIPE)
	rep, err := sinks.Stream(ctx, cfg)
	var re *stages.RecipeError
	if errors.As(err, &re) {
		flag := map[string]string{"Name": "--recipe", "MinScale": "--min-scale", "ColorStrength": "--color-strength", "Blur": "--blur"}[re.Setting]
		return fmt.Errorf("%s %s: %s", flag, re.Value, re.Want)
	}
	if errors.Is(err, pipeline.ErrBadRecordBudget) {
		return fmt.Errorf("%w\n(the bad records are listed in %s; --max-bad changes the budget)", err, cfg.DeadLetters)
	}
	if err != nil {
		return err
	}
	switch {
	case rep.ReaderGone:
		fmt.Fprintf(os.Stderr, "stream: the reader went away after %d batches; stopping\n", rep.Batches)
	case rep.ParentGone:
		fmt.Fprintf(os.Stderr, "stream: the parent process died after %d batches; stopping\n", rep.Batches)
	}
	if rep.BadRecords > 0 {
		fmt.Fprintf(os.Stderr, "stream: %d bad records skipped (see %s)\n", rep.BadRecords, cfg.DeadLetters)
	}
	return nil
}

// parseStats parses a --mean or --std value: 3 comma-separated finite
// numbers (> 0 with positive), or with channels 1 also a single one, which
// then stands for all three (gray views use channel 0). "" gives def.
func parseStats(flag, s string, def [3]float32, positive bool, channels int) ([3]float32, error) {
	if s == "" {
		return def, nil
	}
	want := "want 3 finite numbers"
	if channels == 1 {
		want = "want 1 or 3 finite numbers"
	}
	if positive {
		want = strings.Replace(want, "finite numbers", "numbers > 0", 1)
	}
	parts := strings.Split(s, ",")
	if len(parts) != 3 && !(channels == 1 && len(parts) == 1) {
		return def, fmt.Errorf("%s %s: %s", flag, s, want)
	}
	var v [3]float32
	for i, p := range parts {
		x, err := strconv.ParseFloat(strings.TrimSpace(p), 32)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) || positive && !(float32(x) > 0) {
			return def, fmt.Errorf("%s %s: %s", flag, s, want)
		}
		v[i] = float32(x)
	}
	if len(parts) == 1 {
		v[1], v[2] = v[0], v[0]
	}
	return v, nil
}
