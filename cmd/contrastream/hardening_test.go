package main

// Hardening: each bad input a user can give meets a clear error (message
// and exit status asserted), and nothing already written is lost.

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/contrastream/contrastream/sinks"
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
