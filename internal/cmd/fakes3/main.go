// Command fakes3 serves a folder of shards from an in-process S3 (gofakes3
// with its in-memory backend, behind internal/s3test's fault-injecting
// middleware), for benchmarks of the bucket code paths against a link with
// a chosen per-request latency and fault rates:
//
//	go run ./internal/cmd/fakes3 --dir /tmp/shards --addr 127.0.0.1:9000 --latency 20ms
//
// It uploads every regular file directly in --dir into --bucket under
// --prefix, prints the bucket URL of the glob <prefix>* on stdout (with the
// query parameters that point s3blob at it) and serves until SIGINT or
// SIGTERM, then prints the requests it served on stderr. Clients need
// AWS_EC2_METADATA_DISABLED=true and any static AWS_ACCESS_KEY_ID /
// AWS_SECRET_ACCESS_KEY. The whole folder is held in memory.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/contrastream/contrastream/internal/s3test"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "fakes3:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("fakes3", flag.ContinueOnError)
	dir := fs.String("dir", "", "`folder` whose files are served (required)")
	addr := fs.String("addr", "127.0.0.1:9000", "TCP `address` to listen on (port 0: a free one)")
	bucket := fs.String("bucket", "bench", "bucket name")
	prefix := fs.String("prefix", "shards/", "key prefix of the uploaded files")
	var f s3test.Faults
	fs.DurationVar(&f.Latency, "latency", 0, "added to every request before it is served")
	fs.Float64Var(&f.ErrorRate, "error-rate", 0, "fraction of requests answered 500 InternalError")
	fs.Float64Var(&f.ResetRate, "reset-rate", 0, "fraction of requests whose connection is reset")
	fs.Float64Var(&f.SlowRate, "slow-rate", 0, "fraction of requests stalled by --slow")
	fs.DurationVar(&f.Slow, "slow", time.Second, "stall of a slow request")
	fs.Uint64Var(&f.Seed, "seed", 1, "seed of the fault draws")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *dir == "" {
		return errors.New("--dir is required")
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"--error-rate", f.ErrorRate}, {"--reset-rate", f.ResetRate}, {"--slow-rate", f.SlowRate}} {
		if !(r.v >= 0 && r.v <= 1) {
			return fmt.Errorf("%s %v: want a fraction in [0, 1]", r.name, r.v)
		}
	}
	if f.Latency < 0 || f.Slow < 0 {
		return errors.New("--latency and --slow must not be negative")
	}
	srv, err := s3test.Listen(*addr, *bucket)
	if err != nil {
		return err
	}
	defer srv.Close()
	keys, err := srv.Upload(*bucket, *prefix, *dir)
	if err != nil {
		return fmt.Errorf("uploading %s: %w", *dir, err)
	}
	if len(keys) == 0 {
		return fmt.Errorf("%s holds no files", *dir)
	}
	srv.SetFaults(f)
	fmt.Println(srv.BucketURL(*bucket, *prefix+"*"))
	fmt.Fprintf(os.Stderr, "fakes3: %d objects from %s at %s, latency %v, faults 500 %.3g / reset %.3g / slow %.3g\n",
		len(keys), *dir, srv.Endpoint, f.Latency, f.ErrorRate, f.ResetRate, f.SlowRate)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	req, gets, injected, bytes := srv.Stats()
	fmt.Fprintf(os.Stderr, "fakes3: served %d requests (%d GETs, %.1f MB), %d faults injected, at most %d in flight at once\n",
		req, gets, float64(bytes)/1e6, injected, srv.MaxInFlight())
	return nil
}
