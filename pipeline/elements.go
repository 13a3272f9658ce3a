package pipeline

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	streams "github.com/reugn/go-streams"
)

// transmit copies out into in and closes in, as go-streams' operators do.
// Every consumer drains its input to the end, so this never blocks forever.
func transmit(out <-chan any, in chan<- any) {
	for v := range out {
		in <- v
	}
	close(in)
}

// call runs f, turning a panic into a *PanicError.
func call(stage string, f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = Fatal(&PanicError{Stage: stage, Value: v, Stack: debug.Stack()})
		}
	}()
	return f()
}

// ---- sources ----

type sourceElem[T any] struct {
	r    *run
	n    *node
	prod Producer[T]
	out  chan any
}

func newSourceElem[T any](r *run, n *node, prod Producer[T]) *sourceElem[T] {
	return &sourceElem[T]{r: r, n: n, prod: prod, out: make(chan any)}
}

func (s *sourceElem[T]) Out() <-chan any { return s.out }

// Via implements streams.Source.
func (s *sourceElem[T]) Via(f streams.Flow) streams.Flow {
	s.r.spawn(func() { transmit(s.out, f.In()) })
	return f
}

func (s *sourceElem[T]) setup(ctx context.Context) error { return setupOf(ctx, s.prod) }
func (s *sourceElem[T]) teardown() error                 { return teardownOf(s.prod) }

func (s *sourceElem[T]) start() {
	r, st := s.r, &s.n.stats
	emit := func(v T) error {
		select {
		case <-r.p.stopCh:
			return ErrStopped
		default:
		}
		t := time.Now()
		select {
		case s.out <- v:
		case <-r.ctx.Done():
			return r.ctx.Err()
		case <-r.p.stopCh:
			return ErrStopped
		}
		st.waitOut.Add(int64(time.Since(t)))
		st.out.Add(1)
		r.records.Add(1)
		return nil
	}
	r.spawn(func() {
		defer close(s.out)
		t := time.Now()
		err := call(s.n.name, func() error { return s.prod.Produce(r.ctx, emit) })
		st.busy.Add(int64(time.Since(t)) - st.waitOut.Load())
		switch {
		case err == nil, err == ErrStopped: //nolint:errorlint // sentinel returned as is
		case r.ctx.Err() != nil && (err == r.ctx.Err() || !IsFatal(err)): //nolint:errorlint
			// cancelled: the source only reports that
		default:
			r.fail(s.n.name, err)
		}
	})
}

// ---- stages ----

type stageElem[In, Out any] struct {
	r   *run
	n   *node
	st  Stage[In, Out]
	in  chan any
	out chan any
}

func newStageElem[In, Out any](r *run, n *node, st Stage[In, Out]) *stageElem[In, Out] {
	return &stageElem[In, Out]{r: r, n: n, st: st, in: make(chan any), out: make(chan any)}
}

func (s *stageElem[In, Out]) In() chan<- any  { return s.in }
func (s *stageElem[In, Out]) Out() <-chan any { return s.out }

// Via implements streams.Flow.
func (s *stageElem[In, Out]) Via(f streams.Flow) streams.Flow {
	s.r.spawn(func() { transmit(s.out, f.In()) })
	return f
}

// To implements streams.Flow.
func (s *stageElem[In, Out]) To(sink streams.Sink) {
	transmit(s.out, sink.In())
	sink.AwaitCompletion()
}

func (s *stageElem[In, Out]) setup(ctx context.Context) error { return setupOf(ctx, s.st) }
func (s *stageElem[In, Out]) teardown() error                 { return teardownOf(s.st) }

// emitter returns an emit function that sends to out and accounts the time
// blocked in *blocked (owned by one goroutine).
func (s *stageElem[In, Out]) emitter(blocked *time.Duration) func(Out) {
	r, st := s.r, &s.n.stats
	return func(v Out) {
		t := time.Now()
		select {
		case s.out <- v:
			st.out.Add(1)
		case <-r.ctx.Done():
		}
		*blocked += time.Since(t)
	}
}

// process runs the stage on one record with accounting and error routing.
func (s *stageElem[In, Out]) process(v any, emit func(Out), blocked *time.Duration) {
	r, st := s.r, &s.n.stats
	x, ok := v.(In)
	if !ok {
		var want In
		r.fail(s.n.name, fmt.Errorf("pipeline: got a %T, want %T", v, want))
		return
	}
	key := keyOf(x) // before Process: a stage that releases its input may clear it
	b0 := *blocked
	t := time.Now()
	err := call(s.n.name, func() error { return s.st.Process(r.ctx, x, emit) })
	st.busy.Add(int64(time.Since(t) - (*blocked - b0)))
	st.waitOut.Add(int64(*blocked - b0))
	s.route(key, err)
}

// keyOf returns the Key of a Keyed record (the zero Key otherwise). It is
// taken before the record goes into Process or Consume, because a stage that
// releases (recycles) its input may clear what Key reads; a Key method that
// panics on such a record gives the zero Key, not a crash.
func keyOf(v any) (k Key) {
	kd, ok := v.(Keyed)
	if !ok {
		return Key{}
	}
	defer func() {
		if recover() != nil {
			k = Key{}
		}
	}()
	return kd.Key()
}

func (s *stageElem[In, Out]) route(key Key, err error) {
	if err == nil {
		return
	}
	if IsFatal(err) {
		s.r.fail(s.n.name, err)
		return
	}
	if s.r.ctx.Err() != nil {
		return // errors after cancellation are its echoes
	}
	s.r.recordError(s.n, key, err)
}

// receive waits for the next input, accounting the wait.
func (s *stageElem[In, Out]) receive() (any, bool) {
	t := time.Now()
	v, ok := <-s.in
	if ok {
		st := &s.n.stats
		st.waitIn.Add(int64(time.Since(t)))
		st.in.Add(1)
	}
	return v, ok
}

func (s *stageElem[In, Out]) start() {
	if s.n.cfg.ordered && s.n.cfg.workers > 1 {
		s.startOrdered()
		return
	}
	var wg sync.WaitGroup
	for range s.n.cfg.workers {
		wg.Add(1)
		s.r.spawn(func() {
			defer wg.Done()
			var blocked time.Duration
			emit := s.emitter(&blocked)
			for {
				v, ok := s.receive()
				if !ok {
					return
				}
				if s.r.ctx.Err() != nil {
					continue // cancelled: drain
				}
				s.process(v, emit, &blocked)
			}
		})
	}
	s.r.spawn(func() {
		wg.Wait()
		defer close(s.out)
		s.flush()
	})
}

func (s *stageElem[In, Out]) flush() {
	f, ok := s.st.(flusher[Out])
	if !ok || s.r.ctx.Err() != nil {
		return
	}
	var blocked time.Duration
	emit := s.emitter(&blocked)
	t := time.Now()
	err := call(s.n.name, func() error { return f.Flush(s.r.ctx, emit) })
	s.n.stats.busy.Add(int64(time.Since(t) - blocked))
	s.n.stats.waitOut.Add(int64(blocked))
	if err != nil {
		s.r.fail(s.n.name, fmt.Errorf("flush: %w", err))
	}
}

// job is one record in flight through an ordered parallel stage.
type job[In, Out any] struct {
	seq  int64
	in   any
	key  Key // of in, taken before Process
	outs []Out
	err  error
}

// startOrdered runs workers in parallel and a reorder buffer that emits each
// record's outputs in input order. At most 4×workers records are in flight.
func (s *stageElem[In, Out]) startOrdered() {
	r, n := s.r, s.n.cfg.workers
	window := 4 * n
	jobs := make(chan *job[In, Out])
	results := make(chan *job[In, Out], window)
	slots := make(chan struct{}, window)
	pool := sync.Pool{New: func() any { return new(job[In, Out]) }}

	r.spawn(func() { // dispatcher
		defer close(jobs)
		var seq int64
		for {
			v, ok := s.receive()
			if !ok {
				return
			}
			if r.ctx.Err() != nil {
				continue
			}
			select {
			case slots <- struct{}{}:
			case <-r.ctx.Done():
				continue
			}
			j := pool.Get().(*job[In, Out])
			j.seq, j.in, j.outs, j.err = seq, v, j.outs[:0], nil
			seq++
			jobs <- j
		}
	})
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		r.spawn(func() {
			defer wg.Done()
			var cur *job[In, Out]
			var blocked time.Duration // always 0: workers append, the reorderer sends
			collect := func(o Out) { cur.outs = append(cur.outs, o) }
			for j := range jobs {
				cur = j
				x, ok := j.in.(In)
				if !ok {
					var want In
					r.fail(s.n.name, fmt.Errorf("pipeline: got a %T, want %T", j.in, want))
				} else if r.ctx.Err() == nil {
					j.key = keyOf(x)
					t := time.Now()
					j.err = call(s.n.name, func() error { return s.st.Process(r.ctx, x, collect) })
					s.n.stats.busy.Add(int64(time.Since(t) - blocked))
				}
				results <- j
			}
		})
	}
	r.spawn(func() {
		wg.Wait()
		close(results)
	})
	r.spawn(func() { // reorderer
		defer close(s.out)
		var blocked time.Duration
		emit := s.emitter(&blocked)
		pending := map[int64]*job[In, Out]{}
		var next int64
		for j := range results {
			pending[j.seq] = j
			for {
				jj, ok := pending[next]
				if !ok {
					break
				}
				delete(pending, next)
				next++
				b0 := blocked
				for _, o := range jj.outs {
					emit(o)
				}
				s.n.stats.waitOut.Add(int64(blocked - b0))
				s.route(jj.key, jj.err)
				clear(jj.outs)
				jj.in, jj.key = nil, Key{}
				pool.Put(jj)
				<-slots
			}
		}
	})
}

// ---- via: a go-streams operator followed by a type check ----

type viaElem[Out any] struct {
	gs    streams.Flow
	check *stageElem[any, Out]
}

func newViaElem[Out any](r *run, n *node, mk func() streams.Flow) *viaElem[Out] {
	check := Func(func(v any) (Out, error) {
		o, ok := v.(Out)
		if !ok {
			return o, Fatal(fmt.Errorf("pipeline: go-streams operator emitted a %T, want %T", v, o))
		}
		return o, nil
	})
	return &viaElem[Out]{gs: mk(), check: newStageElem[any, Out](r, n, check)}
}

func (v *viaElem[Out]) In() chan<- any                  { return v.gs.In() }
func (v *viaElem[Out]) Out() <-chan any                 { return v.check.Out() }
func (v *viaElem[Out]) Via(f streams.Flow) streams.Flow { return v.check.Via(f) }
func (v *viaElem[Out]) To(sink streams.Sink)            { v.check.To(sink) }
func (v *viaElem[Out]) setup(context.Context) error     { return nil }
func (v *viaElem[Out]) teardown() error                 { return nil }
func (v *viaElem[Out]) start() {
	v.check.start()
	v.gs.Via(v.check) // go-streams starts its own transmit goroutine
}

// ---- sinks ----

type sinkElem[T any] struct {
	r    *run
	n    *node
	c    Consumer[T]
	in   chan any
	done chan struct{}
}

func newSinkElem[T any](r *run, n *node, c Consumer[T]) *sinkElem[T] {
	return &sinkElem[T]{r: r, n: n, c: c, in: make(chan any), done: make(chan struct{})}
}

func (s *sinkElem[T]) In() chan<- any                  { return s.in }
func (s *sinkElem[T]) AwaitCompletion()                { <-s.done }
func (s *sinkElem[T]) setup(ctx context.Context) error { return setupOf(ctx, s.c) }
func (s *sinkElem[T]) teardown() error                 { return teardownOf(s.c) }

func (s *sinkElem[T]) start() {
	r, st := s.r, &s.n.stats
	// A sink reuses the stage machinery: a stage with no output.
	stage := &stageElem[T, struct{}]{r: r, n: s.n, in: s.in}
	var wg sync.WaitGroup
	for range s.n.cfg.workers {
		wg.Add(1)
		r.spawn(func() {
			defer wg.Done()
			for {
				v, ok := stage.receive()
				if !ok {
					return
				}
				if r.ctx.Err() != nil {
					continue
				}
				x, ok := v.(T)
				if !ok {
					var want T
					r.fail(s.n.name, fmt.Errorf("pipeline: got a %T, want %T", v, want))
					continue
				}
				key := keyOf(x)
				t := time.Now()
				err := call(s.n.name, func() error { return s.c.Consume(r.ctx, x) })
				st.busy.Add(int64(time.Since(t)))
				if err == nil {
					st.out.Add(1)
				}
				stage.route(key, err)
			}
		})
	}
	r.spawn(func() {
		defer close(s.done)
		wg.Wait()
		if c, ok := s.c.(closer); ok {
			t := time.Now()
			if err := call(s.n.name, func() error { return c.Close(r.ctx) }); err != nil {
				r.fail(s.n.name, fmt.Errorf("close: %w", err))
			}
			st.busy.Add(int64(time.Since(t)))
		}
	})
}

func setupOf(ctx context.Context, v any) error {
	if s, ok := v.(setuper); ok {
		return s.Setup(ctx)
	}
	return nil
}

func teardownOf(v any) error {
	if t, ok := v.(teardowner); ok {
		return t.Teardown()
	}
	return nil
}
