package pipeline

import (
	"fmt"
	"log/slog"
)

// Option configures a Pipeline.
type Option func(*Pipeline)

// WithLogger sets the logger for run-level messages (start, end, a summary
// of bad records). Records are never logged one by one. Default: slog.Default().
func WithLogger(l *slog.Logger) Option {
	if l == nil {
		panic("pipeline: WithLogger(nil)")
	}
	return func(p *Pipeline) { p.log = l }
}

// WithDeadLetter sends every bad record (its stage, key and reason) to w.
func WithDeadLetter(w DeadLetterWriter) Option {
	if w == nil {
		panic("pipeline: WithDeadLetter(nil)")
	}
	return func(p *Pipeline) { p.deadLetter = w }
}

// DefaultBadRecordBudget is the bad-record budget train, bench and stream
// use when none is given: 1% of the records.
const DefaultBadRecordBudget = 0.01

// WithBadRecordBudget fails the run with ErrBadRecordBudget once the bad
// records exceed frac of the records the sources have emitted. The check runs
// as records fail, once the sources have emitted at least max(100, 1/frac)
// records (so a few early failures cannot end a large run), and once more on the final
// counts when the input ends. frac 0 tolerates no bad record at all.
// Without this option bad records are only counted and dead-lettered.
func WithBadRecordBudget(frac float64) Option {
	if frac < 0 || frac > 1 {
		panic(fmt.Sprintf("pipeline: WithBadRecordBudget(%v): want 0 <= frac <= 1", frac))
	}
	return func(p *Pipeline) { p.budget = frac }
}

// StageOption configures one stage.
type StageOption func(*stageConfig)

type stageConfig struct {
	workers int
	ordered bool
}

// Workers runs a stage on n goroutines. The stage must then be safe for
// concurrent use. Without Ordered, output order follows completion order.
func Workers(n int) StageOption {
	if n < 1 {
		panic(fmt.Sprintf("pipeline: Workers(%d): want n >= 1", n))
	}
	return func(c *stageConfig) { c.workers = n }
}

// Ordered makes a parallel stage emit its outputs in input order (all outputs
// of record i before any of record i+1), through a reorder window of
// 4×workers records. With one worker output is always in order.
func Ordered() StageOption {
	return func(c *stageConfig) { c.ordered = true }
}
