package sinks

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/pipeline/pipelinetest"
	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages"
	"github.com/contrastream/contrastream/stages/image"
)

// TestCollectCopiesPooledBatches: Tensorize has 2 batch buffers; Collect
// keeps 6 batches, so it must copy and release each (keeping the pooled
// ones would stall Tensorize at the third), and the copies must hold each
// batch's own pixels (a kept pooled batch would show a later one's).
func TestCollectCopiesPooledBatches(t *testing.T) {
	const n = 12
	vss := make([]*stages.ViewSet, n)
	for i := range vss {
		m := &image.Image{}
		m.Resize(4, 4, 1)
		for j := range m.Pix {
			m.Pix[j] = uint8(i)
		}
		vss[i] = &stages.ViewSet{Sample: &sources.Sample{ID: uint64(i), Position: int64(i)}, Views: []*image.Image{m}}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	p := pipeline.New("collect")
	b := pipeline.Apply(p, "tensorize", pipelinetest.Slice(p, "views", vss), &stages.Tensorize{BatchSize: 2, InFlight: 2, Uint8: true})
	var c Collect[*stages.Batch]
	pipeline.Sink(p, "collect", b, &c)
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	got := c.Items()
	if len(got) != n/2 {
		t.Fatalf("%d batches, want %d", len(got), n/2)
	}
	for i, b := range got {
		px := b.Views[0].Data().([]uint8)
		if b.IDs[0] != uint64(2*i) || px[0] != uint8(2*i) || px[len(px)-1] != uint8(2*i+1) {
			t.Errorf("batch %d: ids %v, first/last pixel %d/%d", i, b.IDs, px[0], px[len(px)-1])
		}
	}
}

type pooledNoClone struct{}

func (*pooledNoClone) Release() {}

// TestCollectRefusesPooledWithoutClone: a pooled type that cannot be
// copied is refused before the first record, with a message that says why.
func TestCollectRefusesPooledWithoutClone(t *testing.T) {
	p := pipeline.New("collect")
	var c Collect[*pooledNoClone]
	pipeline.Sink(p, "collect", pipelinetest.Slice(p, "in", []*pooledNoClone{{}}), &c)
	err := p.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "pooled") || !strings.Contains(err.Error(), "Clone") {
		t.Fatalf("err = %v", err)
	}
	if c.Len() != 0 {
		t.Errorf("kept %d records", c.Len())
	}
}
