package stages

import (
	"fmt"
	"strings"

	"github.com/contrastream/contrastream/internal/sysmem"
)

// MaxViewSide is the largest view side, in pixels, that the view stages'
// users accept (Bench, Preview, the training run, the stream): a larger
// side is refused before anything is allocated. A 4096² RGB view is 48 MiB
// as uint8 and 192 MiB as float32.
const MaxViewSide = 4096

// CheckViewSide refuses a view side that is not in [1, MaxViewSide]; what
// names the setting in the message ("--size", "the first image's side").
func CheckViewSide(what string, side int) error {
	if side < 1 || side > MaxViewSide {
		return fmt.Errorf("stages: %s %d: the view side must be 1..%d pixels", what, side, MaxViewSide)
	}
	return nil
}

// MemoryShare is the share of the memory this process may use (see
// internal/sysmem: the machine's, the cgroup's or GOMEMLIMIT, the least)
// that the batches in flight may take by default.
const MemoryShare = 0.5

// memoryLimit resolves a MaxBytes setting: 0 is MemoryShare of what the
// process may use (0 when unknown: no check), negative is no limit.
func memoryLimit(maxBytes int64) (limit int64, why string) {
	switch {
	case maxBytes < 0:
		return 0, ""
	case maxBytes > 0:
		return maxBytes, "the configured limit"
	}
	l, src := sysmem.Limit()
	if l == 0 {
		return 0, ""
	}
	what := map[string]string{"machine": "the machine's memory", "cgroup": "the cgroup's memory limit", "GOMEMLIMIT": "GOMEMLIMIT"}[src]
	return int64(MemoryShare * float64(l)), fmt.Sprintf("%.0f%% of %s, %s", 100*MemoryShare, what, sysmem.Format(l))
}

// PoolBytes is the memory of Tensorize's batch pool for views of the given
// shapes (per view: channels, height, width): InFlight batches of BatchSize
// samples, each view float32 (or uint8 with Uint8 or Packed).
func (t *Tensorize) PoolBytes(shapes [][3]int) int64 {
	n := int64(t.InFlight)
	if n <= 0 {
		n = 4
	}
	elem := int64(4)
	if t.Uint8 || (t.Packed && !t.PackedFloat) {
		elem = 1
	}
	var per int64
	for _, s := range shapes {
		v := sysmem.Product(int64(t.BatchSize), int64(s[0]), int64(s[1]), int64(s[2]), elem)
		if per > 1<<62-v {
			per = 1 << 62
		} else {
			per += v
		}
	}
	return sysmem.Product(n, per)
}

// CheckMemory refuses, with the figures, a batch pool for views of these
// shapes that would take more than MaxBytes. Tensorize calls it before it
// allocates its first batch; callers that know the shapes up front call it
// before starting a run.
func (t *Tensorize) CheckMemory(shapes [][3]int) error {
	limit, why := memoryLimit(t.MaxBytes)
	need := t.PoolBytes(shapes)
	if limit == 0 || need <= limit {
		return nil
	}
	kind := "float32"
	if t.Uint8 || (t.Packed && !t.PackedFloat) {
		kind = "uint8"
	}
	var views []string
	for _, s := range shapes {
		views = append(views, fmt.Sprintf("%dx%dx%d", s[0], s[1], s[2]))
	}
	n := t.InFlight
	if n <= 0 {
		n = 4
	}
	return fmt.Errorf("stages: tensorize: %d batches in flight of %d samples with views %s (%s) need %s, over %s (%s): use a smaller batch or view size",
		n, t.BatchSize, strings.Join(views, ", "), kind, sysmem.Format(need), sysmem.Format(limit), why)
}
