package sources

import (
	"fmt"
	"math/bits"
	"math/rand/v2"

	"github.com/contrastream/contrastream/pipeline"
)

// Unit is one work unit: a Parquet row group or an Arrow IPC record batch.
type Unit struct {
	// Shard is the index of the unit's shard in the list the plan was made
	// from; Index is the row group or record batch within that shard.
	Shard, Index int
	// FirstRow is the shard row of the unit's first row; Rows its row count.
	FirstRow, Rows int64
}

// PlanConfig configures a Plan. The zero value is one rank, seed 0, units
// permuted every epoch and no shuffle buffer.
type PlanConfig struct {
	// Seed keys every random choice of the plan.
	Seed uint64
	// Rank is this process's rank in [0, World); World is the number of
	// ranks (0 means 1).
	Rank, World int
	// ShuffleBuffer is the number of samples the shuffle buffer holds; 0
	// turns it off (samples come in unit order, rows in file order).
	ShuffleBuffer int
	// InOrder keeps the units in discovery order in every epoch instead of
	// permuting them (for evaluation and previews).
	InOrder bool
}

// Plan decides which samples each rank emits in each epoch, and in what
// order, from metadata alone (the row count of every unit).
//
// Epoch e is made as follows. The units are permuted by a Fisher–Yates
// shuffle keyed by (Seed, e) (unless InOrder). Their rows, in file order
// within a unit, are concatenated into one global sequence of N rows. Rank r
// takes the contiguous slice [r·q, (r+1)·q) with q = ⌊N/World⌋, so every rank
// emits exactly q samples per epoch; the last N mod World rows of the global
// sequence are dropped for that epoch. Because the unit permutation changes
// every epoch, a different remainder is dropped each time and the ranks are
// re-mixed every epoch. Last, the rank's q samples pass through a shuffle
// buffer of ShuffleBuffer slots whose draws are keyed by (Seed, e, Rank):
// the buffer is filled, then each output is a uniformly drawn slot that is
// refilled with the next input; once the input ends the remaining slots are
// drawn in random order.
//
// All random draws use PCG (math/rand/v2's PCG, a fully specified generator,
// seeded by pipeline.SeedPCG from (Seed, stream tag, epoch[, rank])) and Lemire's bounded multiply-shift with rejection, implemented here, so the
// order is identical on every platform and Go version. A Plan is immutable and
// safe for concurrent use.
type Plan struct {
	units []Unit
	cfg   PlanConfig
	total int64
}

// Segment is a contiguous run of rows of one unit in a rank's epoch input
// (the order before the shuffle buffer).
type Segment struct {
	// Unit indexes Plan.Units(); Lo and Hi (exclusive) are rows within it.
	Unit   int
	Lo, Hi int64
	// Start is the input position of row Lo in the rank's epoch input.
	Start int64
}

// Ref names one sample: row Row (within the unit) of unit Unit.
type Ref struct {
	Unit int
	Row  int64
}

// NewPlan validates cfg and returns a plan over units (which it keeps; the
// caller must not modify them). It fails when a rank would get no sample.
func NewPlan(units []Unit, cfg PlanConfig) (*Plan, error) {
	if cfg.World == 0 {
		cfg.World = 1
	}
	if cfg.World < 0 || cfg.Rank < 0 || cfg.Rank >= cfg.World {
		return nil, fmt.Errorf("sources: rank %d is outside world of %d", cfg.Rank, cfg.World)
	}
	if cfg.ShuffleBuffer < 0 {
		return nil, fmt.Errorf("sources: negative shuffle buffer %d", cfg.ShuffleBuffer)
	}
	var total int64
	for i, u := range units {
		if u.Rows < 0 {
			return nil, fmt.Errorf("sources: unit %d has %d rows", i, u.Rows)
		}
		total += u.Rows
	}
	if total/int64(cfg.World) == 0 {
		return nil, fmt.Errorf("sources: %d rows cannot give each of %d ranks a sample", total, cfg.World)
	}
	return &Plan{units: units, cfg: cfg, total: total}, nil
}

// Units returns the plan's units (shared, read-only).
func (p *Plan) Units() []Unit { return p.units }

// Config returns the plan's configuration, with World defaulted.
func (p *Plan) Config() PlanConfig { return p.cfg }

// Rows returns N, the number of rows over all units.
func (p *Plan) Rows() int64 { return p.total }

// EpochSize returns q = ⌊N/World⌋, the number of samples every rank emits
// per epoch.
func (p *Plan) EpochSize() int64 { return p.total / int64(p.cfg.World) }

// Dropped returns N mod World, the number of rows no rank emits in an epoch
// (which rows they are changes with the epoch).
func (p *Plan) Dropped() int64 { return p.total % int64(p.cfg.World) }

// UnitOrder returns the order of the units in epoch e (indexes into Units).
// It allocates the returned slice.
func (p *Plan) UnitOrder(e int) []int {
	order := make([]int, len(p.units))
	for i := range order {
		order[i] = i
	}
	if p.cfg.InOrder {
		return order
	}
	pcg := newPCG(p.cfg.Seed, tagUnits, uint64(e))
	for i := len(order) - 1; i > 0; i-- {
		j := int(bounded(pcg, uint64(i+1)))
		order[i], order[j] = order[j], order[i]
	}
	return order
}

// Segments returns the rank's epoch-e input as segments in input order; their
// lengths add up to EpochSize(). It allocates the returned slice.
func (p *Plan) Segments(e int) []Segment {
	return p.rankSegments(e, p.cfg.Rank)
}

func (p *Plan) rankSegments(e, rank int) []Segment {
	q := p.EpochSize()
	a, b := int64(rank)*q, int64(rank+1)*q
	var segs []Segment
	var g int64
	for _, u := range p.UnitOrder(e) {
		rows := p.units[u].Rows
		lo, hi := max(a, g), min(b, g+rows)
		if lo < hi {
			segs = append(segs, Segment{Unit: u, Lo: lo - g, Hi: hi - g, Start: lo - a})
		}
		g += rows
		if g >= b {
			break
		}
	}
	return segs
}

// Order returns the rank's epoch-e samples in emission order, computed from
// metadata alone. It allocates EpochSize() refs; it is meant for tests and
// tools, the source itself simulates only what it needs.
func (p *Plan) Order(e int) []Ref {
	segs := p.Segments(e)
	q := p.EpochSize()
	sh := newShuffler(p.cfg.ShuffleBuffer, q, p.shufflePCG(e), false)
	out := make([]Ref, 0, q)
	for range q {
		k, _, _ := sh.step(nil)
		s := segs[findSegment(segs, k)]
		out = append(out, Ref{Unit: s.Unit, Row: s.Lo + k - s.Start})
	}
	return out
}

func (p *Plan) shufflePCG(e int) *rand.PCG {
	return newPCG(p.cfg.Seed, tagShuffle, uint64(e), uint64(p.cfg.Rank))
}

// findSegment returns the index of the segment holding input position k.
func findSegment(segs []Segment, k int64) int {
	lo, hi := 0, len(segs)
	for lo < hi {
		m := (lo + hi) / 2
		if segs[m].Start+(segs[m].Hi-segs[m].Lo) <= k {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// Keys that separate the random streams of a plan.
const (
	tagUnits   = 0x756e697473 // "units"
	tagShuffle = 0x73687566   // "shuf"
)

// newPCG returns a PCG seeded from seed and keys by pipeline.SeedPCG.
func newPCG(seed uint64, keys ...uint64) *rand.PCG {
	pcg := new(rand.PCG)
	pipeline.SeedPCG(pcg, seed, keys...)
	return pcg
}

// bounded returns a uniform integer in [0, n) (n > 0) by Lemire's
// multiply-shift method with rejection.
func bounded(src *rand.PCG, n uint64) uint64 {
	hi, lo := bits.Mul64(src.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(src.Uint64(), n)
		}
	}
	return hi
}

// shuffler is the shuffle buffer over the input positions 0..n-1 of one
// rank's epoch. The same code runs in simulation (withData false: positions
// only, no bytes) and for real (samples travel alongside the positions), so
// a resumed source makes exactly the draws the stopped one made.
type shuffler struct {
	size  int
	n     int64
	next  int64 // next input position to take in
	live  int   // filled slots
	slots []int64
	data  []*Sample
	pcg   *rand.PCG
}

func newShuffler(size int, n int64, pcg *rand.PCG, withData bool) *shuffler {
	s := &shuffler{size: size, n: n, pcg: pcg}
	if size > 0 {
		// A buffer larger than the epoch behaves like one of the epoch's size.
		s.size = int(min(int64(size), n))
		s.slots = make([]int64, s.size)
		if withData {
			s.data = make([]*Sample, s.size)
		}
	}
	return s
}

// pending returns the filled slots' input positions (shared, read-only).
func (s *shuffler) pending() []int64 { return s.slots[:s.live] }

// withData switches a simulated shuffler to carrying samples; the caller
// fills data[i] for every pending slot i before the next step.
func (s *shuffler) withData() []*Sample {
	if s.size > 0 && s.data == nil {
		s.data = make([]*Sample, s.size)
	}
	return s.data
}

// step emits one output: the input position k and, with data, its sample.
// pull(k) is called for input positions in increasing order, exactly once
// each, when the buffer takes them in; it must return that position's sample
// (it is not called in simulation). step must be called at most n times.
func (s *shuffler) step(pull func(k int64) (*Sample, error)) (int64, *Sample, error) {
	if s.size == 0 {
		k := s.next
		s.next++
		if pull == nil {
			return k, nil, nil
		}
		smp, err := pull(k)
		return k, smp, err
	}
	for s.live < s.size && s.next < s.n {
		if s.data != nil {
			smp, err := pull(s.next)
			if err != nil {
				return 0, nil, err
			}
			s.data[s.live] = smp
		}
		s.slots[s.live] = s.next
		s.live++
		s.next++
	}
	if s.next < s.n {
		j := bounded(s.pcg, uint64(s.size))
		k := s.slots[j]
		s.slots[j] = s.next
		var smp *Sample
		if s.data != nil {
			smp = s.data[j]
			nxt, err := pull(s.next)
			if err != nil {
				return 0, nil, err
			}
			s.data[j] = nxt
		}
		s.next++
		return k, smp, nil
	}
	j := bounded(s.pcg, uint64(s.live))
	last := s.live - 1
	k := s.slots[j]
	s.slots[j] = s.slots[last]
	var smp *Sample
	if s.data != nil {
		smp = s.data[j]
		s.data[j] = s.data[last]
		s.data[last] = nil
	}
	s.live--
	return k, smp, nil
}
