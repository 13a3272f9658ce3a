package eval

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"gorgonia.org/tensor"

	"github.com/contrastream/contrastream/sources"
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

// LoadLabeled reads every image of the shards (in discovery order), decodes
// it on workers goroutines (0: GOMAXPROCS) and keeps it at side×side with
// channels (1 or 3) channels. Every image must have a label: every shard
// needs an integer "label" column (a missing one, or one of another type, is
// an error naming the shard and the column's type), and a null label is an
// error naming its shard and row. When several images fail, the error is
// about the first of them in discovery order, whatever the worker count.
// Memory: N·side²·channels bytes.
func LoadLabeled(ctx context.Context, glob string, side, channels, workers int) (*Labeled, error) {
	if side < 1 || (channels != 1 && channels != 3) {
		return nil, fmt.Errorf("eval: LoadLabeled side %d channels %d", side, channels)
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	src, err := sources.NewSource(sources.ParquetConfig{Glob: glob, InOrder: true, Epochs: 1,
		Columns: sources.Columns{Label: "label"}})
	if err != nil {
		return nil, fmt.Errorf("eval: the images must be labeled: %w", err)
	}
	n := int(src.Plan().EpochSize())
	out := &Labeled{Side: side, C: channels, Pix: make([]uint8, n*side*side*channels), Labels: make([]int, n)}
	jobs := make(chan *sources.Sample, 2*workers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	firstPos := int64(-1)
	per := side * side * channels
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var dec, res image.Image
			for s := range jobs {
				err := image.Decode(&dec, s.Bytes, image.DecodeOptions{Channels: channels})
				if err == nil {
					err = augment.ResizedCrop(&res, &dec, 0, 0, dec.H, dec.W, side, side, augment.Bilinear)
				}
				if err == nil && s.Label < 0 {
					err = errors.New("the label is null")
				}
				if err != nil {
					mu.Lock()
					if firstPos < 0 || s.Position < firstPos {
						firstErr, firstPos = fmt.Errorf("eval: %s: %w", s.Key(), err), s.Position
					}
					mu.Unlock()
					continue
				}
				i := int(s.Position)
				dst := out.Pix[i*per : (i+1)*per]
				for y := range side {
					copy(dst[y*side*channels:(y+1)*side*channels], res.Row(y))
				}
				out.Labels[i] = s.Label
			}
		}()
	}
	err = src.Produce(ctx, func(s *sources.Sample) error {
		select {
		case jobs <- s:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(jobs)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

// Encode runs the model's encoder (evaluation mode) over the set in batches
// and returns the features, row-major [N, m.FeatureDim]. Images are
// normalized with norm (zero: ImageNet statistics) as Tensorize does.
func Encode(m *nn.SimCLR, set *Labeled, batch int, norm augment.Normalize) ([]float32, error) {
	if batch < 1 {
		return nil, fmt.Errorf("eval: Encode batch %d", batch)
	}
	n, s, c := set.Len(), set.Side, set.C
	feats := make([]float32, n*m.FeatureDim)
	lut := norm.Table()
	buf := make([]float32, batch*c*s*s)
	var x *tensor.Dense
	per := s * s * c
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		b := hi - lo
		in := buf[:b*per]
		for i := range b {
			toCHW(in[i*per:(i+1)*per], set.Pix[(lo+i)*per:(lo+i+1)*per], c, &lut)
		}
		if x == nil || x.Shape()[0] != b {
			x = tensor.New(tensor.WithShape(b, c, s, s), tensor.WithBacking(in))
		}
		h := m.Encode(x)
		copy(feats[lo*m.FeatureDim:hi*m.FeatureDim], h.Data().([]float32))
	}
	return feats, nil
}

// toCHW writes one HWC uint8 image (c channels) as planar float32 through the
// normalization table: the layout Encode feeds the model and PixelFeatures
// uses as the raw-pixel baseline. It allocates nothing.
func toCHW(dst []float32, px []uint8, c int, lut *[3][256]float32) {
	plane := len(px) / c
	for p := range plane {
		for ch := range c {
			dst[ch*plane+p] = lut[ch][px[p*c+ch]]
		}
	}
}
