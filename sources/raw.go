package sources

import "github.com/contrastream/contrastream/pipeline"

// RawImage is one uncompressed 8-bit image with an optional label, as a
// source of pixels emits it before it is encoded: Synth here, and the IDX
// importer (package sinks/idx). sinks.PNGEncoder turns it into a shard row.
//
// Shard and Row identify the record (the images file's base name and the item
// index, or "synth-<seed>" and the image index); Key returns them as a
// pipeline.Key, so record errors and dead letters name the item.
type RawImage struct {
	Shard string
	Row   int64
	Label int    // class index, or -1 when there is no label
	W, H  int    // size in pixels
	C     int    // channels: 1 (gray) or 3 (RGB)
	Pix   []byte // W*H*C samples, interleaved (HWC), rows top to bottom
}

// Key returns (Shard, Row), so record errors and dead letters name the item.
func (r RawImage) Key() pipeline.Key { return pipeline.Key{Shard: r.Shard, Row: r.Row} }
