package eval

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"gorgonia.org/tensor"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages"
	"github.com/contrastream/contrastream/stages/augment"
	"github.com/contrastream/contrastream/stages/image"
	"github.com/contrastream/contrastream/stages/train/nn"
)

// Labeled is a labeled image set held in memory for evaluation: every image
// decoded once and resized (whole image, bilinear, aspect not kept) to
// Side×Side with C channels, as uint8 HWC.
type Labeled struct {
	Side, C int
	Pix     []uint8 // N × Side × Side × C
	Labels  []int
}

// Len returns the number of images.
func (l *Labeled) Len() int { return len(l.Labels) }

// LoadConfig says which labeled images Load reads, and how.
type LoadConfig struct {
	// Glob lists the shards (see sources.Discover). Shards, when set, are
	// shards opened already (another Source's Shards()), read instead of
	// Glob so that their footers are not read again; each needs a label
	// column (else Load opens them again, to say why not).
	Glob   string
	Shards []*sources.Shard
	// Side and Channels are the size every image is resized to (Side×Side,
	// whole image, bilinear, aspect not kept) and its channels (1 or 3).
	Side, Channels int
	// Workers is the decode and resize goroutines each (0: GOMAXPROCS).
	// The set does not depend on it.
	Workers int
	// MaxBad is the fraction of the images that may be bad (an image that
	// does not decode, a null label) and are left out of the set; 0 allows
	// none, negative any number. Beyond it Load fails, naming the first bad
	// image in discovery order.
	MaxBad float64
	// DeadLetters, if set, receives every bad image (shard, row, stage,
	// reason). Load does not close it.
	DeadLetters pipeline.DeadLetterWriter
	// Store opens the shards (nil: sources.DefaultStore()).
	Store *sources.Store
}

// LoadLabeled is Load of the shards glob at side×side with channels (1 or
// 3) channels on workers goroutines (0: GOMAXPROCS), with no bad image
// allowed.
func LoadLabeled(ctx context.Context, glob string, side, channels, workers int) (*Labeled, error) {
	return Load(ctx, LoadConfig{Glob: glob, Side: side, Channels: channels, Workers: workers})
}

// Load reads every image of the shards (in discovery order) through a
// pipeline,
//
//	parquet (in order, labels) → decode (stages.Decode) → resize → set
//
// with cfg.Workers goroutines for decode and for resize (ordered), and
// keeps the images at Side×Side as uint8 HWC. Every image must have a
// label: every shard needs an integer "label" column (a missing one, or one
// of another type, is an error naming the shard and the column's type). A
// bad image (it does not decode, its label is null) is a record error of
// its stage, sent to cfg.DeadLetters and left out, up to cfg.MaxBad of the
// images; beyond it the error (wrapping pipeline.ErrBadRecordBudget) names
// the first bad image in discovery order, whatever the worker count.
// Memory: N·Side²·Channels bytes; each image is resized straight into its
// place in the set.
func Load(ctx context.Context, cfg LoadConfig) (*Labeled, error) {
	side, channels, workers := cfg.Side, cfg.Channels, cfg.Workers
	if side < 1 || (channels != 1 && channels != 3) {
		return nil, fmt.Errorf("eval: Load side %d channels %d", side, channels)
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	shards := cfg.Shards
	for _, sh := range shards {
		if !sh.HasLabels() {
			shards = nil // open them again with a required label column: its error says why
			break
		}
	}
	src, err := sources.NewSourceContext(ctx, sources.ParquetConfig{Glob: cfg.Glob, Files: paths(cfg.Shards, shards),
		Shards: shards, InOrder: true, Epochs: 1, Columns: sources.Columns{Label: "label"}, Store: cfg.Store})
	if err != nil {
		return nil, fmt.Errorf("eval: the images must be labeled: %w", err)
	}
	n := int(src.Plan().EpochSize())
	per := side * side * channels
	out := &Labeled{Side: side, C: channels, Pix: make([]uint8, n*per), Labels: make([]int, 0, n)}
	bad := &badImages{next: cfg.DeadLetters, order: map[string]int{}}
	for i, sh := range src.Shards() {
		bad.order[sh.Path] = i
	}
	p := pipeline.New("eval-load", pipeline.WithDeadLetter(bad))
	rows := pipeline.Source[*sources.Sample](p, "parquet", src)
	imgs := pipeline.Apply(p, "decode", rows, &stages.Decode{Channels: channels}, pipeline.Workers(workers), pipeline.Ordered())
	placed := pipeline.Apply(p, "resize", imgs, resize{out: out}, pipeline.Workers(workers), pipeline.Ordered())
	pipeline.Sink(p, "set", placed, pipeline.ConsumerFunc[placedImage](func(_ context.Context, im placedImage) error {
		k := len(out.Labels) // images before it that were bad leave a gap: close it (in order, so k <= im.pos)
		if k != im.pos {
			copy(out.Pix[k*per:(k+1)*per], out.Pix[im.pos*per:(im.pos+1)*per])
		}
		out.Labels = append(out.Labels, im.label)
		return nil
	}))
	if err := p.Run(ctx); err != nil {
		return nil, err
	}
	if bad.n > 0 && (cfg.MaxBad >= 0 && float64(bad.n) > cfg.MaxBad*float64(n)) {
		return nil, fmt.Errorf("eval: %s: %s (%d of %d images bad, budget %g: %w)",
			bad.first.Key, bad.first.Reason, bad.n, n, max(cfg.MaxBad, 0), pipeline.ErrBadRecordBudget)
	}
	out.Pix = out.Pix[:len(out.Labels)*per]
	return out, nil
}

// paths returns the paths of all when use is nil (the shards must be
// opened again).
func paths(all, use []*sources.Shard) []string {
	if use != nil {
		return nil
	}
	var p []string
	for _, sh := range all {
		p = append(p, sh.Path)
	}
	return p
}

// placedImage is an image that resize wrote into its slot of the set.
type placedImage struct {
	pos, label int
}

// resize writes each decoded image, resized, into slot Position of out.Pix
// and releases it. Safe for concurrent use (each writes its own slot).
type resize struct{ out *Labeled }

func (r resize) Process(_ context.Context, in *stages.Decoded, emit func(placedImage)) error {
	defer in.Release()
	if in.Sample.Label < 0 {
		return errors.New("the label is null")
	}
	s, c, i := r.out.Side, r.out.C, int(in.Sample.Position)
	per := s * s * c
	dst := image.Image{W: s, H: s, C: c, Stride: s * c, Pix: r.out.Pix[i*per : (i+1)*per : (i+1)*per]}
	src := in.Image
	if err := augment.ResizedCrop(&dst, src, 0, 0, src.H, src.W, s, s, augment.Bilinear); err != nil {
		return err
	}
	emit(placedImage{pos: i, label: in.Sample.Label})
	return nil
}

// badImages collects Load's bad images: the count and the first in
// discovery order (shard order, then row); each goes on to next.
type badImages struct {
	next  pipeline.DeadLetterWriter
	order map[string]int // shard path → discovery index
	n     int
	first pipeline.DeadLetter
}

func (b *badImages) WriteDeadLetter(d pipeline.DeadLetter) error {
	b.n++
	if b.n == 1 || b.before(d.Key, b.first.Key) {
		b.first = d
	}
	if b.next != nil {
		return b.next.WriteDeadLetter(d)
	}
	return nil
}

func (b *badImages) before(x, y pipeline.Key) bool {
	ix, iy := b.order[x.Shard], b.order[y.Shard]
	return ix < iy || ix == iy && x.Row < y.Row
}

// Encode runs the model's encoder (evaluation mode) over the set in batches
// and returns the features, row-major [N, m.FeatureDim]. Images are
// normalized with norm (zero: ImageNet statistics) by the routine Tensorize
// uses in training (augment.Normalizer.Planes), so the model sees the same
// values.
func Encode(m *nn.SimCLR, set *Labeled, batch int, norm augment.Normalize) ([]float32, error) {
	if batch < 1 {
		return nil, fmt.Errorf("eval: Encode batch %d", batch)
	}
	n, s, c := set.Len(), set.Side, set.C
	feats := make([]float32, n*m.FeatureDim)
	z := norm.Normalizer()
	buf := make([]float32, batch*c*s*s)
	var x *tensor.Dense
	per := s * s * c
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		b := hi - lo
		in := buf[:b*per]
		for i := range b {
			if err := z.Planes(in[i*per:(i+1)*per], set.image(lo+i)); err != nil {
				return nil, err
			}
		}
		if x == nil || x.Shape()[0] != b {
			x = tensor.New(tensor.WithShape(b, c, s, s), tensor.WithBacking(in))
		}
		h := m.Encode(x)
		copy(feats[lo*m.FeatureDim:hi*m.FeatureDim], h.Data().([]float32))
	}
	return feats, nil
}

// image returns image i of the set (sharing its pixels).
func (l *Labeled) image(i int) *image.Image {
	per := l.Side * l.Side * l.C
	return &image.Image{W: l.Side, H: l.Side, C: l.C, Stride: l.Side * l.C, Pix: l.Pix[i*per : (i+1)*per]}
}
