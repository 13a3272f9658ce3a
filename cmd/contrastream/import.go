package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/contrastream/contrastream/sinks"
	"github.com/contrastream/contrastream/sinks/idx"
	"github.com/contrastream/contrastream/sinks/imagefolder"
	"github.com/contrastream/contrastream/sources"
)

var importCommand = command{
	summary: "import MNIST-format IDX files or a folder of images as Parquet shards",
	run:     runImport,
}

const importUsage = `usage:
  contrastream import idx    --images F --labels F --out DIR [--shards K] [--json]
  contrastream import images --dir DIR --out DIR [--shards K] [--json]

idx     reads MNIST-format IDX files (gzipped or not: detected from the bytes)
        and writes each image as a grayscale PNG with its label.
images  reads a folder of JPEG/PNG files as torchvision's ImageFolder does:
        DIR/<class>/**/*.{jpg,jpeg,png} (classes sorted: label i is the i-th
        folder name); a folder without class subfolders gives unlabeled rows.
        The files' bytes are stored as they are; unreadable files are
        rejected to --dead-letters.

Both write Hugging Face datasets-compatible Parquet shards
(OUT/<prefix>-00000.parquet, ...). Run "contrastream import idx --help" for
the flags of one.`

func runImport(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, importUsage)
		return errors.New("import: say idx or images")
	}
	switch args[0] {
	case "idx":
		return runImportIDX(ctx, args[1:])
	case "images":
		return runImportImages(ctx, args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(os.Stderr, importUsage)
		return flag.ErrHelp
	}
	fmt.Fprintln(os.Stderr, importUsage)
	return fmt.Errorf("import: unknown kind %q (want idx or images)", args[0])
}

// dataFlags are the output flags shared by import and synth.
type dataFlags struct {
	out       string
	prefix    string
	shards    int
	workers   int
	overwrite bool
	json      bool
	groupRows int
	groupSize int64
}

func (d *dataFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.out, "out", "", "output `folder` or bucket URL (s3://bucket/prefix) for the shards (required)")
	fs.StringVar(&d.prefix, "prefix", sinks.DefaultShardPrefix, "shard file name prefix: PREFIX-00000.parquet, ...")
	fs.IntVar(&d.shards, "shards", 1, "number of shards to split the rows into (0: by size, 512 MiB each)")
	fs.IntVar(&d.workers, "workers", 0, "parallel encoders (0: one per CPU)")
	fs.BoolVar(&d.overwrite, "overwrite", false, "replace existing shards with the same prefix in --out")
	fs.BoolVar(&d.json, "json", false, "print one JSON summary object on stdout (progress stays on stderr)")
	fs.IntVar(&d.groupRows, "row-group-rows", 0, "close a row group after this many rows (0: 1000)")
	fs.Func("row-group-size", "close a row group after this many image `bytes`: 64MiB, 1GB, ... (default 64MiB)", func(v string) error {
		n, err := parseBytes(v)
		if err == nil && n <= 0 {
			err = fmt.Errorf("%d: want > 0", n)
		}
		d.groupSize = n
		return err
	})
}

func (d *dataFlags) shardsConfig() sinks.ShardsConfig {
	return sinks.ShardsConfig{Dir: d.out, Prefix: d.prefix, Overwrite: d.overwrite, RowGroupRows: d.groupRows, RowGroupBytes: d.groupSize}
}

func (d *dataFlags) check(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if d.out == "" {
		return errors.New("--out is required")
	}
	if d.shards < 0 {
		return fmt.Errorf("--shards %d: must be >= 0", d.shards)
	}
	if d.groupRows < 0 {
		return fmt.Errorf("--row-group-rows %d: must be >= 0", d.groupRows)
	}
	return nil
}

func newDataFlagSet(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	registerCacheFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), usage)
		fmt.Fprintln(fs.Output(), "\nflags:")
		fs.PrintDefaults()
	}
	return fs
}

func runImportIDX(ctx context.Context, args []string) error {
	fs := newDataFlagSet("import idx", "usage: contrastream import idx --images F --labels F --out DIR [--shards K] [--json]\n\n"+
		"Imports MNIST-format IDX files (magic 0x0803 images, 0x0801 labels; gzipped or\n"+
		"not) as PNG rows with labels, e.g. Fashion-MNIST from Debian's\n"+
		"dataset-fashion-mnist: --images /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
	var d dataFlags
	d.register(fs)
	var src idx.Source
	fs.StringVar(&src.Images, "images", "", "IDX images `file` (required)")
	fs.StringVar(&src.Labels, "labels", "", "IDX labels `file` (optional: no label column without it)")
	fs.IntVar(&src.Limit, "limit", 0, "import at most this many images (0: all)")
	classNames := fs.String("class-names", "", "comma-separated class `names`, label i is the i-th (stored as a Hugging Face ClassLabel)")
	pngLevel := fs.String("png", "speed", "PNG compression: store, speed, default or best")
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
	if src.Images == "" {
		return errors.New("--images is required")
	}
	cfg := d.shardsConfig()
	if *classNames != "" {
		cfg.ClassNames = strings.Split(*classNames, ",")
	}
	p := newDataProgress(os.Stderr, "import idx")
	sum, err := idx.Import(ctx, src, cfg, sinks.ImportOptions{
		Shards: d.shards, Workers: d.workers, Progress: p.update, PNG: level})
	p.done()
	return reportData(os.Stdout, "import idx", d, sum, err)
}

func runImportImages(ctx context.Context, args []string) error {
	fs := newDataFlagSet("import images", "usage: contrastream import images --dir DIR --out DIR [--shards K] [--json]\n\n"+
		"Imports a folder of JPEG/PNG images: DIR/<class>/**/*.{jpg,jpeg,png} gives\n"+
		"labeled rows (classes sorted by name), a flat DIR unlabeled ones. Files\n"+
		"are stored as they are, with their relative path.")
	var d dataFlags
	d.register(fs)
	var dir, deadLetters string
	var maxBad float64
	var verify bool
	fs.StringVar(&dir, "dir", "", "image `folder` (required)")
	fs.BoolVar(&verify, "verify", true, "decode every image fully, as training will, and reject what does not decode (truncated, corrupt, over the pixel limit); --verify=false checks only the header")
	fs.StringVar(&deadLetters, "dead-letters", "", "JSONL `file` listing rejected files (default OUT/bad-records.jsonl; written only if one is rejected)")
	fs.Float64Var(&maxBad, "max-bad", 0, "fraction of files that may be rejected; 0 fails the import (after writing the good ones) on any rejected file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := d.check(fs); err != nil {
		return err
	}
	if dir == "" {
		return errors.New("--dir is required")
	}
	if deadLetters == "" {
		deadLetters = filepath.Join(d.out, "bad-records.jsonl")
		if sources.IsURL(d.out) {
			deadLetters = "bad-records.jsonl" // a local file, in the current folder
		}
	}
	p := newDataProgress(os.Stderr, "import images")
	sum, err := imagefolder.Import(ctx, imagefolder.Source{Dir: dir}, d.shardsConfig(), sinks.ImportOptions{
		Shards: d.shards, Workers: d.workers, DeadLetters: deadLetters, BadRecordBudget: maxBad, Progress: p.update,
		HeaderOnly: !verify})
	p.done()
	return reportData(os.Stdout, "import images", d, sum, err)
}

// reportData prints the summary: one JSON object with --json, a line of
// text otherwise. The summary is printed even when err is not nil (a run
// with rejected records still wrote shards).
func reportData(w io.Writer, cmd string, d dataFlags, sum sinks.ImportSummary, err error) error {
	if d.json {
		v := struct {
			Command string `json:"command"`
			Out     string `json:"out"`
			sinks.ImportSummary
			Error string `json:"error,omitempty"`
		}{Command: cmd, Out: d.out, ImportSummary: sum}
		if err != nil {
			v.Error = err.Error()
		}
		if v.Files == nil {
			v.Files = []string{}
		}
		if jerr := json.NewEncoder(w).Encode(v); jerr != nil && err == nil {
			err = jerr
		}
		return err
	}
	if sum.Shards > 0 || err == nil {
		fmt.Fprintf(w, "%s: %d rows in %d shard(s), %.1f MB, in %s (%.0f rows/s) -> %s\n",
			cmd, sum.Rows, sum.Shards, float64(sum.Bytes)/1e6, time.Duration(sum.Seconds*float64(time.Second)).Round(time.Millisecond), sum.RowsPerSec, d.out)
	}
	if sum.Rejected > 0 {
		fmt.Fprintf(w, "%s: %d record(s) rejected\n", cmd, sum.Rejected)
	}
	return err
}

// dataProgress prints import progress on stderr: a line redrawn in place on
// a terminal, or a line every 10% (at most every 2 s) otherwise.
type dataProgress struct {
	w        io.Writer
	name     string
	tty      bool
	start    time.Time
	last     time.Time
	lastFrac float64
	printed  bool
}

func newDataProgress(w *os.File, name string) *dataProgress {
	return &dataProgress{w: w, name: name, tty: term.IsTerminal(int(w.Fd())), start: time.Now()}
}

func (p *dataProgress) update(done, total int64) {
	now := time.Now()
	frac := 0.0
	if total > 0 {
		frac = float64(done) / float64(total)
	}
	if p.tty {
		if now.Sub(p.last) < 100*time.Millisecond && done != total {
			return
		}
	} else if done != total && (frac-p.lastFrac < 0.1 || now.Sub(p.last) < 2*time.Second) {
		return
	}
	p.last, p.lastFrac = now, frac
	rate := float64(done) / max(now.Sub(p.start).Seconds(), 1e-9)
	var line string
	if total > 0 {
		const width = 30
		n := int(frac * width)
		line = fmt.Sprintf("%s [%s%s] %d/%d rows %3.0f%% %.0f rows/s", p.name,
			strings.Repeat("=", n), strings.Repeat(" ", width-n), done, total, 100*frac, rate)
	} else {
		line = fmt.Sprintf("%s: %d rows %.0f rows/s", p.name, done, rate)
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\x1b[K", line)
		p.printed = true
	} else {
		fmt.Fprintln(p.w, line)
	}
}

func (p *dataProgress) done() {
	if p.tty && p.printed {
		fmt.Fprintln(p.w)
	}
}
