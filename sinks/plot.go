package sinks

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/contrastream/contrastream/stages/train"
)

// Panel is one PNG of Plots: the record keys drawn as lines against the x
// key, in File (relative to Plots.Dir).
type Panel struct {
	File   string   // e.g. "loss.png"
	Title  string   // plot title
	YLabel string   // y axis label
	Keys   []string // record keys, one line each
	LogY   bool     // logarithmic y axis (values ≤ 0 are left out)
}

// DefaultPanels returns the panels of a zero Plots: loss, learning rate
// and evaluation accuracy (knn_top1, linear_top1) against step.
func DefaultPanels() []Panel {
	return []Panel{
		{File: "loss.png", Title: "training loss", YLabel: "NT-Xent loss", Keys: []string{"loss"}},
		{File: "lr.png", Title: "learning rate", YLabel: "lr", Keys: []string{"lr"}},
		{File: "eval.png", Title: "evaluation", YLabel: "top-1 accuracy", Keys: []string{"knn_top1", "linear_top1"}},
	}
}

// Plots draws PNG plots of a run's records (loss, learning rate and
// evaluation accuracy vs step by default), rewriting every file atomically
// (temporary file, fsync, rename) every Every records and at Close, so an
// image viewer never sees half a file. Records without the x key, and
// non-finite values, are left out. Each series keeps at most MaxPoints
// points: past that it is thinned to every other point, so memory stays
// bounded on long runs. Keys name the fields of StepFields and
// EvalFields. It implements train.Metrics and is safe for concurrent use. A rewrite allocates the
// plots (a few MB of raster for the defaults).
type Plots struct {
	Dir       string    // folder of the PNG files (created)
	Every     int       // rewrite after this many records (default 100)
	X         string    // x key (default "step")
	Panels    []Panel   // default DefaultPanels()
	Width     vg.Length // default 8 inches
	Height    vg.Length // default 4 inches
	MaxPoints int       // per series (default 5000)

	mu     sync.Mutex
	series map[string]plotter.XYs
	thin   map[string]int // keep one point in thin[k] arriving ones
	skip   map[string]int
	since  int
}

// WriteStep adds a step's values and rewrites the plots every Every records.
func (p *Plots) WriteStep(s *train.Step) error { return p.add(StepFields(nil, s)) }

// WriteEval adds an evaluation's values.
func (p *Plots) WriteEval(e *train.Eval) error { return p.add(EvalFields(nil, e)) }

func (p *Plots) add(fields []Field) error {
	f := make(map[string]float64, len(fields))
	for _, x := range fields {
		f[x.Name] = x.Value
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.series == nil {
		p.series, p.thin, p.skip = map[string]plotter.XYs{}, map[string]int{}, map[string]int{}
	}
	xkey := p.X
	if xkey == "" {
		xkey = "step"
	}
	x, ok := f[xkey]
	if ok && !math.IsNaN(x) && !math.IsInf(x, 0) {
		maxPts := p.MaxPoints
		if maxPts <= 0 {
			maxPts = 5000
		}
		done := map[string]bool{}
		for _, pn := range p.panels() {
			for _, k := range pn.Keys {
				if done[k] {
					continue
				}
				done[k] = true
				y, ok := f[k]
				if !ok || math.IsNaN(y) || math.IsInf(y, 0) {
					continue
				}
				if p.thin[k] == 0 {
					p.thin[k] = 1
				}
				if p.skip[k]++; p.skip[k] < p.thin[k] {
					continue
				}
				p.skip[k] = 0
				s := append(p.series[k], plotter.XY{X: x, Y: y})
				if len(s) >= maxPts {
					h := s[:0]
					for i := 0; i < len(s); i += 2 {
						h = append(h, s[i])
					}
					s = h
					p.thin[k] *= 2
				}
				p.series[k] = s
			}
		}
	}
	p.since++
	every := p.Every
	if every <= 0 {
		every = 100
	}
	if p.since >= every {
		return p.flush()
	}
	return nil
}

func (p *Plots) panels() []Panel {
	if len(p.Panels) == 0 {
		return DefaultPanels()
	}
	return p.Panels
}

// Flush rewrites every panel that has data now.
func (p *Plots) Flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.flush()
}

// Close rewrites the plots a last time.
func (p *Plots) Close() error { return p.Flush() }

func (p *Plots) flush() (err error) {
	p.since = 0
	// A plot must not take the run down: gonum/plot panics on some axis
	// ranges (see widen); any such panic is an error of the plots.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("sinks: plots: %v", r)
		}
	}()
	if p.Dir == "" {
		return fmt.Errorf("sinks: plots: no folder (Plots.Dir)")
	}
	if err := os.MkdirAll(p.Dir, 0o755); err != nil {
		return fmt.Errorf("sinks: plots: %w", err)
	}
	w, h := p.Width, p.Height
	if w <= 0 {
		w = 8 * vg.Inch
	}
	if h <= 0 {
		h = 4 * vg.Inch
	}
	xkey := p.X
	if xkey == "" {
		xkey = "step"
	}
	for _, pn := range p.panels() {
		pl := plot.New()
		pl.Title.Text = pn.Title
		pl.X.Label.Text = xkey
		pl.Y.Label.Text = pn.YLabel
		pl.Add(plotter.NewGrid())
		if pn.LogY {
			pl.Y.Scale = plot.LogScale{}
			pl.Y.Tick.Marker = plot.LogTicks{}
		}
		lines := 0
		for i, k := range pn.Keys {
			pts := p.series[k]
			if pn.LogY {
				var pos plotter.XYs
				for _, q := range pts {
					if q.Y > 0 {
						pos = append(pos, q)
					}
				}
				pts = pos
			}
			if len(pts) == 0 {
				continue
			}
			l, err := plotter.NewLine(append(plotter.XYs(nil), pts...))
			if err != nil {
				return fmt.Errorf("sinks: plots: %s: %w", k, err)
			}
			l.Color = plotutil.Color(i)
			l.Width = vg.Points(1.5)
			pl.Add(l)
			if len(pts) == 1 || len(pts) < 50 {
				sc, err := plotter.NewScatter(append(plotter.XYs(nil), pts...))
				if err == nil {
					sc.Color = plotutil.Color(i)
					pl.Add(sc)
				}
			}
			pl.Legend.Add(k, l)
			lines++
		}
		if lines == 0 {
			continue
		}
		widen(&pl.X, false)
		widen(&pl.Y, pn.LogY)
		pl.Legend.Top = true
		wt, err := pl.WriterTo(w, h, "png")
		if err != nil {
			return fmt.Errorf("sinks: plots: %s: %w", pn.File, err)
		}
		if err := WriteFileAtomic(filepath.Join(p.Dir, pn.File), func(out io.Writer) error {
			_, err := wt.WriteTo(out)
			return err
		}); err != nil {
			return fmt.Errorf("sinks: plots: %s: %w", pn.File, err)
		}
	}
	return nil
}

// widen gives an axis whose data spans no range (one point, a constant
// series) a range around its value: gonum/plot's ticks panic ("illegal
// range") on a point range its own padding cannot open, e.g. a single
// learning rate of 1.25e29 (a run that went NaN at step 2).
func widen(a *plot.Axis, log bool) {
	if a.Max-a.Min > 1e-9*math.Max(math.Abs(a.Min), math.Abs(a.Max)) {
		return
	}
	if log {
		a.Min, a.Max = a.Min/2, a.Max*2
		return
	}
	d := math.Max(0.05*math.Abs(a.Max), 1e-6)
	a.Min, a.Max = a.Min-d, a.Max+d
}
