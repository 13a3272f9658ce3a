package sinks

import (
	"context"
	"sync"
)

// Collect is an in-memory sink: a pipeline.Consumer[T] that keeps every
// record it receives, in arrival order. It is meant for tests, examples and
// small results; memory grows with the stream. Safe for concurrent use (so it
// may run with Workers(n), in which case the order is the arrival order).
// The zero value is ready to use.
type Collect[T any] struct {
	mu    sync.Mutex
	items []T
}

// Consume appends in.
func (c *Collect[T]) Consume(_ context.Context, in T) error {
	c.mu.Lock()
	c.items = append(c.items, in)
	c.mu.Unlock()
	return nil
}

// Items returns a copy of the records received so far.
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
