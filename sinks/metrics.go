package sinks

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/contrastream/contrastream/stages/train"
)

// Metrics sinks take a training run's typed records (*train.Step,
// *train.Eval): MetricsJSONL, Prometheus, Plots and Progress all implement
// train.Metrics. Their numeric fields, under the records' JSON names, are
// what StepFields and EvalFields give:
//
//	step, epoch  position of the run
//	loss, lr     training loss and learning rate
//	pairs_per_s  training throughput
//	data_wait    fraction of the step spent waiting for data
//	knn_top1, linear_top1, eval_seconds   an evaluation (0..1 accuracy)

// Field is one numeric field of a metrics record.
type Field struct {
	Name  string
	Value float64
}

// StepFields appends the numeric fields of a step record to dst.
func StepFields(dst []Field, s *train.Step) []Field {
	return append(dst,
		Field{"step", float64(s.Step)}, Field{"epoch", float64(s.Epoch)}, Field{"loss", s.Loss}, Field{"lr", s.LR},
		Field{"pos_sim", s.PosSim}, Field{"neg_sim", s.NegSim}, Field{"contrastive_acc", s.Accuracy},
		Field{"grad_norm", s.GradNorm}, Field{"pairs", float64(s.Pairs)}, Field{"step_seconds", s.Seconds},
		Field{"wait_seconds", s.Wait}, Field{"data_wait", s.DataWait}, Field{"pairs_per_s", s.PairsPerS})
}

// EvalFields appends the numeric fields of an evaluation record to dst
// (linear_top1 only when the evaluation has a linear probe).
func EvalFields(dst []Field, e *train.Eval) []Field {
	dst = append(dst, Field{"step", float64(e.Step)}, Field{"epoch", float64(e.Epoch)}, Field{"knn_top1", e.KNNTop1})
	if e.HasLinear {
		dst = append(dst, Field{"linear_top1", e.LinearTop1})
	}
	return append(dst, Field{"eval_seconds", e.Seconds})
}

// stepLine and evalLine are the JSON lines of metrics.jsonl.
type stepLine struct {
	Type string `json:"type"` // "step"
	*train.Step
}

type evalLine struct {
	Type string `json:"type"` // "eval"
	*train.Eval
}

// MetricsJSONL writes metrics records as JSON lines (metrics.jsonl): one
// object per record, each line written with a single write call as soon as
// it arrives (so `tail -f` follows the run, and a crash loses at most the
// line being written). A record holding NaN or ±Inf (JSON has no such
// numbers) is an error. It implements train.Metrics and is safe for concurrent use; lines never interleave. Each record
// allocates its encoding.
type MetricsJSONL struct {
	mu     sync.Mutex
	w      io.Writer
	f      *os.File // owned, closed by Close; nil for MetricsJSONLTo
	n      int64
	closed bool
}

// NewMetricsJSONL opens path for appending (creating it and its folder), so
// a resumed run continues the same file.
func NewMetricsJSONL(path string) (*MetricsJSONL, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("sinks: metrics: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("sinks: metrics: %w", err)
	}
	return &MetricsJSONL{w: f, f: f}, nil
}

// MetricsJSONLTo writes the lines to w (not closed by Close).
func MetricsJSONLTo(w io.Writer) *MetricsJSONL { return &MetricsJSONL{w: w} }

// WriteStep writes s as one line, {"type": "step", ...} with the fields
// under their JSON names.
func (m *MetricsJSONL) WriteStep(s *train.Step) error { return m.write(stepLine{"step", s}) }

// WriteEval writes e as one line, {"type": "eval", "step", "epoch",
// "knn_top1", ...}.
func (m *MetricsJSONL) WriteEval(e *train.Eval) error { return m.write(evalLine{"eval", e}) }

func (m *MetricsJSONL) write(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("sinks: metrics record: %w", err)
	}
	b = append(b, '\n')
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("sinks: metrics: write after Close")
	}
	if _, err := m.w.Write(b); err != nil {
		return fmt.Errorf("sinks: metrics: %w", err)
	}
	m.n++
	return nil
}

// Count returns the number of lines written.
func (m *MetricsJSONL) Count() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n
}

// Close fsyncs and closes the file (for NewMetricsJSONL). Later writes fail.
// A second Close is a no-op.
func (m *MetricsJSONL) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	if m.f == nil {
		return nil
	}
	err := m.f.Sync()
	if cerr := m.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sinks: metrics: %w", err)
	}
	return nil
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
