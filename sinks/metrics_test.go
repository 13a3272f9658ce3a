package sinks

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/pipeline/pipelinetest"
	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages/eval"
	"github.com/contrastream/contrastream/stages/train"
)

func mSteps(n int) []*train.Step {
	out := make([]*train.Step, n)
	for i := range out {
		s := i + 1
		out[i] = &train.Step{Step: s, Epoch: i / 10, Loss: 5 / math.Sqrt(float64(s)), LR: 0.3 * float64(s) / float64(n),
			PairsPerS: 1000 + float64(i), DataWait: 0.25, Pairs: 32, Cursor: sources.Cursor{Epoch: i / 10, Position: int64(32 * s)},
			Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	}
	return out
}

func mEval(step int, knn float64) *train.Eval {
	return &train.Eval{Step: step, Epoch: step / 10, Scores: eval.Scores{KNNTop1: knn, Seconds: 1.5},
		Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func TestStepAndEvalFields(t *testing.T) {
	s := &train.Step{Step: 12, Epoch: 1, Loss: 4.5, LR: 0.3, DataWait: 0.4, PairsPerS: 900, Pairs: 8}
	got := map[string]float64{}
	for _, f := range StepFields(nil, s) {
		got[f.Name] = f.Value
	}
	for k, v := range map[string]float64{"step": 12, "epoch": 1, "loss": 4.5, "lr": 0.3, "data_wait": 0.4, "pairs_per_s": 900, "pairs": 8} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (fields %v)", k, got[k], v, got)
		}
	}
	// Every field has the name of the record's JSON key.
	b, _ := json.Marshal(s)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for k := range got {
		if _, ok := m[k]; !ok {
			t.Errorf("field %s is not a JSON key of Step", k)
		}
	}
	e := mEval(5, 0.75)
	if n := len(EvalFields(nil, e)); n != 4 {
		t.Errorf("%d eval fields without a linear probe, want 4", n)
	}
	e.HasLinear, e.LinearTop1 = true, 0.5
	if f := EvalFields(nil, e); len(f) != 5 || f[3] != (Field{"linear_top1", 0.5}) {
		t.Errorf("eval fields %v", f)
	}
}

func TestMetricsJSONLFollowsEachLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "metrics.jsonl")
	m, err := NewMetricsJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path) // a `tail -f` reader
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	for i, s := range mSteps(5) {
		if err := m.WriteStep(s); err != nil {
			t.Fatal(err)
		}
		line, err := r.ReadString('\n') // present before Close: nothing is buffered
		if err != nil {
			t.Fatalf("line %d not on disk yet: %v", i, err)
		}
		var back struct {
			Type string `json:"type"`
			train.Step
		}
		if err := json.Unmarshal([]byte(line), &back); err != nil || back.Type != "step" || back.Step != *s {
			t.Fatalf("line %d = %q (%v)", i, line, err)
		}
	}
	if err := m.WriteEval(mEval(5, 0.8125)); err != nil {
		t.Fatal(err)
	}
	line, _ := r.ReadString('\n')
	if line != `{"type":"eval","step":5,"epoch":0,"knn_top1":0.8125,"eval_seconds":1.5,"time":"2026-01-02T03:04:05Z"}`+"\n" {
		t.Errorf("eval line %q", line)
	}
	if err := m.WriteStep(&train.Step{Loss: math.NaN()}); err == nil {
		t.Error("NaN written")
	}
	if m.Count() != 6 {
		t.Errorf("count %d", m.Count())
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.WriteStep(mSteps(1)[0]); err == nil {
		t.Error("write after Close")
	}
	// Reopening appends (a resumed run).
	m2, err := NewMetricsJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	_ = m2.WriteStep(mSteps(1)[0])
	_ = m2.Close()
	b, _ := os.ReadFile(path)
	if n := bytes.Count(b, []byte("\n")); n != 7 {
		t.Errorf("%d lines after reopening, want 7", n)
	}
}

func TestMetricsJSONLConcurrent(t *testing.T) {
	var buf bytes.Buffer
	m := MetricsJSONLTo(&syncWriter{w: &buf})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, s := range mSteps(50) {
				_ = m.WriteStep(s)
			}
		}()
	}
	wg.Wait()
	sc := bufio.NewScanner(&buf)
	n := 0
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %d interleaved: %q", n, sc.Text())
		}
		n++
	}
	if n != 200 {
		t.Errorf("%d lines", n)
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

type failWriter struct{ n int }

func (f *failWriter) WriteStep(*train.Step) error { f.n++; return errors.New("disk full") }
func (f *failWriter) WriteEval(*train.Eval) error { f.n++; return errors.New("disk full") }

func records(steps []*train.Step) []train.Record {
	var out []train.Record
	for _, s := range steps {
		out = append(out, s)
	}
	return out
}

func TestMetricsSinksInPipeline(t *testing.T) {
	var buf bytes.Buffer
	j := MetricsJSONLTo(&buf)
	dir := t.TempDir()
	plots := &Plots{Dir: dir, Every: 1000}
	p := pipeline.New("metrics")
	recs := append(records(mSteps(20)), mEval(20, 0.5), &train.Snapshot{Step: 20})
	pipeline.Sink(p, "metrics", pipelinetest.Slice(p, "records", recs), train.Report{Metrics: []train.Metrics{j, plots}})
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(buf.Bytes(), []byte("\n")); n != 21 {
		t.Errorf("%d lines, want 20 steps and 1 eval", n)
	}
	if err := plots.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"loss.png", "lr.png", "eval.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	// A failing writer makes record errors (the others still get every record).
	fw := &failWriter{}
	buf.Reset()
	dl := &pipelinetest.DeadLetters{}
	p = pipeline.New("metrics", pipeline.WithDeadLetter(dl))
	pipeline.Sink(p, "metrics", pipelinetest.Slice(p, "steps", records(mSteps(3))), train.Report{Metrics: []train.Metrics{fw, MetricsJSONLTo(&buf)}})
	_ = p.Run(context.Background())
	if fw.n != 3 || bytes.Count(buf.Bytes(), []byte("\n")) != 3 || len(dl.All()) != 3 {
		t.Errorf("fail writer saw %d, jsonl %d lines, %d dead letters", fw.n, bytes.Count(buf.Bytes(), []byte("\n")), len(dl.All()))
	}
}

func TestPrometheusEndpoint(t *testing.T) {
	// A real pipeline's stats.
	p := pipeline.New("train")
	pipeline.Sink(p, "sink", pipelinetest.Slice(p, "src", []int{1, 2, 3}), pipeline.ConsumerFunc[int](func(context.Context, int) error { return nil }))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	prom, err := NewPrometheus("127.0.0.1:0", p.Stats)
	if err != nil {
		t.Fatal(err)
	}
	defer prom.Close()
	for _, s := range mSteps(3) {
		if err := prom.WriteStep(s); err != nil {
			t.Fatal(err)
		}
	}
	prom.SetStorage(func() sources.StoreStats {
		return sources.StoreStats{Requests: 41, Bytes: 1 << 20, Retries: 3, CacheHits: 5, CacheMisses: 7, CacheBytes: 4096}
	})
	ev := mEval(3, 0.875)
	ev.HasLinear, ev.LinearTop1 = true, 0.5
	if err := prom.WriteEval(ev); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + prom.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	for _, want := range []string{
		"contrastream_step 3\n",
		"contrastream_loss " + fmt.Sprint(5/math.Sqrt(3)) + "\n",
		"contrastream_lr 0.3\n",
		"contrastream_pairs_per_s 1002\n",
		"contrastream_data_wait 0.25\n",
		"contrastream_knn_top1 0.875\n",
		"contrastream_linear_top1 0.5\n",
		`contrastream_records_total{kind="step"} 3`,
		`contrastream_records_total{kind="eval"} 1`,
		`contrastream_stage_in_total{kind="sink",stage="sink"} 3`,
		`contrastream_stage_out_total{kind="source",stage="src"} 3`,
		`contrastream_stage_workers{kind="sink",stage="sink"} 1`,
		"contrastream_stage_busy_seconds_total{",
		"contrastream_stage_utilization{",
		"contrastream_storage_requests_total 41\n",
		"contrastream_storage_bytes_total 1.048576e+06\n",
		"contrastream_storage_retries_total 3\n",
		"contrastream_storage_cache_hits_total 5\n",
		"contrastream_storage_cache_misses_total 7\n",
		"contrastream_storage_cache_bytes_total 4096\n",
		"go_goroutines ",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("%s", body)
	}
	addr := prom.Addr()
	if err := prom.Close(); err != nil {
		t.Fatal(err)
	}
	if err := prom.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Get("http://" + addr + "/metrics"); err == nil {
		t.Error("server still answers after Close")
	}
	if _, err := NewPrometheus("256.0.0.1:99999", nil); err == nil {
		t.Error("bad address accepted")
	}
}

func TestPlots(t *testing.T) {
	dir := t.TempDir()
	pl := &Plots{Dir: dir, Every: 10, MaxPoints: 16}
	for i, s := range mSteps(25) {
		if err := pl.WriteStep(s); err != nil {
			t.Fatal(err)
		}
		_, err := os.Stat(filepath.Join(dir, "loss.png"))
		if exists := err == nil; exists != (i >= 9) {
			t.Fatalf("after %d records loss.png exists = %v", i+1, exists)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "eval.png")); err == nil {
		t.Error("eval.png written without evaluation records")
	}
	ev := mEval(25, 0.8)
	ev.HasLinear, ev.LinearTop1 = true, 0.85
	_ = pl.WriteEval(ev)
	_ = pl.WriteEval(mEval(26, 0.82))
	if n, m := len(pl.series["knn_top1"]), len(pl.series["linear_top1"]); n != 2 || m != 1 {
		t.Errorf("eval accuracy: %d kNN and %d linear points, want 2 and 1", n, m)
	}
	if err := pl.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(pl.series["loss"]); n >= 16 || n < 8 {
		t.Errorf("loss series kept %d points, want thinned below MaxPoints", n)
	}
	for _, f := range []string{"loss.png", "lr.png", "eval.png"} {
		fh, err := os.Open(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(fh)
		fh.Close()
		if err != nil || cfg.Width < 500 || cfg.Height < 250 {
			t.Errorf("%s: %+v %v", f, cfg, err)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 3 {
		t.Errorf("files %v, want the 3 PNGs and no temporary file", ents)
	}
	if err := (&Plots{}).Flush(); err == nil {
		t.Error("no folder accepted")
	}
}

// TestPlotsOfAPointRange: a series whose values span no range (one step
// of a run that went NaN at step 2 with lr 1.25e29; a constant loss) is
// drawn instead of panicking in gonum/plot's ticks ("illegal range").
func TestPlotsOfAPointRange(t *testing.T) {
	for _, lr := range []float64{1.25e29, 0.3, 0, -2e-300} {
		dir := t.TempDir()
		pl := &Plots{Dir: dir}
		s := mSteps(1)[0]
		s.LR, s.Loss = lr, lr
		if err := pl.WriteStep(s); err != nil {
			t.Fatal(err)
		}
		if err := pl.Close(); err != nil {
			t.Fatalf("lr %v: %v", lr, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "lr.png")); err != nil {
			t.Errorf("lr %v: %v", lr, err)
		}
	}
}

func ExampleMetricsJSONL() {
	m := MetricsJSONLTo(os.Stdout) // NewMetricsJSONL("RUN/metrics.jsonl") for a file
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	_ = m.WriteStep(&train.Step{Step: 100, Loss: 5.25, LR: 0.3, Pairs: 256, Time: at})
	_ = m.WriteEval(&train.Eval{Step: 100, Scores: eval.Scores{KNNTop1: 0.8125, Seconds: 2}, Time: at})
	_ = m.Close()
	// Output:
	// {"type":"step","step":100,"epoch":0,"loss":5.25,"lr":0.3,"pos_sim":0,"neg_sim":0,"contrastive_acc":0,"grad_norm":0,"pairs":256,"step_seconds":0,"wait_seconds":0,"data_wait":0,"pairs_per_s":0,"cursor":"0:0","time":"2026-01-02T03:04:05Z"}
	// {"type":"eval","step":100,"epoch":0,"knn_top1":0.8125,"eval_seconds":2,"time":"2026-01-02T03:04:05Z"}
}
