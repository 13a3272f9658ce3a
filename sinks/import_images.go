package sinks

import (
	"context"
	"fmt"
	"sync"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/sources"
	cimage "github.com/contrastream/contrastream/stages/image"
)

// ImportImages imports a folder of JPEG and PNG files (see sources.Folder):
// the folder source → a parallel, ordered check of each file (its format is
// detected from its bytes and its header decoded; a file that is not a
// readable PNG or JPEG is rejected to the dead letters) → a Shards sink. The
// bytes are stored unchanged with their relative path; with class
// subfolders, the labels and class names come from the folder names.
func ImportImages(ctx context.Context, src sources.Folder, out ShardsConfig, opt ImportOptions) (ImportSummary, error) {
	listing, err := src.List()
	if err != nil {
		return ImportSummary{}, err
	}
	if listing.Classes != nil {
		out.Labels = true
		if out.ClassNames == nil {
			out.ClassNames = listing.Classes
		}
	}
	sum, err := runImport(ctx, "import-images", int64(len(listing.Files)), out, opt, func(p *pipeline.Pipeline) pipeline.Stream[ImageRow] {
		files := pipeline.Source(p, "read", pipeline.ProducerFunc[sources.ImageFile](
			func(ctx context.Context, emit func(sources.ImageFile) error) error {
				return src.ProduceListing(ctx, listing, emit)
			}))
		return pipeline.Apply(p, "check", files, pipeline.Stage[sources.ImageFile, ImageRow](&checkImage{headerOnly: opt.HeaderOnly}), workers(opt)...)
	})
	sum.Classes = listing.Classes
	return sum, err
}

// checkImage is the check stage of ImportImages: ImageFile → ImageRow after
// decoding the image with the training decoder (stages/image, its pixel
// limit included), or with headerOnly only its header. Safe for concurrent
// use; the pixel buffers are pooled, so it allocates what the decoder does.
type checkImage struct {
	headerOnly bool
	pool       sync.Pool // *cimage.Image
}

func (c *checkImage) Process(_ context.Context, f sources.ImageFile, emit func(ImageRow)) error {
	_, err := cimage.DecodeOptions{}.Check(f.Data) // what Decode checks first
	if err == nil && !c.headerOnly {
		m, _ := c.pool.Get().(*cimage.Image)
		if m == nil {
			m = new(cimage.Image)
		}
		err = cimage.Decode(m, f.Data, cimage.DecodeOptions{})
		c.pool.Put(m)
	}
	if err != nil {
		return fmt.Errorf("sinks: %w", err)
	}
	emit(ImageRow{Image: f.Data, Label: f.Label, Path: f.Path})
	return nil
}
