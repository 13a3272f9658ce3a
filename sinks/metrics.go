package sinks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// Metrics records: the training stage emits one per step and evaluation one
// per evaluation; MetricsJSONL, Prometheus and Plots take them. A record is
// any value that encoding/json marshals to an object (a struct with json
// tags, a Record, a map). The conventional keys, which Prometheus exports
// and Plots draws by default:
//
//	kind         "step" or "eval"
//	step, epoch  position of the run
//	loss, lr     training loss and learning rate
//	pairs_per_s  training throughput
//	data_wait    fraction of the step spent waiting for data
//	knn_top1, linear_top1   evaluation accuracy (0..1), at the top level
//	             or nested (the trainer's {"eval": {"knn_top1": …}} gives
//	             "eval.knn_top1", which Plots draws too)

// Record is a metrics record built by hand: a flat JSON object.
type Record map[string]any

// RecordWriter takes metrics records. WriteRecord must not keep v.
type RecordWriter interface {
	WriteRecord(v any) error
}

// NumericFields returns the numeric fields of a record (numbers and
// booleans as 0/1; NaN and ±Inf kept); nested objects are flattened with
// dotted keys ("eval.knn_top1"). A Record, map[string]any and
// map[string]float64 are read directly; any other value goes through
// encoding/json, so struct fields appear under their JSON names. It
// allocates the map (and the JSON round trip for structs).
func NumericFields(v any) (map[string]float64, error) {
	m, err := recordMap(v)
	if err != nil {
		return nil, err
	}
	return numeric(m), nil
}

// recordMap returns a record as a map: maps directly, other values through
// a JSON round trip.
func recordMap(v any) (map[string]any, error) {
	switch r := v.(type) {
	case Record:
		return r, nil
	case map[string]any:
		return r, nil
	case map[string]float64:
		m := make(map[string]any, len(r))
		for k, x := range r {
			m[k] = x
		}
		return m, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("sinks: metrics record: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, fmt.Errorf("sinks: metrics record %T is not a JSON object", v)
	}
	return m, nil
}

// numeric returns the numeric fields of m; nested objects are flattened
// with dotted keys ({"eval": {"knn_top1": 0.8}} gives "eval.knn_top1").
func numeric(m map[string]any) map[string]float64 {
	out := make(map[string]float64, len(m))
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, x := range m {
			switch v := x.(type) {
			case map[string]any:
				walk(prefix+k+".", v)
			case Record:
				walk(prefix+k+".", v)
			case map[string]float64:
				for k2, f := range v {
					out[prefix+k+"."+k2] = f
				}
			default:
				if f, ok := toFloat(x); ok {
					out[prefix+k] = f
				}
			}
		}
	}
	walk("", m)
	return out
}

// toFloat converts a JSON-ish number (or bool) to float64.
func toFloat(x any) (float64, bool) {
	switch v := x.(type) {
	case float64:
		return v, true
	case float32:
		return float64(v), true
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case int32:
		return float64(v), true
	case uint64:
		return float64(v), true
	case uint32:
		return float64(v), true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	case bool:
		if v {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// MetricsJSONL writes metrics records as JSON lines (metrics.jsonl): one
// object per record, each line written with a single write call as soon as
// it arrives (so `tail -f` follows the run, and a crash loses at most the
// line being written). NaN and ±Inf float fields of a Record or map are
// written as null (JSON has no such numbers); a struct holding them is an
// error. It is safe for concurrent use; lines never interleave. Each record
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

// WriteRecord writes v as one line.
func (m *MetricsJSONL) WriteRecord(v any) error {
	b, err := marshalRecord(v)
	if err != nil {
		return err
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

// marshalRecord encodes v, writing non-finite floats of maps as null.
func marshalRecord(v any) ([]byte, error) {
	var m map[string]any
	switch r := v.(type) {
	case Record:
		m = r
	case map[string]any:
		m = r
	case map[string]float64:
		m = make(map[string]any, len(r))
		for k, x := range r {
			m[k] = x
		}
	}
	if m != nil {
		var fixed map[string]any
		for k, x := range m {
			if f, ok := x.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
				if fixed == nil {
					fixed = make(map[string]any, len(m))
					for k2, x2 := range m {
						fixed[k2] = x2
					}
				}
				fixed[k] = nil
			}
		}
		if fixed != nil {
			m = fixed
		}
		v = m
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("sinks: metrics record: %w", err)
	}
	if len(b) == 0 || b[0] != '{' {
		return nil, fmt.Errorf("sinks: metrics record %T is not a JSON object", v)
	}
	return b, nil
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

// Metrics is a pipeline.Consumer[T] that hands every record to each of
// Writers in turn (MetricsJSONL, Prometheus, Plots or your own). T is the
// record type, e.g. the trainer's step record:
//
//	pipeline.Sink(p, "metrics", steps, sinks.Metrics[train.Step]{Writers: []sinks.RecordWriter{jsonl, prom, plots}})
//
// A failed write is a record error (the run goes on, the failure is counted
// and dead-lettered). Close closes every writer that has a Close() error
// method, in order, and returns the first error. It is safe for concurrent
// use if the writers are.
type Metrics[T any] struct {
	Writers []RecordWriter
}

// Consume writes in to every writer; it returns the first error, after
// trying them all.
func (m Metrics[T]) Consume(_ context.Context, in T) error {
	var first error
	for _, w := range m.Writers {
		if err := w.WriteRecord(in); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Close closes the writers that can be closed.
func (m Metrics[T]) Close(context.Context) error {
	var first error
	for _, w := range m.Writers {
		if c, ok := w.(io.Closer); ok {
			if err := c.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
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
