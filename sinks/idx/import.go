package idx

import (
	"context"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/sinks"
	"github.com/contrastream/contrastream/sources"
)

// Import imports a pair of MNIST-format IDX files (see Source) as a
// pipeline: the Source → a parallel, ordered sinks.PNGEncoder (8-bit gray,
// opt.PNG, PNGAuto meaning sinks.PNGSpeed) → a Shards sink configured by
// out. With a labels file the shards get a label column: a ClassLabel when
// out.ClassNames is set (a label without a name is then a rejected record),
// else a plain int64. Rows keep the file order. A file that is not IDX, has
// the wrong element type or rank, or is truncated is refused before anything
// is written; see Source.Open.
func Import(ctx context.Context, src Source, out sinks.ShardsConfig, opt sinks.ImportOptions) (sinks.ImportSummary, error) {
	images, labels, n, err := src.Open()
	if err != nil {
		return sinks.ImportSummary{}, err
	}
	images.Close()
	if labels != nil {
		labels.Close()
		out.Labels = true
	}
	enc := &sinks.PNGEncoder{Level: opt.PNG.Or(sinks.PNGSpeed), Classes: len(out.ClassNames)}
	return sinks.Import(ctx, "import-idx", int64(n), out, opt, func(p *pipeline.Pipeline) pipeline.Stream[sinks.ImageRow] {
		raw := pipeline.Source(p, "read", pipeline.Producer[sources.RawImage](src))
		return pipeline.Apply(p, "encode", raw, pipeline.Stage[sources.RawImage, sinks.ImageRow](enc), opt.StageOptions()...)
	})
}
