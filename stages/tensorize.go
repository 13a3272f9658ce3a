package stages

import (
	"context"
	"fmt"
	"slices"
	"unsafe"

	"gorgonia.org/tensor"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages/augment"
	"github.com/contrastream/contrastream/stages/image"
)

// Batch is B samples' views as tensors, with their identities alongside.
// It comes from a bounded pool: call Release once done with it (after the
// training step), or Tensorize stops when the pool is empty.
type Batch struct {
	// Views holds one tensor per view: float32 [B,C,H,W], normalized, or
	// with Tensorize.Uint8, uint8 [B,H,W,C] as decoded. Its backing array is
	// reused after Release. It is nil with Tensorize.Packed.
	Views []*tensor.Dense
	// Pixels, with Tensorize.Packed, holds all views of the batch in one
	// contiguous uint8 array in [B,V,H,W,C] order (sample-major: sample i's
	// V views are adjacent); Shape gives the dimensions. It is reused after
	// Release.
	Pixels []uint8
	// Shape is [B,V,H,W,C] of Pixels (B = Size()) with Tensorize.Packed.
	Shape [5]int
	// IDs, Keys and Labels are per sample, in batch order (-1: no label).
	IDs    []uint64
	Keys   []pipeline.Key
	Labels []int
	// Positions are the samples' positions in the rank's epoch (see
	// sources.Sample.Position): consecutive unless a record failed between.
	Positions []int64
	// Epoch is the epoch of the batch's samples (a batch never spans two).
	Epoch int
	// Cursor resumes the source just after the batch's last sample.
	Cursor sources.Cursor

	pool chan *Batch
	full []*tensor.Dense // the pooled full-size tensors
	pix  []uint8         // the pooled full-size packed array
}

// Size returns the number of samples in the batch.
func (b *Batch) Size() int { return len(b.IDs) }

// Release returns the batch to its pool. The batch must not be used after.
// Releasing a nil batch, a batch made outside Tensorize, or the same batch
// twice does nothing.
func (b *Batch) Release() {
	if b == nil || b.pool == nil {
		return
	}
	p := b.pool
	b.pool = nil
	p <- b
}

// Clone returns a copy of b that shares no buffer with it and belongs to no
// pool (its Release does nothing): what pipeline.Tee needs to give a batch
// to a second consumer, and what sinks.Collect keeps. It allocates the
// whole batch.
func (b *Batch) Clone() *Batch {
	c := &Batch{Shape: b.Shape, Epoch: b.Epoch, Cursor: b.Cursor,
		IDs: slices.Clone(b.IDs), Keys: slices.Clone(b.Keys), Labels: slices.Clone(b.Labels),
		Positions: slices.Clone(b.Positions), Pixels: slices.Clone(b.Pixels)}
	for _, v := range b.Views {
		shape := tensor.WithShape(slices.Clone([]int(v.Shape()))...)
		switch d := v.Data().(type) {
		case []float32:
			c.Views = append(c.Views, tensor.New(shape, tensor.WithBacking(slices.Clone(d))))
		case []uint8:
			c.Views = append(c.Views, tensor.New(shape, tensor.WithBacking(slices.Clone(d))))
		default:
			panic(fmt.Sprintf("stages: Batch.Clone: view of %T", d))
		}
	}
	return c
}

// Float32s returns view v's backing array ([B,C,H,W] float32). It panics for
// a uint8 batch.
func (b *Batch) Float32s(v int) []float32 { return b.Views[v].Data().([]float32) }

// DefaultInFlight is the number of batch buffers a Tensorize pool holds
// when InFlight is 0.
const DefaultInFlight = 4

// Tensorize groups view sets into batches of BatchSize samples and converts
// each view into a tensor: float32 [B,C,H,W] normalized with Mean and Std
// (the default), or uint8 [B,H,W,C] with Uint8 set, or all views of the
// batch in one uint8 [B,V,H,W,C] array (Batch.Pixels) with Packed set, the
// layout `contrastream stream` sends to external trainers.
//
// It takes *ViewSet (and releases each) and gives *Batch. It holds the
// partial batch, so it runs with one worker and keeps input order. A batch
// never spans two epochs: at an epoch change (and at the end of the input)
// a partial batch is emitted, or dropped with DropLast. View i of every view
// set must have the channels and size of view i of the first (views may
// differ from each other, as in multi-crop); a mismatch is a record error. Batches come from a pool of InFlight
// buffers allocated once: when all are out (the trainer has not released
// them), Process waits — that is the backpressure that bounds memory. In
// steady state it allocates nothing per sample.
//
//	in:  v0 v1 v2 v3 v4 | v5 v6 (epoch 1)       BatchSize 2, DropLast
//	out: [v0 v1] [v2 v3]  [v5 v6]
type Tensorize struct {
	BatchSize int               // samples per batch; required
	DropLast  bool              // drop a partial batch instead of emitting it
	Uint8     bool              // emit uint8 [B,H,W,C] instead of normalized float32 [B,C,H,W]
	Packed    bool              // emit one uint8 [B,V,H,W,C] array per batch (Batch.Pixels); every view must have the same shape
	Normalize augment.Normalize // per-channel mean and std; zero means ImageNet's (gray views use channel 0)
	InFlight  int               // batch buffers in the pool; 0 means DefaultInFlight
	// MaxBytes bounds the memory of the pool's batches: before the first
	// batch is allocated, a pool that would take more is a fatal error
	// with the figures (see CheckMemory). 0 means MemoryShare of what the
	// process may use; negative means no limit.
	MaxBytes int64
	// PackedBuffer, if set with Packed, supplies the pixel array of the
	// pool's i-th batch (i from 0 to InFlight-1, called once each, when the
	// batch is first made) instead of an allocation: the batches are then
	// written straight into memory the caller owns, such as the slots of a
	// shared-memory ring. It must return BatchSize·V·H·W·C bytes or more
	// (only that many are used), distinct for every i.
	PackedBuffer func(i int) []uint8
	// PackedFloat, with Packed, makes Pixels hold the views normalized
	// (Normalize, as the float32 batches have them) as float32 values in
	// [B,V,C,H,W] order — their bytes, in the machine's order — instead of
	// uint8 [B,V,H,W,C]: a consumer in another process then gets model
	// input without converting it. Shape still gives B, V, H, W, C.
	PackedFloat bool

	pool      chan *Batch
	allocated int // batches made so far, at most cap(pool)
	cur       *Batch
	shapes    [][3]int // per view: C, H, W, from the first view set
	norm      *augment.Normalizer
}

// Setup validates the configuration and prepares the normalization tables.
func (t *Tensorize) Setup(context.Context) error {
	if t.BatchSize < 1 {
		return fmt.Errorf("stages: Tensorize.BatchSize must be >= 1, not %d", t.BatchSize)
	}
	if std := t.Normalize.Std; std != ([3]float32{}) && (std[0] <= 0 || std[1] <= 0 || std[2] <= 0) {
		return fmt.Errorf("stages: Tensorize.Normalize.Std must be > 0, not %v", std)
	}
	t.norm = t.Normalize.Normalizer()
	n := t.InFlight
	if n <= 0 {
		n = DefaultInFlight
	}
	t.pool = make(chan *Batch, n)
	t.allocated = 0
	t.cur = nil
	t.shapes = nil
	return nil
}

func (t *Tensorize) newBatch() *Batch {
	k := len(t.shapes)
	b := &Batch{
		IDs: make([]uint64, 0, t.BatchSize), Keys: make([]pipeline.Key, 0, t.BatchSize),
		Labels: make([]int, 0, t.BatchSize), Positions: make([]int64, 0, t.BatchSize),
		pool: t.pool, Views: make([]*tensor.Dense, k),
	}
	for v := range k {
		c, h, w := t.shapes[v][0], t.shapes[v][1], t.shapes[v][2]
		if t.Uint8 {
			b.Views[v] = tensor.New(tensor.WithShape(t.BatchSize, h, w, c), tensor.WithBacking(make([]uint8, t.BatchSize*h*w*c)))
		} else {
			b.Views[v] = tensor.New(tensor.WithShape(t.BatchSize, c, h, w), tensor.WithBacking(make([]float32, t.BatchSize*h*w*c)))
		}
	}
	if t.Packed {
		c, h, w := t.shapes[0][0], t.shapes[0][1], t.shapes[0][2]
		b.Views, b.full = nil, nil
		n := t.BatchSize * k * h * w * c
		if t.PackedFloat {
			n *= 4
		}
		if t.PackedBuffer != nil {
			b.pix = t.PackedBuffer(t.allocated - 1)[:n]
		} else {
			b.pix = make([]uint8, n)
		}
		b.Shape = [5]int{t.BatchSize, k, h, w, c}
		return b
	}
	b.full = append([]*tensor.Dense(nil), b.Views...)
	return b
}

// get takes a free batch from the pool, allocating the pool's buffers the
// first time; it waits while all are in use.
func (t *Tensorize) get(ctx context.Context) (*Batch, error) {
	if len(t.pool) == 0 && t.allocated < cap(t.pool) {
		if t.allocated == 0 {
			if err := t.CheckMemory(t.shapes); err != nil {
				return nil, err
			}
		}
		t.allocated++
		return t.newBatch(), nil
	}
	select {
	case b := <-t.pool:
		b.pool = t.pool
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Process adds one view set to the current batch and emits the batch when full.
func (t *Tensorize) Process(ctx context.Context, in *ViewSet, emit func(*Batch)) error {
	defer in.Release()
	if len(in.Views) == 0 {
		return fmt.Errorf("stages: tensorize: view set has no views")
	}
	if t.shapes == nil {
		for _, v := range in.Views {
			t.shapes = append(t.shapes, [3]int{v.C, v.H, v.W})
		}
	}
	if len(in.Views) != len(t.shapes) {
		return fmt.Errorf("stages: tensorize: %d views, want %d like the first view set", len(in.Views), len(t.shapes))
	}
	for i, v := range in.Views {
		if s := t.shapes[i]; v.C != s[0] || v.H != s[1] || v.W != s[2] {
			return fmt.Errorf("stages: tensorize: view %d is %dx%dx%d, want %dx%dx%d like the first view set",
				i, v.W, v.H, v.C, s[2], s[1], s[0])
		}
		if s := t.shapes[0]; t.Packed && (v.C != s[0] || v.H != s[1] || v.W != s[2]) {
			return pipeline.Fatal(fmt.Errorf("stages: tensorize: Packed needs views of one shape; view %d is %dx%dx%d, view 0 %dx%dx%d",
				i, v.W, v.H, v.C, s[2], s[1], s[0]))
		}
	}
	if t.cur != nil && t.cur.Epoch != in.Sample.Epoch {
		t.finish(emit)
	}
	if t.cur == nil {
		b, err := t.get(ctx)
		if err != nil {
			return pipeline.Fatal(err)
		}
		b.IDs, b.Keys, b.Labels, b.Positions = b.IDs[:0], b.Keys[:0], b.Labels[:0], b.Positions[:0]
		copy(b.Views, b.full)
		if t.Packed {
			b.Pixels, b.Shape[0] = b.pix, t.BatchSize
		}
		b.Epoch = in.Sample.Epoch
		t.cur = b
	}
	b, i := t.cur, len(t.cur.IDs)
	k := len(in.Views)
	for v, m := range in.Views {
		switch {
		case t.Packed && t.PackedFloat:
			n := m.W * m.H * m.C
			f := unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(b.Pixels))), len(b.Pixels)/4)
			if err := t.norm.Planes(f[(i*k+v)*n:(i*k+v+1)*n], m); err != nil {
				return pipeline.Fatal(err) // sizes were checked: a broken invariant
			}
		case t.Packed:
			n := m.W * m.H * m.C
			t.copyRows(b.Pixels[(i*k+v)*n:(i*k+v+1)*n], m)
		case t.Uint8:
			n := m.W * m.H * m.C
			t.copyRows(b.Views[v].Data().([]uint8)[i*n:(i+1)*n], m)
		default:
			if err := t.toFloat(b.Views[v].Data().([]float32), i, m); err != nil {
				return pipeline.Fatal(err) // sizes were checked: a broken invariant
			}
		}
	}
	b.IDs = append(b.IDs, in.Sample.ID)
	b.Keys = append(b.Keys, in.Sample.Key())
	b.Labels = append(b.Labels, in.Sample.Label)
	b.Positions = append(b.Positions, in.Sample.Position)
	b.Cursor = in.Sample.Cursor()
	if len(b.IDs) == t.BatchSize {
		t.cur = nil
		emit(b)
	}
	return nil
}

// copyRows copies view m's rows into dst (H·W·C bytes, rows adjacent).
func (t *Tensorize) copyRows(dst []uint8, m *image.Image) {
	row := m.W * m.C
	for y := range m.H {
		copy(dst[y*row:(y+1)*row], m.Row(y))
	}
}

// toFloat writes view m as sample i of a [B,C,H,W] float32 batch through the
// normalization table (bit-identical to torchvision's ToTensor+Normalize).
func (t *Tensorize) toFloat(dst []float32, i int, m *image.Image) error {
	n := m.C * m.W * m.H
	return t.norm.Planes(dst[i*n:(i+1)*n], m)
}

// finish emits (or, with DropLast, recycles) the partial batch.
func (t *Tensorize) finish(emit func(*Batch)) {
	b := t.cur
	t.cur = nil
	if b == nil || len(b.IDs) == 0 {
		return
	}
	if t.DropLast {
		b.Release()
		return
	}
	// A partial batch's tensors cover its first Size() samples: new headers
	// over the same pooled arrays (a small allocation, once per epoch).
	n := len(b.IDs)
	if t.Packed {
		b.Pixels = b.pix[:n*(len(b.pix)/t.BatchSize)]
		b.Shape[0] = n
	}
	for v, full := range b.full {
		shape := append([]int(nil), full.Shape()...)
		per := full.DataSize() / shape[0]
		shape[0] = n
		switch d := full.Data().(type) {
		case []float32:
			b.Views[v] = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d[:n*per]))
		case []uint8:
			b.Views[v] = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d[:n*per]))
		}
	}
	emit(b)
}

// Flush emits the last partial batch unless DropLast.
func (t *Tensorize) Flush(_ context.Context, emit func(*Batch)) error {
	t.finish(emit)
	return nil
}
