package main

// Hardening: each bad input a user can give meets a clear error (message
// and exit status asserted), and nothing already written is lost.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"

	"github.com/contrastream/contrastream/sinks"
	"github.com/contrastream/contrastream/sources"
)

// runBinCode runs the built CLI and returns its exit status, stdout and stderr.
func runBinCode(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(cliBinary, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatalf("contrastream %s: %v", strings.Join(args, " "), err)
	return 0, "", ""
}

// snapshotFiles returns every regular file under dir with its bytes.
func snapshotFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDamagedLatestCheckpointFallsBack: with the newest checkpoint of a run
// damaged, or `latest` naming a file that is gone, export, eval and
// train --resume use the newest valid checkpoint, warn naming the bad one,
// and exit 0; the damaged file is not read as good, and resume carries the
// run to its end.
func TestDamagedLatestCheckpointFallsBack(t *testing.T) {
	if testing.Short() {
		t.Skip("trains")
	}
	data := tinyData(t)
	run := filepath.Join(t.TempDir(), "run")
	runBin(t, trainArgs(data, run)...) // checkpoints at steps 8 and 16
	ckDir := filepath.Join(run, "checkpoints")
	last := filepath.Join(ckDir, sinks.CheckpointName(16))
	good, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(last, good[:len(good)/3], 0o644); err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(t.TempDir(), "enc.safetensors")
	code, stdout, stderr := runBinCode(t, "export", "--checkpoint", run, "--out", out)
	if code != 0 || !strings.Contains(stdout, "step 8") || !strings.Contains(stderr, last) ||
		!strings.Contains(stderr, "newest valid checkpoint") {
		t.Fatalf("export with a damaged latest: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	code, stdout, stderr = runBinCode(t, "eval", "--checkpoint", run, "--train", data, "--test", data, "--knn-k", "5")
	if code != 0 || !strings.Contains(stdout, "step 8") || !strings.Contains(stderr, last) {
		t.Fatalf("eval with a damaged latest: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	// Named directly, the damaged file is refused.
	code, _, stderr = runBinCode(t, "export", "--checkpoint", last, "--out", out)
	if code != 1 || !strings.Contains(stderr, "bad checkpoint") || !strings.Contains(stderr, last) {
		t.Fatalf("export of the damaged file: exit %d\nstderr %s", code, stderr)
	}

	code, _, stderr = runBinCode(t, "train", "--out", run, "--resume")
	if code != 0 || !strings.Contains(stderr, last) {
		t.Fatalf("resume with a damaged latest: exit %d\nstderr %s", code, stderr)
	}
	if s, _ := weightsOf(t, run); s != 16 {
		t.Fatalf("resumed run ended at step %d, want 16", s)
	}

	// `latest` naming a missing file behaves as no `latest`.
	if err := os.Remove(filepath.Join(ckDir, sinks.CheckpointName(16))); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runBinCode(t, "export", "--checkpoint", run, "--out", out)
	if code != 0 || !strings.Contains(stdout, "step 8") || !strings.Contains(stderr, "missing") {
		t.Fatalf("export with latest naming a missing file: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
}

// bombPNG is a tiny PNG whose header declares w×h pixels (its data is one
// empty IDAT): a decompression bomb to anything that trusts the header.
func bombPNG(w, h uint32) []byte {
	chunk := func(typ string, data []byte) []byte {
		var b bytes.Buffer
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(typ)
		b.Write(data)
		binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
		return b.Bytes()
	}
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0) // 8-bit RGB
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, chunk("IHDR", ihdr)...)
	out = append(out, chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})...)
	return append(out, chunk("IEND", nil)...)
}

// shardWith writes one shard whose first row is first, followed by n
// ordinary 16×16 synthetic images.
func shardWith(t *testing.T, first []byte, n int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	w, err := sinks.NewShards(sinks.ShardsConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(first, -1, "first.png"); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(tinyData(t), "shard-00000.parquet")
	src, err := sources.NewSource(sources.ParquetConfig{Glob: good, InOrder: true, Epochs: 1})
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	errEnough := errors.New("enough")
	err = src.Produce(t.Context(), func(s *sources.Sample) error {
		if i == n {
			return errEnough
		}
		i++
		return w.Write(s.Bytes, s.Label, "")
	})
	if err != nil && !errors.Is(err, errEnough) {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestHostileSizesAreRefused: a first image whose header declares
// 20000×20000 (with no --size to take the side from elsewhere), a --size
// far over the limit, and batches in flight over the machine's memory are
// refused before anything is allocated, with the figure, exit 1 — not
// "fatal error: out of memory". An existing preview file is left as it was,
// and a refused train leaves no run folder behind.
func TestHostileSizesAreRefused(t *testing.T) {
	data := tinyData(t)
	bomb := shardWith(t, bombPNG(20000, 20000), 64)
	tmp := t.TempDir()
	prev := filepath.Join(tmp, "old.png")
	if err := os.WriteFile(prev, []byte("an earlier preview"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"train, first image a 20000² bomb", []string{"train", "--data", bomb, "--out", filepath.Join(tmp, "r1")},
			[]string{"first image", "20000x20000 is over the limit", "set --size"}},
		{"train, first image 5000² (under the pixel limit)", []string{"train", "--data",
			shardWith(t, bombPNG(5000, 5000), 8), "--out", filepath.Join(tmp, "r2")},
			[]string{"5000x5000", "the view side must be 1..4096", "set --size"}},
		{"train --size 100000", []string{"train", "--data", data, "--out", filepath.Join(tmp, "r3"), "--size", "100000"},
			[]string{"--size 100000", "1..4096"}},
		{"train, batches over memory", []string{"train", "--data", data, "--out", filepath.Join(tmp, "r4"), "--size", "4096", "--batch", "256"},
			[]string{"4 batches in flight of 256 samples", "need 384.0 GiB, over", "GiB (50% of"}},
		{"bench --size 100000", []string{"bench", "--data", data, "--size", "100000"}, []string{"Size 100000", "1..4096"}},
		{"bench, batches over memory", []string{"bench", "--data", data, "--size", "4096", "--batch", "4096"},
			[]string{"batches in flight of 4096 samples", "need 6.0 TiB"}},
		{"stream --size 100000", []string{"stream", "--data", data, "--size", "100000"}, []string{"recipe size 100000", "1..4096"}},
		{"stream, batches over memory", []string{"stream", "--data", data, "--size", "4096", "--batch", "4096"},
			[]string{"batches in flight of 4096 samples", "(uint8) need 1.5 TiB"}},
		{"preview --size 100000", []string{"preview", "--data", data, "--out", prev, "--size", "100000"}, []string{"Size 100000", "1..4096"}},
		{"preview, grid over memory", []string{"preview", "--data", data, "--out", prev, "--size", "4096", "--pairs", "100000"},
			[]string{"a grid of 100000 rows", "TiB"}},
	} {
		code, stdout, stderr := runBinCode(t, c.args...)
		ok := code == 1 && stdout == ""
		for _, w := range c.want {
			ok = ok && strings.Contains(stderr, w)
		}
		if !ok || strings.Contains(stderr, "fatal error") || strings.Contains(stderr, "panic") {
			t.Errorf("%s: exit %d, stdout %q, stderr:\n%s\nwant exit 1 and %q", c.name, code, stdout, stderr, c.want)
		}
	}
	if b, _ := os.ReadFile(prev); string(b) != "an earlier preview" {
		t.Errorf("a refused preview changed the existing file: %q", b)
	}
	for _, r := range []string{"r1", "r2", "r3", "r4"} {
		if _, err := os.Stat(filepath.Join(tmp, r)); !os.IsNotExist(err) {
			t.Errorf("a refused train left its run folder %s behind (%v)", r, err)
		}
	}
}

// readSamples returns the first n samples of a dataset, in order.
func readSamples(t *testing.T, glob string, n int) []*sources.Sample {
	t.Helper()
	src, err := sources.NewSource(sources.ParquetConfig{Glob: glob, InOrder: true, Epochs: 1})
	if err != nil {
		t.Fatal(err)
	}
	var out []*sources.Sample
	errEnough := errors.New("enough")
	err = src.Produce(t.Context(), func(s *sources.Sample) error {
		if len(out) == n {
			return errEnough
		}
		out = append(out, s)
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		t.Fatal(err)
	}
	return out
}

// floatLabelShard writes a Parquet shard of images with a float64 "label"
// column (as pandas writes a column with a NaN in it).
func floatLabelShard(t *testing.T, samples []*sources.Sample) string {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "image", Type: arrow.BinaryTypes.Binary},
		{Name: "label", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	dir := filepath.Join(t.TempDir(), "float")
	os.MkdirAll(dir, 0o755)
	f, err := os.Create(filepath.Join(dir, "float-00000.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := pqarrow.NewFileWriter(schema, f, parquet.NewWriterProperties(), pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for _, s := range samples {
		b.Field(0).(*array.BinaryBuilder).Append(s.Bytes)
		b.Field(1).(*array.Float64Builder).Append(float64(s.Label))
	}
	rec := b.NewRecord()
	defer rec.Release()
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestEvalMessages: a float label column is named with its type; among
// null labels the error names the first row whatever the threads; --knn-k
// 0 prints the k it uses, and a negative one is refused before any work.
func TestEvalMessages(t *testing.T) {
	if testing.Short() {
		t.Skip("trains")
	}
	data := tinyData(t)
	run := filepath.Join(t.TempDir(), "run")
	runBin(t, trainArgs(data, run, "--epochs", "1")...)
	samples := readSamples(t, data, 64)

	float := floatLabelShard(t, samples)
	code, stdout, stderr := runBinCode(t, "eval", "--checkpoint", run, "--train", float, "--test", data)
	if code != 1 || stdout != "" || !strings.Contains(stderr, `label column "label" is float64, not integer`) ||
		!strings.Contains(stderr, "float-00000.parquet") {
		t.Errorf("float labels: exit %d stdout %q stderr %s", code, stdout, stderr)
	}

	nulls := filepath.Join(t.TempDir(), "nulls")
	w, err := sinks.NewShards(sinks.ShardsConfig{Dir: nulls, Labels: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range samples {
		l := s.Label
		if i == 17 || i == 50 {
			l = -1 // stored as null
		}
		if err := w.Write(s.Bytes, l, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		code, _, stderr = runBinCode(t, "eval", "--checkpoint", run, "--train", nulls, "--test", data)
		if code != 1 || !strings.Contains(stderr, "shard-00000.parquet#17: the label is null") {
			t.Fatalf("null labels: exit %d, stderr %s; want row 17 every time", code, stderr)
		}
	}

	code, stdout, _ = runBinCode(t, "eval", "--checkpoint", run, "--train", data, "--test", data, "--knn-k", "0")
	if code != 0 || !strings.Contains(stdout, "k=200") {
		t.Errorf("--knn-k 0: exit %d stdout %s", code, stdout)
	}
	code, stdout, _ = runBinCode(t, "eval", "--checkpoint", run, "--train", data, "--test", data, "--knn-k", "100000")
	if code != 0 || !strings.Contains(stdout, "k=256") {
		t.Errorf("--knn-k 100000 on 256 images: exit %d stdout %s", code, stdout)
	}
	code, _, stderr = runBinCode(t, "eval", "--checkpoint", run, "--train", data, "--test", data, "--knn-k", "-1")
	if code != 1 || !strings.Contains(stderr, "--knn-k -1") || !strings.Contains(stderr, "may be negative") {
		t.Errorf("--knn-k -1: exit %d stderr %s", code, stderr)
	}
}

// TestDataCommandMessages: synth names the flag that replaces a dataset and
// keeps the old one; import images decodes every file by default (a PNG cut
// in its pixel data and a 20000² PNG are rejected, the good files written);
// bench refuses negative settings naming them and documents 0.
func TestDataCommandMessages(t *testing.T) {
	out := filepath.Join(t.TempDir(), "synth")
	if code, _, stderr := runBinCode(t, "synth", "--out", out, "--n", "20", "--size", "16"); code != 0 {
		t.Fatalf("synth: %d %s", code, stderr)
	}
	before := snapshotFiles(t, out)
	code, _, stderr := runBinCode(t, "synth", "--out", out, "--n", "30", "--size", "16")
	if code != 1 || !strings.Contains(stderr, "--overwrite") || strings.Contains(stderr, "set Overwrite") {
		t.Errorf("synth into a used folder: exit %d stderr %s", code, stderr)
	}
	after := snapshotFiles(t, out)
	if len(after) != len(before) {
		t.Errorf("a refused synth changed the folder: %d files, had %d", len(after), len(before))
	}
	for p, b := range before {
		if !bytes.Equal(after[p], b) {
			t.Errorf("a refused synth changed %s", p)
		}
	}

	src := t.TempDir()
	good := readSamples(t, tinyData(t), 3)
	os.MkdirAll(filepath.Join(src, "a"), 0o755)
	for i, s := range good {
		os.WriteFile(filepath.Join(src, "a", fmt.Sprintf("%d.png", i)), s.Bytes, 0o644)
	}
	os.WriteFile(filepath.Join(src, "a", "cut.png"), good[0].Bytes[:len(good[0].Bytes)-30], 0o644)
	os.WriteFile(filepath.Join(src, "a", "bomb.png"), bombPNG(20000, 20000), 0o644)
	imp := filepath.Join(t.TempDir(), "imp")
	code, stdout, stderr := runBinCode(t, "import", "images", "--dir", src, "--out", imp, "--json")
	var sum dataSummary
	json.Unmarshal([]byte(stdout), &sum)
	bad, _ := os.ReadFile(filepath.Join(imp, "bad-records.jsonl"))
	if code != 1 || sum.Rows != 3 || sum.Rejected != 2 || !strings.Contains(string(bad), `a/cut.png`) ||
		!strings.Contains(string(bad), "corrupt") || !strings.Contains(string(bad), "20000x20000 is over the limit") {
		t.Errorf("import images: exit %d, summary %+v, dead letters %s, stderr %s", code, sum, bad, stderr)
	}
	if got := readSamples(t, imp, 10); len(got) != 3 {
		t.Errorf("the good files: %d rows written, want 3", len(got))
	}
	code, stdout, _ = runBinCode(t, "import", "images", "--dir", src, "--out", imp, "--overwrite", "--verify=false", "--json")
	json.Unmarshal([]byte(stdout), &sum)
	if code != 1 || sum.Rows != 4 || sum.Rejected != 1 {
		t.Errorf("import images --verify=false: exit %d, summary %+v (want the cut file in, the bomb out)", code, sum)
	}

	data := tinyData(t)
	for _, c := range []struct{ flag, want string }{
		{"--batch", "Batch -1: want >= 1 (0 means the default)"},
		{"--views", "Views -1: want >= 1"},
		{"--workers", "Workers -1: want >= 1"},
	} {
		code, stdout, stderr := runBinCode(t, "bench", "--data", data, c.flag, "-1")
		if code != 1 || stdout != "" || !strings.Contains(stderr, c.want) {
			t.Errorf("bench %s -1: exit %d stderr %s", c.flag, code, stderr)
		}
	}
	_, _, help := runBinCode(t, "bench", "--help")
	for _, w := range []string{"samples per batch (0: 256)", "views per image (0: 2)"} {
		if !strings.Contains(help, w) {
			t.Errorf("bench --help does not say %q", w)
		}
	}
}

// TestRefusedTrainLeavesNoRunFolder: a train refused for a bad setting
// exits 1 naming it, and leaves no (empty) run folder behind.
func TestRefusedTrainLeavesNoRunFolder(t *testing.T) {
	data := tinyData(t)
	tmp := t.TempDir()
	for i, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--optimizer", "bogus"}, `--optimizer "bogus"`},
		{[]string{"--model", "bogus"}, "bogus"},
		{[]string{"--lr-scaling", "bogus"}, "bogus"},
		{[]string{"--batch", "1"}, "--batch must be >= 2"},
		{[]string{"--batch", "100000"}, "make no batch of 100000"},
		{[]string{"--eval-test", "/nonexistent/x"}, "/nonexistent/x"},
	} {
		out := filepath.Join(tmp, fmt.Sprint("run", i))
		code, stdout, stderr := runBinCode(t, append([]string{"train", "--data", data, "--out", out}, c.args...)...)
		if code != 1 || stdout != "" || !strings.Contains(stderr, c.want) {
			t.Errorf("train %v: exit %d stderr %s; want exit 1 and %q", c.args, code, stderr, c.want)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("train %v left its run folder behind", c.args)
		}
	}
	code, _, stderr := runBinCode(t, "train", "--data", filepath.Join(tmp, "nothing-*.parquet"), "--out", filepath.Join(tmp, "r"))
	if code != 1 || !strings.Contains(stderr, "nothing-*.parquet") {
		t.Errorf("train on a glob that matches nothing: exit %d stderr %s", code, stderr)
	}
}

// mixedShard writes one shard of good synthetic 16×16 images with bad
// records (bytes that are no image) at every row i where isBad(i).
func mixedShard(t *testing.T, n int, isBad func(int) bool) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mixed")
	w, err := sinks.NewShards(sinks.ShardsConfig{Dir: dir, Labels: true})
	if err != nil {
		t.Fatal(err)
	}
	good := readSamples(t, tinyData(t), 256)
	for i := range n {
		b := good[i%len(good)].Bytes
		if isBad(i) {
			b = []byte("not an image at all")
		}
		if err := w.Write(b, good[i%len(good)].Label, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBadRecordsHaveABudgetAndAFile: a run on garbage (598 of 600 records
// bad) fails with the budget's message instead of "0 steps", and lists
// every bad record with shard, row and reason in RUN/bad-records.jsonl; a
// run with a few bad records goes on and lists them; with the budget off,
// a run that made no step is an error.
func TestBadRecordsHaveABudgetAndAFile(t *testing.T) {
	if testing.Short() {
		t.Skip("trains")
	}
	tmp := t.TempDir()
	garbage := mixedShard(t, 600, func(i int) bool { return i >= 2 })
	run := filepath.Join(tmp, "garbage")
	code, stdout, stderr := runBinCode(t, trainArgs(garbage, run)...)
	if code != 1 || stdout != "" || !strings.Contains(stderr, "bad-record budget exceeded") ||
		!strings.Contains(stderr, filepath.Join(run, "bad-records.jsonl")) {
		t.Fatalf("garbage: exit %d stdout %q stderr %s", code, stdout, stderr)
	}
	recs, err := sinks.ReadDeadLetters(filepath.Join(run, "bad-records.jsonl"))
	if err != nil || len(recs) < 50 {
		t.Fatalf("dead letters: %d, %v", len(recs), err)
	}
	for _, r := range recs {
		if !strings.HasSuffix(r.Shard, "shard-00000.parquet") || r.Row < 2 || r.Stage != "decode" || !strings.Contains(r.Reason, "unknown format") {
			t.Fatalf("dead letter %+v: want shard, row >= 2, stage and reason", r)
		}
	}

	few := mixedShard(t, 256, func(i int) bool { return i == 7 || i == 200 })
	run = filepath.Join(tmp, "few")
	code, stdout, stderr = runBinCode(t, trainArgs(few, run, "--epochs", "1")...)
	if code != 0 || !strings.Contains(stdout, "(1 epoch)") {
		t.Fatalf("2 bad of 256, one epoch: exit %d stdout %s stderr %s", code, stdout, stderr)
	}
	recs, _ = sinks.ReadDeadLetters(filepath.Join(run, "bad-records.jsonl"))
	if len(recs) != 2 || recs[0].Row != 7 || recs[1].Row != 200 {
		t.Errorf("dead letters %+v, want rows 7 and 200", recs)
	}

	allBad := mixedShard(t, 64, func(int) bool { return true })
	run = filepath.Join(tmp, "nothing")
	code, _, stderr = runBinCode(t, trainArgs(allBad, run, "--max-bad", "-1", "--size", "16", "--channels", "3")...)
	if code != 1 || !strings.Contains(stderr, "no training step was made: 128 of the 128 records read were bad") {
		t.Errorf("all bad, no budget: exit %d stderr %s", code, stderr)
	}
}

// TestTrainFlagMessages: each bad setting names its flag; 0 means the
// documented default.
func TestTrainFlagMessages(t *testing.T) {
	data := tinyData(t)
	tmp := t.TempDir()
	for i, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--lr", "NaN"}, "--lr NaN: want a finite learning rate"},
		{[]string{"--lr", "-1"}, "--lr -1"},
		{[]string{"--momentum", "Inf"}, "--momentum +Inf"},
		{[]string{"--temperature", "-0.1"}, "--temperature -0.1 is negative"},
		{[]string{"--color-strength", "-5"}, "--color-strength -5"},
		{[]string{"--workers", "-3"}, "--workers -3 is negative"},
		{[]string{"--keep", "-2"}, "--keep -2: want >= 1, 0 for the default (3) or -1 for all"},
		{[]string{"--max-steps", "-5"}, "--max-steps -5 is negative"},
		{[]string{"--minutes", "-1"}, "--minutes -1 is negative"},
		{[]string{"--max-bad", "2"}, "--max-bad 2: want a fraction <= 1"},
	} {
		out := filepath.Join(tmp, fmt.Sprint("run", i))
		code, stdout, stderr := runBinCode(t, append([]string{"train", "--data", data, "--out", out}, c.args...)...)
		if code != 1 || stdout != "" || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "json:") {
			t.Errorf("train %v: exit %d stderr %s; want %q", c.args, code, stderr, c.want)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("train %v left a run folder", c.args)
		}
	}
	_, _, help := runBinCode(t, "train", "--help")
	for _, w := range []string{"NT-Xent temperature τ (0: 0.5)", "checkpoints to keep (0: 3; -1: all)", "(0: one per CPU)", "(0: no limit", "(0: 200)"} {
		if !strings.Contains(help, w) {
			t.Errorf("train --help does not say %q", w)
		}
	}
}

// TestRunFolderIsLocked: a second train into the --out of a running one
// (still in its first epoch, before any checkpoint) is refused naming the
// holder, and the first one is untouched; after the first is killed with
// SIGKILL, its lock file does not block --resume. A resume into a running
// folder is refused the same way.
func TestRunFolderIsLocked(t *testing.T) {
	if testing.Short() {
		t.Skip("trains")
	}
	data := tinyData(t)
	run := filepath.Join(t.TempDir(), "run")
	first := exec.Command(cliBinary, trainArgs(data, run, "--epochs", "50", "--checkpoint-every", "3")...)
	var firstErr bytes.Buffer
	first.Stderr = &firstErr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer first.Process.Kill()
	waitFor(t, filepath.Join(run, sinks.LockName), "pid")
	for _, args := range [][]string{trainArgs(data, run), {"train", "--out", run, "--resume"}} {
		code, stdout, stderr := runBinCode(t, args...)
		if code != 1 || stdout != "" || !strings.Contains(stderr, "is being written by pid "+fmt.Sprint(first.Process.Pid)) {
			t.Errorf("%v while a run holds the folder: exit %d stderr %s", args[1:3], code, stderr)
		}
	}
	waitForCheckpoints(t, run, 1)
	_ = first.Process.Signal(syscall.SIGKILL)
	_ = first.Wait()
	if _, err := os.Stat(filepath.Join(run, sinks.LockName)); err != nil {
		t.Fatalf("the killed run's lock file: %v", err)
	}
	before, _ := weightsOf(t, run)
	code, stdout, stderr := runBinCode(t, "train", "--out", run, "--resume", "--max-steps", fmt.Sprint(before+2))
	if code != 0 || !strings.Contains(stdout, fmt.Sprintf("2 steps after resuming at step %d", before)) {
		t.Fatalf("resume after SIGKILL: exit %d stdout %s stderr %s", code, stdout, stderr)
	}
	// metrics.jsonl never repeats a step: the killed run's steps after its
	// last checkpoint moved to metrics-superseded.jsonl.
	b, err := os.ReadFile(filepath.Join(run, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	last := 0
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var rec struct {
			Type string `json:"type"`
			Step int    `json:"step"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Type == "step" {
			if rec.Step != last+1 {
				t.Fatalf("metrics.jsonl: step %d after step %d", rec.Step, last)
			}
			last = rec.Step
		}
	}
	if int64(last) != before+2 {
		t.Errorf("metrics.jsonl ends at step %d, want %d", last, before+2)
	}
}

// TestUnwritableRunFolderIsFoundAtStart: a run folder that cannot be
// written is refused before any training, naming it, and what it holds is
// untouched.
func TestUnwritableRunFolderIsFoundAtStart(t *testing.T) {
	if testing.Short() {
		t.Skip("trains")
	}
	data := tinyData(t)
	run := filepath.Join(t.TempDir(), "run")
	runBin(t, trainArgs(data, run, "--epochs", "1")...)
	ckDir := filepath.Join(run, "checkpoints")
	// Root ignores permission bits: make the folder immutable then.
	lock := func(dir string) func() {
		if os.Geteuid() == 0 {
			if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
				t.Skipf("cannot make %s unwritable as root (chattr: %v %s)", dir, err, out)
			}
			return func() { exec.Command("chattr", "-i", dir).Run() }
		}
		os.Chmod(dir, 0o555)
		return func() { os.Chmod(dir, 0o755) }
	}
	before := snapshotFiles(t, run)
	undo := lock(ckDir)
	code, stdout, stderr := runBinCode(t, "train", "--out", run, "--resume", "--max-steps", "12")
	undo()
	if code != 1 || stdout != "" || !strings.Contains(stderr, ckDir+" is not writable (found before training)") {
		t.Errorf("resume into an unwritable checkpoints folder: exit %d stderr %s", code, stderr)
	}
	undo = lock(run)
	code, _, stderr = runBinCode(t, "train", "--out", run, "--resume", "--max-steps", "12")
	undo()
	if code != 1 || !strings.Contains(stderr, run+" is not writable") {
		t.Errorf("resume into an unwritable run folder: exit %d stderr %s", code, stderr)
	}
	after := snapshotFiles(t, run)
	for p, b := range before {
		if !bytes.Equal(after[p], b) && filepath.Base(p) != sinks.LockName {
			t.Errorf("%s changed", p)
		}
	}
	parent := t.TempDir()
	undo = lock(parent)
	code, _, stderr = runBinCode(t, trainArgs(data, filepath.Join(parent, "new"))...)
	undo()
	if code != 1 || !strings.Contains(stderr, "cannot be created") {
		t.Errorf("a run folder in an unwritable parent: exit %d stderr %s", code, stderr)
	}
}

// runBinIn is runBinCode with the working directory dir.
func runBinIn(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(cliBinary, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatalf("contrastream %s: %v", strings.Join(args, " "), err)
	return 0, "", ""
}

// runConfig reads a run folder's config.json.
func runConfig(t *testing.T, run string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(run, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// sameFiles fails if any file of before changed (the lock file may).
func sameFiles(t *testing.T, what string, before, after map[string][]byte) {
	t.Helper()
	for p, b := range before {
		if filepath.Base(p) != sinks.LockName && !bytes.Equal(after[p], b) {
			t.Errorf("%s changed %s", what, p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok && filepath.Base(p) != sinks.LockName {
			t.Errorf("%s added %s", what, p)
		}
	}
}

// TestResumeMovesAndOverrides: a run started with a relative --data saves
// the absolute path (config.json, with the dataset's fingerprint), so it
// resumes from any directory; after the data moved, resume names the old
// location and asks for the new one; --data with --resume reads it from
// there (bit-identical to a run that never moved) after checking the
// fingerprint, and refuses another dataset; a setting the saved state
// depends on (--batch) is refused naming the flag; each refusal leaves the
// run folder as it was. Every change is in config.json's history.
func TestResumeMovesAndOverrides(t *testing.T) {
	if testing.Short() {
		t.Skip("trains")
	}
	base := t.TempDir()
	if err := os.Rename(tinyData(t), filepath.Join(base, "a")); err != nil {
		t.Fatal(err)
	}
	straight := filepath.Join(t.TempDir(), "straight")
	runBin(t, trainArgs(filepath.Join(base, "a"), straight)...)
	_, want := weightsOf(t, straight)

	run := filepath.Join(base, "run")
	code, _, stderr := runBinIn(t, base, trainArgs("a", "run", "--max-steps", "5", "--temperature", "0")...)
	if code != 0 {
		t.Fatalf("first part: exit %d %s", code, stderr)
	}
	cfg := runConfig(t, run)
	data := cfg["data"].(map[string]any)
	if data["glob"] != filepath.Join(base, "a") || data["fingerprint"] == "" || data["fingerprint"] == nil {
		t.Errorf("config.json data %v: want the absolute path and a fingerprint", data)
	}
	if tau := cfg["recipe"].(map[string]any)["temperature"]; tau != 0.5 {
		t.Errorf("--temperature 0: config.json says %v, want the 0.5 used", tau)
	}

	if err := os.Rename(filepath.Join(base, "a"), filepath.Join(base, "b")); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "other")
	if _, err := sinks.WriteSynth(t.Context(), sources.Synth{N: 200, Size: 16, Seed: 9},
		sinks.ShardsConfig{Dir: other}, sinks.ImportOptions{Shards: 2}); err != nil {
		t.Fatal(err)
	}
	elsewhere := t.TempDir()
	before := snapshotFiles(t, run)
	for _, c := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"--data " + filepath.Join(base, "a") + ": the run's data cannot be read", "if it moved, give its new location"}},
		{[]string{"--data", other}, []string{"--data " + other + ": not the run's dataset (fingerprint", "row counts changed"}},
		{[]string{"--data", filepath.Join(base, "b"), "--batch", "64"}, []string{"--batch cannot change on resume (64, the run's is 32)"}},
		{[]string{"--data", filepath.Join(base, "b"), "--seed", "4"}, []string{"--seed cannot change on resume (4, the run's is 3)"}},
		{[]string{"--data", filepath.Join(base, "b"), "--optimizer", "adamw"}, []string{"--optimizer cannot change on resume (adamw, the run's is sgd)"}},
	} {
		code, stdout, stderr := runBinIn(t, elsewhere, append([]string{"train", "--out", run, "--resume"}, c.args...)...)
		ok := code == 1 && stdout == ""
		for _, w := range c.want {
			ok = ok && strings.Contains(stderr, w)
		}
		if !ok {
			t.Errorf("resume %v: exit %d stdout %q stderr %s; want exit 1 and %q", c.args, code, stdout, stderr, c.want)
		}
	}
	sameFiles(t, "a refused resume", before, snapshotFiles(t, run))

	// From another directory, with the new location given relative to it.
	rel, err := filepath.Rel(elsewhere, filepath.Join(base, "b"))
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runBinIn(t, elsewhere, "train", "--out", run, "--resume", "--data", rel)
	if code != 0 || !strings.Contains(stdout, fmt.Sprintf("resumed with --data %s (was %s)", filepath.Join(base, "b"), filepath.Join(base, "a"))) {
		t.Fatalf("resume with the moved data: exit %d stdout %s stderr %s", code, stdout, stderr)
	}
	step, got := weightsOf(t, run)
	if step != 16 {
		t.Fatalf("resumed run ended at step %d", step)
	}
	sameWeights(t, want, got)
	hist, _ := runConfig(t, run)["history"].([]any)
	if len(hist) != 1 || hist[0].(map[string]any)["field"] != "Data.Glob" || hist[0].(map[string]any)["step"] != 5.0 {
		t.Errorf("history %v: want the one Data.Glob change at step 5", hist)
	}
}

// TestResumeAfterNaNWithLowerLR: a run that goes NaN stops with the message
// naming the step and the learning rate, exit 1, its last checkpoint
// untouched; resumed with a lower --lr it runs to its end, says so, and
// the change is recorded in the run's history (config.json and every
// later checkpoint).
func TestResumeAfterNaNWithLowerLR(t *testing.T) {
	if testing.Short() {
		t.Skip("trains")
	}
	data := tinyData(t)
	run := filepath.Join(t.TempDir(), "run")
	runBin(t, trainArgs(data, run, "--max-steps", "4")...)
	before := snapshotFiles(t, run)
	ck := filepath.Join(run, "checkpoints", sinks.CheckpointName(4))

	code, stdout, stderr := runBinCode(t, "train", "--out", run, "--resume", "--lr", "1e30")
	if code != 1 || stdout != "" || !strings.Contains(stderr, "loss is NaN at step 6") ||
		!strings.Contains(stderr, "the last good checkpoint is untouched") || strings.Contains(stderr, "panic") {
		t.Fatalf("resume at lr 1e30: exit %d stdout %q stderr %s", code, stdout, stderr)
	}
	if b, _ := os.ReadFile(ck); !bytes.Equal(b, before[ck]) {
		t.Fatal("the NaN run changed the checkpoint of step 4")
	}
	if s, _ := weightsOf(t, run); s != 4 {
		t.Fatalf("latest checkpoint is step %d after the NaN, want 4", s)
	}

	code, stdout, stderr = runBinCode(t, "train", "--out", run, "--resume", "--lr", "0.1")
	if code != 0 || !strings.Contains(stdout, "12 steps after resuming at step 4") ||
		!strings.Contains(stdout, "resumed with --lr 0.1 (was 0.3)") || strings.Contains(stdout, " in 0s,") {
		t.Fatalf("resume at lr 0.1: exit %d stdout %s stderr %s", code, stdout, stderr)
	}
	hist, _ := runConfig(t, run)["history"].([]any)
	if len(hist) != 1 {
		t.Fatalf("history %v: want one change", hist)
	}
	h := hist[0].(map[string]any)
	if h["field"] != "Optimizer.LR" || h["from"] != "0.3" || h["to"] != "0.1" || h["step"] != 4.0 {
		t.Errorf("history %v", h)
	}
	saved, err := sinks.LoadCheckpoint(run)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(saved.Config), `"field":"Optimizer.LR"`) {
		t.Errorf("the checkpoint's config has no history: %s", saved.Config)
	}
}

// TestBenchAndStreamBadRecords: bench and stream skip a few bad records
// (2 of 256: within their default budget of 1%, as train's), list each with
// shard, row and reason in their dead-letter file (appended to: an earlier
// run's lines stay), fail on garbage past the budget, exit 1, naming the
// file and --max-bad, and refuse --max-bad 2 before they start.
func TestBenchAndStreamBadRecords(t *testing.T) {
	few := mixedShard(t, 256, func(i int) bool { return i == 7 || i == 200 })
	garbage := mixedShard(t, 600, func(i int) bool { return i >= 2 })
	tmp := t.TempDir()
	common := []string{"--size", "16", "--batch", "32", "--epochs", "1", "--workers", "1"}
	bench := append([]string{"--seconds", "120", "--warmup", "-1"}, common...)
	stream := append([]string{"--parent-pid", "-1", "--shuffle-buffer", "0"}, common...)
	for _, c := range []struct {
		cmd   string
		extra []string
		say   string // on a success, where
	}{{"bench", bench, "stdout"}, {"stream", stream, "stderr"}} {
		dl := filepath.Join(tmp, c.cmd+"-bad.jsonl")
		earlier := `{"earlier":"run"}` + "\n"
		if err := os.WriteFile(dl, []byte(earlier), 0o644); err != nil {
			t.Fatal(err)
		}
		args := append([]string{c.cmd, "--data", few, "--dead-letters", dl}, c.extra...)
		code, stdout, stderr := runBinCode(t, args...)
		msg := map[string]string{"stdout": stdout, "stderr": stderr}[c.say]
		if code != 0 || !strings.Contains(msg, "2 bad records skipped") || !strings.Contains(msg, dl) {
			t.Errorf("%s, 2 bad of 256: exit %d\nstdout %.300q\nstderr %s", c.cmd, code, stdout, stderr)
		}
		b, _ := os.ReadFile(dl)
		if !strings.HasPrefix(string(b), earlier) {
			t.Errorf("%s: the earlier dead letters were lost: %q", c.cmd, b)
		}
		recs, err := sinks.ReadDeadLetters(dl)
		if err != nil {
			t.Fatal(err)
		}
		var rows []int64
		for _, r := range recs {
			if r.Shard == "" {
				continue // the earlier line
			}
			if !strings.HasSuffix(r.Shard, "shard-00000.parquet") || r.Stage != "decode" || !strings.Contains(r.Reason, "unknown format") {
				t.Errorf("%s: dead letter %+v", c.cmd, r)
			}
			rows = append(rows, r.Row)
		}
		if len(rows) != 2 || rows[0] != 7 || rows[1] != 200 {
			t.Errorf("%s: dead-letter rows %v, want 7 and 200", c.cmd, rows)
		}

		args = append([]string{c.cmd, "--data", garbage, "--dead-letters", dl}, c.extra...)
		code, _, stderr = runBinCode(t, args...)
		if code != 1 || !strings.Contains(stderr, "bad-record budget exceeded") || !strings.Contains(stderr, dl) ||
			!strings.Contains(stderr, "--max-bad") {
			t.Errorf("%s on garbage: exit %d stderr %s", c.cmd, code, stderr)
		}

		before, _ := os.ReadFile(dl)
		args = append([]string{c.cmd, "--data", few, "--dead-letters", dl, "--max-bad", "2"}, c.extra...)
		code, stdout, stderr = runBinCode(t, args...)
		if code != 1 || stdout != "" || !strings.Contains(stderr, "--max-bad 2: want a fraction <= 1") {
			t.Errorf("%s --max-bad 2: exit %d stdout %.200q stderr %s", c.cmd, code, stdout, stderr)
		}
		if after, _ := os.ReadFile(dl); !bytes.Equal(after, before) {
			t.Errorf("%s --max-bad 2 changed the dead-letter file", c.cmd)
		}
	}
}

// TestBlurredViewsOfLargeSizes: with blur on, views of 1280 px and more
// failed mid-run in the views stage (a releasing stage: SimCLR's kernel of
// 10% of the side was over the blur's limit of 127), each dead-lettered
// with its shard and row, and the run ended on the budget (7 of 8
// records bad). Now the stream runs through with no bad record.
// (8 records: 79 MB of views.)
func TestBlurredViewsOfLargeSizes(t *testing.T) {
	data := mixedShard(t, 8, func(int) bool { return false })
	dl := filepath.Join(t.TempDir(), "bad.jsonl")
	code, stdout, stderr := runBinCode(t, "stream", "--data", data, "--size", "1280", "--blur", "on", "--batch", "4", "--epochs", "1",
		"--workers", "1", "--parent-pid", "-1", "--shuffle-buffer", "0", "--dead-letters", dl)
	if code != 0 || len(stdout) < 8*2*1280*1280*3 {
		t.Errorf("stream --size 1280 --blur on: exit %d, %d bytes out\nstderr %s", code, len(stdout), stderr)
	}
	if b, err := os.ReadFile(dl); err == nil {
		t.Errorf("bad records: %.500s", b)
	}
}

// TestStreamRecipeFlags: the reproduction of a view error
// (--color-strength -5, once a nil-pointer panic in train) is refused by
// stream before it starts too, as the other recipe settings are, naming
// the flag (it said "stages: recipe colour strength -5"), exit 1, nothing
// written.
func TestStreamRecipeFlags(t *testing.T) {
	data := mixedShard(t, 8, func(int) bool { return false })
	dl := filepath.Join(t.TempDir(), "bad.jsonl")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--color-strength", "-5"}, "contrastream stream: --color-strength -5: want >= 0\n"},
		{[]string{"--min-scale", "2"}, "contrastream stream: --min-scale 2: want 0 < s <= 1\n"},
		{[]string{"--blur", "bogus"}, `contrastream stream: --blur "bogus": want auto, on or off` + "\n"},
		{[]string{"--recipe", "byol"}, `contrastream stream: --recipe "byol": the recipes are: simclr` + "\n"},
	} {
		args := append([]string{"stream", "--data", data, "--size", "16", "--parent-pid", "-1", "--dead-letters", dl}, c.args...)
		code, stdout, stderr := runBinCode(t, args...)
		if code != 1 || stdout != "" || stderr != c.want {
			t.Errorf("stream %v: exit %d, %d bytes out, stderr %q; want %q", c.args, code, len(stdout), stderr, c.want)
		}
		if _, err := os.Stat(dl); err == nil {
			t.Errorf("stream %v wrote dead letters", c.args)
		}
	}
}

// TestStreamNormalizeFlags: --mean and --std that are not 3 finite numbers
// (or 1, with --channels 1), a std not > 0, or either without --float32 are
// refused naming the flag and the value, exit 1, nothing written; good
// ones reach the stream's metadata (contrastream.mean and .std), one value
// standing for all three channels with --channels 1.
func TestStreamNormalizeFlags(t *testing.T) {
	data := mixedShard(t, 8, func(int) bool { return false })
	dl := filepath.Join(t.TempDir(), "bad.jsonl")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--float32", "--std", "0.2,0,0.2"}, "--std 0.2,0,0.2: want 3 numbers > 0"},
		{[]string{"--float32", "--std", "0.2,-1,0.2"}, "--std 0.2,-1,0.2: want 3 numbers > 0"},
		{[]string{"--float32", "--std", "0.5"}, "--std 0.5: want 3 numbers > 0"},
		{[]string{"--float32", "--mean", "0.5,0.5"}, "--mean 0.5,0.5: want 3 finite numbers"},
		{[]string{"--float32", "--mean", "0.5,NaN,0.5"}, "--mean 0.5,NaN,0.5: want 3 finite numbers"},
		{[]string{"--float32", "--mean", "1e39,0,0"}, "--mean 1e39,0,0: want 3 finite numbers"},
		{[]string{"--float32", "--mean", "a,b,c"}, "--mean a,b,c: want 3 finite numbers"},
		{[]string{"--float32", "--channels", "1", "--std", "0.5,0.5"}, "--std 0.5,0.5: want 1 or 3 numbers > 0"},
		{[]string{"--mean", "0.5,0.5,0.5"}, "--mean and --std need --float32 (the uint8 views are not normalized)"},
		{[]string{"--std", "0.5,0.5,0.5"}, "--mean and --std need --float32 (the uint8 views are not normalized)"},
	} {
		args := append([]string{"stream", "--data", data, "--size", "16", "--parent-pid", "-1", "--dead-letters", dl}, c.args...)
		code, stdout, stderr := runBinCode(t, args...)
		if want := "contrastream stream: " + c.want + "\n"; code != 1 || stdout != "" || stderr != want {
			t.Errorf("stream %v: exit %d, %d bytes out, stderr %q; want %q", c.args, code, len(stdout), stderr, want)
		}
		if _, err := os.Stat(dl); err == nil {
			t.Errorf("stream %v wrote dead letters", c.args)
		}
	}

	if runtime.GOOS != "linux" {
		t.Skip("the shm transport is Linux's")
	}
	for _, c := range []struct {
		args      []string
		mean, std string
	}{
		{[]string{"--channels", "1", "--mean", "0.5", "--std", "0.25"}, "0.5,0.5,0.5", "0.25,0.25,0.25"},
		{[]string{"--mean", "0.1,0.2,0.3"}, "0.1,0.2,0.3", "0.229,0.224,0.225"},
		{nil, "0.485,0.456,0.406", "0.229,0.224,0.225"},
	} {
		shm, err := os.Create(filepath.Join(t.TempDir(), "shm"))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(cliBinary, append([]string{"stream", "--data", data, "--size", "16", "--batch", "4",
			"--parent-pid", "-1", "--dead-letters", dl, "--shm-fd", "3", "--float32"}, c.args...)...)
		cmd.ExtraFiles = []*os.File{shm}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		rd, err := ipc.NewReader(stdout)
		if err != nil {
			t.Fatalf("stream %v: %v\n%s", c.args, err, stderr.String())
		}
		md := rd.Schema().Metadata()
		mean, _ := md.GetValue("contrastream.mean")
		std, _ := md.GetValue("contrastream.std")
		if mean != c.mean || std != c.std {
			t.Errorf("stream %v: metadata mean %q std %q, want %q %q", c.args, mean, std, c.mean, c.std)
		}
		for rd.Next() {
		}
		rd.Release()
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("stream %v: %v\n%s", c.args, err, stderr.String())
		}
		shm.Close()
	}
}
