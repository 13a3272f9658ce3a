package pipeline_test

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	streams "github.com/reugn/go-streams"
	"github.com/reugn/go-streams/flow"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/pipeline/pipelinetest"
)

// buf is a pooled record: Release recycles it, which here poisons its
// contents, so a consumer that reads it after another released it sees -1.
type buf struct {
	v      []int
	pooled bool
}

func (b *buf) Release() {
	if b.pooled {
		for i := range b.v {
			b.v[i] = -1
		}
	}
}

func (b *buf) Clone() *buf { return &buf{v: slices.Clone(b.v)} }

func bufs(p *pipeline.Pipeline, n int) pipeline.Stream[*buf] {
	items := make([]*buf, n)
	for i := range items {
		items[i] = &buf{v: []int{i, i}, pooled: true}
	}
	return pipelinetest.Slice(p, "bufs", items)
}

// releasing is a consumer that owns what it reads: it copies v out, then
// releases the record.
type releasing struct{ got [][]int }

func (r *releasing) Consume(_ context.Context, b *buf) error {
	r.got = append(r.got, slices.Clone(b.v))
	b.Release()
	return nil
}

func mustPanicWith(t *testing.T, want []string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		v := recover()
		if v == nil {
			t.Fatal("no panic")
		}
		msg, _ := v.(string)
		for _, w := range want {
			if !strings.Contains(msg, w) {
				t.Errorf("panic %q does not say %q", msg, w)
			}
		}
	}()
	f()
}

// TestSecondConsumerOfPooledStreamIsRefused: a stream of records with a
// Release method takes one consumer; a second Apply, Sink or Via panics
// when it is built, naming both consumers, the type and pipeline.Tee.
func TestSecondConsumerOfPooledStreamIsRefused(t *testing.T) {
	id := pipeline.Func(func(b *buf) (*buf, error) { return b, nil })
	second := map[string]func(p *pipeline.Pipeline, s pipeline.Stream[*buf]){
		"stage": func(p *pipeline.Pipeline, s pipeline.Stream[*buf]) { pipeline.Apply(p, "second", s, id) },
		"sink":  func(p *pipeline.Pipeline, s pipeline.Stream[*buf]) { pipeline.Sink(p, "second", s, &releasing{}) },
		"via": func(p *pipeline.Pipeline, s pipeline.Stream[*buf]) {
			pipeline.Via[*buf, *buf](p, "second", s, func() streams.Flow { return flow.NewPassThrough() })
		},
	}
	for kind, add := range second {
		t.Run(kind, func(t *testing.T) {
			p := pipeline.New("own")
			src := bufs(p, 1)
			pipeline.Sink(p, "first", src, &releasing{})
			mustPanicWith(t, []string{kind + ` "second"`, `"bufs"`, `sink "first"`, "*pipeline_test.buf", "Release", "pipeline.Tee"},
				func() { add(p, src) })
		})
	}
	// The output of a stage is checked the same way.
	p := pipeline.New("own")
	out := pipeline.Apply(p, "id", bufs(p, 1), id)
	pipeline.Sink(p, "first", out, &releasing{})
	mustPanicWith(t, []string{`"id"`, "pipeline.Tee"}, func() { pipeline.Sink(p, "second", out, &releasing{}) })
}

// TestTeeGivesEachConsumerItsOwnRecord: behind a Tee, three consumers
// each release what they get, yet every one reads every record intact (the
// clones are made before the original goes on). Without the Tee's copies,
// the poisoned values (-1) would show.
func TestTeeGivesEachConsumerItsOwnRecord(t *testing.T) {
	for range 20 {
		p := pipeline.New("tee")
		var clones atomic.Int64
		both := pipeline.Tee(p, "copy", bufs(p, 50), func(b *buf) *buf { clones.Add(1); return b.Clone() })
		cs := []*releasing{{}, {}, {}}
		for i, c := range cs {
			pipeline.Sink(p, "sink"+string(rune('a'+i)), both, c)
		}
		if err := p.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		for i, c := range cs {
			if len(c.got) != 50 {
				t.Fatalf("consumer %d got %d records, want 50", i, len(c.got))
			}
			for j, v := range c.got {
				if !slices.Equal(v, []int{j, j}) {
					t.Fatalf("consumer %d record %d = %v, want [%d %d]", i, j, v, j, j)
				}
			}
		}
		if n := clones.Load(); n != 100 {
			t.Errorf("%d clones, want 100 (2 extra consumers × 50)", n)
		}
	}
}

// TestTeeWithOneConsumerCopiesNothing: a Tee with one consumer passes the
// records on as they are.
func TestTeeWithOneConsumerCopiesNothing(t *testing.T) {
	p := pipeline.New("tee1")
	one := pipeline.Tee(p, "copy", bufs(p, 5), func(*buf) *buf { t.Error("clone called"); return nil })
	c := pipelinetest.Collect(p, "keep", one)
	if err := p.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, b := range c.Items() {
		if !b.pooled {
			t.Fatal("got a copy, want the original")
		}
	}
}

// TestTeeClonePanicIsFatal: a panicking clone fails the run, naming the Tee.
func TestTeeClonePanicIsFatal(t *testing.T) {
	p := pipeline.New("teepanic")
	both := pipeline.Tee(p, "copy", bufs(p, 5), func(*buf) *buf { panic("boom") })
	pipeline.Sink(p, "a", both, &releasing{})
	pipeline.Sink(p, "b", both, &releasing{})
	err := p.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "copy") || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("err = %v", err)
	}
}
