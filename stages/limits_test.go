package stages

import (
	"errors"
	"strings"
	"testing"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/pipeline/pipelinetest"
)

// TestTensorizeRefusesAPoolOverItsMemoryBound: the pool's size is known
// only from the first view set; Tensorize checks it before allocating the
// first batch and fails the run with the figures.
func TestTensorizeRefusesAPoolOverItsMemoryBound(t *testing.T) {
	in := []*ViewSet{viewSet(0, 0, 2, 64, 1), viewSet(1, 0, 2, 64, 1)}
	// 4 batches × 2 samples × 2 views × 3×64×64 float32 = 786,432 bytes.
	tz := &Tensorize{BatchSize: 2, MaxBytes: 786432 - 1}
	if got := tz.PoolBytes([][3]int{{3, 64, 64}, {3, 64, 64}}); got != 786432 {
		t.Fatalf("PoolBytes = %d, want 786432", got)
	}
	res := pipelinetest.RunStage[*ViewSet, *Batch](t, tz, in)
	var se *pipeline.StageError
	if !errors.As(res.Err, &se) || se.Stage != "stage" || !strings.Contains(res.Err.Error(), "need 768.0 KiB, over 768.0 KiB") ||
		len(res.Out) != 0 {
		t.Fatalf("err %v, %d batches; want a fatal error with the figures and no batch", res.Err, len(res.Out))
	}
	tz = &Tensorize{BatchSize: 2, MaxBytes: 786432}
	if res := pipelinetest.RunStage[*ViewSet, *Batch](t, tz, in); res.Err != nil || len(res.Out) != 1 {
		t.Fatalf("at the bound: %v, %d batches", res.Err, len(res.Out))
	}
	// Hostile shapes saturate instead of wrapping around.
	if got := (&Tensorize{BatchSize: 1 << 30}).PoolBytes([][3]int{{3, 1 << 20, 1 << 20}}); got < 1<<62 {
		t.Errorf("PoolBytes overflowed to %d", got)
	}
	if err := CheckViewSide("--size", 4097); err == nil || !strings.Contains(err.Error(), "--size 4097") {
		t.Errorf("CheckViewSide(4097) = %v", err)
	}
}
