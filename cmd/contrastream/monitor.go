package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/sinks"
	"github.com/contrastream/contrastream/stages/train"
)

// trainMonitor is the metrics sink of a training run: it hands every step
// record to the metrics writers (RUN/metrics.jsonl, PNG plots in RUN/plots,
// stdout with --json, Prometheus with --metrics-addr) and shows progress on
// stderr (a bar on a terminal, a line every few seconds otherwise).
type trainMonitor struct {
	cfg       trainConfig
	total     int
	startStep int
	hooks     trainHooks

	writers  []sinks.RecordWriter
	tty      bool
	start    time.Time
	lastShow time.Time

	atMaxSteps func() // called once the step count reaches cfg.MaxSteps

	lastStep        int
	lastLoss        float64
	lastEval        map[string]float64
	pairs           int64
	wait, stepTotal float64
}

func newTrainMonitor(cfg trainConfig, total, startStep int, hooks trainHooks) *trainMonitor {
	return &trainMonitor{cfg: cfg, total: total, startStep: startStep, hooks: hooks, lastStep: startStep}
}

func (m *trainMonitor) open(stats func() pipeline.RunStats) error {
	jl, err := sinks.NewMetricsJSONL(filepath.Join(m.cfg.Out, "metrics.jsonl"))
	if err != nil {
		return err
	}
	m.writers = []sinks.RecordWriter{jl, &sinks.Plots{Dir: filepath.Join(m.cfg.Out, "plots"), Every: 50}}
	if m.hooks.jsonOut != nil {
		m.writers = append(m.writers, sinks.MetricsJSONLTo(m.hooks.jsonOut))
	}
	if m.cfg.MetricsAddr != "" {
		prom, err := sinks.NewPrometheus(m.cfg.MetricsAddr, stats)
		if err != nil {
			_ = m.Close(context.Background())
			return err
		}
		m.writers = append(m.writers, prom)
		if m.hooks.progress != nil {
			fmt.Fprintf(m.hooks.progress, "train: Prometheus metrics on http://%s/metrics\n", prom.Addr())
		}
	}
	if pf, ok := m.hooks.progress.(*os.File); ok {
		m.tty = term.IsTerminal(int(pf.Fd()))
	}
	m.start = time.Now()
	return nil
}

type stepLine struct {
	Type string `json:"type"`
	*train.Step
}

// Consume records one step.
func (m *trainMonitor) Consume(_ context.Context, s *train.Step) error {
	kind := "step"
	switch {
	case s.Eval != nil:
		kind = "eval"
		m.lastEval = s.Eval
	case s.Final:
		kind = "final"
	}
	line := stepLine{Type: kind, Step: s}
	for _, w := range m.writers {
		if err := w.WriteRecord(line); err != nil {
			return err
		}
	}
	if kind == "step" {
		m.lastStep, m.lastLoss = s.Step, s.Loss
		m.pairs += int64(s.Pairs)
		m.wait += s.Wait
		m.stepTotal += s.Seconds
		if m.cfg.MaxSteps > 0 && s.Step >= m.cfg.MaxSteps && m.atMaxSteps != nil {
			m.atMaxSteps()
		}
	}
	m.show(s, kind)
	return nil
}

func (m *trainMonitor) dataWait() float64 {
	if m.stepTotal == 0 {
		return 0
	}
	return m.wait / m.stepTotal
}

func (m *trainMonitor) show(s *train.Step, kind string) {
	w := m.hooks.progress
	if w == nil {
		return
	}
	if kind == "eval" {
		var parts []string
		for k, v := range s.Eval {
			parts = append(parts, fmt.Sprintf("%s %.4f", k, v))
		}
		m.clearLine(w)
		fmt.Fprintf(w, "train: epoch %d step %d: %s\n", s.Epoch, s.Step, strings.Join(parts, ", "))
		return
	}
	if kind == "final" {
		return
	}
	now := time.Now()
	if now.Sub(m.lastShow) < m.every() && s.Step != m.total {
		return
	}
	m.lastShow = now
	el := now.Sub(m.start).Seconds()
	rate := float64(m.pairs) / max(el, 1e-9)
	frac := float64(s.Step) / float64(max(m.total, 1))
	if m.tty {
		const width = 24
		n := min(int(frac*width), width)
		fmt.Fprintf(w, "\rtrain [%s%s] step %d/%d epoch %d loss %.4f lr %.3g %.0f pairs/s data-wait %.0f%%   ",
			strings.Repeat("=", n), strings.Repeat(" ", width-n), s.Step, m.total, s.Epoch, s.Loss, s.LR, rate, 100*m.dataWait())
		return
	}
	fmt.Fprintf(w, "train: step %d/%d epoch %d loss %.4f lr %.3g %.0f pairs/s data-wait %.0f%%\n",
		s.Step, m.total, s.Epoch, s.Loss, s.LR, rate, 100*m.dataWait())
}

func (m *trainMonitor) every() time.Duration {
	if m.tty {
		return 100 * time.Millisecond
	}
	return 5 * time.Second
}

func (m *trainMonitor) clearLine(w io.Writer) {
	if m.tty {
		fmt.Fprint(w, "\r\033[K")
	}
}

// Close flushes and closes the writers (the last plots are drawn here).
func (m *trainMonitor) Close(context.Context) error {
	if m.tty && m.hooks.progress != nil {
		fmt.Fprintln(m.hooks.progress)
	}
	var errs []error
	for _, w := range m.writers {
		if c, ok := w.(interface{ Close() error }); ok {
			errs = append(errs, c.Close())
		}
	}
	m.writers = nil
	return errors.Join(errs...)
}

func (m *trainMonitor) finish() { _ = m.Close(context.Background()) }
