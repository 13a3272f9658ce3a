package sinks

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages"
)

// synthShards writes n labeled 16×16 PNGs into shards (several, with small
// row groups) and returns their folder.
func synthShards(t testing.TB, n, shards int) string {
	t.Helper()
	dir := t.TempDir()
	_, err := WriteSynth(context.Background(), sources.Synth{N: n, Size: 16, Seed: 3},
		ShardsConfig{Dir: dir, RowGroupRows: 13}, ImportOptions{Shards: shards, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func streamConfig(dir string, batch, workers int) StreamConfig {
	return StreamConfig{
		View: stages.ViewStreamConfig{
			Source: sources.ParquetConfig{Glob: dir, Seed: 5, Epochs: 2, ShuffleBuffer: 17},
			Recipe: stages.Recipe{Size: 12}, Views: 2, Batch: batch, Workers: workers,
		},
		BadRecordBudget: -1, ParentPID: -1,
	}
}

// goBatch is one batch as the Go view pipeline makes it (no stream).
type goBatch struct {
	pixels []byte
	ids    []uint64
	labels []int
	cursor string
}

// viewBatches runs the packed view pipeline in-process and keeps copies.
func viewBatches(t *testing.T, cfg stages.ViewStreamConfig) []goBatch {
	t.Helper()
	cfg.Output, cfg.DropLast = stages.Packed, true
	vs, err := stages.NewViewStream(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := pipeline.New("ref")
	var out []goBatch
	pipeline.Sink(p, "keep", vs.Add(p), pipeline.ConsumerFunc[*stages.Batch](func(_ context.Context, b *stages.Batch) error {
		defer b.Release()
		out = append(out, goBatch{bytes.Clone(b.Pixels), append([]uint64(nil), b.IDs...), append([]int(nil), b.Labels...), b.Cursor.String()})
		return nil
	}))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestArrowStreamRoundTrip reads the stream back with arrow/go's IPC
// reader: schema and metadata, the tensor layout, labels, ids, keys,
// epoch/position, and pixels equal to the in-process view pipeline's (run
// with another worker count), batch by batch, ending with the end marker.
func TestArrowStreamRoundTrip(t *testing.T) {
	dir := synthShards(t, 150, 3)
	var buf, dig bytes.Buffer
	cfg := streamConfig(dir, 16, 3)
	cfg.W, cfg.Digests = &buf, &dig
	rep, err := Stream(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := viewBatches(t, streamConfig(dir, 16, 1).View)
	if rep.Batches != len(want) || rep.Batches != 2*(150/16) || rep.Meta.BatchesPerEpoch != 150/16 {
		t.Fatalf("%d batches (meta %d per epoch), want %d = 2 epochs of %d", rep.Batches, rep.Meta.BatchesPerEpoch, len(want), 150/16)
	}
	raw := buf.Bytes()
	r, err := ipc.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	md := r.Schema().Metadata()
	for k, v := range map[string]string{"format": "1", "layout": "BVHWC", "size": "12", "views": "2", "channels": "3",
		"batch": "16", "seed": "5", "rank": "0", "world": "1", "batches_per_epoch": "9", "epoch_size": "150",
		"epochs": "2", "cursor": "0:0", "recipe": "simclr size=12 min_scale=0.08 color_strength=0.5 blur=off"} {
		if got, _ := md.GetValue("contrastream." + k); got != v {
			t.Errorf("metadata %s = %q, want %q", k, got, v)
		}
	}
	if fp, _ := md.GetValue("contrastream.fingerprint"); len(fp) != 16 {
		t.Errorf("fingerprint %q", fp)
	}
	f := r.Schema().Field(0)
	if name, _ := f.Metadata.GetValue("ARROW:extension:name"); name != "arrow.fixed_shape_tensor" {
		t.Errorf("views extension %q", name)
	}
	if ext, _ := f.Metadata.GetValue("ARROW:extension:metadata"); ext != `{"shape":[2,12,12,3],"dim_names":["view","height","width","channel"]}` {
		t.Errorf("views extension metadata %q", ext)
	}
	digests := bufio.NewScanner(&dig)
	digests.Buffer(nil, 1<<20)
	seen := map[uint64]bool{}
	i := 0
	for r.Next() {
		rec := r.Record()
		w := want[i]
		views := rec.Column(0).(*array.FixedSizeList)
		pix := views.ListValues().(*array.Uint8).Uint8Values()
		if !bytes.Equal(pix, w.pixels) {
			t.Fatalf("batch %d: pixels differ from the view pipeline's", i)
		}
		labels := rec.Column(1).(*array.Int64)
		ids := rec.Column(2).(*array.Uint64).Uint64Values()
		shard := rec.Column(3).(*array.String)
		row := rec.Column(4).(*array.Int64)
		epoch := rec.Column(5).(*array.Int32)
		pos := rec.Column(6).(*array.Int64)
		for j := range int(rec.NumRows()) {
			if ids[j] != w.ids[j] || ids[j] != sources.SampleID(shard.Value(j), row.Value(j)) {
				t.Fatalf("batch %d row %d: id %d, want %d (and SampleID of its key)", i, j, ids[j], w.ids[j])
			}
			if int(labels.Value(j)) != w.labels[j] || labels.IsNull(j) {
				t.Fatalf("batch %d row %d: label %d, want %d", i, j, labels.Value(j), w.labels[j])
			}
			if e := int(epoch.Value(j)); e != i/9 {
				t.Fatalf("batch %d: epoch %d", i, e)
			}
			if i < 9 {
				if seen[ids[j]] {
					t.Fatalf("id %d twice in epoch 0", ids[j])
				}
				seen[ids[j]] = true
			}
		}
		if got := strconv.Itoa(int(epoch.Value(0))) + ":" + strconv.FormatInt(pos.Value(int(rec.NumRows())-1)+1, 10); got != w.cursor {
			t.Fatalf("batch %d: cursor from the columns %s, want %s", i, got, w.cursor)
		}
		if !digests.Scan() {
			t.Fatal("fewer digests than batches")
		}
		var d BatchDigest
		if err := json.Unmarshal(digests.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(w.pixels)
		if d.Pixels != hex.EncodeToString(sum[:]) || d.Cursor != w.cursor || d.Batch != i || d.Shape != [5]int{16, 2, 12, 12, 3} {
			t.Fatalf("digest %d: %+v", i, d)
		}
		i++
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if i != len(want) {
		t.Fatalf("read %d batches, want %d", i, len(want))
	}
	if eos := raw[len(raw)-8:]; !bytes.Equal(eos, []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}) {
		t.Fatalf("stream ends with %x, not the end-of-stream marker", eos)
	}
}

// TestArrowStreamResume: a stream started at the cursor after batch k sends
// exactly the batches that followed k in an uninterrupted stream, and a
// changed dataset is refused when the fingerprint is given.
func TestArrowStreamResume(t *testing.T) {
	dir := synthShards(t, 150, 3)
	full := viewBatches(t, streamConfig(dir, 16, 2).View)
	for _, k := range []int{3, 8, 11} { // mid-epoch, end of epoch 0, into epoch 1
		cfg := streamConfig(dir, 16, 2).View
		c, err := sources.ParseCursor(full[k].cursor)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Source.Cursor = c
		got := viewBatches(t, cfg)
		if len(got) != len(full)-k-1 {
			t.Fatalf("from %s: %d batches, want %d", c, len(got), len(full)-k-1)
		}
		for i, b := range got {
			if !bytes.Equal(b.pixels, full[k+1+i].pixels) || b.cursor != full[k+1+i].cursor {
				t.Fatalf("from %s: batch %d differs from the uninterrupted stream's", c, i)
			}
		}
	}
	cfg := streamConfig(dir, 16, 1)
	cfg.W, cfg.ExpectFingerprint = io.Discard, "0123456789abcdef"
	if _, err := Stream(context.Background(), cfg); err == nil || !bytes.Contains([]byte(err.Error()), []byte("not the dataset")) {
		t.Fatalf("changed dataset: %v", err)
	}
}

// brokenWriter fails like a pipe whose reader is gone, after n writes.
type brokenWriter struct{ n int }

func (w *brokenWriter) Write(p []byte) (int, error) {
	if w.n <= 0 {
		return 0, &os.PathError{Op: "write", Path: "|1", Err: syscall.EPIPE}
	}
	w.n--
	return len(p), nil
}

// TestStreamReaderGone: a reader that goes away (EPIPE on a pipe, a closed
// socket) ends the stream cleanly, with ReaderGone set and no error.
func TestStreamReaderGone(t *testing.T) {
	dir := synthShards(t, 150, 2)
	cfg := streamConfig(dir, 8, 2)
	cfg.View.Source.Epochs = 0 // forever: only the reader's departure ends it
	cfg.W = &brokenWriter{n: 3}
	rep, err := Stream(context.Background(), cfg)
	if err != nil || !rep.ReaderGone {
		t.Fatalf("broken pipe: %+v, %v", rep, err)
	}

	sock := filepath.Join(t.TempDir(), "s.sock")
	cfg = streamConfig(dir, 8, 2)
	cfg.View.Source.Epochs = 0
	cfg.Socket = sock
	ready := make(chan struct{})
	cfg.Listening = func(string) { close(ready) }
	done := make(chan error, 1)
	var srep StreamReport
	go func() {
		var err error
		srep, err = Stream(context.Background(), cfg)
		done <- err
	}()
	<-ready
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ipc.NewReader(conn)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if !r.Next() {
			t.Fatal(r.Err())
		}
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket path left after accept: %v", err)
	}
	conn.Close()
	select {
	case err := <-done:
		if err != nil || !srep.ReaderGone {
			t.Fatalf("closed socket: %+v, %v", srep, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("stream did not stop after its socket reader closed")
	}
	r.Release()
}

// TestStreamErrors: bad settings are refused with a message naming them.
func TestStreamErrors(t *testing.T) {
	dir := synthShards(t, 40, 1)
	for name, mod := range map[string]func(*StreamConfig){
		"make no batch":      func(c *StreamConfig) { c.View.Batch = 100 },
		"outside world":      func(c *StreamConfig) { c.View.Source.Rank = 2; c.View.Source.World = 2 },
		"recipe \"nope\"":    func(c *StreamConfig) { c.View.Recipe.Name = "nope" },
		"no files":           func(c *StreamConfig) { c.View.Source.Glob = filepath.Join(dir, "missing-*.parquet") },
		"past the end":       func(c *StreamConfig) { c.View.Source.Cursor = sources.Cursor{Position: 41} },
		"blur \"sometimes\"": func(c *StreamConfig) { c.View.Recipe.Blur = "sometimes" },
	} {
		cfg := streamConfig(dir, 8, 1)
		cfg.W = io.Discard
		mod(&cfg)
		_, err := Stream(context.Background(), cfg)
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(name)) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}

// TestStreamBadRecordBudget: undecodable images go to the dead-letter file,
// and past the budget the stream fails with ErrBadRecordBudget.
func TestStreamBadRecordBudget(t *testing.T) {
	dir := t.TempDir()
	w, err := NewShards(ShardsConfig{Dir: dir, RowGroupRows: 10})
	if err != nil {
		t.Fatal(err)
	}
	enc := &PNGEncoder{Level: PNGDefault}
	pix := make([]byte, 16*16*3)
	for i := range 60 {
		sources.Synth{Size: 16}.Draw(pix, int64(i))
		img, err := enc.Encode(sources.RawImage{W: 16, H: 16, C: 3, Pix: pix})
		if err != nil {
			t.Fatal(err)
		}
		if i%4 == 0 {
			img = []byte("not an image")
		}
		label := i % 3
		if i%5 == 0 {
			label = -1 // null
		}
		if err := w.Write(img, label, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	dl := filepath.Join(t.TempDir(), "bad.jsonl")
	cfg := streamConfig(dir, 8, 1)
	cfg.W, cfg.DeadLetters, cfg.BadRecordBudget = io.Discard, dl, 0.1
	_, err = Stream(context.Background(), cfg)
	if !errors.Is(err, pipeline.ErrBadRecordBudget) {
		t.Fatalf("25%% bad with a 10%% budget: %v", err)
	}
	recs, err := ReadDeadLetters(dl)
	if err != nil || len(recs) == 0 {
		t.Fatalf("dead letters: %d, %v", len(recs), err)
	}
	cfg.BadRecordBudget = 0.5
	var buf, dig bytes.Buffer
	cfg.W, cfg.Digests = &buf, &dig
	rep, err := Stream(context.Background(), cfg)
	if err != nil || rep.BadRecords != 30 || rep.Batches != 2*(45/8) {
		t.Fatalf("within budget: %+v, %v", rep, err)
	}
	// Null labels travel as nulls.
	r, err := ipc.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	dec := json.NewDecoder(&dig)
	nulls := 0
	for r.Next() {
		var d BatchDigest
		if err := dec.Decode(&d); err != nil {
			t.Fatal(err)
		}
		labels := r.Record().Column(1).(*array.Int64)
		for j, want := range d.Labels {
			if labels.IsNull(j) != (want == -1) || (want >= 0 && labels.Value(j) != int64(want)) {
				t.Fatalf("label %d: null %v value %d, want %d", j, labels.IsNull(j), labels.Value(j), want)
			}
			if want == -1 {
				nulls++
			}
		}
	}
	if nulls == 0 {
		t.Fatal("no null label came through")
	}
}

// TestStreamThroughPipeSplices: into a pipe, the pixels go by vmsplice
// (zero-copy), and a slow reader still gets exactly the pixels Go made: no
// batch buffer is reused while the pipe references it.
func TestStreamThroughPipeSplices(t *testing.T) {
	dir := synthShards(t, 150, 3)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cfg := streamConfig(dir, 16, 2)
	cfg.View.Recipe.Size = 40 // 16·2·40·40·3 = 150 KiB per batch, > the 64 KiB pipe
	cfg.View.InFlight = 2
	var dig bytes.Buffer
	cfg.W, cfg.Digests = w, &dig
	type result struct {
		rep StreamReport
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := Stream(context.Background(), cfg)
		w.Close()
		done <- result{rep, err}
	}()
	slow := &slowReader{r: r}
	rd, err := ipc.NewReader(slow)
	if err != nil {
		t.Fatal(err)
	}
	var sums []string
	for rd.Next() {
		pix := rd.Record().Column(0).(*array.FixedSizeList).ListValues().(*array.Uint8).Uint8Values()
		s := sha256.Sum256(pix)
		sums = append(sums, hex.EncodeToString(s[:]))
	}
	if err := rd.Err(); err != nil {
		t.Fatal(err)
	}
	rd.Release()
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	if res.rep.Spliced < int64(res.rep.Batches)*16*2*40*40*3/2 {
		t.Errorf("%d of %d batches' pixel bytes went by vmsplice", res.rep.Spliced, res.rep.Batches)
	}
	dec := json.NewDecoder(&dig)
	for i, s := range sums {
		var d BatchDigest
		if err := dec.Decode(&d); err != nil {
			t.Fatal(err)
		}
		if d.Pixels != s {
			t.Fatalf("batch %d: the reader got other pixels than Go wrote (a buffer reused too early)", i)
		}
	}
	if len(sums) != res.rep.Batches || len(sums) != 2*(150/16) {
		t.Fatalf("read %d batches, wrote %d", len(sums), res.rep.Batches)
	}
}

// slowReader reads at most 16 KiB at a time, pausing between reads, so the
// writer is always ahead and waiting on the pipe.
type slowReader struct{ r io.Reader }

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(50 * time.Microsecond)
	return s.r.Read(p[:min(len(p), 16<<10)])
}
