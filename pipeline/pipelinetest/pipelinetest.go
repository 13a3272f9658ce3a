// Package pipelinetest has in-memory sources and sinks for testing stages
// and pipelines, and RunStage, which runs one stage over a slice.
package pipelinetest

import (
	"context"
	"sync"
	"testing"

	"github.com/contrastream/contrastream/pipeline"
)

// Slice adds a source that emits items in order.
func Slice[T any](p *pipeline.Pipeline, name string, items []T) pipeline.Stream[T] {
	return pipeline.Source(p, name, pipeline.ProducerFunc[T](func(_ context.Context, emit func(T) error) error {
		for _, it := range items {
			if err := emit(it); err != nil {
				return err
			}
		}
		return nil
	}))
}

// Collected is an in-memory sink: a pipeline.Consumer[T] that keeps every
// record it receives, in arrival order. Safe for concurrent use; the zero
// value is ready to use. (sinks.Collect is the same for non-test code.)
type Collected[T any] struct {
	mu    sync.Mutex
	items []T
}

// Consume implements pipeline.Consumer.
func (c *Collected[T]) Consume(_ context.Context, v T) error {
	c.mu.Lock()
	c.items = append(c.items, v)
	c.mu.Unlock()
	return nil
}

// Items returns a copy of the records received so far, in arrival order.
func (c *Collected[T]) Items() []T {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]T(nil), c.items...)
}

// Len returns the number of records received so far.
func (c *Collected[T]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

// Collect adds a sink that keeps every record in memory.
func Collect[T any](p *pipeline.Pipeline, name string, s pipeline.Stream[T]) *Collected[T] {
	c := &Collected[T]{}
	pipeline.Sink[T](p, name, s, c)
	return c
}

// DeadLetters is an in-memory pipeline.DeadLetterWriter.
type DeadLetters struct {
	mu sync.Mutex
	l  []pipeline.DeadLetter
}

// WriteDeadLetter implements pipeline.DeadLetterWriter.
func (d *DeadLetters) WriteDeadLetter(x pipeline.DeadLetter) error {
	d.mu.Lock()
	d.l = append(d.l, x)
	d.mu.Unlock()
	return nil
}

// All returns the dead letters received so far.
func (d *DeadLetters) All() []pipeline.DeadLetter {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]pipeline.DeadLetter(nil), d.l...)
}

// Result is what RunStage observed.
type Result[Out any] struct {
	Out         []Out                 // emitted records, in arrival order
	DeadLetters []pipeline.DeadLetter // record errors, with keys
	Stats       pipeline.RunStats
	Err         error // what Run returned
}

// RunStage runs st in a pipeline Slice(inputs) → st → Collect and returns
// what came out. Use it to test wiring and error routing; test Process
// itself directly.
func RunStage[In, Out any](tb testing.TB, st pipeline.Stage[In, Out], inputs []In, opts ...pipeline.StageOption) Result[Out] {
	tb.Helper()
	dl := &DeadLetters{}
	p := pipeline.New(tb.Name(), pipeline.WithDeadLetter(dl))
	in := Slice(p, "input", inputs)
	out := pipeline.Apply(p, "stage", in, st, opts...)
	c := Collect(p, "output", out)
	err := p.Run(tb.Context())
	return Result[Out]{Out: c.Items(), DeadLetters: dl.All(), Stats: p.Stats(), Err: err}
}
