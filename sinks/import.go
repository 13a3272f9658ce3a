package sinks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/sources"
)

// ImportOptions are the run settings shared by the importers. The zero value
// works.
type ImportOptions struct {
	// Shards, if > 0, splits the rows evenly into this many shards (it sets
	// the writer's MaxRows to ceil(rows/Shards); the last shard may be
	// shorter, and fewer shards come out when records are rejected).
	Shards int
	// Workers encode (or check) images in parallel, in input order. Default
	// GOMAXPROCS.
	Workers int
	// DeadLetters, if set, is the path of a JSONL file that receives one line
	// per rejected record (created only if there is one).
	DeadLetters string
	// BadRecordBudget fails the import when more than this fraction of the
	// records is rejected. Default 0: any rejected record fails the import
	// (at the end, with every bad record in the dead-letter file). Negative
	// means no limit.
	BadRecordBudget float64
	// Progress, if set, is called from the sink goroutine after every 1,000
	// rows and once at the end with the rows written so far and the total
	// expected (0 when unknown).
	Progress func(done, total int64)
	// PNG is the PNG compression of importers that encode pixels (IDX,
	// synth). PNGAuto picks PNGSpeed for IDX and PNGStore for synth.
	PNG PNGLevel
	// HeaderOnly makes the image-folder importer (imagefolder.Import) check
	// only each file's header (format, size, the decoder's pixel limit)
	// instead of decoding it fully. By
	// default every image is decoded as training will decode it, so a
	// truncated or corrupt file is rejected at import rather than found,
	// epoch after epoch, during training.
	HeaderOnly bool
}

// PNGLevel selects the PNG compression of the importers that encode pixels.
// Measured on 32×32 synthetic RGB images (noisy, so deflate works hard):
// PNGStore writes 20,000 images 2.7× faster than PNGSpeed and Go decodes
// them 1.9× faster, for shards 1.3× larger (zstd still compresses the
// stored pages); PNGSpeed encodes 1.8× faster than PNGDefault for 2% more
// bytes. Smooth images such as MNIST's deflate well: PNGSpeed suits them.
type PNGLevel int

// PNG compression levels.
const (
	PNGAuto    PNGLevel = iota // the importer's default
	PNGStore                   // deflate "stored" blocks: no compression
	PNGSpeed                   // zlib level 1
	PNGDefault                 // zlib level 6
	PNGBest                    // zlib level 9
)

// ParsePNGLevel parses "auto", "store", "speed", "default" or "best".
func ParsePNGLevel(s string) (PNGLevel, error) {
	for i, n := range pngLevelNames {
		if s == n {
			return PNGLevel(i), nil
		}
	}
	return 0, fmt.Errorf("sinks: unknown PNG level %q (want auto, store, speed, default or best)", s)
}

var pngLevelNames = [...]string{"auto", "store", "speed", "default", "best"}

// String returns the level's name, as ParsePNGLevel takes it.
func (l PNGLevel) String() string {
	if l < 0 || int(l) >= len(pngLevelNames) {
		return fmt.Sprintf("PNGLevel(%d)", int(l))
	}
	return pngLevelNames[l]
}

// Or returns l, or def when l is PNGAuto: an importer's way of choosing its
// default.
func (l PNGLevel) Or(def PNGLevel) PNGLevel {
	if l == PNGAuto {
		return def
	}
	return l
}

// compression is l as image/png's level (PNGAuto is PNGSpeed).
func (l PNGLevel) compression() png.CompressionLevel {
	switch l {
	case PNGStore:
		return png.NoCompression
	case PNGDefault:
		return png.DefaultCompression
	case PNGBest:
		return png.BestCompression
	}
	return png.BestSpeed
}

// ImportSummary reports an import.
type ImportSummary struct {
	Rows       int64    `json:"rows"`
	Shards     int      `json:"shards"`
	Files      []string `json:"files"`
	Bytes      int64    `json:"bytes"`
	Rejected   int64    `json:"rejected"`
	Classes    []string `json:"classes,omitempty"`
	Seconds    float64  `json:"seconds"`
	RowsPerSec float64  `json:"rows_per_second"`
}

// ErrRejected is returned (wrapped) when an import rejected records and its
// BadRecordBudget is 0: the shards hold every good record, and the
// dead-letter file (if any) names the bad ones.
var ErrRejected = errors.New("sinks: records rejected")

// StageOptions are the options of an importer's per-record stage: Workers
// in input order (none when Workers is 1).
func (opt ImportOptions) StageOptions() []pipeline.StageOption {
	n := opt.Workers
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	if n == 1 {
		return nil
	}
	return []pipeline.StageOption{pipeline.Workers(n), pipeline.Ordered()}
}

// Import runs one import: a pipeline named name whose rows build adds to p
// (a source and its stages, the per-record one with opt.StageOptions()),
// ending in a Shards sink configured by out, with opt's dead letters,
// bad-record budget and progress. total is the number of records expected
// (0 if unknown); with opt.Shards it sets out.MaxRows. Each format's importer
// (package sinks/idx, sinks/imagefolder; WriteSynth here) is a call of
// Import with its own source and stage; a new format needs nothing more.
//
// The summary is returned even with an error (the shards written so far).
// Rejected records with BadRecordBudget 0 fail the import at the end, with
// an error wrapping ErrRejected.
func Import(ctx context.Context, name string, total int64, out ShardsConfig, opt ImportOptions,
	build func(p *pipeline.Pipeline) pipeline.Stream[ImageRow]) (ImportSummary, error) {
	start := time.Now()
	if opt.Shards > 0 && total > 0 {
		out.MaxRows = (total + int64(opt.Shards) - 1) / int64(opt.Shards)
	}
	w, err := NewShards(out)
	if err != nil {
		return ImportSummary{}, err
	}
	var pipeOpts []pipeline.Option
	counter := &rejectCounter{}
	var dl *DeadLetters
	if opt.DeadLetters != "" {
		dl = JSONL(opt.DeadLetters)
		counter.next = dl
	}
	pipeOpts = append(pipeOpts, pipeline.WithDeadLetter(counter))
	if opt.BadRecordBudget > 0 {
		pipeOpts = append(pipeOpts, pipeline.WithBadRecordBudget(opt.BadRecordBudget))
	}
	p := pipeline.New(name, pipeOpts...)
	rows := build(p)
	pipeline.Sink(p, "write", rows, &progressSink{ShardsConsumer: w.Consumer(), total: total, progress: opt.Progress})
	err = p.Run(ctx)
	if cerr := w.Close(); err == nil { // no-op unless Run failed before the sink closed
		err = cerr
	}
	st := w.Stats()
	secs := time.Since(start).Seconds()
	sum := ImportSummary{Rows: st.Rows, Shards: st.Shards, Files: st.Files, Bytes: st.Bytes,
		Rejected: counter.n.Load(), Seconds: secs}
	if secs > 0 {
		sum.RowsPerSec = float64(st.Rows) / secs
	}
	if err != nil {
		return sum, fmt.Errorf("sinks: %s: %w", name, err)
	}
	if sum.Rejected > 0 && opt.BadRecordBudget == 0 {
		where := ""
		if opt.DeadLetters != "" {
			where = " (see " + opt.DeadLetters + ")"
		}
		return sum, fmt.Errorf("sinks: %s: %d of %d records rejected%s: %w", name, sum.Rejected, sum.Rejected+sum.Rows, where, ErrRejected)
	}
	return sum, nil
}

// progressSink is the shard sink with a progress callback.
type progressSink struct {
	*ShardsConsumer
	total    int64
	done     int64
	progress func(done, total int64)
}

func (s *progressSink) Consume(ctx context.Context, r ImageRow) error {
	if err := s.ShardsConsumer.Consume(ctx, r); err != nil {
		return err
	}
	s.done++
	if s.progress != nil && s.done%1000 == 0 {
		s.progress(s.done, s.total)
	}
	return nil
}

func (s *progressSink) Close(ctx context.Context) error {
	err := s.ShardsConsumer.Close(ctx)
	if s.progress != nil && (s.done%1000 != 0 || s.done == 0) {
		s.progress(s.done, s.total)
	}
	return err
}

// rejectCounter counts dead letters and passes them on.
type rejectCounter struct {
	n    atomic.Int64
	next *DeadLetters
}

func (c *rejectCounter) WriteDeadLetter(d pipeline.DeadLetter) error {
	c.n.Add(1)
	if c.next != nil {
		return c.next.WriteDeadLetter(d)
	}
	return nil
}

func (c *rejectCounter) Close() error {
	if c.next != nil {
		return c.next.Close()
	}
	return nil
}

// PNGEncoder is the encode stage of the importers that have pixels (the IDX
// importer, WriteSynth): sources.RawImage (8-bit gray or RGB) → an ImageRow
// holding the image as PNG and its label. Use it by pointer. It is safe for
// concurrent use and keeps input order under pipeline.Ordered; per record it
// allocates the PNG bytes (the row keeps them) and reuses pooled pixel and
// zlib buffers. A record with a bad size or channel count, or with a label
// that has no class name, is a record error.
type PNGEncoder struct {
	Level   PNGLevel // compression; PNGAuto is PNGSpeed
	Classes int      // if > 0, labels must be < Classes (the class names)

	pool sync.Pool // *encodeBuf
}

type encodeBuf struct {
	gray image.Gray
	rgba image.NRGBA
	out  bytes.Buffer
	enc  png.Encoder
}

type zbufPool struct{ b *png.EncoderBuffer }

func (z *zbufPool) Get() *png.EncoderBuffer  { return z.b }
func (z *zbufPool) Put(b *png.EncoderBuffer) { z.b = b }

func (e *PNGEncoder) Process(_ context.Context, in sources.RawImage, emit func(ImageRow)) error {
	if e.Classes > 0 && in.Label >= e.Classes {
		return fmt.Errorf("sinks: label %d has no class name (%d names)", in.Label, e.Classes)
	}
	b, err := e.Encode(in)
	if err != nil {
		return err
	}
	emit(ImageRow{Image: b, Label: in.Label})
	return nil
}

// Encode returns in as PNG bytes (a new slice).
func (e *PNGEncoder) Encode(in sources.RawImage) ([]byte, error) {
	if in.W <= 0 || in.H <= 0 || len(in.Pix) < in.W*in.H*in.C {
		return nil, fmt.Errorf("sinks: encode: %dx%dx%d image with %d samples", in.W, in.H, in.C, len(in.Pix))
	}
	eb, _ := e.pool.Get().(*encodeBuf)
	if eb == nil {
		eb = &encodeBuf{}
		eb.enc.CompressionLevel = e.Level.compression()
		eb.enc.BufferPool = &zbufPool{}
	}
	defer e.pool.Put(eb)
	var m image.Image
	switch in.C {
	case 1:
		eb.gray = image.Gray{Pix: in.Pix[:in.W*in.H], Stride: in.W, Rect: image.Rect(0, 0, in.W, in.H)}
		m = &eb.gray
	case 3:
		n := in.W * in.H
		if cap(eb.rgba.Pix) < 4*n {
			eb.rgba.Pix = make([]byte, 4*n)
		}
		px := eb.rgba.Pix[:4*n]
		for i, j := 0, 0; i < 3*n; i, j = i+3, j+4 {
			px[j], px[j+1], px[j+2], px[j+3] = in.Pix[i], in.Pix[i+1], in.Pix[i+2], 255
		}
		eb.rgba = image.NRGBA{Pix: px, Stride: 4 * in.W, Rect: image.Rect(0, 0, in.W, in.H)}
		m = &eb.rgba // opaque: encoded as 8-bit RGB
	default:
		return nil, fmt.Errorf("sinks: encode: %d channels, want 1 or 3", in.C)
	}
	eb.out.Reset()
	if err := eb.enc.Encode(&eb.out, m); err != nil {
		return nil, fmt.Errorf("sinks: encode: %w", err)
	}
	return bytes.Clone(eb.out.Bytes()), nil
}
