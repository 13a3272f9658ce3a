package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gorgonia.org/tensor"

	"github.com/contrastream/contrastream/sinks"
	"github.com/contrastream/contrastream/sources"
)

// binary is the contrastream command built once for the tests that run it
// as a process (signals, exit codes).
var cliBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "contrastream-cmd-test")
	if err != nil {
		panic(err)
	}
	cliBinary = filepath.Join(dir, "contrastream")
	out, err := exec.Command("go", "build", "-o", cliBinary, ".").CombinedOutput()
	if err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// tinyData writes 256 synthetic 16×16 images as two shards.
func tinyData(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	_, err := sinks.WriteSynth(t.Context(), sources.Synth{N: 256, Size: 16, Seed: 9},
		sinks.ShardsConfig{Dir: dir}, sinks.ImportOptions{Shards: 2})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// trainArgs is a 2-epoch run of 8 steps per epoch.
func trainArgs(data, out string, extra ...string) []string {
	return append([]string{"train", "--data", data, "--out", out, "--epochs", "2", "--batch", "32",
		"--threads", "1", "--workers", "2", "--shuffle-buffer", "64", "--seed", "3", "--eval-every", "0"}, extra...)
}

func runBin(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(cliBinary, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("contrastream %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// weightsOf loads a run's latest checkpoint: its step and every tensor's bits.
func weightsOf(t *testing.T, run string) (int64, map[string][]byte) {
	t.Helper()
	ck, err := sinks.LoadCheckpoint(run)
	if err != nil {
		t.Fatal(err)
	}
	w := map[string][]byte{}
	for _, n := range append(ck.Tensors, ck.Optimizer...) {
		w[n.Name] = rawBytes(n.Tensor)
	}
	return ck.Step, w
}

func rawBytes(d *tensor.Dense) []byte {
	var b []byte
	switch v := d.Data().(type) {
	case []float32:
		for _, f := range v {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
		}
	case []int64:
		for _, x := range v {
			b = binary.LittleEndian.AppendUint64(b, uint64(x))
		}
	case int64:
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	default:
		b = fmt.Appendf(b, "%v", v)
	}
	return b
}

func sameWeights(t *testing.T, a, b map[string][]byte) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d tensors vs %d", len(a), len(b))
	}
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			t.Fatalf("tensor %s differs", k)
		}
	}
}

func TestResumeIsBitIdentical(t *testing.T) {
	if testing.Short() {
		t.Skip("trains three times")
	}
	data := tinyData(t)
	straight := filepath.Join(t.TempDir(), "straight")
	runBin(t, trainArgs(data, straight)...)
	step, want := weightsOf(t, straight)
	if step != 16 {
		t.Fatalf("straight run ended at step %d, want 16", step)
	}

	split := filepath.Join(t.TempDir(), "split")
	runBin(t, trainArgs(data, split, "--max-steps", "5")...)
	if s, _ := weightsOf(t, split); s != 5 {
		t.Fatalf("first half ended at step %d, want 5", s)
	}
	runBin(t, "train", "--out", split, "--resume")
	s, got := weightsOf(t, split)
	if s != 16 {
		t.Fatalf("resumed run ended at step %d", s)
	}
	sameWeights(t, want, got)
}

func TestSIGINTCheckpointsAndExitsZero(t *testing.T) {
	if testing.Short() {
		t.Skip("trains")
	}
	data := tinyData(t)
	run := filepath.Join(t.TempDir(), "run")
	cmd := exec.Command(cliBinary, trainArgs(data, run, "--epochs", "50")...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, filepath.Join(run, "metrics.jsonl"), `"type":"step"`)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGINT: %v\n%s", err, stderr.String())
	}
	step, _ := weightsOf(t, run)
	if step < 1 || step >= 50*8 {
		t.Fatalf("checkpoint at step %d", step)
	}
	if !strings.Contains(stderr.String(), "stopping after this step") {
		t.Errorf("stderr does not say it stops:\n%s", stderr.String())
	}
}

func TestSIGKILLDuringCheckpointsLeavesALoadableOne(t *testing.T) {
	if testing.Short() {
		t.Skip("trains")
	}
	data := tinyData(t)
	run := filepath.Join(t.TempDir(), "run")
	for i, delay := range []time.Duration{0, 150 * time.Millisecond, 400 * time.Millisecond} {
		args := trainArgs(data, run, "--epochs", "50", "--checkpoint-every", "1", "--keep", "2")
		if i > 0 {
			args = []string{"train", "--out", run, "--resume"}
		}
		cmd := exec.Command(cliBinary, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill while checkpoints are being written (one every step).
		waitForCheckpoints(t, run, i+1)
		time.Sleep(delay)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		ck, err := sinks.LoadCheckpoint(run)
		if err != nil {
			t.Fatalf("kill %d: latest checkpoint does not load: %v", i, err)
		}
		ents, _ := os.ReadDir(filepath.Join(run, "checkpoints"))
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".safetensors.zst") {
				if _, err := sinks.LoadCheckpoint(filepath.Join(run, "checkpoints", e.Name())); err != nil {
					t.Errorf("kill %d: %s under a final name does not load: %v", i, e.Name(), err)
				}
			}
		}
		t.Logf("kill %d: latest is step %d", i, ck.Step)
	}
}

func waitFor(t *testing.T, path, substr string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && bytes.Contains(b, []byte(substr)) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never contained %q", path, substr)
}

func waitForCheckpoints(t *testing.T, run string, n int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		ents, _ := os.ReadDir(filepath.Join(run, "checkpoints"))
		c := 0
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".zst") {
				c++
			}
		}
		if c >= min(n, 2) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no checkpoint appeared in %s", run)
}
