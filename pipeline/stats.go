package pipeline

import (
	"fmt"
	"io"
	"sort"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// counters are one stage's live metrics, updated atomically.
type counters struct {
	in, out, errors       atomic.Int64
	busy, waitIn, waitOut atomic.Int64 // nanoseconds, summed over workers
}

// StageStats is a snapshot of one stage's metrics.
//
// Busy is time spent inside Process/Produce/Consume (not counting time
// blocked in emit); WaitIn is time spent waiting for input; WaitOut is time
// blocked handing output downstream. All three are summed over the stage's
// workers. A stage whose workers are busy nearly all the time is the
// bottleneck; one that mostly waits for input is starved by its upstream;
// one that mostly waits on output is held back by its downstream.
type StageStats struct {
	Name    string        `json:"name"`
	Kind    string        `json:"kind"` // source, stage, via or sink
	Workers int           `json:"workers"`
	In      int64         `json:"in"`
	Out     int64         `json:"out"`
	Errors  int64         `json:"errors"`
	Busy    time.Duration `json:"busy_ns"`
	WaitIn  time.Duration `json:"wait_in_ns"`
	WaitOut time.Duration `json:"wait_out_ns"`
}

// Utilization is Busy over the wall time the stage's workers had.
func (s StageStats) Utilization(elapsed time.Duration) float64 {
	if elapsed <= 0 || s.Workers == 0 {
		return 0
	}
	return float64(s.Busy) / (float64(elapsed) * float64(s.Workers))
}

// RunStats is a snapshot of a run: how long it has been running and every
// stage's metrics, in the order the stages were added.
type RunStats struct {
	Elapsed time.Duration `json:"elapsed_ns"`
	Stages  []StageStats  `json:"stages"`
}

// Stats returns a snapshot of the metrics. It is safe to call during and
// after Run; before Run every counter is zero.
func (p *Pipeline) Stats() RunStats {
	var rs RunStats
	if start := p.startAt.Load(); start != 0 {
		end := p.endAt.Load()
		if end == 0 {
			end = time.Now().UnixNano()
		}
		rs.Elapsed = time.Duration(end - start)
	}
	for _, n := range p.nodes {
		rs.Stages = append(rs.Stages, StageStats{
			Name: n.name, Kind: n.kind.String(), Workers: n.cfg.workers,
			In: n.stats.in.Load(), Out: n.stats.out.Load(), Errors: n.stats.errors.Load(),
			Busy: time.Duration(n.stats.busy.Load()), WaitIn: time.Duration(n.stats.waitIn.Load()),
			WaitOut: time.Duration(n.stats.waitOut.Load()),
		})
	}
	return rs
}

// Metrics flattens the snapshot into "<stage>.<counter>" names:
// in, out, errors, busy_seconds, wait_in_seconds, wait_out_seconds, utilization.
func (rs RunStats) Metrics() map[string]float64 {
	m := make(map[string]float64, 7*len(rs.Stages))
	for _, s := range rs.Stages {
		m[s.Name+".in"] = float64(s.In)
		m[s.Name+".out"] = float64(s.Out)
		m[s.Name+".errors"] = float64(s.Errors)
		m[s.Name+".busy_seconds"] = s.Busy.Seconds()
		m[s.Name+".wait_in_seconds"] = s.WaitIn.Seconds()
		m[s.Name+".wait_out_seconds"] = s.WaitOut.Seconds()
		m[s.Name+".utilization"] = s.Utilization(rs.Elapsed)
	}
	return m
}

// Bottleneck names the stage with the highest utilization (the one the
// others wait for), or "" before any work.
func (rs RunStats) Bottleneck() string {
	best, name := 0.0, ""
	for _, s := range rs.Stages {
		if u := s.Utilization(rs.Elapsed); u > best {
			best, name = u, s.Name
		}
	}
	return name
}

// WriteTable writes a human-readable table of the snapshot, busiest first.
func (rs RunStats) WriteTable(w io.Writer) error {
	st := append([]StageStats(nil), rs.Stages...)
	sort.SliceStable(st, func(i, j int) bool { return st[i].Utilization(rs.Elapsed) > st[j].Utilization(rs.Elapsed) })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "stage\tworkers\tin\tout\terrors\tbusy\twait in\twait out\tutil\t\n")
	per := func(d time.Duration, s StageStats) string {
		if rs.Elapsed <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.0f%%", 100*float64(d)/(float64(rs.Elapsed)*float64(max(s.Workers, 1))))
	}
	for _, s := range st {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%.0f%%\t\n", s.Name, s.Workers, s.In, s.Out, s.Errors,
			per(s.Busy, s), per(s.WaitIn, s), per(s.WaitOut, s), 100*s.Utilization(rs.Elapsed))
	}
	if b := rs.Bottleneck(); b != "" {
		fmt.Fprintf(tw, "bottleneck: %s\t\t\t\t\t\t\t\t\t\n", b)
	}
	return tw.Flush()
}
