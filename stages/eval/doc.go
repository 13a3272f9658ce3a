// Package eval measures how good an encoder's representation is, the way
// self-supervised learning papers do, on frozen features:
//
//   - [KNN]: lightly's weighted k-nearest-neighbour classifier (cosine
//     similarity on L2-normalized features, k = 200, votes weighted by
//     exp(sim/0.1)), computed in blocks with gemm.Sgemm so that 10,000 ×
//     60,000 similarities never exist at once; deterministic tie-breaking;
//     predictions identical to lightly's knn_predict on the golden set.
//   - [LinearProbe]: multinomial logistic regression on standardized
//     features (mini-batch Adam, cosine decay), the linear evaluation
//     protocol.
//   - [PixelFeatures]: the raw-pixel baseline's features.
//   - [Load] reads a labeled image set through a pipeline (parquet → decode
//     → resize, on workers, bad images to the dead letters) and [Encode]
//     runs an encoder over it, normalizing as Tensorize does
//     (augment.Normalizer.Planes).
//
// Imports point one way: eval uses pipeline, sources, stages and
// stages/train (nn, gemm), never sinks.
package eval
