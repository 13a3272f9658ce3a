package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQuickstartFlagMessages: bad --minutes, --n and --out are refused
// with a message naming the flag, before anything is written.
func TestQuickstartFlagMessages(t *testing.T) {
	tmp := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--minutes", "-1"}, "--minutes -1: want a finite number of minutes >= 0"},
		{[]string{"--minutes", "NaN"}, "--minutes NaN"},
		{[]string{"--minutes", "Inf"}, "--minutes +Inf"},
		{[]string{"--n", "100"}, "--n 100: want at least 256 training images (one batch)"},
		{[]string{"--n", "-5"}, "--n -5"},
		{[]string{"--out", ""}, "--out is empty"},
		{[]string{"extra"}, `unexpected arguments ["extra"]`},
	} {
		out := filepath.Join(tmp, "qs")
		args := append([]string{"quickstart", "--out", out}, c.args...)
		code, stdout, stderr := runBinCode(t, args...)
		if code != 1 || stdout != "" || !strings.Contains(stderr, c.want) {
			t.Errorf("quickstart %v: exit %d stdout %q stderr %s; want exit 1 and %q", c.args, code, stdout, stderr, c.want)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("quickstart %v wrote %s", c.args, out)
		}
	}
}

// TestQuickstartCommand runs the whole quickstart on its smallest data
// (one batch of 256 images, 8 steps; a few seconds) with --json and checks
// the summary against the files it names.
func TestQuickstartCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "qs")
	code, stdout, stderr := runBinCode(t, "quickstart", "--out", out, "--n", "256", "--minutes", "0", "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var sum map[string]any
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil || strings.Count(strings.TrimSpace(stdout), "\n") != 0 {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout)
	}
	for _, k := range []string{"knn_top1_random_init", "knn_top1_trained", "knn_top1_raw_pixels", "gain",
		"steps", "train_seconds", "pairs_per_s", "data_wait", "seconds", "checkpoint", "metrics", "preview", "out"} {
		if _, ok := sum[k]; !ok {
			t.Errorf("summary has no %q: %s", k, stdout)
		}
	}
	if sum["steps"] != 8.0 || sum["out"] != out {
		t.Errorf("steps %v out %v, want 8 steps in %s", sum["steps"], sum["out"], out)
	}
	for _, k := range []string{"knn_top1_random_init", "knn_top1_trained", "knn_top1_raw_pixels"} {
		if v, _ := sum[k].(float64); v <= 0 || v > 1 {
			t.Errorf("%s = %v, want a top-1 in (0, 1]", k, sum[k])
		}
	}
	for _, k := range []string{"checkpoint", "metrics", "preview"} {
		p, _ := sum[k].(string)
		if st, err := os.Stat(p); err != nil || st.Size() == 0 || !strings.HasPrefix(p, out) {
			t.Errorf("%s %q: %v", k, p, err)
		}
	}
	for _, w := range []string{"wrote 256 synthetic 32×32 images", "wrote 51 synthetic", "before training: kNN top-1", "step 8/8"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr does not say %q:\n%s", w, stderr)
		}
	}
}
