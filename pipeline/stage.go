package pipeline

import "context"

// Stage turns one In into zero or more Outs by calling emit. It must be safe
// for concurrent use under Workers(n > 1), and it must not modify in.
// A returned error fails this record only (see RecordError), unless it is
// wrapped with Fatal. emit blocks while downstream is busy; after the run is
// cancelled it drops its argument and returns at once.
//
// Optional methods, found by type assertion:
//
//	Setup(ctx context.Context) error                         // before the first record
//	Flush(ctx context.Context, emit func(Out)) error          // once, after the input ends
//	Teardown() error                                          // after the stage has stopped
//
// A stage with Flush holds state and must run with one worker.
type Stage[In, Out any] interface {
	Process(ctx context.Context, in In, emit func(Out)) error
}

// Producer is a source of records. Produce emits records until it is done
// and returns nil, or returns an error, which is fatal to the run. emit
// returns an error once the run is cancelled (ctx's error) or stopped
// (ErrStopped): Produce should then return, and returning that error is fine.
type Producer[T any] interface {
	Produce(ctx context.Context, emit func(T) error) error
}

// ProducerFunc adapts a function to Producer.
type ProducerFunc[T any] func(ctx context.Context, emit func(T) error) error

// Produce calls f.
func (f ProducerFunc[T]) Produce(ctx context.Context, emit func(T) error) error { return f(ctx, emit) }

// Consumer is the end of a stream. Consume is called for every record, from
// one goroutine unless the sink was given Workers(n > 1). A returned error
// fails that record only, unless wrapped with Fatal.
//
// Optional methods: Setup(ctx) error before the first record; Close(ctx) error
// once after the input ends (also after cancellation: check ctx.Err()).
type Consumer[T any] interface {
	Consume(ctx context.Context, in T) error
}

// ConsumerFunc adapts a function to Consumer.
type ConsumerFunc[T any] func(ctx context.Context, in T) error

// Consume calls f.
func (f ConsumerFunc[T]) Consume(ctx context.Context, in T) error { return f(ctx, in) }

// Func adapts a plain one-to-one function to a Stage. An error fails the
// record, as for any stage.
func Func[In, Out any](f func(In) (Out, error)) Stage[In, Out] { return funcStage[In, Out](f) }

type funcStage[In, Out any] func(In) (Out, error)

func (f funcStage[In, Out]) Process(_ context.Context, in In, emit func(Out)) error {
	out, err := f(in)
	if err != nil {
		return err
	}
	emit(out)
	return nil
}

type setuper interface {
	Setup(ctx context.Context) error
}
type teardowner interface{ Teardown() error }
type closer interface {
	Close(ctx context.Context) error
}
type flusher[Out any] interface {
	Flush(ctx context.Context, emit func(Out)) error
}
