package sinks

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/contrastream/contrastream/stages/train"
)

func TestCheckpointerLock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	c := &Checkpointer{Dir: dir}
	unlock, err := c.Lock()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, LockName))
	if !strings.HasPrefix(string(b), "pid ") {
		t.Errorf("lock file says %q", b)
	}
	// A second holder (another open file description) is refused.
	if _, err := (&Checkpointer{Dir: dir}).Lock(); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid ") {
		t.Fatalf("second Lock: %v, want ErrLocked naming the holder", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	// Lock made the folder and nothing else was written: it is gone.
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("an unused run folder stayed: %v", err)
	}
	// A folder with a run in it keeps its (unlocked) lock file and lets the
	// next run in.
	unlock, err = c.Lock()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte("{}"), 0o644)
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	unlock, err = c.Lock()
	if err != nil {
		t.Fatalf("relock after unlock: %v", err)
	}
	unlock()
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		t.Error(err)
	}
	var _ train.Locker = c
}

// TestRunFolderSupersedesStepsAfterTheResumePoint: metrics lines of steps
// after the checkpoint a run resumes from move to metrics-superseded.jsonl.
func TestRunFolderSupersedesStepsAfterTheResumePoint(t *testing.T) {
	dir := t.TempDir()
	lines := `{"type":"step","step":1}
{"type":"step","step":2}
{"type":"eval","step":2,"epoch":0}
{"type":"step","step":3}
{"type":"step","step":4}
`
	os.WriteFile(filepath.Join(dir, "metrics.jsonl"), []byte(lines), 0o644)
	rf := NewRunFolder(dir)
	if err := rf.Start(train.Info{StartStep: 2}); err != nil {
		t.Fatal(err)
	}
	if err := rf.WriteStep(&train.Step{Step: 3}); err != nil {
		t.Fatal(err)
	}
	rf.Close()
	got, _ := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if !strings.HasPrefix(string(got), "{\"type\":\"step\",\"step\":1}\n{\"type\":\"step\",\"step\":2}\n{\"type\":\"eval\",\"step\":2,\"epoch\":0}\n{\"type\":\"step\",\"step\":3,") ||
		strings.Count(string(got), "\n") != 4 {
		t.Errorf("metrics.jsonl:\n%s", got)
	}
	old, _ := os.ReadFile(filepath.Join(dir, "metrics-superseded.jsonl"))
	if string(old) != "{\"type\":\"step\",\"step\":3}\n{\"type\":\"step\",\"step\":4}\n" {
		t.Errorf("metrics-superseded.jsonl:\n%s", old)
	}
}
