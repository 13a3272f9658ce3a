package sinks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages/train"
)

// Prometheus serves the run's metrics at http://ADDR/metrics in the
// Prometheus text format, from its own registry (nothing global):
//
//   - contrastream_<field> (gauge): the last value of every numeric field
//     of the records it was given (StepFields and EvalFields: step, loss,
//     lr, pairs_per_s, data_wait, knn_top1, …);
//   - contrastream_records_total{kind} (counter): records seen, by kind
//     ("step", "eval");
//   - with stats (given to NewPrometheus, or the run's when train.Run
//     starts it), per stage:
//     contrastream_stage_{in,out,errors}_total,
//     contrastream_stage_{busy,wait_in,wait_out}_seconds_total (counters),
//     contrastream_stage_utilization and contrastream_stage_workers
//     (gauges), labelled stage and kind;
//   - with a storage counter (SetStorage; train sets the default store's):
//     contrastream_storage_{requests,bytes,retries,cache_hits,cache_misses,
//     cache_bytes}_total (counters) of the shards read from buckets;
//   - the Go runtime and process collectors.
//
// It implements train.Metrics and train.Starter. Safe for concurrent use.
type Prometheus struct {
	srv  *http.Server
	ln   net.Listener
	done chan error
	reg  *prometheus.Registry

	mu      sync.Mutex
	stats   func() pipeline.RunStats
	storage func() sources.StoreStats
	last    map[string]float64
	counts  map[string]float64

	closeOnce sync.Once
	closeErr  error
}

// NewPrometheus listens on addr ("127.0.0.1:9090"; port 0 picks a free
// one, see Addr) and serves /metrics from a goroutine that Close stops.
// stats may be nil. Listening happens here, so a taken port is an error now,
// not later.
func NewPrometheus(addr string, stats func() pipeline.RunStats) (*Prometheus, error) {
	p := &Prometheus{stats: stats, last: map[string]float64{}, counts: map[string]float64{}, done: make(chan error, 1)}
	p.reg = prometheus.NewRegistry()
	if err := p.reg.Register(promCollector{p}); err != nil {
		return nil, fmt.Errorf("sinks: prometheus: %w", err)
	}
	if err := p.reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, fmt.Errorf("sinks: prometheus: %w", err)
	}
	if err := p.reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, fmt.Errorf("sinks: prometheus: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sinks: prometheus: %w", err)
	}
	p.ln = ln
	mux := http.NewServeMux()
	mux.Handle("/metrics", p.Handler())
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { p.done <- p.srv.Serve(ln) }()
	return p, nil
}

// Addr returns the address it listens on (with the chosen port).
func (p *Prometheus) Addr() string { return p.ln.Addr().String() }

// Handler returns the /metrics handler (to mount on your own server).
func (p *Prometheus) Handler() http.Handler {
	return promhttp.HandlerFor(p.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// WriteStep updates the gauges from a step record and counts it.
func (p *Prometheus) WriteStep(s *train.Step) error {
	p.record("step", StepFields(nil, s))
	return nil
}

// WriteEval updates the gauges from an evaluation record and counts it.
func (p *Prometheus) WriteEval(e *train.Eval) error {
	p.record("eval", EvalFields(nil, e))
	return nil
}

func (p *Prometheus) record(kind string, f []Field) {
	p.mu.Lock()
	for _, x := range f {
		p.last[x.Name] = x.Value
	}
	p.counts[kind]++
	p.mu.Unlock()
}

// SetStorage has /metrics report the remote traffic that stats counts
// (sources.Store.Stats: requests, bytes, retries, cache use); nil stops it.
func (p *Prometheus) SetStorage(stats func() sources.StoreStats) {
	p.mu.Lock()
	p.storage = stats
	p.mu.Unlock()
}

// Start takes the run's live stage statistics, unless NewPrometheus was
// given some.
func (p *Prometheus) Start(info train.Info) error {
	p.mu.Lock()
	if p.stats == nil {
		p.stats = info.Stats
	}
	p.mu.Unlock()
	return nil
}

// Close shuts the server down (waiting up to 5 s for scrapes in flight) and
// waits for its goroutine. A second Close returns the first's result.
func (p *Prometheus) Close() error {
	p.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := p.srv.Shutdown(ctx)
		if serr := <-p.done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
			err = serr
		}
		if err != nil {
			p.closeErr = fmt.Errorf("sinks: prometheus: %w", err)
		}
	})
	return p.closeErr
}

// promName sanitises a record key into a metric name suffix.
func promName(k string) string {
	var b strings.Builder
	for i, r := range k {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '_', r >= '0' && r <= '9' && i > 0:
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// promCollector is an unchecked collector (Describe sends nothing): the
// record gauges appear as records name them.
type promCollector struct{ p *Prometheus }

func (promCollector) Describe(chan<- *prometheus.Desc) {}

var (
	promRecords = prometheus.NewDesc("contrastream_records_total", "Metrics records seen, by kind.", []string{"kind"}, nil)
	promStage   = func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("contrastream_stage_"+name, help, []string{"stage", "kind"}, nil)
	}
	promStageIn      = promStage("in_total", "Records into the stage.")
	promStageOut     = promStage("out_total", "Records out of the stage.")
	promStageErrors  = promStage("errors_total", "Record errors of the stage.")
	promStageBusy    = promStage("busy_seconds_total", "Seconds the stage's workers spent processing, summed over workers.")
	promStageWaitIn  = promStage("wait_in_seconds_total", "Seconds the stage's workers waited for input, summed over workers.")
	promStageWaitOut = promStage("wait_out_seconds_total", "Seconds the stage's workers waited to hand output on, summed over workers.")
	promStageUtil    = promStage("utilization", "Busy time over the workers' wall time since the run started.")
	promStageWorkers = promStage("workers", "Workers of the stage.")
	promStorage      = func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("contrastream_storage_"+name+"_total", help, nil, nil)
	}
	promStorageRequests    = promStorage("requests", "Requests sent to bucket storage (GET, HEAD, LIST), retries included.")
	promStorageBytes       = promStorage("bytes", "Bytes received from bucket storage.")
	promStorageRetries     = promStorage("retries", "Bucket requests that failed transiently and were retried.")
	promStorageCacheHits   = promStorage("cache_hits", "Byte-range reads served from the local cache.")
	promStorageCacheMisses = promStorage("cache_misses", "Cacheable byte-range reads that went to the network.")
	promStorageCacheBytes  = promStorage("cache_bytes", "Bytes served from the local cache.")
)

func (c promCollector) Collect(ch chan<- prometheus.Metric) {
	p := c.p
	p.mu.Lock()
	seen := map[string]bool{}
	for _, k := range sortedKeys(p.last) {
		name := "contrastream_" + promName(k)
		if seen[name] || name == "contrastream_records_total" {
			continue
		}
		seen[name] = true
		d := prometheus.NewDesc(name, "Last value of the records' "+k+" field.", nil, nil)
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, p.last[k])
	}
	for _, k := range sortedKeys(p.counts) {
		ch <- prometheus.MustNewConstMetric(promRecords, prometheus.CounterValue, p.counts[k], k)
	}
	stats, storage := p.stats, p.storage
	p.mu.Unlock()
	if storage != nil {
		st := storage()
		for _, m := range []struct {
			d *prometheus.Desc
			v int64
		}{{promStorageRequests, st.Requests}, {promStorageBytes, st.Bytes}, {promStorageRetries, st.Retries},
			{promStorageCacheHits, st.CacheHits}, {promStorageCacheMisses, st.CacheMisses}, {promStorageCacheBytes, st.CacheBytes}} {
			ch <- prometheus.MustNewConstMetric(m.d, prometheus.CounterValue, float64(m.v))
		}
	}
	if stats == nil {
		return
	}
	rs := stats()
	for _, s := range rs.Stages {
		l := []string{s.Name, s.Kind}
		ch <- prometheus.MustNewConstMetric(promStageIn, prometheus.CounterValue, float64(s.In), l...)
		ch <- prometheus.MustNewConstMetric(promStageOut, prometheus.CounterValue, float64(s.Out), l...)
		ch <- prometheus.MustNewConstMetric(promStageErrors, prometheus.CounterValue, float64(s.Errors), l...)
		ch <- prometheus.MustNewConstMetric(promStageBusy, prometheus.CounterValue, s.Busy.Seconds(), l...)
		ch <- prometheus.MustNewConstMetric(promStageWaitIn, prometheus.CounterValue, s.WaitIn.Seconds(), l...)
		ch <- prometheus.MustNewConstMetric(promStageWaitOut, prometheus.CounterValue, s.WaitOut.Seconds(), l...)
		ch <- prometheus.MustNewConstMetric(promStageUtil, prometheus.GaugeValue, s.Utilization(rs.Elapsed), l...)
		ch <- prometheus.MustNewConstMetric(promStageWorkers, prometheus.GaugeValue, float64(s.Workers), l...)
	}
}
