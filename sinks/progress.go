package sinks

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/contrastream/contrastream/stages/train"
)

// Progress shows a training run's progress on W (usually stderr): on a
// terminal a bar redrawn at most every 100 ms, otherwise one line every 5
// seconds (and at the last step); each evaluation on a line of its own. It
// implements train.Metrics and train.Starter (Start gives it the total
// step count). Close ends the bar's line. Safe for concurrent use.
type Progress struct {
	W io.Writer
	// Total is the step count of the whole run (train.Run sets it through
	// Start when zero).
	Total int

	mu              sync.Mutex
	tty             bool
	start, lastShow time.Time
	pairs           int64
	wait, stepTotal float64
}

// Start takes the run's total step count.
func (p *Progress) Start(info train.Info) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.Total == 0 {
		p.Total = info.TotalSteps
	}
	p.begin()
	return nil
}

func (p *Progress) begin() {
	if p.start.IsZero() {
		p.start = time.Now()
		if f, ok := p.W.(*os.File); ok {
			p.tty = term.IsTerminal(int(f.Fd()))
		}
	}
}

// WriteStep counts the step and shows it when due.
func (p *Progress) WriteStep(s *train.Step) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.begin()
	p.pairs += int64(s.Pairs)
	p.wait += s.Wait
	p.stepTotal += s.Seconds
	now := time.Now()
	every := 5 * time.Second
	if p.tty {
		every = 100 * time.Millisecond
	}
	if now.Sub(p.lastShow) < every && s.Step != p.Total {
		return nil
	}
	p.lastShow = now
	rate := float64(p.pairs) / max(now.Sub(p.start).Seconds(), 1e-9)
	wait := 0.0
	if p.stepTotal > 0 {
		wait = p.wait / p.stepTotal
	}
	if p.tty {
		const width = 24
		frac := float64(s.Step) / float64(max(p.Total, 1))
		n := min(int(frac*width), width)
		_, err := fmt.Fprintf(p.W, "\rtrain [%s%s] step %d/%d epoch %d loss %.4f lr %.3g %.0f pairs/s data-wait %.0f%%   ",
			strings.Repeat("=", n), strings.Repeat(" ", width-n), s.Step, p.Total, s.Epoch, s.Loss, s.LR, rate, 100*wait)
		return err
	}
	_, err := fmt.Fprintf(p.W, "train: step %d/%d epoch %d loss %.4f lr %.3g %.0f pairs/s data-wait %.0f%%\n",
		s.Step, p.Total, s.Epoch, s.Loss, s.LR, rate, 100*wait)
	return err
}

// WriteEval shows the evaluation on its own line.
func (p *Progress) WriteEval(e *train.Eval) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprint(p.W, "\r\033[K")
	}
	line := fmt.Sprintf("train: epoch %d step %d: knn_top1 %.4f", e.Epoch, e.Step, e.KNNTop1)
	if e.HasLinear {
		line += fmt.Sprintf(", linear_top1 %.4f", e.LinearTop1)
	}
	_, err := fmt.Fprintf(p.W, "%s (%.1fs)\n", line, e.Seconds)
	return err
}

// Close ends the bar's line on a terminal.
func (p *Progress) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		_, err := fmt.Fprintln(p.W)
		return err
	}
	return nil
}
