package sinks

import (
	"context"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/sources"
)

// ImportIDX imports a pair of MNIST-format IDX files (see sources.IDX) as a
// pipeline: the IDX source → a parallel, ordered PNG encoder (8-bit gray) →
// a Shards sink configured by out. With a labels file the shards get a label
// column: a ClassLabel when out.ClassNames is set (a label without a name is
// then a rejected record), else a plain int64. Rows keep the file order.
func ImportIDX(ctx context.Context, src sources.IDX, out ShardsConfig, opt ImportOptions) (ImportSummary, error) {
	images, labels, n, err := src.Open()
	if err != nil {
		return ImportSummary{}, err
	}
	images.Close()
	if labels != nil {
		labels.Close()
		out.Labels = true
	}
	enc := &pngEncoder{level: opt.PNG.or(PNGSpeed), classes: len(out.ClassNames)}
	return runImport(ctx, "import-idx", int64(n), out, opt, func(p *pipeline.Pipeline) pipeline.Stream[ImageRow] {
		raw := pipeline.Source(p, "read", pipeline.Producer[sources.RawImage](src))
		return pipeline.Apply(p, "encode", raw, pipeline.Stage[sources.RawImage, ImageRow](enc), workers(opt)...)
	})
}
