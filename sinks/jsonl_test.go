package sinks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/contrastream/contrastream/pipeline"
)

func TestJSONLLines(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 5, 0, 0, 123, time.FixedZone("x", 3600))
	for _, tc := range []struct {
		in   pipeline.DeadLetter
		want string
	}{
		{pipeline.DeadLetter{Pipeline: "import", Stage: "check", Key: pipeline.Key{Shard: "a/b.png", Row: 7}, Reason: "bad <header>", Time: t0},
			`{"time":"2026-11-27T04:00:00.000000123Z","pipeline":"import","stage":"check","shard":"a/b.png","row":7,"reason":"bad <header>"}`},
		{pipeline.DeadLetter{Stage: "s", Reason: "line\nbreak \"quoted\"", Time: t0},
			`{"time":"2026-11-27T04:00:00.000000123Z","pipeline":"","stage":"s","shard":"","row":0,"reason":"line\nbreak \"quoted\""}`},
	} {
		var buf bytes.Buffer
		d := JSONLTo(&buf)
		if err := d.WriteDeadLetter(tc.in); err != nil {
			t.Fatal(err)
		}
		if buf.Len() != 0 {
			t.Errorf("written before Flush/Close: %q", buf.String())
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSuffix(buf.String(), "\n"); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
		if strings.Count(buf.String(), "\n") != 1 {
			t.Errorf("not one line: %q", buf.String())
		}
	}
}

func TestJSONLFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "bad.jsonl")
	d := JSONL(path)
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("file exists before the first dead letter: %v", err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if err := d.WriteDeadLetter(pipeline.DeadLetter{Stage: "s", Key: pipeline.Key{Shard: fmt.Sprint(g), Row: int64(i)}, Reason: "r"}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := d.WriteDeadLetter(pipeline.DeadLetter{}); err == nil {
		t.Error("write after Close succeeded")
	}
	recs, err := ReadDeadLetters(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 200 || d.Count() != 200 {
		t.Fatalf("%d records read, Count %d, want 200", len(recs), d.Count())
	}
	for _, r := range recs {
		if r.Time.IsZero() || r.Stage != "s" || r.Reason != "r" {
			t.Fatalf("record %+v", r)
		}
	}
	// A second writer appends.
	d2 := JSONL(path)
	d2.WriteDeadLetter(pipeline.DeadLetter{Reason: "more"})
	d2.Close()
	if recs, _ := ReadDeadLetters(path); len(recs) != 201 || recs[200].Reason != "more" {
		t.Fatalf("append: %d records", len(recs))
	}
	if recs, err := ReadDeadLetters(filepath.Join(t.TempDir(), "none")); recs != nil || err != nil {
		t.Errorf("missing file: %v, %v", recs, err)
	}
}

// keyedInt is a record that knows its key.
type keyedInt int

func (k keyedInt) Key() pipeline.Key { return pipeline.Key{Shard: "nums.parquet", Row: int64(k)} }

func TestJSONLInPipeline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.jsonl")
	p := pipeline.New("demo", pipeline.WithDeadLetter(JSONL(path)))
	src := pipeline.Source(p, "read", pipeline.ProducerFunc[keyedInt](func(ctx context.Context, emit func(keyedInt) error) error {
		for i := 0; i < 10; i++ {
			if err := emit(keyedInt(i)); err != nil {
				return err
			}
		}
		return nil
	}))
	odd := pipeline.Apply(p, "even", src, pipeline.Func(func(k keyedInt) (keyedInt, error) {
		if k%3 == 0 {
			return 0, fmt.Errorf("%d is a multiple of 3", k)
		}
		return k, nil
	}))
	var c Collect[keyedInt]
	pipeline.Sink(p, "collect", odd, &c)
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs, err := ReadDeadLetters(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprintf("%s %s %s#%d", r.Pipeline, r.Stage, r.Shard, r.Row))
		if !strings.Contains(r.Reason, "multiple of 3") {
			t.Errorf("reason %q", r.Reason)
		}
	}
	want := "[demo even nums.parquet#0 demo even nums.parquet#3 demo even nums.parquet#6 demo even nums.parquet#9]"
	if fmt.Sprint(got) != want {
		t.Errorf("dead letters %v, want %s", got, want)
	}
	if c.Len() != 6 {
		t.Errorf("collected %d, want 6", c.Len())
	}
}

func ExampleJSONL() {
	dir, _ := os.MkdirTemp("", "deadletters")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "bad-records.jsonl")

	// In a pipeline: pipeline.New("import", pipeline.WithDeadLetter(sinks.JSONL(path))).
	d := JSONL(path)
	d.WriteDeadLetter(pipeline.DeadLetter{
		Pipeline: "import", Stage: "check", Key: pipeline.Key{Shard: "cats/7.jpg", Row: 7},
		Reason: "not a PNG or JPEG file", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
	if err := d.Close(); err != nil {
		panic(err)
	}
	b, _ := os.ReadFile(path)
	fmt.Print(string(b))
	// Output:
	// {"time":"2026-01-02T03:04:05Z","pipeline":"import","stage":"check","shard":"cats/7.jpg","row":7,"reason":"not a PNG or JPEG file"}
}

func ExampleCollect() {
	p := pipeline.New("demo")
	words := pipeline.Source(p, "words", pipeline.ProducerFunc[string](func(ctx context.Context, emit func(string) error) error {
		for _, w := range []string{"a", "b", "c"} {
			if err := emit(w); err != nil {
				return err
			}
		}
		return nil
	}))
	var c Collect[string]
	pipeline.Sink(p, "collect", words, &c)
	if err := p.Run(context.Background()); err != nil {
		panic(err)
	}
	fmt.Println(c.Items())
	// Output: [a b c]
}
