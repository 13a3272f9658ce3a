package stages

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages/augment"
	"github.com/contrastream/contrastream/stages/image"
)

// BenchConfig configures Bench. The zero value (plus Glob) measures
// SimCLR view pairs at 224 px for 10 s on every core.
type BenchConfig struct {
	Glob string // shards to read (looped over, epoch after epoch)
	// Rank and World read only rank Rank's partition of every epoch (see
	// sources.Plan; World 0 means 1), as one rank of a job would.
	Rank, World int
	// Epochs, if positive, ends the run after that many epochs (or after
	// Seconds, whichever comes first); 0 loops until Seconds.
	Epochs  int
	Size    int           // view side; 0 means 224
	Views   int           // views per image; 0 means 2
	Workers int           // goroutines for decode and for views; 0 means GOMAXPROCS
	Batch   int           // samples per batch; 0 means 256
	Seconds float64       // measured time; 0 means 10
	Warmup  float64       // seconds run before measuring; 0 means 1, negative none
	Seed    uint64        // keys the views
	Backend image.Backend // JPEG decoder
	// FullDecode decodes every pixel (see ViewStreamConfig.FullDecode): to
	// measure what crop-aware decoding saves.
	FullDecode bool
	// Aug makes each view; nil means augment.TorchvisionBench(Size), the
	// recipe of shared/bench/aug_bench.py (blur at 224 only).
	Aug augment.Augmentation
	// Uint8 emits uint8 batches (no float conversion).
	Uint8 bool
	// Progress, if set, is called about once a second with the report so far.
	Progress func(BenchReport)
	// DeadLetter receives each bad record (an image that does not decode, a
	// view that fails) with its shard, row, stage and reason; nil: they are
	// only counted (BenchReport.BadRecords).
	DeadLetter pipeline.DeadLetterWriter
	// MaxBad fails the run with pipeline.ErrBadRecordBudget once more than
	// this fraction of the records read failed (0: 0.01; negative: no limit).
	MaxBad float64
}

// BenchReport is what Bench measured over the timed window (after warm-up).
type BenchReport struct {
	Size       int               `json:"size"`
	Workers    int               `json:"workers"`
	Views      int               `json:"views"`
	Batch      int               `json:"batch"`
	Seconds    float64           `json:"seconds"`
	Samples    int64             `json:"samples"`      // images decoded and turned into views
	PairsPerS  float64           `json:"pairs_per_s"`  // samples/s (a "pair" is one image's views)
	ImagesPerS float64           `json:"images_per_s"` // decoded input images/s (= pairs/s)
	ViewsPerS  float64           `json:"views_per_s"`  // augmented views/s
	PerCore    float64           `json:"pairs_per_s_per_core"`
	Cores      int               `json:"cores"`      // GOMAXPROCS
	Bottleneck string            `json:"bottleneck"` // busiest stage
	Stages     pipeline.RunStats `json:"stages"`     // whole run, warm-up included
	BadRecords int64             `json:"bad_records"`
	// Storage is the remote traffic of the whole run (listing, opening the
	// shards and the warm-up included) for shards in buckets; nil for local
	// shards.
	Storage *sources.StoreStats `json:"storage,omitempty"`
	// StorageOpen is the part of Storage spent listing the shards and
	// reading their footers, before the first sample (every rank reads every
	// footer: the plan needs all row counts); nil for local shards.
	StorageOpen *sources.StoreStats `json:"storage_open,omitempty"`
	Final       bool                `json:"final"`
}

// check names the first setting of a defaulted configuration that is out of
// range (0 means the default, so only negatives and overlarge sizes remain).
func (cfg *BenchConfig) check() error {
	if err := CheckViewSide("bench: Size", cfg.Size); err != nil {
		return err
	}
	for _, c := range []struct {
		name string
		v    int
	}{{"Views", cfg.Views}, {"Workers", cfg.Workers}, {"Batch", cfg.Batch}} {
		if c.v < 1 {
			return fmt.Errorf("stages: bench: %s %d: want >= 1 (0 means the default)", c.name, c.v)
		}
	}
	if cfg.Epochs < 0 {
		return fmt.Errorf("stages: bench: Epochs %d: want >= 0 (0 means until Seconds)", cfg.Epochs)
	}
	if !(cfg.Seconds >= 0) {
		return fmt.Errorf("stages: bench: Seconds %v: want >= 0", cfg.Seconds)
	}
	if !(cfg.MaxBad <= 1) {
		return fmt.Errorf("stages: bench: MaxBad %v: want a fraction <= 1 (negative: no limit)", cfg.MaxBad)
	}
	return nil
}

// Bench runs source → decode → views → tensorize → discard over the shards
// for the configured time and reports the throughput and each stage's
// busy/waiting breakdown. It is what `contrastream bench` prints.
func Bench(ctx context.Context, cfg BenchConfig) (BenchReport, error) {
	if cfg.Size == 0 {
		cfg.Size = 224
	}
	if cfg.Views == 0 {
		cfg.Views = 2
	}
	if cfg.Workers == 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Batch == 0 {
		cfg.Batch = 256
	}
	if cfg.Seconds == 0 {
		cfg.Seconds = 10
	}
	if cfg.Warmup == 0 {
		cfg.Warmup = 1
	}
	if cfg.Aug == nil {
		cfg.Aug = augment.TorchvisionBench(cfg.Size)
	}
	if cfg.MaxBad == 0 {
		cfg.MaxBad = pipeline.DefaultBadRecordBudget
	}
	if err := cfg.check(); err != nil {
		return BenchReport{}, err
	}

	// The storage counters start before the source lists and opens the
	// shards, so that the report covers the whole run.
	store0 := sources.DefaultStore().Stats()
	out := Float32
	if cfg.Uint8 {
		out = Uint8
	}
	vs, err := NewViewStream(ViewStreamConfig{
		Source: sources.ParquetConfig{Glob: cfg.Glob, Seed: cfg.Seed, Rank: cfg.Rank, World: cfg.World, Epochs: cfg.Epochs},
		Recipe: Recipe{Size: cfg.Size}, Aug: cfg.Aug, Views: cfg.Views, Batch: cfg.Batch,
		Backend: cfg.Backend, FullDecode: cfg.FullDecode, Workers: cfg.Workers, Output: out,
	})
	if err != nil {
		return BenchReport{}, err
	}
	var opts []pipeline.Option
	if cfg.DeadLetter != nil {
		opts = append(opts, pipeline.WithDeadLetter(cfg.DeadLetter))
	}
	if cfg.MaxBad >= 0 {
		opts = append(opts, pipeline.WithBadRecordBudget(cfg.MaxBad))
	}
	p := pipeline.New("bench", opts...)
	batches := vs.Add(p)
	pipeline.Sink(p, "discard", batches, pipeline.ConsumerFunc[*Batch](func(_ context.Context, b *Batch) error {
		b.Release()
		return nil
	}))
	// Throughput is counted at the views stage's output (per sample, finer
	// than per batch); the batches behind it are bounded by Tensorize's pool.
	viewsOut := func() int64 {
		for _, s := range p.Stats().Stages {
			if s.Name == "views" {
				return s.Out
			}
		}
		return 0
	}

	rep := BenchReport{Size: cfg.Size, Workers: cfg.Workers, Views: cfg.Views, Batch: cfg.Batch, Cores: runtime.GOMAXPROCS(0)}
	if st := sources.DefaultStore().Stats().Sub(store0); st != (sources.StoreStats{}) {
		rep.StorageOpen = &st
	}
	var t0, stopAt time.Time
	var n0, nStop int64
	fill := func(now time.Time, final bool) BenchReport {
		r := rep
		r.Final = final
		r.Stages = p.Stats()
		r.Bottleneck = r.Stages.Bottleneck()
		for _, s := range r.Stages.Stages {
			r.BadRecords += s.Errors
		}
		if st := sources.DefaultStore().Stats().Sub(store0); st != (sources.StoreStats{Footers: st.Footers}) { // remote traffic only
			r.Storage = &st
		}
		if !t0.IsZero() {
			r.Seconds = now.Sub(t0).Seconds()
			n := viewsOut()
			if !stopAt.IsZero() {
				n = nStop
			}
			r.Samples = n - n0
			if r.Seconds > 0 {
				r.PairsPerS = float64(r.Samples) / r.Seconds
				r.ImagesPerS = r.PairsPerS
				r.ViewsPerS = r.PairsPerS * float64(cfg.Views)
				r.PerCore = r.PairsPerS / float64(r.Cores)
			}
		}
		return r
	}

	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	start := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	warm := time.Duration(max(cfg.Warmup, 0) * float64(time.Second))
	if warm == 0 {
		t0 = start
	}
	end := warm + time.Duration(cfg.Seconds*float64(time.Second))
	for {
		select {
		case err := <-done:
			final := fill(stopAt, true)
			if stopAt.IsZero() {
				final = fill(time.Now(), true)
			}
			if err != nil {
				return final, err
			}
			if final.Samples == 0 {
				return final, fmt.Errorf("stages: bench: no batch completed in %.1fs (too few images for a batch of %d, or a slow first batch)", final.Seconds, cfg.Batch)
			}
			return final, nil
		case now := <-tick.C:
			el := now.Sub(start)
			if t0.IsZero() && el >= warm {
				t0, n0 = now, viewsOut()
			}
			if stopAt.IsZero() && el >= end {
				stopAt, nStop = now, viewsOut()
				p.Stop()
			}
			if cfg.Progress != nil && stopAt.IsZero() {
				cfg.Progress(fill(now, false))
			}
		}
	}
}
