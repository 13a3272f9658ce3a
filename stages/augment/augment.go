package augment

import (
	"math/rand/v2"
	"sync"

	"github.com/contrastream/contrastream/stages/image"
)

// Augmentation writes one random view of src into dst. dst is resized by the
// op (reusing its buffer); every random choice comes from rng, so the same
// rng state gives the same bytes. dst and src must not alias (share Pix)
// unless the op implements [InPlace] and reports true. An Augmentation value
// is used by many goroutines at once: implementations keep no mutable state
// in the value (per-call scratch comes from a pool or the stack).
type Augmentation interface {
	Augment(dst, src *image.Image, rng *rand.Rand) error
}

// InPlace is implemented by augmentations that accept dst == src (the same
// *image.Image). [Chain] and [RandomOrder] use it to run such ops without a
// copy; other ops get a pooled copy of the intermediate as their source.
type InPlace interface {
	AllowsInPlace() bool
}

// SourceRegion is implemented by augmentations that read only part of
// their source and can say which part before seeing its pixels:
// SourceRect, given the source's size and a random source in the state
// Augment would get, returns the rectangle of a w×h source that Augment
// will read, drawing from rng what Augment draws before it reads (the
// draws after that are not made). ok is false when Augment may read any
// pixel. The Views stage uses it to have the decoder reconstruct only
// those rectangles (image.DecodeOptions.Crops).
type SourceRegion interface {
	SourceRect(w, h int, rng *rand.Rand) (r image.Rect, ok bool)
}

// Func adapts a plain function to [Augmentation]. It does not allow
// in-place use.
type Func func(dst, src *image.Image, rng *rand.Rand) error

// Augment calls f(dst, src, rng).
func (f Func) Augment(dst, src *image.Image, rng *rand.Rand) error { return f(dst, src, rng) }

// Probabilities: in every op with a P field, P is the probability that the
// op is applied; 0 means the op's torchvision default (documented per op)
// and a negative P means never.
func prob(p, def float64) float64 {
	switch {
	case p == 0:
		return def
	case p < 0:
		return 0
	}
	return p
}

// coin reports true with probability p, consuming exactly one draw from rng
// (so the stream of draws does not depend on p).
func coin(rng *rand.Rand, p float64) bool { return rng.Float64() < p }

// scratchPool holds intermediate images for ops that cannot work in place.
var scratchPool = sync.Pool{New: func() any { return new(image.Image) }}

func allowsInPlace(a Augmentation) bool {
	ip, ok := a.(InPlace)
	return ok && ip.AllowsInPlace()
}

// applyInPlace runs a on m, replacing m's pixels with the result.
func applyInPlace(a Augmentation, m *image.Image, rng *rand.Rand) error {
	if allowsInPlace(a) {
		return a.Augment(m, m, rng)
	}
	s := scratchPool.Get().(*image.Image)
	s.CopyFrom(m)
	err := a.Augment(m, s, rng)
	scratchPool.Put(s)
	return err
}

// chain is the Augmentation returned by Chain.
type chain []Augmentation

// Chain returns an Augmentation that applies ops in order: the first reads
// src and writes dst, each later one rewrites dst (in place when it allows
// that, otherwise from a pooled copy). An empty chain copies src. The chain
// allows in-place use when its first op does. Safe for concurrent use when
// its ops are; it allocates nothing per call in steady state beyond what its
// ops allocate.
func Chain(ops ...Augmentation) Augmentation {
	return chain(append([]Augmentation(nil), ops...))
}

func (c chain) Augment(dst, src *image.Image, rng *rand.Rand) error {
	if len(c) == 0 {
		if dst != src {
			dst.CopyFrom(src)
		}
		return nil
	}
	var err error
	if dst == src {
		err = applyInPlace(c[0], dst, rng)
	} else {
		err = c[0].Augment(dst, src, rng)
	}
	if err != nil {
		return err
	}
	for _, op := range c[1:] {
		if err := applyInPlace(op, dst, rng); err != nil {
			return err
		}
	}
	return nil
}

// SourceRect implements [SourceRegion]: only the first op reads the
// chain's source, so the chain reads what its first op reads.
func (c chain) SourceRect(w, h int, rng *rand.Rand) (image.Rect, bool) {
	if len(c) == 0 {
		return image.Rect{}, false
	}
	if sr, ok := c[0].(SourceRegion); ok {
		return sr.SourceRect(w, h, rng)
	}
	return image.Rect{}, false
}

// AllowsInPlace reports true: a chain copies its input when its first op
// cannot run in place.
func (c chain) AllowsInPlace() bool { return true }

// Flip is [HorizontalFlip] under the name STYLE.md's pipeline example uses.
type Flip = HorizontalFlip

// RandomApply applies Aug with probability P (0 means torchvision's default
// 0.5, negative never) and otherwise copies src to dst. It draws one number
// from rng, then whatever Aug draws. It allows in-place use when Aug does.
// Safe for concurrent use when Aug is.
type RandomApply struct {
	Aug Augmentation
	P   float64
}

// Augment implements [Augmentation].
func (r RandomApply) Augment(dst, src *image.Image, rng *rand.Rand) error {
	if coin(rng, prob(r.P, 0.5)) && r.Aug != nil {
		return r.Aug.Augment(dst, src, rng)
	}
	if dst != src {
		dst.CopyFrom(src)
	}
	return nil
}

// AllowsInPlace reports whether Aug allows in-place use.
func (r RandomApply) AllowsInPlace() bool { return r.Aug == nil || allowsInPlace(r.Aug) }

// randomOrder is the Augmentation returned by RandomOrder.
type randomOrder []Augmentation

// RandomOrder returns an Augmentation that applies ops in an order drawn
// from rng (a uniform permutation, Fisher–Yates), like torchvision's
// RandomOrder. It supports up to 16 ops without allocating; more allocate a
// permutation per call. Safe for concurrent use when its ops are.
func RandomOrder(ops ...Augmentation) Augmentation {
	return randomOrder(append([]Augmentation(nil), ops...))
}

func (o randomOrder) Augment(dst, src *image.Image, rng *rand.Rand) error {
	var buf [16]int
	var perm []int
	if len(o) <= len(buf) {
		perm = buf[:len(o)]
	} else {
		perm = make([]int, len(o))
	}
	shuffle(perm, rng)
	if dst != src {
		dst.CopyFrom(src)
	}
	for _, i := range perm {
		if err := applyInPlace(o[i], dst, rng); err != nil {
			return err
		}
	}
	return nil
}

// AllowsInPlace reports true.
func (o randomOrder) AllowsInPlace() bool { return true }

// shuffle fills perm with a uniformly random permutation of 0..len-1.
func shuffle(perm []int, rng *rand.Rand) {
	for i := range perm {
		perm[i] = i
	}
	for i := len(perm) - 1; i > 0; i-- {
		j := rng.IntN(i + 1)
		perm[i], perm[j] = perm[j], perm[i]
	}
}
