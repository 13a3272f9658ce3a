package sinks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
//	DIR/bad-records.jsonl                            skipped records: shard, row, stage, reason (made only when one fails)
//	DIR/run.lock                                     flock'd while a run writes here (Checkpointer.Lock)
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

// BadRecordsName is the dead-letter file of a run folder.
const BadRecordsName = "bad-records.jsonl"

// Options returns train.Options that save checkpoints and metrics here and
// send bad records to DIR/bad-records.jsonl, plus the extra metrics sinks
// (a Progress, a Prometheus, ...).
func (r *RunFolder) Options(extra ...train.Metrics) train.Options {
	return train.Options{Store: r.Checkpoints, Metrics: append([]train.Metrics{r, r.Plots}, extra...),
		DeadLetters: JSONL(filepath.Join(r.Dir, BadRecordsName))}
}

// Start creates the folder and opens metrics.jsonl for appending. A run
// resumed from step N continues after the records of step N: the lines of
// later steps (written after the checkpoint it resumes from, and about to
// be made again) move to metrics-superseded.jsonl, so metrics.jsonl never
// repeats a step and nothing written is lost.
func (r *RunFolder) Start(info train.Info) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.metrics != nil {
		return nil
	}
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return fmt.Errorf("sinks: run folder: %w", err)
	}
	path := filepath.Join(r.Dir, "metrics.jsonl")
	if err := supersede(path, filepath.Join(r.Dir, "metrics-superseded.jsonl"), info.StartStep); err != nil {
		return err
	}
	m, err := NewMetricsJSONL(path)
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

// supersede moves the lines of path whose "step" is after step to the end
// of old (appended), rewriting path atomically with the rest. Lines that do
// not parse stay where they are.
func supersede(path, old string, step int) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sinks: run folder: %w", err)
	}
	var keep, moved []byte
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i+1], b[i+1:]
		} else {
			b = nil
		}
		var rec struct {
			Step *int `json:"step"`
		}
		if json.Unmarshal(bytes.TrimSpace(line), &rec) == nil && rec.Step != nil && *rec.Step > step {
			moved = append(moved, line...)
		} else {
			keep = append(keep, line...)
		}
	}
	if len(moved) == 0 {
		return nil
	}
	if moved[len(moved)-1] != '\n' {
		moved = append(moved, '\n')
	}
	f, err := os.OpenFile(old, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("sinks: run folder: %w", err)
	}
	_, err = f.Write(moved)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sinks: run folder: %w", err)
	}
	if err := WriteFileAtomic(path, func(w io.Writer) error { _, err := w.Write(keep); return err }); err != nil {
		return fmt.Errorf("sinks: run folder: %w", err)
	}
	return nil
}
