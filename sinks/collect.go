package sinks

import (
	"context"
	"sync"
)

// Collect is an in-memory sink: a pipeline.Consumer[T] that keeps every
// record it receives, in arrival order (Items, Len). It is meant for
// examples and small results; memory grows with the stream. Safe for
// concurrent use (so it may run with Workers(n), in which case the order is
// the arrival order). The zero value is ready to use. (Tests use
// pipelinetest.Collected, which is the same thing; this one does not link
// package testing into a binary.)
//
// Records are kept as emitted: do not collect a stream whose records a
// consumer releases to a pool (stages.Batch, stages.ViewSet), or copy them
// first.
type Collect[T any] struct {
	mu    sync.Mutex
	items []T
}

// Consume implements pipeline.Consumer.
func (c *Collect[T]) Consume(_ context.Context, v T) error {
	c.mu.Lock()
	c.items = append(c.items, v)
	c.mu.Unlock()
	return nil
}

// Items returns a copy of the records received so far, in arrival order.
func (c *Collect[T]) Items() []T {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]T(nil), c.items...)
}

// Len returns the number of records received so far.
func (c *Collect[T]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}
