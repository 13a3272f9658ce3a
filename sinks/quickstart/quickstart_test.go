package quickstart

import (
	"bytes"
	"errors"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/contrastream/contrastream/sinks"
)

// tiny is a quickstart of a second or two: 64 images of 16×16, 2 epochs of
// 2 steps of 32 images, one thread.
func tiny(out string) Config {
	c := DefaultConfig(out)
	c.N, c.Minutes = 64, 0
	c.Train.Data.Size, c.Train.Schedule.Batch, c.Train.Schedule.Epochs = 16, 32, 2
	c.Train.Model.Threads, c.Train.Data.Workers, c.Train.Data.ShuffleBuffer = 1, 2, 64
	return c
}

func TestRun(t *testing.T) {
	out := t.TempDir()
	var log bytes.Buffer
	c := tiny(out)
	c.Log = &log
	r, err := Run(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	if r.Steps != 4 || r.Stopped || r.TestImages != 12 || r.Out != out {
		t.Errorf("result %+v, want 4 steps, not stopped, 12 test images", r)
	}
	for _, v := range []float64{r.KNNRandomInit, r.KNNTrained, r.KNNRawPixels} {
		if v <= 0 || v > 1 {
			t.Errorf("kNN top-1 %v out of (0, 1]: %+v", v, r)
		}
	}
	if math.Abs(r.Gain-(r.KNNTrained-r.KNNRandomInit)) > 1e-12 {
		t.Errorf("gain %v, want %v", r.Gain, r.KNNTrained-r.KNNRandomInit)
	}
	// The trained score is the last checkpoint's, rebuilt from it alone.
	ck, err := sinks.LoadCheckpoint(r.Checkpoint)
	if err != nil || ck.Step != 4 {
		t.Fatalf("checkpoint %s: step %v, %v", r.Checkpoint, ck, err)
	}
	f, err := os.Open(r.Preview)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if m, err := png.Decode(f); err != nil || m.Bounds().Dx() == 0 {
		t.Errorf("preview: %v", err)
	}
	for _, p := range []string{r.Metrics, filepath.Join(r.RunDir, "config.json"), r.TrainData, r.TestData} {
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
	for _, w := range []string{"quickstart: wrote 64 synthetic 16×16 images", "quickstart: wrote 12 synthetic",
		"quickstart: augmentation preview", "quickstart: before training", "quickstart: training the small encoder for 2 epochs"} {
		if !strings.Contains(log.String(), w) {
			t.Errorf("log does not say %q:\n%s", w, log.String())
		}
	}
	// A second run replaces the first's run folder (no resume, no lock).
	if r2, err := Run(t.Context(), tiny(out)); err != nil || r2.Steps != 4 || r2.KNNTrained != r.KNNTrained {
		t.Errorf("second run: %+v, %v; want the same 4 steps and score %v", r2, err, r.KNNTrained)
	}
}

// stopAt closes stop when the log shows the progress line of a step.
type stopAt struct {
	step string // "train: step 1/"
	stop chan struct{}
	once sync.Once
}

func (w *stopAt) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(w.step)) {
		w.once.Do(func() { close(w.stop) })
	}
	return len(p), nil
}

// TestRunStopped: a quickstart stopped after its first step is scored from
// the checkpoint the stop wrote; one stopped before any step says so.
func TestRunStopped(t *testing.T) {
	c := tiny(t.TempDir())
	w := &stopAt{step: "train: step 1/", stop: make(chan struct{})}
	c.Log, c.Stop = w, w.stop
	r, err := Run(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Stopped || r.Steps < 1 || r.Steps >= 4 || r.KNNTrained <= 0 {
		t.Fatalf("stopped run: %+v", r)
	}
	ck, err := sinks.LoadCheckpoint(r.Checkpoint)
	if err != nil || ck.Step != int64(r.Steps) {
		t.Fatalf("checkpoint %s of a run stopped at step %d: %v %v", r.Checkpoint, r.Steps, ck, err)
	}

	c = tiny(t.TempDir())
	stop := make(chan struct{})
	close(stop)
	c.Stop = stop
	if r, err := Run(t.Context(), c); !errors.Is(err, ErrStoppedBeforeTraining) {
		t.Fatalf("stopped before training: %+v, %v; want ErrStoppedBeforeTraining", r, err)
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		edit        func(*Config)
		field, want string
	}{
		{func(c *Config) { c.Out = "" }, "Out", "quickstart: Out is empty"},
		{func(c *Config) { c.Minutes = -0.1 }, "Minutes", "quickstart: Minutes -0.1: want a finite number of minutes >= 0"},
		{func(c *Config) { c.Minutes = math.NaN() }, "Minutes", "Minutes NaN"},
		{func(c *Config) { c.N = 255 }, "N", "quickstart: N 255: want at least 256 training images (one batch)"},
		{func(c *Config) { c.N, c.Train.Schedule.Batch = 10, 0 }, "N", "N 10: want at least 256"},
		{func(c *Config) { c.Train.Data.Size = 8 }, "Train.Data.Size", "Train.Data.Size 8"},
	} {
		cfg := DefaultConfig(t.TempDir())
		c.edit(&cfg)
		err := cfg.Validate()
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != c.field || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate = %v, want a ConfigError on %s saying %q", err, c.field, c.want)
		}
		if _, rerr := Run(t.Context(), cfg); !errors.As(rerr, &ce) {
			t.Errorf("Run with %s wrong = %v, want its ConfigError", c.field, rerr)
		}
	}
	if err := DefaultConfig("x").Validate(); err != nil {
		t.Errorf("DefaultConfig: %v", err)
	}
}
