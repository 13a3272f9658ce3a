package sinks

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/contrastream/contrastream/pipeline"
)

// DeadLetterRecord is one line of a dead-letter JSONL file.
type DeadLetterRecord struct {
	Time     time.Time `json:"time"`
	Pipeline string    `json:"pipeline"`
	Stage    string    `json:"stage"`
	Shard    string    `json:"shard"`
	Row      int64     `json:"row"`
	Reason   string    `json:"reason"`
}

// DeadLetters is a pipeline.DeadLetterWriter that writes one JSON object per
// line: {"time", "pipeline", "stage", "shard", "row", "reason"} (time in RFC
// 3339 with nanoseconds, UTC). Lines are buffered (64 KiB) and written in
// the order of the calls; Close flushes them and closes the file. It is safe
// for concurrent use. WriteDeadLetter allocates (JSON encoding) — fine for
// bad records, which are rare by design.
type DeadLetters struct {
	mu     sync.Mutex
	path   string
	file   *os.File // nil when writing to a caller's io.Writer
	w      *bufio.Writer
	enc    *json.Encoder
	n      int64
	err    error
	closed bool
}

// JSONL returns a dead-letter writer that appends to the file at path,
// creating it (and its folder) on the first dead letter, so a clean run
// leaves no file behind. Use it as pipeline.WithDeadLetter(sinks.JSONL(path)).
func JSONL(path string) *DeadLetters { return &DeadLetters{path: path} }

// JSONLTo returns a dead-letter writer that writes to w (not closed by Close).
func JSONLTo(w io.Writer) *DeadLetters {
	d := &DeadLetters{w: bufio.NewWriterSize(w, 64<<10)}
	d.enc = json.NewEncoder(d.w)
	d.enc.SetEscapeHTML(false)
	return d
}

// WriteDeadLetter writes dl as one line. Errors are sticky.
func (d *DeadLetters) WriteDeadLetter(dl pipeline.DeadLetter) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return d.err
	}
	if d.closed {
		return errors.New("sinks: dead letters: write after Close")
	}
	if d.w == nil {
		if err := os.MkdirAll(filepath.Dir(d.path), 0o755); err != nil {
			d.err = fmt.Errorf("sinks: dead letters: %w", err)
			return d.err
		}
		f, err := os.OpenFile(d.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			d.err = fmt.Errorf("sinks: dead letters: %w", err)
			return d.err
		}
		d.file = f
		d.w = bufio.NewWriterSize(f, 64<<10)
		d.enc = json.NewEncoder(d.w)
		d.enc.SetEscapeHTML(false)
	}
	t := dl.Time
	if t.IsZero() {
		t = time.Now()
	}
	rec := DeadLetterRecord{Time: t.UTC(), Pipeline: dl.Pipeline, Stage: dl.Stage,
		Shard: dl.Key.Shard, Row: dl.Key.Row, Reason: dl.Reason}
	if err := d.enc.Encode(&rec); err != nil {
		d.err = fmt.Errorf("sinks: dead letters: %w", err)
		return d.err
	}
	d.n++
	return nil
}

// Count returns the number of dead letters written.
func (d *DeadLetters) Count() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

// Flush writes the buffered lines out (without fsync).
func (d *DeadLetters) Flush() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.flush()
}

func (d *DeadLetters) flush() error {
	if d.err != nil || d.w == nil {
		return d.err
	}
	if err := d.w.Flush(); err != nil {
		d.err = fmt.Errorf("sinks: dead letters: %w", err)
	}
	return d.err
}

// Close flushes the buffered lines and closes the file (when JSONL opened
// one). It returns the first error of the writer's life. Calling it again
// returns nil.
func (d *DeadLetters) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	err := d.flush()
	if d.file != nil {
		if cerr := d.file.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("sinks: dead letters: %w", cerr)
		}
	}
	return err
}

// ReadDeadLetters reads a dead-letter JSONL file back (for tests and tools).
// A missing file means no dead letters: it returns nil, nil.
func ReadDeadLetters(path string) ([]DeadLetterRecord, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sinks: dead letters: %w", err)
	}
	defer f.Close()
	var out []DeadLetterRecord
	dec := json.NewDecoder(f)
	for {
		var r DeadLetterRecord
		if err := dec.Decode(&r); err == io.EOF {
			return out, nil
		} else if err != nil {
			return out, fmt.Errorf("sinks: dead letters: %s line %d: %w", path, len(out)+1, err)
		}
		out = append(out, r)
	}
}
