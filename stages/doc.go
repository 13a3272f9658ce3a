// Package stages holds the pipeline stages between a shard source and the
// trainer: Decode (encoded bytes → pixels), Views (K augmented views of each
// image from one decode) and Tensorize (batches of views → tensors).
//
// Each stage is a plain struct whose zero value works, used by pointer
// (pipeline.Apply(p, "decode", samples, &stages.Decode{}, pipeline.Workers(8))),
// safe for concurrent use under Workers(n), and reusing pooled buffers so
// that steady-state work allocates little or nothing per record. Records that
// carry pooled buffers (*Decoded, *ViewSet) have a Release method: the stage
// that consumes a record releases it, once, after its last use.
//
// The pixel buffer is stages/image.Image; augmentations live in
// stages/augment, the trainer in stages/train.
package stages
