package sources

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/contrastream/contrastream/pipeline"
)

// ParquetConfig configures a shard source. The zero value (with Glob set)
// reads every sample once per epoch, forever, on one rank, with the units
// permuted every epoch and no shuffle buffer.
type ParquetConfig struct {
	// Name is the pipeline stage name; "" means "parquet".
	Name string
	// Glob lists the shards: a glob, a directory or a comma-separated list
	// of them (see Discover). Files, when non-empty, is used instead.
	Glob  string
	Files []string
	// Shards, when non-empty, are shards opened already (another Source's
	// Shards()), read instead of Glob and Files: no discovery, no
	// metadata read, so one run reads each footer once. Their columns are
	// those they were opened with; Columns is then ignored.
	Shards []*Shard
	// Columns overrides the automatic image and label columns.
	Columns Columns
	// Seed keys the unit permutation and the shuffle buffer.
	Seed uint64
	// Rank and World partition every epoch between World ranks (World 0
	// means 1); see Plan for how.
	Rank, World int
	// ShuffleBuffer is the number of samples the shuffle buffer holds;
	// 0 turns it off. Memory is about ShuffleBuffer times the mean image
	// size.
	ShuffleBuffer int
	// InOrder keeps the units in discovery order every epoch.
	InOrder bool
	// Epochs is the number of epochs to emit; 0 means forever.
	Epochs int
	// ReadAhead is the number of units (row groups, record batches) read at
	// once, across shards: the one being emitted and those after it; 0
	// means 4. Each unit is read in pieces of at most 256 rows or 4 MiB of
	// image bytes, and a Parquet column chunk in windows of at most 2 MiB
	// with up to 4 window reads in flight ahead of the one being decoded, so
	// memory does not depend on how large the row groups are. The read-ahead
	// budget per unit being read: 5 windows of the image chunk and 5 of the
	// label chunk (at most 10 MiB each; a label chunk is usually one small
	// window) and two pieces (8 MiB), plus the decompressed pages of one
	// read of about 4 MiB of images and the join of a page that spans two
	// windows (the page's start and the whole next window, ~4 MiB); about
	// 30 MiB per unit with image-only chunks over 10 MiB and pages of about
	// 1 MiB, so about 120 MiB with the default (TestBucketReadAheadMemory
	// measures 112 MiB of live heap, disk or bucket), on top of the shuffle
	// buffer.
	// Shards written by contrastream have pages of about 1 MiB plus one
	// image; a shard with larger pages (arrow/go's writers check the page
	// size every 1,024 values by default, so a page may hold 1,024 images)
	// adds about twice its largest page per unit. An Arrow IPC record batch is
	// read whole, so add one record batch per unit for Arrow shards. For a
	// remote shard the requests in flight are at most 4 per column chunk
	// being read: 8 per unit, 32 with the default.
	ReadAhead int
	// Store opens the shards (local paths or bucket URLs, see Discover) and
	// counts the remote traffic; nil means DefaultStore().
	Store *Store
	// Cursor is where to start: a cursor saved from Sample.Cursor() resumes
	// exactly after that sample. The zero value starts at epoch 0.
	Cursor Cursor
}

// Source streams samples from Parquet and Arrow IPC (file or stream) shards
// according to a Plan. Each file's format is detected from its magic bytes,
// so one glob can mix them. Build it with NewSource (or let Parquet do it
// inside a pipeline run); its configuration and plan are immutable, and
// Produce may be called any number of times, also concurrently, each call
// starting from the configured cursor.
type Source struct {
	cfg    ParquetConfig
	shards []*Shard
	plan   *Plan

	unitsRead, rowsRead atomic.Int64 // reads made by all Produce calls
}

// Reads returns the number of unit reads and rows read by the Produce calls
// so far (rows include the unneeded ones read to rehydrate a resumed
// shuffle buffer). It is safe for concurrent use.
func (s *Source) Reads() (units, rows int64) { return s.unitsRead.Load(), s.rowsRead.Load() }

// NewSource discovers the shards, reads their metadata (see OpenShard; up to
// 8 files at a time; no image bytes) unless cfg.Shards has them already,
// and makes the plan. It fails on any
// discovery or shard error, on an invalid rank, shuffle buffer or cursor,
// and when the shards hold fewer rows than ranks.
func NewSource(cfg ParquetConfig) (*Source, error) {
	return NewSourceContext(context.Background(), cfg)
}

// NewSourceContext is NewSource with discovery and the metadata reads bounded
// by ctx.
func NewSourceContext(ctx context.Context, cfg ParquetConfig) (*Source, error) {
	if cfg.Store == nil {
		cfg.Store = DefaultStore()
	}
	files := cfg.Files
	if len(cfg.Shards) > 0 {
		files = nil
	} else if len(files) == 0 {
		var err error
		if files, err = cfg.Store.Discover(ctx, cfg.Glob); err != nil {
			return nil, err
		}
	}
	if cfg.ReadAhead < 0 {
		return nil, fmt.Errorf("sources: negative read-ahead %d", cfg.ReadAhead)
	}
	if cfg.Epochs < 0 {
		return nil, fmt.Errorf("sources: negative epoch count %d", cfg.Epochs)
	}
	s := &Source{cfg: cfg, shards: slices.Clone(cfg.Shards)}
	if len(cfg.Shards) == 0 {
		s.shards = make([]*Shard, len(files))
		if err := openShards(ctx, cfg.Store, files, cfg.Columns, s.shards); err != nil {
			return nil, err
		}
	}
	var units []Unit
	for i, sh := range s.shards {
		for u := range sh.NumUnits() {
			if r := sh.UnitRows(u); r > 0 {
				units = append(units, Unit{Shard: i, Index: u, FirstRow: sh.UnitFirstRow(u), Rows: r})
			}
		}
	}
	plan, err := NewPlan(units, PlanConfig{
		Seed: cfg.Seed, Rank: cfg.Rank, World: cfg.World,
		ShuffleBuffer: cfg.ShuffleBuffer, InOrder: cfg.InOrder,
	})
	if err != nil {
		return nil, err
	}
	s.plan = plan
	if _, err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

// openShards opens files into dst (same order) with up to 8 concurrent
// OpenShard calls (footers of many shards on a network file system or a
// cold cache take a while each) and returns the error of the first file
// that failed, in file order.
func openShards(ctx context.Context, st *Store, files []string, cols Columns, dst []*Shard) error {
	errs := make([]error, len(files))
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range min(8, len(files)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(files) {
					return
				}
				dst[i], errs[i] = st.OpenShard(ctx, files[i], cols)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Plan returns the source's plan.
func (s *Source) Plan() *Plan { return s.plan }

// Shards returns the opened shards in discovery order (shared, read-only).
func (s *Source) Shards() []*Shard { return s.shards }

// start returns the configured cursor with an end-of-epoch position moved to
// the start of the next epoch.
func (s *Source) start() (Cursor, error) {
	c, q := s.cfg.Cursor, s.plan.EpochSize()
	switch {
	case c.Epoch < 0 || c.Position < 0:
		return c, fmt.Errorf("sources: invalid cursor %v", c)
	case c.Position == q:
		c = Cursor{Epoch: c.Epoch + 1}
	case c.Position > q:
		return c, fmt.Errorf("sources: cursor %v is past the end of the epoch (%d samples per rank): did the shards, rank or world change?", c, q)
	}
	return c, nil
}

// Parquet adds a source stage reading Parquet and Arrow IPC shards to p and
// returns its stream of *Sample. Building opens nothing: the shards are
// discovered and opened when the run starts, and an error there (no files,
// a bad shard) fails the run. See Source for the order of the samples and
// Sample.Cursor for resuming. Each Sample owns its bytes (one allocation per
// image of 16 KiB or more; smaller images share 64 KiB slabs).
func Parquet(p *pipeline.Pipeline, cfg ParquetConfig) pipeline.Stream[*Sample] {
	name := cfg.Name
	if name == "" {
		name = "parquet"
	}
	return pipeline.Source(p, name, pipeline.ProducerFunc[*Sample](func(ctx context.Context, emit func(*Sample) error) error {
		src, err := NewSourceContext(ctx, cfg)
		if err != nil {
			return err
		}
		return src.Produce(ctx, emit)
	}))
}

// readJob asks for rows [lo, hi) of a unit, whose row lo is input position
// base of the given epoch.
type readJob struct {
	epoch  int
	unit   int
	lo, hi int64
	base   int64
}

type unitBatch struct {
	epoch   int
	base    int64
	samples []*Sample
	err     error
}

// Produce emits the planned samples from the configured cursor on: for each
// epoch (up to Epochs) EpochSize() samples, each with Epoch and Position set.
// To resume it first replays the shuffle buffer's draws on input positions
// alone (no I/O), then reads only the units of the samples still buffered
// and those still to come. One goroutine, owned by the call and stopped
// before it returns, reads up to ReadAhead units ahead. Produce returns nil
// at the end, emit's error when emit fails (run cancelled), or a read error
// naming the file.
func (s *Source) Produce(ctx context.Context, emit func(*Sample) error) error {
	start, err := s.start()
	if err != nil {
		return err
	}
	epochs := s.cfg.Epochs
	if epochs > 0 && start.Epoch >= epochs {
		return nil
	}
	plan, q := s.plan, s.plan.EpochSize()

	// Replay the stopped run's shuffle draws on positions only.
	sh := newShuffler(plan.cfg.ShuffleBuffer, q, plan.shufflePCG(start.Epoch), false)
	for range start.Position {
		sh.step(nil)
	}
	pending, rehydrate := s.rehydrateJobs(start.Epoch, sh)

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	ahead := s.cfg.ReadAhead
	if ahead == 0 {
		ahead = 4
	}
	lanes := make(chan *lane, ahead)
	slots := make(chan struct{}, ahead)
	next := sh.next // the first input position not yet taken in
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(lanes)
		s.readLoop(ctx, &wg, lanes, slots, start.Epoch, next, rehydrate)
	}()

	in := &input{ctx: ctx, lanes: lanes, slots: slots, epoch: start.Epoch}
	if len(pending) > 0 {
		data := sh.withData()
		var need int64
		for _, j := range rehydrate {
			need += j.hi - j.lo
		}
		for got := int64(0); got < need; {
			b, err := in.recv()
			if err != nil {
				return err
			}
			got += int64(len(b.samples))
			for _, p := range pending {
				if i := p.k - b.base; i >= 0 && i < int64(len(b.samples)) {
					data[p.slot] = b.samples[i]
				}
			}
		}
	} else if sh.size > 0 {
		sh.withData()
	}

	pos := start.Position
	for e := start.Epoch; epochs == 0 || e < epochs; e++ {
		if e != start.Epoch {
			sh = newShuffler(plan.cfg.ShuffleBuffer, q, plan.shufflePCG(e), true)
			pos = 0
		}
		in.epoch = e
		for ; pos < q; pos++ {
			_, smp, err := sh.step(in.pull)
			if err != nil {
				return err
			}
			smp.Position = pos
			if err := emit(smp); err != nil {
				return err
			}
		}
	}
	return nil
}

type pendingSlot struct {
	k    int64
	slot int
}

// rehydrateJobs lists the shuffle buffer's filled slots by input position
// and the reads (one per unit, of the row range spanning its pending rows)
// that bring their samples back.
func (s *Source) rehydrateJobs(epoch int, sh *shuffler) ([]pendingSlot, []readJob) {
	pend := sh.pending()
	if len(pend) == 0 {
		return nil, nil
	}
	ps := make([]pendingSlot, len(pend))
	for i, k := range pend {
		ps[i] = pendingSlot{k: k, slot: i}
	}
	slices.SortFunc(ps, func(a, b pendingSlot) int { return cmp.Compare(a.k, b.k) })
	segs := s.plan.Segments(epoch)
	var jobs []readJob
	for i := 0; i < len(ps); {
		si := findSegment(segs, ps[i].k)
		sg := segs[si]
		end := sg.Start + sg.Hi - sg.Lo
		j := i
		for j < len(ps) && ps[j].k < end {
			j++
		}
		first, last := ps[i].k, ps[j-1].k
		jobs = append(jobs, readJob{
			epoch: epoch, unit: sg.Unit,
			lo: sg.Lo + first - sg.Start, hi: sg.Lo + last - sg.Start + 1,
			base: first,
		})
		i = j
	}
	return ps, jobs
}

// Pieces: a unit is handed over in batches of at most pieceRows samples or
// pieceBytes image bytes.
const (
	pieceRows  = 256
	pieceBytes = 4 << 20
)

// lane is one unit being read: its pieces, in row order, then closed.
type lane struct{ ch chan *unitBatch }

// readLoop starts a lane for each rehydration job, then for every unit of
// every epoch from input position next of epoch first on, in order, with at
// most cap(slots) lanes alive (a slot is freed when the consumer has taken a
// lane's last piece), until the plan ends or ctx is cancelled.
func (s *Source) readLoop(ctx context.Context, wg *sync.WaitGroup, lanes chan<- *lane, slots chan struct{}, first int, next int64, rehydrate []readJob) {
	start := func(j readJob) bool {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return false
		}
		l := &lane{ch: make(chan *unitBatch, 1)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(l.ch)
			s.read(ctx, j, l.ch)
		}()
		select {
		case lanes <- l:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for _, j := range rehydrate {
		if !start(j) {
			return
		}
	}
	for e := first; s.cfg.Epochs == 0 || e < s.cfg.Epochs; e++ {
		from := int64(0)
		if e == first {
			from = next
		}
		for _, sg := range s.plan.Segments(e) {
			n := sg.Hi - sg.Lo
			if sg.Start+n <= from {
				continue
			}
			off := max(0, from-sg.Start)
			if !start(readJob{epoch: e, unit: sg.Unit, lo: sg.Lo + off, hi: sg.Hi, base: sg.Start + off}) {
				return
			}
		}
	}
}

// errUnitChanged reports a unit that held fewer rows than its metadata said.
var errUnitChanged = errors.New("unit is shorter than its metadata says")

// read reads one job and sends it on out in pieces, copying the image bytes;
// a failed read sends the error (in the last piece).
func (s *Source) read(ctx context.Context, j readJob, out chan<- *unitBatch) {
	u := s.plan.units[j.unit]
	sh := s.shards[u.Shard]
	newPiece := func(done int64) *unitBatch {
		return &unitBatch{epoch: j.epoch, base: j.base + done, samples: make([]*Sample, 0, min(j.hi-j.lo-done, pieceRows))}
	}
	send := func(b *unitBatch) bool {
		select {
		case out <- b:
			return true
		case <-ctx.Done():
			return false
		}
	}
	b := newPiece(0)
	var done int64
	var bytes int
	var ar arena
	err := sh.ReadUnitContext(ctx, u.Index, j.lo, j.hi, func(row int64, img []byte, label int) error {
		if done&255 == 255 && ctx.Err() != nil {
			return ctx.Err()
		}
		// One allocation per sample (not a []Sample slab): a slab would stay
		// alive, with every image of its unit, while any one of its samples
		// waits in the shuffle buffer.
		b.samples = append(b.samples, &Sample{
			ID: mix64(sh.idHash ^ mix64(uint64(row))), Shard: sh.Path, Row: row,
			Epoch: j.epoch, Label: label, Bytes: ar.copy(img),
		})
		done++
		bytes += len(img)
		if len(b.samples) >= pieceRows || bytes >= pieceBytes {
			if !send(b) {
				return ctx.Err()
			}
			b, bytes = newPiece(done), 0
		}
		return nil
	})
	s.unitsRead.Add(1)
	s.rowsRead.Add(done)
	if err == nil && done != j.hi-j.lo {
		err = fmt.Errorf("sources: shard %s: unit %d: %w", sh.Path, u.Index, errUnitChanged)
	}
	b.err = err
	if len(b.samples) > 0 || err != nil {
		send(b)
	}
}

// input hands the shuffler the samples of the read pieces in input order.
type input struct {
	ctx   context.Context
	lanes <-chan *lane
	slots <-chan struct{}
	lane  *lane
	epoch int
	cur   *unitBatch
	i     int
}

func (in *input) recv() (*unitBatch, error) {
	for {
		if in.lane == nil {
			select {
			case l, ok := <-in.lanes:
				if !ok {
					if err := in.ctx.Err(); err != nil {
						return nil, err
					}
					return nil, errors.New("sources: reader stopped early")
				}
				in.lane = l
			case <-in.ctx.Done():
				return nil, in.ctx.Err()
			}
		}
		select {
		case b, ok := <-in.lane.ch:
			if !ok {
				in.lane = nil
				<-in.slots
				continue
			}
			if b.err != nil {
				return nil, b.err
			}
			return b, nil
		case <-in.ctx.Done():
			return nil, in.ctx.Err()
		}
	}
}

func (in *input) pull(k int64) (*Sample, error) {
	for in.cur == nil || in.i >= len(in.cur.samples) {
		b, err := in.recv()
		if err != nil {
			return nil, err
		}
		in.cur, in.i = b, 0
	}
	b := in.cur
	if b.epoch != in.epoch || b.base+int64(in.i) != k {
		return nil, fmt.Errorf("sources: internal error: input %d of epoch %d, got %d of epoch %d", k, in.epoch, b.base+int64(in.i), b.epoch)
	}
	smp := b.samples[in.i]
	b.samples[in.i] = nil // the batch no longer keeps it alive
	in.i++
	return smp, nil
}

// Arena sizes: images under arenaMax share arenaChunk-byte slabs (fewer
// allocations for small images; a slab lives while any of its samples does),
// larger ones get their own allocation.
const (
	arenaChunk = 64 << 10
	arenaMax   = 16 << 10
)

type arena struct{ buf []byte }

// copy returns a copy of v (nil for nil) that no later copy overwrites.
func (a *arena) copy(v []byte) []byte {
	if v == nil {
		return nil
	}
	if len(v) >= arenaMax {
		return append([]byte(nil), v...) // growslice: no zeroing before the copy
	}
	if cap(a.buf)-len(a.buf) < len(v) {
		a.buf = make([]byte, 0, arenaChunk)
	}
	n := len(a.buf)
	a.buf = append(a.buf, v...)
	return a.buf[n:len(a.buf):len(a.buf)]
}
