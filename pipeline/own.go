package pipeline

import (
	"context"
	"fmt"
	"reflect"

	streams "github.com/reugn/go-streams"
)

// releaser is implemented by pooled records: their consumer hands their
// buffers back to a pool by calling Release, and must not touch them after.
type releaser interface{ Release() }

var releaserType = reflect.TypeFor[releaser]()

// pooledType returns the name of T when T's records are pooled (T has a
// Release method), "" otherwise.
func pooledType[T any]() string {
	t := reflect.TypeFor[T]()
	if t.Implements(releaserType) {
		return t.String()
	}
	return ""
}

// checkOwner refuses a second consumer of a stream of pooled records, at
// the call that builds it: the one consumer owns each record (and may
// recycle it), so a second one would read buffers already reused.
func checkOwner(up *node, kind nodeKind, name string) {
	if up == nil || up.pooled == "" || up.tee || len(up.consumers) == 0 {
		return
	}
	panic(fmt.Sprintf("pipeline: %s %q cannot read the output of %q, which %s %q reads already: "+
		"%s has a Release method, so its records are pooled and a stream of them has one consumer, "+
		"which owns them (and may recycle their buffers while another still reads them). "+
		"Read the records through pipeline.Tee(p, \"%s-copy\", stream, clone), which gives every "+
		"consumer after the first a copy made by clone (e.g. the type's Clone method)",
		kind, name, up.name, up.consumers[0].kind, up.consumers[0].name, up.pooled, up.name))
}

// Tee adds a stage that passes in's records on and may be read by any
// number of stages and sinks (a stream of pooled records otherwise has
// one consumer: see "Ownership" in the package documentation). The first
// consumer built gets each record as it came; every other consumer gets
// its own copy, clone(record), made before the record is passed on, so each
// one owns (and releases, or keeps) what it gets. clone must return a
// record that shares no buffer with its argument, and whose Release, if it
// has one, leaves the original alone; the Clone methods of the pooled
// records in package stages do. With one consumer, Tee copies nothing.
//
// Tee costs one clone per record per extra consumer, made on one goroutine
// (the Tee's), and, as any fan-out, runs at the pace of the slowest consumer.
func Tee[T any](p *Pipeline, name string, in Stream[T], clone func(T) T) Stream[T] {
	checkStream(p, in)
	if clone == nil {
		panic(fmt.Sprintf("pipeline: Tee %q: nil clone function", name))
	}
	n := p.add(name, kindStage, in.n, stageConfig{workers: 1}, nil)
	n.tee, n.pooled = true, pooledType[T]()
	n.elem = func(r *run) element {
		return newStageElem[T, teeSet](r, n, teeStage[T]{clone: clone, ways: len(n.consumers)})
	}
	return Stream[T]{p: p, n: n}
}

// teeSet is one record of a Tee for each of its consumers, in the order
// they were built: the original first, then its clones.
type teeSet []any

type teeStage[T any] struct {
	clone func(T) T
	ways  int
}

func (s teeStage[T]) Process(_ context.Context, in T, emit func(teeSet)) error {
	set := make(teeSet, s.ways)
	for i := 1; i < len(set); i++ {
		set[i] = s.clone(in)
	}
	set[0] = in
	emit(set)
	return nil
}

// connectTee hands element i of each teeSet that out emits to consumer i.
// Every consumer drains its input to the end, so the sends end.
func (r *run) connectTee(out streams.Outlet, downs []element) {
	chans := make([]chan any, len(downs))
	for i, d := range downs {
		chans[i] = make(chan any)
		r.link(chanOutlet{r: r, ch: chans[i]}, d)
	}
	r.spawn(func() {
		defer func() {
			for _, c := range chans {
				close(c)
			}
		}()
		for v := range out.Out() {
			for i, x := range v.(teeSet) {
				chans[i] <- x
			}
		}
	})
}

// chanOutlet is one branch of a Tee as a go-streams outlet.
type chanOutlet struct {
	r  *run
	ch chan any
}

func (c chanOutlet) Out() <-chan any { return c.ch }

func (c chanOutlet) Via(f streams.Flow) streams.Flow {
	c.r.spawn(func() { transmit(c.ch, f.In()) })
	return f
}
