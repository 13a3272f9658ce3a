package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	streams "github.com/reugn/go-streams"
	"github.com/reugn/go-streams/flow"
)

// Pipeline is a graph of typed stages, built first and then run once.
// Build it from one goroutine; Run, Stop and Stats are safe for concurrent use.
type Pipeline struct {
	name       string
	log        *slog.Logger
	deadLetter DeadLetterWriter
	budget     float64 // < 0: no budget

	nodes []*node
	names map[string]bool

	started  atomic.Bool
	stopOnce sync.Once
	stopCh   chan struct{}
	startAt  atomic.Int64 // unix ns of Run's start
	endAt    atomic.Int64 // unix ns of Run's end, 0 while running
}

// New returns an empty pipeline. It starts no goroutine.
func New(name string, opts ...Option) *Pipeline {
	p := &Pipeline{
		name:   name,
		log:    slog.Default(),
		budget: -1,
		names:  map[string]bool{},
		stopCh: make(chan struct{}),
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Name returns the pipeline's name.
func (p *Pipeline) Name() string { return p.name }

// Stream is a typed stream of records between two stages. A Stream used as
// the input of several stages or sinks is fanned out: each gets every record
// (the same value: treat records as read-only once emitted). A stream of
// pooled records (a type with a Release method) has one consumer, unless it
// comes from Tee: see "Ownership" in the package documentation.
type Stream[T any] struct {
	p *Pipeline
	n *node
}

// Pipeline returns the pipeline the stream belongs to.
func (s Stream[T]) Pipeline() *Pipeline { return s.p }

type nodeKind int

const (
	kindSource nodeKind = iota
	kindStage
	kindVia
	kindSink
)

func (k nodeKind) String() string {
	return [...]string{"source", "stage", "via", "sink"}[k]
}

// node is one vertex of the graph. elem builds its runtime element for a run.
type node struct {
	name      string
	kind      nodeKind
	up        *node
	consumers []*node
	cfg       stageConfig
	stats     counters
	pooled    string // the output's type, when its records are pooled (have Release)
	tee       bool   // a Tee: each consumer gets its own record
	elem      func(r *run) element
}

// element is a node's runtime part for one run.
type element interface {
	setup(ctx context.Context) error
	start()
	teardown() error
}

func (p *Pipeline) add(name string, kind nodeKind, up *node, cfg stageConfig, elem func(r *run) element) *node {
	if p.started.Load() {
		panic("pipeline: cannot add stage " + name + " after Run")
	}
	if name == "" {
		panic("pipeline: empty stage name")
	}
	if p.names[name] {
		panic(fmt.Sprintf("pipeline: duplicate stage name %q", name))
	}
	if up != nil && up.kind == kindSink {
		panic("pipeline: cannot read from a sink")
	}
	checkOwner(up, kind, name)
	p.names[name] = true
	n := &node{name: name, kind: kind, up: up, cfg: cfg, elem: elem}
	if up != nil {
		up.consumers = append(up.consumers, n)
	}
	p.nodes = append(p.nodes, n)
	return n
}

func checkStream[T any](p *Pipeline, in Stream[T]) {
	if in.p != p || in.n == nil {
		panic("pipeline: stream belongs to another pipeline (or is the zero Stream)")
	}
}

func buildConfig(opts []StageOption) stageConfig {
	cfg := stageConfig{workers: 1}
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// Source adds a source stage: src's records start a stream.
func Source[T any](p *Pipeline, name string, src Producer[T]) Stream[T] {
	n := p.add(name, kindSource, nil, stageConfig{workers: 1}, nil)
	n.pooled = pooledType[T]()
	n.elem = func(r *run) element { return newSourceElem(r, n, src) }
	return Stream[T]{p: p, n: n}
}

// Apply adds a stage that reads in and returns its output stream.
// Options: Workers(n), Ordered(). It panics on programmer errors
// (a stage with Flush under Workers(n > 1), a stream of another pipeline).
func Apply[In, Out any](p *Pipeline, name string, in Stream[In], st Stage[In, Out], opts ...StageOption) Stream[Out] {
	checkStream(p, in)
	cfg := buildConfig(opts)
	if _, ok := st.(flusher[Out]); ok && cfg.workers > 1 {
		panic(fmt.Sprintf("pipeline: stage %q has Flush and must run with one worker", name))
	}
	n := p.add(name, kindStage, in.n, cfg, nil)
	n.pooled = pooledType[Out]()
	n.elem = func(r *run) element { return newStageElem[In, Out](r, n, st) }
	return Stream[Out]{p: p, n: n}
}

// Sink adds a consumer at the end of in. Options: Workers(n) (the consumer
// must then be safe for concurrent use).
func Sink[T any](p *Pipeline, name string, in Stream[T], c Consumer[T], opts ...StageOption) {
	checkStream(p, in)
	cfg := buildConfig(opts)
	n := p.add(name, kindSink, in.n, cfg, nil)
	n.elem = func(r *run) element { return newSinkElem(r, n, c) }
}

// Via inserts any go-streams operator between typed stages: mk is called
// inside Run to construct it (go-streams constructors start goroutines).
// The operator receives values of type In and must emit values of type Out;
// an emitted value of another type is a fatal error of this stage. Note that
// go-streams operators panic in their own goroutines when given a type they
// do not expect, which no one can recover: the In side is your promise.
func Via[In, Out any](p *Pipeline, name string, in Stream[In], mk func() streams.Flow) Stream[Out] {
	checkStream(p, in)
	n := p.add(name, kindVia, in.n, stageConfig{workers: 1}, nil)
	n.pooled = pooledType[Out]()
	n.elem = func(r *run) element { return newViaElem[Out](r, n, mk) }
	return Stream[Out]{p: p, n: n}
}

// Stop asks the sources to stop emitting: their emit returns ErrStopped.
// Records already emitted flow on to the sinks, and Run returns nil.
// Stop is safe to call from any goroutine, more than once, and before Run.
func (p *Pipeline) Stop() { p.stopOnce.Do(func() { close(p.stopCh) }) }

// run is the state of one execution.
type run struct {
	p      *Pipeline
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	fatalErr error
	dlErr    error
	bad      atomic.Int64
	lastBad  atomic.Pointer[RecordError] // the latest record error, for the budget's message
	records  atomic.Int64                // emitted by sources
}

// spawn runs f on a goroutine owned by the run.
func (r *run) spawn(f func()) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		f()
	}()
}

// fail records a fatal error from stage and cancels the run.
func (r *run) fail(stage string, err error) {
	r.mu.Lock()
	if r.fatalErr == nil {
		var fe *fatalError
		if errors.As(err, &fe) && fe == err {
			err = fe.err
		}
		r.fatalErr = &StageError{Pipeline: r.p.name, Stage: stage, Err: err}
	}
	r.mu.Unlock()
	r.cancel()
}

// recordError routes one bad record: count, dead letter, budget.
// key is the record's Key, taken before the stage saw the record.
func (r *run) recordError(n *node, key Key, err error) {
	n.stats.errors.Add(1)
	re := &RecordError{Stage: n.name, Key: key, Err: err}
	r.lastBad.Store(re)
	bad := r.bad.Add(1)
	if w := r.p.deadLetter; w != nil {
		r.mu.Lock()
		if r.dlErr == nil {
			if e := w.WriteDeadLetter(DeadLetter{Pipeline: r.p.name, Stage: n.name, Key: re.Key,
				Reason: err.Error(), Time: time.Now()}); e != nil {
				r.dlErr = e
			}
		}
		dlErr := r.dlErr
		r.mu.Unlock()
		if dlErr != nil {
			r.fail("dead-letter", fmt.Errorf("pipeline: writing dead letter: %w", dlErr))
			return
		}
	}
	if r.overBudget(bad, false) {
		r.fail(n.name, r.budgetError(bad, re))
	}
}

// minBudgetSample is the fewest source records before the budget is checked
// while the run goes on (the final check always applies).
const minBudgetSample = 100

func (r *run) overBudget(bad int64, final bool) bool {
	b := r.p.budget
	if b < 0 || bad == 0 {
		return false
	}
	total := r.records.Load()
	if !final && (total < minBudgetSample || b > 0 && float64(total) < 1/b) {
		return false
	}
	return float64(bad) > b*float64(total)
}

func (r *run) budgetError(bad int64, last *RecordError) error {
	if last == nil {
		return fmt.Errorf("%w: %d bad of %d records (budget %g)", ErrBadRecordBudget, bad, r.records.Load(), r.p.budget)
	}
	return fmt.Errorf("%w: %d bad of %d records (budget %g); last: %v",
		ErrBadRecordBudget, bad, r.records.Load(), r.p.budget, last)
}

// Run validates the graph, starts every stage, and returns after every
// goroutine it started has stopped: when the sources are done and every
// record has reached the sinks, when a fatal error cancelled the run (the
// error is returned, naming its stage), or when ctx is cancelled (ctx's error
// is returned). A pipeline runs once.
func (p *Pipeline) Run(ctx context.Context) error {
	if !p.started.CompareAndSwap(false, true) {
		return fmt.Errorf("pipeline %s: Run called twice", p.name)
	}
	if err := p.validate(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &run{p: p, ctx: ctx, cancel: cancel}

	elems := make([]element, len(p.nodes))
	for i, n := range p.nodes {
		elems[i] = n.elem(r)
	}
	for i, e := range elems {
		if err := e.setup(ctx); err != nil {
			for j := i - 1; j >= 0; j-- {
				_ = elems[j].teardown()
			}
			return &StageError{Pipeline: p.name, Stage: p.nodes[i].name, Err: fmt.Errorf("setup: %w", err)}
		}
	}
	p.startAt.Store(time.Now().UnixNano())
	for _, e := range elems {
		e.start()
	}
	for i, n := range p.nodes {
		r.connect(elems[i], n, elems)
	}
	r.wg.Wait()
	p.endAt.Store(time.Now().UnixNano())

	var errs []error
	for i, e := range elems {
		if err := e.teardown(); err != nil {
			errs = append(errs, &StageError{Pipeline: p.name, Stage: p.nodes[i].name, Err: fmt.Errorf("teardown: %w", err)})
		}
	}
	if c, ok := p.deadLetter.(interface{ Close() error }); ok {
		if err := c.Close(); err != nil {
			errs = append(errs, fmt.Errorf("pipeline %s: closing dead-letter writer: %w", p.name, err))
		}
	}
	r.mu.Lock()
	fatal := r.fatalErr
	r.mu.Unlock()
	if fatal == nil && ctx.Err() == nil && r.overBudget(r.bad.Load(), true) {
		fatal = &StageError{Pipeline: p.name, Stage: "budget", Err: r.budgetError(r.bad.Load(), r.lastBad.Load())}
	}
	if bad := r.bad.Load(); bad > 0 {
		p.log.Warn("pipeline: bad records skipped", "pipeline", p.name, "bad", bad, "records", r.records.Load())
	}
	switch {
	case fatal != nil:
		errs = append([]error{fatal}, errs...)
	case ctx.Err() != nil: // the caller's context, since no fatal error cancelled ours
		errs = append([]error{ctx.Err()}, errs...)
	}
	return errors.Join(errs...)
}

func (p *Pipeline) validate() error {
	sources := 0
	for _, n := range p.nodes {
		if n.kind == kindSource {
			sources++
		}
		if n.kind != kindSink && len(n.consumers) == 0 {
			return fmt.Errorf("pipeline %s: the output of %s %q is never consumed (add a Sink)", p.name, n.kind, n.name)
		}
	}
	if sources == 0 {
		return fmt.Errorf("pipeline %s: no source", p.name)
	}
	return nil
}

// connect wires node n's output to its consumers with go-streams: Via for
// flows, flow.FanOut when there are several consumers (a Tee hands each its
// own record instead), flow.DoStream (on an owned goroutine) into sinks.
func (r *run) connect(e element, n *node, elems []element) {
	if len(n.consumers) == 0 {
		return
	}
	out, ok := e.(interface {
		streams.Outlet
		Via(streams.Flow) streams.Flow
	})
	if !ok {
		return
	}
	index := func(c *node) element {
		for i, m := range r.p.nodes {
			if m == c {
				return elems[i]
			}
		}
		panic("pipeline: consumer not in graph")
	}
	if n.tee {
		downs := make([]element, len(n.consumers))
		for i, c := range n.consumers {
			downs[i] = index(c)
		}
		r.connectTee(out, downs)
		return
	}
	if len(n.consumers) == 1 {
		r.link(out, index(n.consumers[0]))
		return
	}
	for i, b := range flow.FanOut(out, len(n.consumers)) {
		r.link(b, index(n.consumers[i]))
	}
}

func (r *run) link(up interface {
	streams.Outlet
	Via(streams.Flow) streams.Flow
}, down element) {
	switch d := down.(type) {
	case streams.Flow:
		up.Via(d)
	case streams.Inlet:
		r.spawn(func() { flow.DoStream(up, d) })
	default:
		panic(fmt.Sprintf("pipeline: %T is neither a flow nor a sink", down))
	}
}
