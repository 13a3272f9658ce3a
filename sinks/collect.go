package sinks

import "github.com/contrastream/contrastream/pipeline/pipelinetest"

// Collect is an in-memory sink: a pipeline.Consumer[T] that keeps every
// record it receives, in arrival order (Items, Len). It is meant for tests,
// examples and small results; memory grows with the stream. Safe for
// concurrent use (so it may run with Workers(n), in which case the order is
// the arrival order). The zero value is ready to use. It is the same type as
// pipelinetest.Collected, which the pipeline's own tests use.
type Collect[T any] = pipelinetest.Collected[T]
