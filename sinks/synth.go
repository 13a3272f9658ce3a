package sinks

import (
	"context"
	"sync"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/sources"
)

// WriteSynth writes the synthetic dataset s (see sources.Synth) as shards:
// a source of image indices → a parallel, ordered stage that draws and
// PNG-encodes each image (RGB) → a Shards sink with the class names of s.
// The bytes depend only on s (not on Workers).
func WriteSynth(ctx context.Context, s sources.Synth, out ShardsConfig, opt ImportOptions) (ImportSummary, error) {
	if err := s.Validate(); err != nil {
		return ImportSummary{}, err
	}
	out.Labels = true
	if out.ClassNames == nil {
		out.ClassNames = s.ClassNames()
	}
	st := &synthStage{s: s, enc: PNGEncoder{Level: opt.PNG.Or(PNGStore)}}
	sum, err := Import(ctx, "synth", int64(s.N), out, opt, func(p *pipeline.Pipeline) pipeline.Stream[ImageRow] {
		idx := pipeline.Source(p, "index", pipeline.ProducerFunc[int64](
			func(ctx context.Context, emit func(int64) error) error {
				for i := 0; i < s.N; i++ {
					if err := emit(int64(i)); err != nil {
						return err
					}
				}
				return nil
			}))
		return pipeline.Apply(p, "draw", idx, pipeline.Stage[int64, ImageRow](st), opt.StageOptions()...)
	})
	sum.Classes = out.ClassNames
	return sum, err
}

// synthStage draws and encodes one synthetic image per index.
type synthStage struct {
	s    sources.Synth
	enc  PNGEncoder
	pool sync.Pool // *[]byte pixel buffers
}

func (st *synthStage) Process(_ context.Context, i int64, emit func(ImageRow)) error {
	n := st.s.Size
	if n <= 0 {
		n = 32
	}
	bp, _ := st.pool.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, n*n*3)
		bp = &b
	}
	defer st.pool.Put(bp)
	label := st.s.Draw(*bp, i)
	b, err := st.enc.Encode(sources.RawImage{Row: i, Label: label, W: n, H: n, C: 3, Pix: *bp})
	if err != nil {
		return err
	}
	emit(ImageRow{Image: b, Label: label})
	return nil
}
