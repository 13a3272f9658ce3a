package stages

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages/augment"
	"github.com/contrastream/contrastream/stages/image"
)

// viewSet makes a view set of k gray-level-filled w×w RGB views.
func viewSet(id uint64, epoch, k, w int, level uint8) *ViewSet {
	vs := &ViewSet{Sample: &sources.Sample{ID: id, Shard: "t", Row: int64(id), Epoch: epoch, Position: int64(id), Label: int(id % 3)}}
	for range k {
		m := &image.Image{}
		m.Resize(w, w, 3)
		for i := range m.Pix {
			m.Pix[i] = level
		}
		vs.Views = append(vs.Views, m)
	}
	return vs
}

func TestTensorize(t *testing.T) {
	type in struct {
		id    uint64
		epoch int
	}
	tests := []struct {
		name     string
		tz       Tensorize
		ins      []in
		wantSize []int // sizes of the emitted batches
	}{
		{"full batches", Tensorize{BatchSize: 2}, []in{{0, 0}, {1, 0}, {2, 0}, {3, 0}}, []int{2, 2}},
		{"partial at end", Tensorize{BatchSize: 3}, []in{{0, 0}, {1, 0}, {2, 0}, {3, 0}}, []int{3, 1}},
		{"drop last", Tensorize{BatchSize: 3, DropLast: true}, []in{{0, 0}, {1, 0}, {2, 0}, {3, 0}}, []int{3}},
		{"epoch boundary", Tensorize{BatchSize: 2}, []in{{0, 0}, {1, 0}, {2, 0}, {3, 1}, {4, 1}}, []int{2, 1, 2}},
		{"epoch boundary, drop last", Tensorize{BatchSize: 2, DropLast: true}, []in{{0, 0}, {1, 0}, {2, 0}, {3, 1}, {4, 1}}, []int{2, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tz := tt.tz
			tz.InFlight = 8
			if err := tz.Setup(t.Context()); err != nil {
				t.Fatal(err)
			}
			var sizes []int
			var batches []*Batch
			emit := func(b *Batch) { sizes = append(sizes, b.Size()); batches = append(batches, b) }
			for _, x := range tt.ins {
				if err := tz.Process(t.Context(), viewSet(x.id, x.epoch, 2, 4, uint8(x.id)), emit); err != nil {
					t.Fatal(err)
				}
			}
			if err := tz.Flush(t.Context(), emit); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(sizes, tt.wantSize) {
				t.Fatalf("batch sizes %v, want %v", sizes, tt.wantSize)
			}
			for _, b := range batches {
				if b.Views[0].Shape()[0] != b.Size() {
					t.Errorf("tensor shape %v for %d samples", b.Views[0].Shape(), b.Size())
				}
				for i, id := range b.IDs {
					// every value of sample i is the normalized level id
					lut := augment.Normalize{}.Table()
					f := b.Float32s(0)[i*48 : (i+1)*48]
					if f[0] != lut[0][uint8(id)] || f[47] != lut[2][uint8(id)] {
						t.Errorf("sample %d: values %v %v", id, f[0], f[47])
					}
					if b.Cursor.Epoch != b.Epoch {
						t.Errorf("cursor %v in epoch %d", b.Cursor, b.Epoch)
					}
				}
			}
		})
	}
}

func TestTensorizeUint8AndGray(t *testing.T) {
	tz := &Tensorize{BatchSize: 1, Uint8: true}
	if err := tz.Setup(t.Context()); err != nil {
		t.Fatal(err)
	}
	var b *Batch
	if err := tz.Process(t.Context(), viewSet(1, 0, 2, 3, 200), func(x *Batch) { b = x }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b.Views[1].Shape(), []int{1, 3, 3, 3}) || b.Views[1].Data().([]uint8)[26] != 200 {
		t.Errorf("uint8 batch %v", b.Views[1])
	}
	g := &Tensorize{BatchSize: 1}
	if err := g.Setup(t.Context()); err != nil {
		t.Fatal(err)
	}
	vs := viewSet(1, 0, 2, 3, 0)
	for _, m := range vs.Views {
		m.Resize(3, 3, 1)
		clear(m.Pix)
	}
	if err := g.Process(t.Context(), vs, func(x *Batch) { b = x }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b.Views[0].Shape(), []int{1, 1, 3, 3}) {
		t.Errorf("gray shape %v", b.Views[0].Shape())
	}
}

func TestTensorizeRejectsMismatchedViews(t *testing.T) {
	tz := &Tensorize{BatchSize: 4}
	if err := tz.Setup(t.Context()); err != nil {
		t.Fatal(err)
	}
	emit := func(*Batch) {}
	if err := tz.Process(t.Context(), viewSet(0, 0, 2, 4, 1), emit); err != nil {
		t.Fatal(err)
	}
	if err := tz.Process(t.Context(), viewSet(1, 0, 2, 5, 1), emit); err == nil {
		t.Error("a view of another size was accepted")
	}
	if err := tz.Process(t.Context(), viewSet(2, 0, 3, 4, 1), emit); err == nil {
		t.Error("a third view was accepted")
	}
	if err := (&Tensorize{}).Setup(t.Context()); err == nil {
		t.Error("BatchSize 0 accepted")
	}
}

func TestTensorizePoolBoundsBatchesInFlight(t *testing.T) {
	tz := &Tensorize{BatchSize: 1, InFlight: 2}
	if err := tz.Setup(t.Context()); err != nil {
		t.Fatal(err)
	}
	var held []*Batch
	emit := func(b *Batch) { held = append(held, b) }
	for i := range 2 {
		if err := tz.Process(t.Context(), viewSet(uint64(i), 0, 2, 4, 1), emit); err != nil {
			t.Fatal(err)
		}
	}
	// Both buffers are out: the next record waits; a cancelled context ends the wait.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := tz.Process(ctx, viewSet(2, 0, 2, 4, 1), emit); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want a cancelled wait", err)
	}
	held[0].Release()
	held[0].Release() // a second release must not put it in the pool twice
	if len(tz.pool) != 1 {
		t.Fatalf("pool holds %d batches after releasing one twice", len(tz.pool))
	}
	if err := tz.Process(t.Context(), viewSet(3, 0, 2, 4, 1), emit); err != nil {
		t.Fatal(err)
	}
	if held[2] != held[0] {
		t.Error("the released buffer was not reused")
	}
}

func BenchmarkTensorize224(b *testing.B) {
	tz := &Tensorize{BatchSize: 64}
	if err := tz.Setup(b.Context()); err != nil {
		b.Fatal(err)
	}
	vs := viewSet(0, 0, 2, 224, 7)
	vs.pool = nil
	b.SetBytes(2 * 224 * 224 * 3)
	b.ReportAllocs()
	for b.Loop() {
		if err := tz.Process(b.Context(), vs, func(x *Batch) { x.Release() }); err != nil {
			b.Fatal(err)
		}
	}
}
