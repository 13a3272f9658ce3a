// Package pipeline is contrastream's dataflow core: typed streams of records
// between stages, built first and then run, on top of go-streams.
//
// A pipeline is built with New, Source, Apply, Via and Sink; building starts
// no goroutine. Run starts every goroutine, owns them, and returns only after
// all have stopped:
//
//	p := pipeline.New("simclr", pipeline.WithDeadLetter(dl), pipeline.WithBadRecordBudget(0.001))
//	rows := pipeline.Source(p, "read", src)                       // Stream[*sources.Sample]
//	imgs := pipeline.Apply(p, "decode", rows, &stages.Decode{}, pipeline.Workers(8), pipeline.Ordered())
//	pipeline.Sink(p, "collect", imgs, sink)
//	err := p.Run(ctx)
//
// Every stage is wired as a go-streams streams.Flow (so Via can insert any
// go-streams operator between typed stages); this package adds what
// go-streams lacks: element types checked at build time, errors with a route,
// context cancellation, ordered parallelism and per-stage metrics.
//
// # Errors
//
// An error returned from Process or Consume fails that record only: it is
// wrapped in a *RecordError (with the record's Key when the record is Keyed),
// counted, and sent to the dead-letter writer. WithBadRecordBudget turns too
// many of them into a failed run (ErrBadRecordBudget). An error wrapped with
// Fatal, any error returned by a source, and any panic (as a *PanicError
// with its stack) cancel the run; Run returns the first of them, naming the
// stage. Nothing is logged once per record.
//
// # Cancellation and stopping
//
// Cancelling Run's context stops sources, lets every stage drain its input
// without processing it, and returns ctx's error. Stop ends a run gently:
// sources stop emitting, and everything already emitted flows to the sinks.
//
// # Ownership
//
// A record emitted into a stream belongs to the stream's consumers, which
// treat it as read-only. Some records are pooled: their type has a Release
// method (stages.Decoded, stages.ViewSet, stages.Batch), and the one stage
// that consumes them hands their buffers back to a pool for the next record
// (Views releases what Decode gives, Tensorize what Views gives, the
// Trainer each Batch). A second consumer of such a stream would read
// buffers already reused, so the builder refuses it: Apply, Via or Sink on
// a stream of pooled records that has a consumer already panics, naming
// both consumers and the type. To give pooled records to several
// consumers, read them through Tee, which hands each consumer after the
// first its own copy:
//
//	views := pipeline.Apply(p, "views", imgs, &stages.Views{...})
//	both := pipeline.Tee(p, "views-copy", views, (*stages.ViewSet).Clone)
//	batches := pipeline.Apply(p, "tensorize", both, &stages.Tensorize{...}) // releases the originals
//	pipeline.Sink(p, "preview", both, preview)                              // gets copies
//
// The check goes by type, when the graph is built: a record type with a
// Release method is pooled, whatever stage made it. A sink that keeps
// records (sinks.Collect) copies pooled ones and releases the originals.
//
// # Determinism
//
// Records carry their own identity; RNG and SeedPCG derive a random source
// from (seed, keys...) so random choices do not depend on scheduling. With
// Ordered, a parallel stage emits in input order for any number of workers.
package pipeline
