package train

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOverrideAndResumeChanges: Override copies the named fields and
// refuses names that are not settings; resumeChanges records every change
// but Stop's and refuses each field the saved state depends on, naming it.
func TestOverrideAndResumeChanges(t *testing.T) {
	saved := DefaultConfig("/data/a")
	edited := saved
	from := DefaultConfig("/data/b")
	from.Optimizer.LR, from.Stop.MaxSteps, from.Model.Threads = 0.1, 7, 2
	if err := edited.Override(from, "Data.Glob", "Optimizer.LR", "Stop.MaxSteps", "Model.Threads"); err != nil {
		t.Fatal(err)
	}
	if edited.Data.Glob != "/data/b" || edited.Optimizer.LR != 0.1 || edited.Stop.MaxSteps != 7 || saved.Data.Glob != "/data/a" {
		t.Fatalf("Override: %+v", edited)
	}
	for _, bad := range []string{"Data", "Data.Nope", "Nope", "History", "Data.Glob.X", ""} {
		if err := edited.Override(from, bad); !errors.Is(err, ErrConfig) {
			t.Errorf("Override(%q): %v, want ErrConfig", bad, err)
		}
	}
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	ch, err := resumeChanges(saved, edited, 40, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []Change{
		{Step: 40, Field: "Data.Glob", From: "/data/a", To: "/data/b", Time: now},
		{Step: 40, Field: "Model.Threads", From: "0", To: "2", Time: now},
		{Step: 40, Field: "Optimizer.LR", From: "0.3", To: "0.1", Time: now},
	}
	if len(ch) != len(want) {
		t.Fatalf("changes %+v, want %+v", ch, want)
	}
	for i := range want {
		if ch[i] != want[i] {
			t.Errorf("change %d: %+v, want %+v", i, ch[i], want[i])
		}
	}
	for field := range fixedOnResume {
		f := saved
		setOne(t, &f, field)
		e := saved
		if err := e.Override(f, field); err != nil { // the name is a setting
			t.Fatalf("fixedOnResume names %q: %v", field, err)
		}
		_, err := resumeChanges(saved, e, 40, now)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != field || !strings.Contains(err.Error(), "cannot change on resume") {
			t.Errorf("change of %s on resume: %v", field, err)
		}
	}
}

// setOne changes field of c to a value it does not have.
func setOne(t *testing.T, c *Config, field string) {
	t.Helper()
	switch field {
	case "Model.Model":
		c.Model.Model = "resnet18"
	case "Model.HeadBN":
		c.Model.HeadBN = !c.Model.HeadBN
	case "Optimizer.Name":
		c.Optimizer.Name = "adamw"
	case "Data.Fingerprint":
		c.Data.Fingerprint = "0123456789abcdef"
	case "Model.InChannels":
		c.Model.InChannels = 1
	case "Model.HeadDepth":
		c.Model.HeadDepth = 3
	case "Model.HeadHidden":
		c.Model.HeadHidden = 64
	case "Model.HeadOut":
		c.Model.HeadOut = 64
	case "Model.Seed":
		c.Model.Seed = 11
	case "Data.Seed":
		c.Data.Seed = 11
	case "Data.ShuffleBuffer":
		c.Data.ShuffleBuffer = 11
	case "Data.Size":
		c.Data.Size = 64
	case "Schedule.Batch":
		c.Schedule.Batch = 64
	default:
		t.Fatalf("no test value for %s", field)
	}
}

// TestAbsGlob: local items of a shard list become absolute, URLs and
// empty items stay.
func TestAbsGlob(t *testing.T) {
	wd, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	got := absGlob("a/*.parquet, /x/y,s3://b/k/*.parquet,")
	want := filepath.Join(wd, "a/*.parquet") + ",/x/y,s3://b/k/*.parquet,"
	if got != want {
		t.Errorf("absGlob: %q, want %q", got, want)
	}
	if absGlob("") != "" {
		t.Error("empty glob")
	}
}
