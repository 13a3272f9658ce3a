// Package train is the training stage of a contrastream pipeline: Trainer
// takes batches of views, runs the SimCLR model forward, the NT-Xent loss,
// the backward pass and an optimizer step, and emits one Step record per
// batch (with a snapshot of the state for checkpoints every so often).
//
// The engine lives in the sub-packages: nn (layers and models with explicit
// forward and backward passes), loss (NT-Xent), optim (SGD, LARS, AdamW and
// schedules) and gemm (the one matrix-multiply path every layer uses).
package train
