// Package nnbench holds BenchmarkSimCLRStep, one whole SimCLR training step
// (forward of encoder and head, NT-Xent, backward, SGD) of the nn models, in a
// package of its own so that stages/train/nn does not depend on the loss and
// optimizer packages. It has no library code.
package nnbench
