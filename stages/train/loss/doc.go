// Package loss holds the training objectives of contrastream's training
// engine. For now that is NT-Xent, the normalized temperature-scaled
// cross-entropy of SimCLR (Chen et al. 2020), with its analytic backward.
//
// Kernels work on row-major []float32 slices and also accept
// gorgonia.org/tensor *tensor.Dense (float32, two-dimensional, contiguous),
// the currency of the training stage. Matrix products go through
// stages/train/gemm. A loss value keeps its work buffers between calls, so a
// training loop allocates nothing per step once the batch size has been seen;
// a loss value is therefore not safe for concurrent use.
package loss
