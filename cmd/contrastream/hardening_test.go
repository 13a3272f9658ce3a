package main

// Hardening: each bad input a user can give meets a clear error (message
// and exit status asserted), and nothing already written is lost.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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
