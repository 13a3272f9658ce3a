package imagefolder

import (
	"context"
	"fmt"
	"sync"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/sinks"
	"github.com/contrastream/contrastream/stages/image"
)

// Import imports a folder of JPEG and PNG files (see Source): the Source →
// a parallel, ordered check of each file → a Shards sink configured by out.
// The check is the training decoder's (stages/image): each file is decoded
// fully as training will decode it, or with opt.HeaderOnly only its header
// is read (image.DecodeOptions.Check, the check Decode makes first: format
// from the bytes, size, pixel limit). A file that fails is a record error
// (a dead letter naming its path), so import and training agree on what is
// valid. The bytes are stored unchanged with their relative path; with
// class subfolders, the labels and class names come from the folder names.
func Import(ctx context.Context, src Source, out sinks.ShardsConfig, opt sinks.ImportOptions) (sinks.ImportSummary, error) {
	listing, err := src.List()
	if err != nil {
		return sinks.ImportSummary{}, err
	}
	if listing.Classes != nil {
		out.Labels = true
		if out.ClassNames == nil {
			out.ClassNames = listing.Classes
		}
	}
	sum, err := sinks.Import(ctx, "import-images", int64(len(listing.Files)), out, opt, func(p *pipeline.Pipeline) pipeline.Stream[sinks.ImageRow] {
		files := pipeline.Source(p, "read", pipeline.ProducerFunc[File](
			func(ctx context.Context, emit func(File) error) error {
				return src.ProduceListing(ctx, listing, emit)
			}))
		return pipeline.Apply(p, "check", files, pipeline.Stage[File, sinks.ImageRow](&check{headerOnly: opt.HeaderOnly}), opt.StageOptions()...)
	})
	sum.Classes = listing.Classes
	return sum, err
}

// check is the check stage of Import: File → sinks.ImageRow after decoding
// the image with the training decoder (its pixel limit included), or with
// headerOnly only its header. Safe for concurrent use; the pixel buffers are
// pooled, so it allocates what the decoder does.
type check struct {
	headerOnly bool
	pool       sync.Pool // *image.Image
}

func (c *check) Process(_ context.Context, f File, emit func(sinks.ImageRow)) error {
	_, err := image.DecodeOptions{}.Check(f.Data) // what Decode checks first
	if err == nil && !c.headerOnly {
		m, _ := c.pool.Get().(*image.Image)
		if m == nil {
			m = new(image.Image)
		}
		err = image.Decode(m, f.Data, image.DecodeOptions{})
		c.pool.Put(m)
	}
	if err != nil {
		return fmt.Errorf("imagefolder: %w", err)
	}
	emit(sinks.ImageRow{Image: f.Data, Label: f.Label, Path: f.Path})
	return nil
}
