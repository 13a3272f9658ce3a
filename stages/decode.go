package stages

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages/image"
)

// Decoded is one decoded image and the sample it came from. Its Image comes
// from the Decode stage's pool: whoever consumes a Decoded (normally Views,
// after it has made every view) calls Release exactly once, and must not
// touch Image afterwards. A Decoded that is never released is simply
// garbage-collected; only the buffer reuse is lost.
//
// When the Decode stage has Crops, only the pixels inside the boxes Crops
// gave are decoded; the rest of Image is unspecified (see Decode.Crops).
type Decoded struct {
	Sample *sources.Sample
	Image  *image.Image
	pool   *sync.Pool
	crops  []image.Rect // scratch for Decode.Crops
}

// Key names the sample (shard, row) in record errors and dead letters.
func (d *Decoded) Key() pipeline.Key { return d.Sample.Key() }

// Release hands the image buffer back to the Decode stage that made d, for
// reuse by a later record. Calling it on nil or twice does nothing.
func (d *Decoded) Release() {
	if d == nil || d.pool == nil {
		return
	}
	p := d.pool
	d.pool, d.Sample = nil, nil
	p.Put(d)
}

// Clone returns a copy of d whose image shares no buffer with d's and
// belongs to no pool (its Release does nothing), for pipeline.Tee and
// sinks.Collect. The Sample, which is not pooled, is shared.
func (d *Decoded) Clone() *Decoded {
	return &Decoded{Sample: d.Sample, Image: d.Image.Clone()}
}

// ErrNoImage is the record error for a sample whose image cell is null.
var ErrNoImage = errors.New("stages: sample has no image bytes")

// Decode decodes each sample's PNG or JPEG bytes into pixels.
//
// It takes *sources.Sample and gives *Decoded, one per sample, in input
// order per worker (use pipeline.Ordered() for a global order). Bytes that do
// not decode — empty, truncated, corrupt, not an image, or over MaxPixels —
// give a record error wrapping the image package's sentinel (image.ErrFormat,
// image.ErrCorrupt, image.ErrTooLarge, image.ErrUnsupported) or ErrNoImage;
// the pipeline adds the sample's shard and row, counts it, sends it to the
// dead-letter sink and goes on. Nothing is emitted for such a sample.
//
// Safe for concurrent use: run it with pipeline.Workers(n). Image buffers
// are pooled and reused once consumers Release them, so in steady state it
// allocates only what the decoder does (nothing for JPEG with the turbojpeg
// build tag; image/jpeg's or image/png's own image per record in pure Go).
// The zero value decodes at full size, keeps gray images gray (C=1), and
// refuses images over image.DefaultMaxPixels.
//
//	in:  s0     s1(corrupt)   s2
//	out: d0                   d2        (s1 → record error)
type Decode struct {
	// MaxPixels refuses images whose header declares more pixels
	// (width*height), before any buffer is allocated: 0 means
	// image.DefaultMaxPixels (about 64 Mpx), negative means no limit.
	MaxPixels int
	// Channels is the output policy: 0 keeps the source's kind (1 for gray
	// sources, 3 otherwise), 3 always RGB, 1 always gray.
	Channels int
	// MinSide, if positive, lets the turbojpeg backend decode a JPEG at
	// 1/2, 1/4 or 1/8 scale while its shorter side stays >= MinSide. Set it
	// to the largest crop side the views will take; see
	// image.DecodeOptions.MinSide. The pure-Go backend decodes at full size.
	MinSide int
	// FastUpsample and Backend are passed to image.Decode (see
	// image.DecodeOptions).
	FastUpsample bool
	Backend      image.Backend
	// Crops, when set, gives the rectangles of each image its consumer
	// will read (Views.Crops, from the header's size, before decoding):
	// they go to the decoder as image.DecodeOptions.Crops, so the pure-Go
	// JPEG decoder reconstructs only those parts and stops reading after
	// the last MCU row they need, and every pixel of the Decoded image
	// outside them is unspecified (an earlier image's, typically). Set it
	// only when nothing else reads the images: NewViewStream sets it for
	// its Views stage, the only consumer of its Decode stage (unless
	// ViewStreamConfig.FullDecode). A false ok decodes everything.
	Crops func(dst []image.Rect, s *sources.Sample, w, h int) (crops []image.Rect, ok bool)

	pool sync.Pool // *Decoded with its *image.Image
}

// Process decodes in and emits a *Decoded whose Image the consumer must
// Release.
func (s *Decode) Process(_ context.Context, in *sources.Sample, emit func(*Decoded)) error {
	if in.Bytes == nil {
		return ErrNoImage
	}
	d, _ := s.pool.Get().(*Decoded)
	if d == nil {
		d = &Decoded{Image: new(image.Image)}
	}
	opt := image.DecodeOptions{
		MaxPixels:    s.MaxPixels,
		Channels:     s.Channels,
		MinSide:      s.MinSide,
		FastUpsample: s.FastUpsample,
		Backend:      s.Backend,
	}
	if s.Crops != nil {
		// The boxes depend on the size only; a header that does not parse
		// is Decode's to report.
		if h, err := image.DecodeHeader(in.Bytes); err == nil && h.Format == image.FormatJPEG {
			var ok bool
			if d.crops, ok = s.Crops(d.crops, in, h.W, h.H); ok {
				opt.Crops = d.crops
			}
		}
	}
	err := image.Decode(d.Image, in.Bytes, opt)
	if err != nil {
		s.pool.Put(d)
		return fmt.Errorf("stages: decode: %w", err)
	}
	d.Sample, d.pool = in, &s.pool
	emit(d)
	return nil
}
