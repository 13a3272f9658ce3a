package stages

import (
	"runtime"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/sources"
)

// ViewPipeline is the view-making half of a training pipeline:
// decode → views → tensorize, with decode and views run on Workers
// goroutines each, in input order, so batches are bit-identical for any
// worker count.
type ViewPipeline struct {
	Decode    *Decode    // nil means &Decode{Channels: 3}
	Views     *Views     // required
	Tensorize *Tensorize // required
	// Workers for decode and for views (default GOMAXPROCS). Each stage gets
	// this many goroutines; they take turns on the cores.
	Workers int
}

// Add appends the stages ("decode", "views", "tensorize") to p after rows
// and returns the stream of batches. Release every batch once done with it.
func (v ViewPipeline) Add(p *pipeline.Pipeline, rows pipeline.Stream[*sources.Sample]) pipeline.Stream[*Batch] {
	w := v.Workers
	if w <= 0 {
		w = runtime.GOMAXPROCS(0)
	}
	dec := v.Decode
	if dec == nil {
		dec = &Decode{Channels: 3}
	}
	imgs := pipeline.Apply(p, "decode", rows, dec, pipeline.Workers(w), pipeline.Ordered())
	views := pipeline.Apply(p, "views", imgs, v.Views, pipeline.Workers(w), pipeline.Ordered())
	return pipeline.Apply(p, "tensorize", views, v.Tensorize)
}
