package sinks

import (
	"context"
	"fmt"
	"sync"

	"github.com/contrastream/contrastream/pipeline"
)

// Collect is an in-memory sink: a pipeline.Consumer[T] that keeps every
// record it receives, in arrival order (Items, Len). It is meant for
// examples and small results; memory grows with the stream. Safe for
// concurrent use (so it may run with Workers(n), in which case the order is
// the arrival order). The zero value is ready to use. (Tests use
// pipelinetest.Collected; this one does not link package testing into a
// binary.)
//
// Pooled records (a type with a Release method: stages.Decoded,
// stages.ViewSet, stages.Batch) are not kept as they come, since their
// buffers must go back to the pool (Tensorize stops after InFlight batches
// that nobody releases): Collect keeps a copy made by the type's
// Clone() T method and releases the original. A pooled type without such a
// method is refused when the run starts (Setup).
type Collect[T any] struct {
	mu    sync.Mutex
	items []T
}

type releaser interface{ Release() }

// Setup refuses a pooled record type that cannot be copied.
func (c *Collect[T]) Setup(context.Context) error {
	var zero T
	return c.check(zero)
}

func (c *Collect[T]) check(v T) error {
	if _, ok := any(v).(releaser); !ok {
		return nil
	}
	if _, ok := any(v).(interface{ Clone() T }); !ok {
		return pipeline.Fatal(fmt.Errorf("sinks: collect: %T records are pooled (they have a Release method) and "+
			"have no Clone() %T method to copy them: keeping them would hold buffers their pool needs back; "+
			"copy them in a stage before this sink, or consume them without keeping them", v, v))
	}
	return nil
}

// Consume implements pipeline.Consumer: it keeps v (or, for a pooled
// record, a copy of it, and releases v).
func (c *Collect[T]) Consume(_ context.Context, v T) error {
	if r, ok := any(v).(releaser); ok {
		cl, ok := any(v).(interface{ Clone() T })
		if !ok {
			return c.check(v)
		}
		w := cl.Clone()
		r.Release()
		v = w
	}
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
