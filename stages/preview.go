package stages

import (
	"context"
	"errors"
	"fmt"
	stdimage "image"
	"image/color"
	"image/draw"
	"image/png"
	"io"

	"github.com/contrastream/contrastream/internal/sysmem"
	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages/augment"
	"github.com/contrastream/contrastream/stages/image"
)

// PreviewConfig configures Preview. The zero value (plus Glob) shows 8
// images with two SimCLR views each at 96 px.
type PreviewConfig struct {
	Glob  string
	Rows  int    // images (one per row); 0 means 8
	Size  int    // view side in pixels; 0 means 96
	Views int    // views per image; 0 means 2
	Seed  uint64 // keys the views, as in training
	Epoch int    // the epoch whose views to show
	// Aug makes each view; nil means augment.SimCLR(Size, 1, Size >= 64).
	Aug augment.Augmentation
}

var errEnough = errors.New("enough rows")

// Preview writes a PNG grid with one row per image: the original (scaled to
// fit a Size×Size cell, aspect kept) followed by its views, made exactly as
// training makes them (same keyed randomness). The images are the first
// Rows of the shards in discovery order.
func Preview(ctx context.Context, cfg PreviewConfig, w io.Writer) error {
	if cfg.Rows == 0 {
		cfg.Rows = 8
	}
	if cfg.Size == 0 {
		cfg.Size = 96
	}
	if cfg.Views == 0 {
		cfg.Views = 2
	}
	if cfg.Aug == nil {
		cfg.Aug = augment.SimCLR(cfg.Size, 1, cfg.Size >= 64)
	}
	if err := CheckViewSide("preview: Size", cfg.Size); err != nil {
		return err
	}
	if cfg.Rows < 1 || cfg.Views < 1 {
		return fmt.Errorf("stages: preview: Rows %d and Views %d: want >= 1 (0 means the default)", cfg.Rows, cfg.Views)
	}
	// The grid is (1+Views)×Rows cells of Size+4 pixels, RGBA.
	const pad = 4
	cell := cfg.Size + pad
	need := sysmem.Product(pad+int64(cell)*int64(1+cfg.Views), pad+int64(cell)*int64(cfg.Rows), 4)
	if limit, why := memoryLimit(0); limit > 0 && need > limit {
		return fmt.Errorf("stages: preview: a grid of %d rows of %d views at %d px needs %s, over %s (%s): show fewer rows or views",
			cfg.Rows, cfg.Views, cfg.Size, sysmem.Format(need), sysmem.Format(limit), why)
	}
	src, err := sources.NewSource(sources.ParquetConfig{Glob: cfg.Glob, InOrder: true, Epochs: 1})
	if err != nil {
		return err
	}
	var samples []*sources.Sample
	err = src.Produce(ctx, func(s *sources.Sample) error {
		samples = append(samples, s)
		if len(samples) == cfg.Rows {
			return errEnough
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return err
	}

	grid := stdimage.NewRGBA(stdimage.Rect(0, 0, pad+cell*(1+cfg.Views), pad+cell*len(samples)))
	draw.Draw(grid, grid.Bounds(), &stdimage.Uniform{C: color.RGBA{40, 40, 40, 255}}, stdimage.Point{}, draw.Src)
	dec := &Decode{Channels: 3}
	views := &Views{N: cfg.Views, Aug: cfg.Aug, Seed: cfg.Seed}
	for row, s := range samples {
		s.Epoch = cfg.Epoch
		var d *Decoded
		if err := dec.Process(ctx, s, func(x *Decoded) { d = x }); err != nil {
			return fmt.Errorf("stages: preview: %s: %w", s.Key(), err)
		}
		// The original, scaled to fit the cell.
		fw, fh := cfg.Size, cfg.Size
		if d.Image.W > d.Image.H {
			fh = max(1, cfg.Size*d.Image.H/d.Image.W)
		} else {
			fw = max(1, cfg.Size*d.Image.W/d.Image.H)
		}
		var orig image.Image
		if err := augment.ResizedCrop(&orig, d.Image, 0, 0, d.Image.H, d.Image.W, fw, fh, augment.Bilinear); err != nil {
			return err
		}
		y := pad + row*cell
		put(grid, &orig, pad+(cfg.Size-fw)/2, y+(cfg.Size-fh)/2)
		var vs *ViewSet
		if err := views.Process(ctx, d, func(x *ViewSet) { vs = x }); err != nil {
			return fmt.Errorf("stages: preview: %s: %w", s.Key(), err)
		}
		for v, m := range vs.Views {
			put(grid, m, pad+(1+v)*cell, y)
		}
		vs.Release()
	}
	return png.Encode(w, grid)
}

func put(dst *stdimage.RGBA, m *image.Image, x, y int) {
	src := m.ToStd()
	draw.Draw(dst, stdimage.Rect(x, y, x+m.W, y+m.H), src, stdimage.Point{}, draw.Src)
}
