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
	"github.com/contrastream/contrastream/stages/train"
)

// mStep is a step record as a trainer might define it.
type mStep struct {
	Kind     string  `json:"kind"`
	Step     int64   `json:"step"`
	Epoch    int     `json:"epoch"`
	Loss     float64 `json:"loss"`
	LR       float64 `json:"lr"`
	PairsPS  float64 `json:"pairs_per_s"`
	DataWait float64 `json:"data_wait"`
}

func mSteps(n int) []mStep {
	out := make([]mStep, n)
	for i := range out {
		s := int64(i + 1)
		out[i] = mStep{Kind: "step", Step: s, Epoch: i / 10, Loss: 5 / math.Sqrt(float64(s)), LR: 0.3 * float64(s) / float64(n),
			PairsPS: 1000 + float64(i), DataWait: 0.25}
	}
	return out
}

func TestNumericFields(t *testing.T) {
	cases := []struct {
		name string
		in   any
		want map[string]float64
		err  string
	}{
		{"struct", mStep{Kind: "step", Step: 3, Loss: 1.5}, map[string]float64{"step": 3, "epoch": 0, "loss": 1.5, "lr": 0, "pairs_per_s": 0, "data_wait": 0}, ""},
		{"record", Record{"step": 2, "knn_top1": float32(0.5), "ok": true, "name": "x"}, map[string]float64{"step": 2, "knn_top1": 0.5, "ok": 1}, ""},
		{"floats", map[string]float64{"a": math.NaN()}, map[string]float64{"a": math.NaN()}, ""},
		{"nested", struct {
			Step   int                `json:"step"`
			Cursor string             `json:"cursor"`
			Eval   map[string]float64 `json:"eval"`
		}{7, "1:20", map[string]float64{"knn_top1": 0.75}}, map[string]float64{"step": 7, "eval.knn_top1": 0.75}, ""},
		{"nested record", Record{"a": Record{"b": map[string]any{"c": 1}}, "d": map[string]float64{"e": 2}}, map[string]float64{"a.b.c": 1, "d.e": 2}, ""},
		{"not an object", []int{1}, nil, "not a JSON object"},
		{"unmarshalable", make(chan int), nil, "unsupported type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := NumericFields(c.in)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || len(got) != len(c.want) {
				t.Fatalf("got %v %v, want %v", got, err, c.want)
			}
			for k, w := range c.want {
				if g := got[k]; g != w && !(math.IsNaN(g) && math.IsNaN(w)) {
					t.Errorf("%s = %v, want %v", k, g, w)
				}
			}
		})
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
		if err := m.WriteRecord(s); err != nil {
			t.Fatal(err)
		}
		line, err := r.ReadString('\n') // present before Close: nothing is buffered
		if err != nil {
			t.Fatalf("line %d not on disk yet: %v", i, err)
		}
		var back mStep
		if err := json.Unmarshal([]byte(line), &back); err != nil || back != s {
			t.Fatalf("line %d = %q (%v)", i, line, err)
		}
	}
	if err := m.WriteRecord(Record{"kind": "eval", "step": 5, "knn_top1": 0.81, "bad": math.Inf(1)}); err != nil {
		t.Fatal(err)
	}
	line, _ := r.ReadString('\n')
	if line != `{"bad":null,"kind":"eval","knn_top1":0.81,"step":5}`+"\n" {
		t.Errorf("eval line %q", line)
	}
	if err := m.WriteRecord(42); err == nil {
		t.Error("a number is not a record")
	}
	if m.Count() != 6 {
		t.Errorf("count %d", m.Count())
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.WriteRecord(Record{}); err == nil {
		t.Error("write after Close")
	}
	// Reopening appends (a resumed run).
	m2, err := NewMetricsJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	_ = m2.WriteRecord(Record{"step": 6})
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
			for i := 0; i < 50; i++ {
				_ = m.WriteRecord(Record{"g": g, "i": i, "pad": strings.Repeat("x", 100)})
			}
		}()
	}
	wg.Wait()
	sc := bufio.NewScanner(&buf)
	n := 0
	for sc.Scan() {
		var r Record
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

func (f *failWriter) WriteRecord(any) error { f.n++; return errors.New("disk full") }
func (f *failWriter) Close() error          { return errors.New("close failed") }

func TestMetricsConsumerInPipeline(t *testing.T) {
	var buf bytes.Buffer
	j := MetricsJSONLTo(&buf)
	dir := t.TempDir()
	plots := &Plots{Dir: dir, Every: 1000}
	p := pipeline.New("metrics")
	pipeline.Sink(p, "metrics", pipelinetest.Slice(p, "steps", mSteps(20)), Metrics[mStep]{Writers: []RecordWriter{j, plots}})
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(buf.Bytes(), []byte("\n")); n != 20 {
		t.Errorf("%d lines", n)
	}
	for _, f := range []string{"loss.png", "lr.png"} { // written by Close
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	// A failing writer makes record errors (the others still get every record),
	// and its Close error is the sink's.
	fw := &failWriter{}
	buf.Reset()
	dl := &pipelinetest.DeadLetters{}
	p = pipeline.New("metrics", pipeline.WithDeadLetter(dl))
	pipeline.Sink(p, "metrics", pipelinetest.Slice(p, "steps", mSteps(3)), Metrics[mStep]{Writers: []RecordWriter{fw, MetricsJSONLTo(&buf)}})
	err := p.Run(context.Background())
	if fw.n != 3 || bytes.Count(buf.Bytes(), []byte("\n")) != 3 || len(dl.All()) != 3 {
		t.Errorf("fail writer saw %d, jsonl %d lines, %d dead letters", fw.n, bytes.Count(buf.Bytes(), []byte("\n")), len(dl.All()))
	}
	if err == nil || !strings.Contains(err.Error(), "close failed") {
		t.Errorf("run error %v, want the Close error", err)
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
		if err := prom.WriteRecord(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := prom.WriteRecord(Record{"kind": "eval", "step": 3, "knn_top1": 0.875, "bad key!": 1, "eval": Record{"linear_top1": 0.5}}); err != nil {
		t.Fatal(err)
	}
	if err := prom.WriteRecord(Record{"type": "typed"}); err != nil {
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
		"contrastream_bad_key_ 1\n",
		"contrastream_eval_linear_top1 0.5\n",
		`contrastream_records_total{kind="step"} 3`,
		`contrastream_records_total{kind="eval"} 1`,
		`contrastream_records_total{kind="typed"} 1`,
		`contrastream_stage_in_total{kind="sink",stage="sink"} 3`,
		`contrastream_stage_out_total{kind="source",stage="src"} 3`,
		`contrastream_stage_workers{kind="sink",stage="sink"} 1`,
		"contrastream_stage_busy_seconds_total{",
		"contrastream_stage_utilization{",
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
		if err := pl.WriteRecord(s); err != nil {
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
	_ = pl.WriteRecord(Record{"kind": "eval", "step": 25, "knn_top1": 0.8, "linear_top1": 0.85})
	_ = pl.WriteRecord(Record{"kind": "eval", "knn_top1": 0.9}) // no step: left out
	_ = pl.WriteRecord(Record{"step": 26, "eval": map[string]float64{"knn_top1": 0.82}})
	if n := len(pl.series["eval.knn_top1"]); n != 1 {
		t.Errorf("nested eval accuracy: %d points", n)
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

func ExampleMetricsJSONL() {
	m := MetricsJSONLTo(os.Stdout) // NewMetricsJSONL("RUN/metrics.jsonl") for a file
	type step struct {
		Kind string  `json:"kind"`
		Step int64   `json:"step"`
		Loss float64 `json:"loss"`
		LR   float64 `json:"lr"`
	}
	_ = m.WriteRecord(step{"step", 100, 5.25, 0.3})
	_ = m.WriteRecord(Record{"kind": "eval", "step": 100, "knn_top1": 0.8125})
	_ = m.Close()
	// Output:
	// {"kind":"step","step":100,"loss":5.25,"lr":0.3}
	// {"kind":"eval","knn_top1":0.8125,"step":100}
}

// TestMetricsTakeTrainerSteps: the trainer's step record gives the keys
// Prometheus and Plots use.
func TestMetricsTakeTrainerSteps(t *testing.T) {
	s := &train.Step{Step: 12, Epoch: 1, Loss: 4.5, LR: 0.3, DataWait: 0.4, PairsPerS: 900,
		Cursor: sources.Cursor{Epoch: 1, Position: 3072}, Eval: map[string]float64{"knn_top1": 0.8}}
	f, err := NumericFields(s)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]float64{"step": 12, "epoch": 1, "loss": 4.5, "lr": 0.3, "data_wait": 0.4, "pairs_per_s": 900, "eval.knn_top1": 0.8} {
		if f[k] != v {
			t.Errorf("%s = %v, want %v (fields %v)", k, f[k], v, f)
		}
	}
	dir := t.TempDir()
	pl := &Plots{Dir: dir}
	if err := pl.WriteRecord(s); err != nil {
		t.Fatal(err)
	}
	if err := pl.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"loss.png", "lr.png", "eval.png"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
}
