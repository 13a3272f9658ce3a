package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	streams "github.com/reugn/go-streams"
	"github.com/reugn/go-streams/flow"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/pipeline/pipelinetest"
)

// rec is a keyed test record.
type rec struct {
	Shard string
	Row   int64
	V     int
}

func (r rec) Key() pipeline.Key { return pipeline.Key{Shard: r.Shard, Row: r.Row} }

func recs(n int) []rec {
	out := make([]rec, n)
	for i := range out {
		out[i] = rec{Shard: "s.parquet", Row: int64(i), V: i}
	}
	return out
}

// jitter is a stage that sleeps a record-dependent random time (so parallel
// workers finish out of order) and emits v*10 and v*10+1.
type jitter struct{}

func (jitter) Process(_ context.Context, in rec, emit func(int)) error {
	r := rand.New(rand.NewPCG(uint64(in.V), 7))
	time.Sleep(time.Duration(r.IntN(200)) * time.Microsecond)
	emit(in.V * 10)
	emit(in.V*10 + 1)
	return nil
}

func TestOrderedSameForAnyWorkerCount(t *testing.T) {
	in := recs(300)
	var want []int
	for _, workers := range []int{1, 2, 8} {
		res := pipelinetest.RunStage[rec, int](t, jitter{}, in, pipeline.Workers(workers), pipeline.Ordered())
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		if workers == 1 {
			want = res.Out
			if len(want) != 600 || want[0] != 0 || want[599] != 2991 {
				t.Fatalf("workers=1: unexpected output %v...", want[:4])
			}
			continue
		}
		if !slices.Equal(res.Out, want) {
			t.Errorf("workers=%d: output differs from workers=1", workers)
		}
	}
}

func TestUnorderedDeliversEverything(t *testing.T) {
	res := pipelinetest.RunStage[rec, int](t, jitter{}, recs(200), pipeline.Workers(8))
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	got := slices.Clone(res.Out)
	slices.Sort(got)
	if len(got) != 400 || got[0] != 0 || got[399] != 1991 {
		t.Fatalf("got %d outputs", len(got))
	}
}

type failOdd struct{}

func (failOdd) Process(_ context.Context, in rec, emit func(rec)) error {
	if in.V%2 == 1 {
		return fmt.Errorf("odd value %d", in.V)
	}
	emit(in)
	return nil
}

func TestRecordErrorsAreSkippedCountedAndDeadLettered(t *testing.T) {
	for _, opts := range [][]pipeline.StageOption{nil, {pipeline.Workers(4)}, {pipeline.Workers(4), pipeline.Ordered()}} {
		res := pipelinetest.RunStage[rec, rec](t, failOdd{}, recs(10), opts...)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		if len(res.Out) != 5 {
			t.Errorf("got %d records through, want 5", len(res.Out))
		}
		if len(res.DeadLetters) != 5 {
			t.Fatalf("got %d dead letters, want 5", len(res.DeadLetters))
		}
		for _, d := range res.DeadLetters {
			if d.Stage != "stage" || d.Key.Shard != "s.parquet" || d.Key.Row%2 != 1 ||
				d.Reason != fmt.Sprintf("odd value %d", d.Key.Row) {
				t.Errorf("bad dead letter %+v", d)
			}
		}
		if s := res.Stats.Stages[1]; s.Errors != 5 || s.In != 10 || s.Out != 5 {
			t.Errorf("stats %+v", s)
		}
	}
}

func TestBadRecordBudget(t *testing.T) {
	tests := []struct {
		budget  float64
		n       int
		wantErr bool
	}{
		{0.6, 10, false}, // 5 of 10 bad: 50% <= 60%
		{0.4, 10, true},  // 50% > 40%, found at the final check
		{0.1, 1000, true},
		{0, 2, true},
	}
	for _, tt := range tests {
		p := pipeline.New("budget", pipeline.WithBadRecordBudget(tt.budget))
		out := pipeline.Apply(p, "odd", pipelinetest.Slice(p, "in", recs(tt.n)), failOdd{})
		pipelinetest.Collect(p, "out", out)
		err := p.Run(t.Context())
		if got := errors.Is(err, pipeline.ErrBadRecordBudget); got != tt.wantErr {
			t.Errorf("budget %v over %d: err = %v", tt.budget, tt.n, err)
		}
		// The message names the latest bad record, also when the budget
		// is found exceeded at the final check (it said "last: <nil>").
		if err != nil && (!strings.Contains(err.Error(), "; last: pipeline: stage \"odd\": record ") || strings.Contains(err.Error(), "<nil>")) {
			t.Errorf("budget %v over %d: %v, want the last bad record named", tt.budget, tt.n, err)
		}
	}
}

var errBoom = errors.New("boom")

type fatalAt struct{ at int }

func (f fatalAt) Process(_ context.Context, in rec, emit func(rec)) error {
	if in.V == f.at {
		return pipeline.Fatal(fmt.Errorf("test: fatal at %d: %w", in.V, errBoom))
	}
	emit(in)
	return nil
}

// endless emits records until cancelled.
type endless struct{}

func (endless) Produce(ctx context.Context, emit func(rec) error) error {
	for i := 0; ; i++ {
		if err := emit(rec{Shard: "inf", Row: int64(i), V: i}); err != nil {
			return err
		}
	}
}

func TestFatalCancelsRunAndIsReturned(t *testing.T) {
	for _, workers := range []int{1, 4} {
		p := pipeline.New("fatal")
		s := pipeline.Source[rec](p, "src", endless{})
		s = pipeline.Apply(p, "check", s, fatalAt{at: 50}, pipeline.Workers(workers))
		pipelinetest.Collect(p, "out", s)
		err := p.Run(t.Context())
		var se *pipeline.StageError
		if !errors.As(err, &se) || se.Stage != "check" || !errors.Is(err, errBoom) {
			t.Fatalf("workers=%d: err = %v", workers, err)
		}
		if !strings.Contains(err.Error(), `stage "check": test: fatal at 50`) {
			t.Errorf("message: %v", err)
		}
	}
}

type panicky struct{}

func (panicky) Process(_ context.Context, in rec, emit func(rec)) error {
	if in.V == 3 {
		var m map[string]int
		m["x"] = 1 // a nil-map write panics
	}
	emit(in)
	return nil
}

func TestPanicBecomesFatalWithStack(t *testing.T) {
	res := pipelinetest.RunStage[rec, rec](t, panicky{}, recs(10))
	var pe *pipeline.PanicError
	if !errors.As(res.Err, &pe) {
		t.Fatalf("err = %v", res.Err)
	}
	if pe.Stage != "stage" || !strings.Contains(string(pe.Stack), "panicky") {
		t.Errorf("panic error lacks stage or stack: %v", pe)
	}
	if len(res.DeadLetters) != 0 {
		t.Errorf("a panic went to the dead letters")
	}
}

func settleGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines: %d before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCancelStopsEverythingAndLeavesNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(t.Context())
	p := pipeline.New("cancel")
	s := pipeline.Source[rec](p, "src", endless{})
	a := pipeline.Apply(p, "ordered", s, jitter{}, pipeline.Workers(4), pipeline.Ordered())
	b := pipeline.Apply(p, "unordered", s, failOdd{}, pipeline.Workers(3))
	m := pipeline.Via[int, int](p, "gs-map", a, func() streams.Flow {
		return flow.NewMap(func(x int) int { return x + 1 }, 2)
	})
	var seen int
	pipeline.Sink(p, "count", m, pipeline.ConsumerFunc[int](func(context.Context, int) error {
		seen++
		if seen == 100 {
			cancel()
		}
		return nil
	}))
	pipelinetest.Collect(p, "b", b)
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	settleGoroutines(t, before)
}

func TestViaGoStreamsOperator(t *testing.T) {
	p := pipeline.New("via")
	in := pipelinetest.Slice(p, "in", []int{1, 2, 3, 4, 5, 6})
	even := pipeline.Via[int, int](p, "filter", in, func() streams.Flow {
		return flow.NewFilter(func(x int) bool { return x%2 == 0 }, 1)
	})
	strs := pipeline.Via[int, string](p, "map", even, func() streams.Flow {
		return flow.NewMap(func(x int) string { return fmt.Sprint("n", x) }, 1)
	})
	c := pipelinetest.Collect(p, "out", strs)
	if err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := c.Items(); !slices.Equal(got, []string{"n2", "n4", "n6"}) {
		t.Errorf("got %v", got)
	}
}

func TestViaTypeMismatchIsFatal(t *testing.T) {
	p := pipeline.New("via")
	in := pipelinetest.Slice(p, "in", []int{1, 2})
	bad := pipeline.Via[int, string](p, "liar", in, func() streams.Flow { return flow.NewPassThrough() })
	pipelinetest.Collect(p, "out", bad)
	err := p.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "emitted a int, want string") {
		t.Fatalf("err = %v", err)
	}
}

func TestFanOutGivesEveryConsumerEverything(t *testing.T) {
	p := pipeline.New("fan")
	in := pipelinetest.Slice(p, "in", []int{1, 2, 3})
	a := pipelinetest.Collect(p, "a", in)
	dbl := pipeline.Apply(p, "double", in, pipeline.Func(func(x int) (int, error) { return 2 * x, nil }))
	b := pipelinetest.Collect(p, "b", dbl)
	if err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Items(), []int{1, 2, 3}) || !slices.Equal(b.Items(), []int{2, 4, 6}) {
		t.Errorf("a=%v b=%v", a.Items(), b.Items())
	}
}

// pairs batches ints two by two and flushes a last odd one.
type pairs struct{ held []int }

func (s *pairs) Process(_ context.Context, in int, emit func([]int)) error {
	s.held = append(s.held, in)
	if len(s.held) == 2 {
		emit(s.held)
		s.held = nil
	}
	return nil
}

func (s *pairs) Flush(_ context.Context, emit func([]int)) error {
	if len(s.held) > 0 {
		emit(s.held)
	}
	return nil
}

func TestFlushAndBuilderPanics(t *testing.T) {
	p := pipeline.New("flush")
	out := pipeline.Apply(p, "pairs", pipelinetest.Slice(p, "in", []int{1, 2, 3}), &pairs{})
	c := pipelinetest.Collect(p, "out", out)
	if err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := c.Items(); len(got) != 2 || !slices.Equal(got[1], []int{3}) {
		t.Errorf("got %v", got)
	}
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		f()
	}
	mustPanic("Workers(0)", func() { pipeline.Workers(0) })
	mustPanic("Flush with workers", func() {
		q := pipeline.New("x")
		pipeline.Apply(q, "pairs", pipelinetest.Slice(q, "in", []int{1}), &pairs{}, pipeline.Workers(2))
	})
	mustPanic("duplicate name", func() {
		q := pipeline.New("x")
		pipelinetest.Slice(q, "in", []int{1})
		pipelinetest.Slice(q, "in", []int{1})
	})
}

func TestValidateAndRunOnce(t *testing.T) {
	p := pipeline.New("v")
	pipelinetest.Slice(p, "dangling", []int{1})
	if err := p.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "never consumed") {
		t.Errorf("err = %v", err)
	}
	if err := p.Run(t.Context()); err == nil {
		t.Error("second Run succeeded")
	}
}

func TestStopDrainsGently(t *testing.T) {
	p := pipeline.New("stop")
	s := pipeline.Source[rec](p, "src", endless{})
	n := 0
	pipeline.Sink(p, "sink", s, pipeline.ConsumerFunc[rec](func(_ context.Context, r rec) error {
		if r.V != n {
			return pipeline.Fatal(fmt.Errorf("got %d, want %d", r.V, n))
		}
		n++
		if n == 1000 {
			p.Stop()
		}
		return nil
	}))
	if err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	st := p.Stats().Stages
	if int64(n) != st[0].Out || n < 1000 {
		t.Errorf("sink saw %d, source emitted %d", n, st[0].Out)
	}
}

func TestSourceErrorIsFatal(t *testing.T) {
	p := pipeline.New("src")
	s := pipeline.Source(p, "broken", pipeline.ProducerFunc[int](func(_ context.Context, emit func(int) error) error {
		_ = emit(1)
		return errors.New("sources: shard x.parquet: truncated")
	}))
	pipelinetest.Collect(p, "out", s)
	err := p.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), `stage "broken": sources: shard x.parquet: truncated`) {
		t.Errorf("err = %v", err)
	}
}

func TestStatsShowTheBottleneck(t *testing.T) {
	p := pipeline.New("stats")
	in := pipelinetest.Slice(p, "in", recs(40))
	slow := pipeline.Apply(p, "slow", in, pipeline.Func(func(r rec) (rec, error) {
		time.Sleep(time.Millisecond)
		return r, nil
	}))
	pipelinetest.Collect(p, "out", slow)
	if err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	if st.Bottleneck() != "slow" {
		var b strings.Builder
		_ = st.WriteTable(&b)
		t.Errorf("bottleneck %q\n%s", st.Bottleneck(), b.String())
	}
	m := st.Metrics()
	if m["slow.in"] != 40 || m["slow.out"] != 40 || m["slow.busy_seconds"] < 0.035 || m["out.wait_in_seconds"] < 0.02 {
		t.Errorf("metrics %v", m)
	}
}

func TestRNGIsKeyedAndStable(t *testing.T) {
	a := pipeline.RNG(42, 1, 7, 0).Uint64()
	if b := pipeline.RNG(42, 1, 7, 0).Uint64(); a != b {
		t.Fatal("same keys, different values")
	}
	seen := map[uint64]bool{a: true}
	for _, keys := range [][]uint64{{1, 7, 1}, {1, 8, 0}, {0, 7, 0}, {7, 1, 0}, {1, 7}, {1, 7, 0, 0}} {
		v := pipeline.RNG(42, keys...).Uint64()
		if seen[v] {
			t.Errorf("keys %v collide", keys)
		}
		seen[v] = true
	}
	// Fixed value: a change here changes every augmentation of every run.
	if got := pipeline.RNG(1, 2, 3).Uint64(); got != rngGolden {
		t.Errorf("RNG(1, 2, 3).Uint64() = %#x, want %#x", got, rngGolden)
	}
}

// pooled is a keyed record that a stage recycles: release clears what Key
// reads, as stages.Decoded and stages.ViewSet do.
type pooled struct{ src *rec }

func (p *pooled) Key() pipeline.Key { return p.src.Key() } // panics once released
func (p *pooled) release()          { p.src = nil }

// releaseThenFail releases its input, as a consuming stage does, and then
// fails every odd record.
type releaseThenFail struct{}

func (releaseThenFail) Process(_ context.Context, in *pooled, emit func(int)) error {
	defer in.release()
	if in.src.V%2 == 1 {
		return fmt.Errorf("odd value %d", in.src.V)
	}
	emit(in.src.V)
	return nil
}

func (releaseThenFail) Consume(_ context.Context, in *pooled) error {
	return releaseThenFail{}.Process(context.Background(), in, func(int) {})
}

// TestRecordErrorKeepsKeyOfReleasedInput: a stage that releases its input
// before its error is routed still gets the record's key into the dead
// letter (the pipeline takes the key before Process), for plain, parallel
// and ordered stages and for sinks, instead of a nil-pointer panic.
func TestRecordErrorKeepsKeyOfReleasedInput(t *testing.T) {
	mk := func() []*pooled {
		var in []*pooled
		for _, r := range recs(10) {
			in = append(in, &pooled{src: &r})
		}
		return in
	}
	check := func(t *testing.T, err error, dls []pipeline.DeadLetter) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if len(dls) != 5 {
			t.Fatalf("got %d dead letters, want 5", len(dls))
		}
		for _, d := range dls {
			if d.Key.Shard != "s.parquet" || d.Key.Row%2 != 1 || d.Reason != fmt.Sprintf("odd value %d", d.Key.Row) {
				t.Errorf("dead letter %+v lost its key", d)
			}
		}
	}
	for _, opts := range [][]pipeline.StageOption{nil, {pipeline.Workers(4)}, {pipeline.Workers(4), pipeline.Ordered()}} {
		res := pipelinetest.RunStage[*pooled, int](t, releaseThenFail{}, mk(), opts...)
		check(t, res.Err, res.DeadLetters)
	}
	dl := &pipelinetest.DeadLetters{}
	p := pipeline.New("sink", pipeline.WithDeadLetter(dl))
	pipeline.Sink(p, "sink", pipelinetest.Slice(p, "input", mk()), releaseThenFail{})
	check(t, p.Run(t.Context()), dl.All())
}
