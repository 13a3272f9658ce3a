package sinks

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/contrastream/contrastream/stages/train"
)

// RunFolder is the on-disk layout of a training run, what `contrastream
// train --out DIR` writes:
//
//	DIR/checkpoints/step-*.safetensors.zst, latest   the checkpoints (Checkpoints)
//	DIR/config.json                                  the run's train.Config
//	DIR/metrics.jsonl                                one line per step and evaluation (MetricsJSONL)
//	DIR/plots/{loss,lr,eval}.png                     the curves (Plots)
//
// It creates nothing until the run starts (train.Run calls Start after
// every check has passed), so a refused run leaves no folder behind.
// Opening a folder again appends to its metrics.jsonl, so a resumed run
// continues the same files. A RunFolder is a train.Metrics (it writes
// metrics.jsonl) and a train.Starter.
type RunFolder struct {
	Dir         string
	Checkpoints *Checkpointer
	Plots       *Plots

	mu      sync.Mutex
	metrics *MetricsJSONL
}

// NewRunFolder returns the run folder dir (creating nothing yet).
// Checkpoints keeps the run Config's Checkpoint.Keep checkpoints (else 3).
func NewRunFolder(dir string) *RunFolder {
	return &RunFolder{
		Dir:         dir,
		Checkpoints: &Checkpointer{Dir: dir},
		Plots:       &Plots{Dir: filepath.Join(dir, "plots"), Every: 50},
	}
}

// Options returns train.Options that save checkpoints and metrics here,
// plus the extra metrics sinks (a Progress, a Prometheus, ...).
func (r *RunFolder) Options(extra ...train.Metrics) train.Options {
	return train.Options{Store: r.Checkpoints, Metrics: append([]train.Metrics{r, r.Plots}, extra...)}
}

// Start creates the folder and opens metrics.jsonl for appending.
func (r *RunFolder) Start(train.Info) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.metrics != nil {
		return nil
	}
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return fmt.Errorf("sinks: run folder: %w", err)
	}
	m, err := NewMetricsJSONL(filepath.Join(r.Dir, "metrics.jsonl"))
	if err != nil {
		return err
	}
	r.metrics = m
	return nil
}

func (r *RunFolder) jsonl() (*MetricsJSONL, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.metrics == nil {
		return nil, errors.New("sinks: run folder: record before Start")
	}
	return r.metrics, nil
}

// WriteStep appends a step line to metrics.jsonl.
func (r *RunFolder) WriteStep(s *train.Step) error {
	m, err := r.jsonl()
	if err != nil {
		return err
	}
	return m.WriteStep(s)
}

// WriteEval appends an evaluation line to metrics.jsonl.
func (r *RunFolder) WriteEval(e *train.Eval) error {
	m, err := r.jsonl()
	if err != nil {
		return err
	}
	return m.WriteEval(e)
}

// Close draws the plots a last time (if the run wrote any record) and
// closes metrics.jsonl.
func (r *RunFolder) Close() error {
	r.mu.Lock()
	m := r.metrics
	r.metrics = nil
	r.mu.Unlock()
	if m == nil {
		return nil
	}
	return errors.Join(r.Plots.Close(), m.Close())
}
