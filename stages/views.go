package stages

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages/augment"
	"github.com/contrastream/contrastream/stages/image"
)

// ViewSet is the K augmented views of one image. Views come from a pool:
// the consumer (Tensorize) calls Release once it has copied them.
type ViewSet struct {
	Sample *sources.Sample
	Views  []*image.Image
	pool   *sync.Pool
}

// Key identifies the view set's sample (shard, row) for error reports.
func (v *ViewSet) Key() pipeline.Key { return v.Sample.Key() }

// Release returns the view buffers to their pool. The view set must not be
// used after.
func (v *ViewSet) Release() {
	if v == nil || v.pool == nil {
		return
	}
	p := v.pool
	v.pool, v.Sample = nil, nil
	p.Put(v)
}

// Clone returns a copy of v whose views share no buffer with v's and belong
// to no pool (its Release does nothing), for pipeline.Tee and sinks.Collect.
// The Sample, which is not pooled, is shared.
func (v *ViewSet) Clone() *ViewSet {
	c := &ViewSet{Sample: v.Sample, Views: make([]*image.Image, len(v.Views))}
	for i, m := range v.Views {
		c.Views[i] = m.Clone()
	}
	return c
}

// Views makes K augmented views of each decoded image, from that one decode.
//
// It takes *Decoded (and releases it) and gives *ViewSet. View v of a sample
// is Augs[v] applied to the image (or Aug for every one of N views when Augs
// is empty), with a random source seeded from (Seed, epoch, sample id, v):
// the pixels depend on nothing else, so any number of workers gives the same
// views. Safe for concurrent use (run it with Workers(n) and Ordered());
// view buffers and random sources are pooled, so in steady state it
// allocates nothing per record beyond what its augmentations do.
//
//	in:  img0          img1
//	out: {v0, v1}      {v0, v1}        N = 2
type Views struct {
	// N is the number of views per image made with Aug (default 2). Ignored
	// when Augs is set.
	N int
	// Aug makes every view when Augs is empty.
	Aug augment.Augmentation
	// Augs, when set, gives each view its own chain: len(Augs) views per
	// image (e.g. 2 global crops at 224 and 6 local crops at 96).
	Augs []augment.Augmentation
	// Seed keys every random choice, with epoch, sample id and view index.
	Seed uint64

	pool    sync.Pool // *ViewSet
	rngPool sync.Pool // *keyedRand
}

type keyedRand struct {
	pcg rand.PCG
	r   *rand.Rand
}

// chains returns the augmentation of each view.
func (s *Views) chains() ([]augment.Augmentation, error) {
	if len(s.Augs) > 0 {
		return s.Augs, nil
	}
	if s.Aug == nil {
		return nil, fmt.Errorf("stages: Views needs Aug or Augs")
	}
	return nil, nil
}

// Setup validates the configuration.
func (s *Views) Setup(context.Context) error {
	_, err := s.chains()
	if s.N < 0 {
		return fmt.Errorf("stages: Views.N must be >= 0, not %d", s.N)
	}
	return err
}

// Count returns the number of views per image.
func (s *Views) Count() int {
	switch {
	case len(s.Augs) > 0:
		return len(s.Augs)
	case s.N == 0:
		return 2
	}
	return s.N
}

// Crops appends to dst the rectangle of a w×h image each view of sample sm
// will read (its chain's first op's, see augment.SourceRegion: the crop box
// of RandomResizedCrop), drawn from the same keyed random source Process
// uses, so they are the boxes Process will crop. ok is false when some view
// may read any pixel (its chain does not start with a SourceRegion); dst
// then holds nothing useful. The Decode stage passes the boxes to the
// decoder (Decode.Crops). Safe for concurrent use; allocates nothing once
// dst has room.
func (s *Views) Crops(dst []image.Rect, sm *sources.Sample, w, h int) ([]image.Rect, bool) {
	dst = dst[:0]
	k := s.Count()
	kr, _ := s.rngPool.Get().(*keyedRand)
	if kr == nil {
		kr = &keyedRand{}
		kr.r = rand.New(&kr.pcg)
	}
	defer s.rngPool.Put(kr)
	for v := range k {
		aug := s.Aug
		if len(s.Augs) > 0 {
			aug = s.Augs[v]
		}
		sr, ok := aug.(augment.SourceRegion)
		if !ok {
			return dst, false
		}
		pipeline.SeedPCG(&kr.pcg, s.Seed, uint64(sm.Epoch), sm.ID, uint64(v))
		r, ok := sr.SourceRect(w, h, kr.r)
		if !ok {
			return dst, false
		}
		dst = append(dst, r)
	}
	return dst, true
}

// Process makes the views of one image.
func (s *Views) Process(_ context.Context, in *Decoded, emit func(*ViewSet)) error {
	defer in.Release()
	k := s.Count()
	vs, _ := s.pool.Get().(*ViewSet)
	if vs == nil {
		vs = &ViewSet{}
	}
	for len(vs.Views) < k {
		vs.Views = append(vs.Views, new(image.Image))
	}
	vs.Views = vs.Views[:k]
	vs.Sample, vs.pool = in.Sample, &s.pool
	kr, _ := s.rngPool.Get().(*keyedRand)
	if kr == nil {
		kr = &keyedRand{}
		kr.r = rand.New(&kr.pcg)
	}
	defer s.rngPool.Put(kr)
	for v := range k {
		aug := s.Aug
		if len(s.Augs) > 0 {
			aug = s.Augs[v]
		}
		pipeline.SeedPCG(&kr.pcg, s.Seed, uint64(in.Sample.Epoch), in.Sample.ID, uint64(v))
		if err := aug.Augment(vs.Views[v], in.Image, kr.r); err != nil {
			vs.Release()
			return fmt.Errorf("stages: view %d: %w", v, err)
		}
	}
	emit(vs)
	return nil
}
