// Package stages holds the pipeline stages between a shard source and the
// trainer — Decode (encoded bytes → pixels), Views (K augmented views of
// each image from one decode) and Tensorize (batches of views → tensors) —
// and the compositions built from them (ViewPipeline, Bench, Preview).
//
// Each stage is a plain struct whose zero value works (Views needs an
// augmentation), used by pointer
// (pipeline.Apply(p, "decode", samples, &stages.Decode{}, pipeline.Workers(8))),
// safe for concurrent use under Workers(n), and reusing pooled buffers so
// that steady-state work allocates little or nothing per record. Records that
// carry pooled buffers (*Decoded, *ViewSet, *Batch) have a Release method:
// the stage or sink that consumes a record releases it, once, after its last
// use (Views releases *Decoded, Tensorize releases *ViewSet, the trainer or
// sink releases *Batch).
//
// The pixel buffer is stages/image.Image; augmentations live in
// stages/augment, the trainer in stages/train.
package stages
