package pipeline

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Key identifies a record by where it came from: a shard file and a row.
type Key struct {
	Shard string
	Row   int64
}

// String returns "shard#row".
func (k Key) String() string { return k.Shard + "#" + strconv.FormatInt(k.Row, 10) }

// Keyed is implemented by records that know their Key. Errors about such a
// record carry the key into RecordError and the dead-letter sink.
type Keyed interface {
	Key() Key
}

// RecordError is a failure of one record in one stage. The record is
// skipped and the run goes on.
type RecordError struct {
	Stage string
	Key   Key // zero when the record is not Keyed
	Err   error
}

func (e *RecordError) Error() string {
	if e.Key == (Key{}) {
		return fmt.Sprintf("pipeline: stage %q: %v", e.Stage, e.Err)
	}
	return fmt.Sprintf("pipeline: stage %q: record %s: %v", e.Stage, e.Key, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// DeadLetter is what the dead-letter writer receives for each bad record.
type DeadLetter struct {
	Pipeline string    `json:"pipeline"`
	Stage    string    `json:"stage"`
	Key      Key       `json:"key"`
	Reason   string    `json:"reason"`
	Time     time.Time `json:"time"`
}

// DeadLetterWriter receives bad records. Calls are serialized by the
// pipeline. If it also has Close() error, Run calls it once at the end.
type DeadLetterWriter interface {
	WriteDeadLetter(DeadLetter) error
}

// ErrBadRecordBudget is returned by Run when more records failed than
// WithBadRecordBudget allows.
var ErrBadRecordBudget = errors.New("pipeline: bad-record budget exceeded")

// ErrStopped is returned by a source's emit function after Stop: the source
// should return (returning ErrStopped itself is fine and is not an error).
var ErrStopped = errors.New("pipeline: stopped")

type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

// Fatal marks err as fatal: returned from Process, Consume or a source, it
// cancels the whole run, and Run returns it (wrapped with the stage name).
// Fatal(nil) is nil.
func Fatal(err error) error {
	if err == nil {
		return nil
	}
	return &fatalError{err: err}
}

// IsFatal reports whether err was marked with Fatal.
func IsFatal(err error) bool {
	var f *fatalError
	return errors.As(err, &f)
}

// PanicError is the fatal error a panic in a stage turns into.
type PanicError struct {
	Stage string
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("pipeline: stage %q panicked: %v\n%s", e.Stage, e.Value, e.Stack)
}

// StageError is how Run reports a fatal error: the stage it came from and
// the cause.
type StageError struct {
	Pipeline string
	Stage    string
	Err      error
}

func (e *StageError) Error() string {
	return fmt.Sprintf("pipeline %s: stage %q: %v", e.Pipeline, e.Stage, e.Err)
}

func (e *StageError) Unwrap() error { return e.Err }
