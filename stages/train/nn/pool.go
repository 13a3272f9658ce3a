package nn

import (
	"fmt"

	"runtime"
	"runtime/debug"
	"sync"

	"gorgonia.org/tensor"
)

// ranger is a piece of parallel work: run(phase, lo, hi) processes indices
// [lo, hi) of the given phase. Layers implement it with a switch on phase, so
// handing one to a Pool does not allocate.
type ranger interface {
	run(phase, lo, hi int)
}

type job struct {
	r      ranger
	phase  int
	lo, hi int
}

// Pool runs the element-wise and im2col loops of the layers on a fixed number
// of goroutines. Work [0, n) is cut into Threads() contiguous ranges by a
// fixed rule, so which goroutine computes which output never depends on
// scheduling. A nil *Pool, or one with one thread, runs everything on the
// calling goroutine.
//
// NewPool starts Threads()-1 goroutines; Close stops them. A Pool is used by
// one goroutine at a time (the one driving the model); For does not allocate.
type Pool struct {
	n      int
	work   chan job
	wg     sync.WaitGroup
	mu     sync.Mutex
	panics []string
	closed bool

	share bool // layers take input gradients from arena
	arena gradArena
}

func (p *Pool) sharing() bool { return p != nil && p.share }

// release gives a gradient taken from the arena back (no-op otherwise).
func (p *Pool) release(t *tensor.Dense) {
	if p.sharing() && t != nil {
		p.arena.put(t.Float32s())
	}
}

// NewPool returns a pool of the given number of threads (the caller counts as
// one). threads <= 0 means runtime.GOMAXPROCS(0).
func NewPool(threads int) *Pool {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	p := &Pool{n: threads, work: make(chan job, threads)}
	for i := 1; i < threads; i++ {
		go p.worker()
	}
	return p
}

// Threads returns the number of threads, 1 for a nil pool.
func (p *Pool) Threads() int {
	if p == nil {
		return 1
	}
	return p.n
}

// Close stops the pool's goroutines. It is safe to call more than once. A
// closed pool runs work on the caller.
func (p *Pool) Close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		close(p.work)
	}
}

func (p *Pool) worker() {
	for j := range p.work {
		p.exec(j)
	}
}

func (p *Pool) exec(j job) {
	defer func() {
		if r := recover(); r != nil {
			p.mu.Lock()
			p.panics = append(p.panics, fmt.Sprintf("%v\n%s", r, debug.Stack()))
			p.mu.Unlock()
		}
		p.wg.Done()
	}()
	j.r.run(j.phase, j.lo, j.hi)
}

// split returns the i-th of parts contiguous ranges of [0, n).
func split(n, parts, i int) (lo, hi int) {
	return n * i / parts, n * (i + 1) / parts
}

// parts returns how many ranges For(n, …) cuts [0, n) into (n > 0): one
// for a nil, one-thread or closed pool.
func (p *Pool) parts(n int) int {
	if p == nil || p.closed {
		return 1
	}
	return max(min(p.n, n), 1)
}

// slot returns which of the ranges of For(n, …) starts at lo, in
// [0, parts(n)): a ranger can index per-goroutine scratch with it (no two
// ranges of one For share a slot).
func (p *Pool) slot(n, lo int) int {
	parts := p.parts(n)
	if parts <= 1 {
		return 0
	}
	// lo = ⌊n·i/parts⌋ for exactly one i, which is ⌈lo·parts/n⌉.
	return (lo*parts + n - 1) / n
}

// For runs r.run(phase, lo, hi) over [0, n) cut into at most Threads()
// ranges, and returns when all are done. A panic in any range is re-raised
// on the caller.
func (p *Pool) For(n int, r ranger, phase int) {
	if n <= 0 {
		return
	}
	parts := p.parts(n)
	if parts == 1 {
		r.run(phase, 0, n)
		return
	}
	p.wg.Add(parts)
	for i := 1; i < parts; i++ {
		lo, hi := split(n, parts, i)
		p.work <- job{r, phase, lo, hi}
	}
	lo, hi := split(n, parts, 0)
	p.exec(job{r, phase, lo, hi})
	p.wg.Wait()
	if len(p.panics) > 0 {
		msg := p.panics[0]
		p.panics = p.panics[:0]
		panic("nn: panic in pool worker: " + msg)
	}
}
