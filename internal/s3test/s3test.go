// Package s3test serves an in-process S3 (gofakes3 with an in-memory
// backend) behind a fault-injecting HTTP middleware, for tests and
// benchmarks of the bucket code paths: per-request latency, random 500s,
// connection resets, slow responses and 404s for chosen keys.
package s3test

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Faults is what the middleware injects; the zero value injects nothing.
// Rates are probabilities per request, drawn from a PCG seeded with Seed.
type Faults struct {
	Latency   time.Duration // added to every request before it is served
	ErrorRate float64       // answer 500 InternalError
	ResetRate float64       // close the connection without an answer
	SlowRate  float64       // stall the answer by Slow
	Slow      time.Duration
	Seed      uint64
	// FailFirst answers 500 InternalError to the first FailFirst requests
	// after SetFaults (the listing and the shard openings a run cannot do
	// without), so a test sees retries however few requests the run makes.
	FailFirst int
	// NotFound, if set, answers 404 NoSuchKey for the keys it reports.
	NotFound func(key string) bool
}

// Server is a running fake S3.
type Server struct {
	Endpoint string // http://127.0.0.1:port
	Backend  *s3mem.Backend
	ts       *httptest.Server

	mu     sync.Mutex
	faults Faults
	rng    *rand.Rand
	served int // requests since SetFaults

	requests, gets, injected atomic.Int64
	bytes                    atomic.Int64
	inFlight, maxInFlight    atomic.Int64
}

// Env sets the variables the AWS SDK needs to talk to a fake S3 (no
// instance metadata lookups, static credentials, a region).
func Env(setenv func(k, v string)) {
	setenv("AWS_EC2_METADATA_DISABLED", "true")
	setenv("AWS_ACCESS_KEY_ID", "test")
	setenv("AWS_SECRET_ACCESS_KEY", "test")
	setenv("AWS_REGION", "us-east-1")
}

// Start serves a fake S3 holding the given (empty) buckets on a free
// loopback port.
func Start(buckets ...string) (*Server, error) {
	return Listen("127.0.0.1:0", buckets...)
}

// Listen is Start on the TCP address addr ("127.0.0.1:9000"; port 0 picks
// a free one).
func Listen(addr string, buckets ...string) (*Server, error) {
	be := s3mem.New()
	for _, b := range buckets {
		if err := be.CreateBucket(b); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{Backend: be, rng: rand.New(rand.NewPCG(0, 0))}
	fake := gofakes3.New(be).Server()
	s.ts = httptest.NewUnstartedServer(s.middleware(fake))
	s.ts.Listener.Close()
	s.ts.Listener = ln
	s.ts.Start()
	s.Endpoint = s.ts.URL
	return s, nil
}

// Close stops the server (and its connections).
func (s *Server) Close() {
	s.ts.CloseClientConnections()
	s.ts.Close()
}

// SetFaults replaces the faults injected from now on.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	s.rng = rand.New(rand.NewPCG(f.Seed, 0x5eed))
	s.served = 0
}

// Stats returns the requests served (all, GETs), faults injected and body
// bytes sent for GETs.
func (s *Server) Stats() (requests, gets, injected, bytes int64) {
	return s.requests.Load(), s.gets.Load(), s.injected.Load(), s.bytes.Load()
}

// MaxInFlight returns the most requests the server held at once (being
// delayed or served) since it started or since the last ResetMaxInFlight.
func (s *Server) MaxInFlight() int64 { return s.maxInFlight.Load() }

// ResetMaxInFlight restarts MaxInFlight from the requests in flight now.
func (s *Server) ResetMaxInFlight() { s.maxInFlight.Store(s.inFlight.Load()) }

// BucketURL returns the s3blob URL of bucket on this server, with the
// query parameters that point the AWS SDK at it; key is appended to the path
// (it may hold a glob).
func (s *Server) BucketURL(bucket, key string) string {
	return fmt.Sprintf("s3://%s/%s?endpoint=%s&use_path_style=true&disable_https=true&region=us-east-1",
		bucket, strings.TrimPrefix(key, "/"), s.Endpoint)
}

// Upload puts every regular file directly in dir into bucket under prefix
// (prefix + base name) and returns the keys.
func (s *Server) Upload(bucket, prefix, dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		st, err := f.Stat()
		if err == nil {
			_, err = s.Backend.PutObject(bucket, prefix+e.Name(), map[string]string{}, f, st.Size(), nil)
		}
		f.Close()
		if err != nil {
			return nil, err
		}
		keys = append(keys, prefix+e.Name())
	}
	return keys, nil
}

type countWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w countWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n.Add(int64(n))
	return n, err
}

func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		n := s.inFlight.Add(1)
		defer s.inFlight.Add(-1)
		for m := s.maxInFlight.Load(); n > m && !s.maxInFlight.CompareAndSwap(m, n); m = s.maxInFlight.Load() {
		}
		s.mu.Lock()
		f := s.faults
		s.served++
		failFirst := s.served <= f.FailFirst
		var errDraw, resetDraw, slowDraw float64 = 1, 1, 1
		if f.ErrorRate > 0 || f.ResetRate > 0 || f.SlowRate > 0 {
			errDraw, resetDraw, slowDraw = s.rng.Float64(), s.rng.Float64(), s.rng.Float64()
		}
		s.mu.Unlock()
		if f.Latency > 0 {
			sleep(r, f.Latency)
		}
		// Path style: /bucket/key.
		key := strings.TrimPrefix(r.URL.Path, "/")
		if i := strings.IndexByte(key, '/'); i >= 0 {
			key = key[i+1:]
		} else {
			key = ""
		}
		switch {
		case f.NotFound != nil && key != "" && f.NotFound(key):
			s.injected.Add(1)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>%s</Key></Error>`, key)
			return
		case failFirst || errDraw < f.ErrorRate:
			s.injected.Add(1)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected</Message></Error>`)
			return
		case resetDraw < f.ResetRate:
			s.injected.Add(1)
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					if tc, ok := conn.(*net.TCPConn); ok {
						tc.SetLinger(0) // RST, not FIN
					}
					conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		case slowDraw < f.SlowRate:
			s.injected.Add(1)
			sleep(r, f.Slow)
		}
		if r.Method == http.MethodGet && key != "" && r.URL.RawQuery == "" || r.Header.Get("Range") != "" {
			s.gets.Add(1)
			next.ServeHTTP(countWriter{w, &s.bytes}, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sleep waits d or until the request is cancelled.
func sleep(r *http.Request, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}
