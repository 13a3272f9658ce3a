package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/contrastream/contrastream/internal/s3test"
	"github.com/contrastream/contrastream/sources"
)

// TestTrainFromBucket trains on shards in an in-process S3 through a link
// that answers 500 to its first two requests and 500 or a reset to some
// others: the weights are bit-identical to training on the same shards on
// disk, the summary reports the traffic and the retries, and a run stopped
// early resumes from its cursor on the bucket to the same weights.
func TestTrainFromBucket(t *testing.T) {
	if testing.Short() {
		t.Skip("trains four times")
	}
	data := tinyData(t)
	disk := filepath.Join(t.TempDir(), "disk")
	runBin(t, trainArgs(data, disk)...)
	_, want := weightsOf(t, disk)

	s3test.Env(t.Setenv)
	srv, err := s3test.Start("data")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if _, err := srv.Upload("data", "ds/", data); err != nil {
		t.Fatal(err)
	}
	srv.SetFaults(s3test.Faults{ErrorRate: 0.1, ResetRate: 0.05, Seed: 2, FailFirst: 2})
	url := srv.BucketURL("data", "ds/*.parquet")
	bucket := filepath.Join(t.TempDir(), "bucket")
	out := runBin(t, trainArgs(url, bucket, "--json")...)
	var sum struct {
		Type    string              `json:"type"`
		Steps   int                 `json:"steps"`
		Storage *sources.StoreStats `json:"storage"`
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil || sum.Type != "summary" {
		t.Fatalf("last line %q: %v", lines[len(lines)-1], err)
	}
	_, _, injected, _ := srv.Stats()
	t.Logf("%d faults injected; summary storage %+v", injected, sum.Storage)
	if sum.Storage == nil || sum.Storage.Requests == 0 || sum.Storage.Retries == 0 || sum.Steps != 16 {
		t.Fatalf("summary: %d steps, storage %+v (%d faults injected)", sum.Steps, sum.Storage, injected)
	}
	_, got := weightsOf(t, bucket)
	sameWeights(t, want, got)

	split := filepath.Join(t.TempDir(), "split")
	runBin(t, trainArgs(url, split, "--max-steps", "5")...)
	runBin(t, "train", "--out", split, "--resume")
	s, got := weightsOf(t, split)
	if s != 16 {
		t.Fatalf("resumed run ended at step %d", s)
	}
	sameWeights(t, want, got)
}
