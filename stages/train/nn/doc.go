// Package nn holds the layers and models of contrastream's training engine:
// Conv2D, BatchNorm2d/1d, ReLU, MaxPool2D, global average pooling, Linear and
// the residual BasicBlock, each with an explicit forward and backward pass, and
// the `small` and `resnet18` encoders, the projection head and the combined
// SimCLR model built from them.
//
// Storage is gorgonia.org/tensor: parameters, gradients, activations and
// batches are *tensor.Dense of float32 in NCHW (images) or NC (vectors)
// layout; kernels work on the backing slices. Every matrix product goes
// through stages/train/gemm (Sgemm, or SgemmSerial where the layer splits a
// batch of products over its pool itself). The 3×3 stride-1 convolutions
// with 16 or more input channels use Winograd F(2×2, 3×3) (forward, input
// and weight gradients), the others im2col.
//
// Buffers: a layer allocates its output, input-gradient and scratch buffers on
// the first Forward/Backward for a given input shape and reuses them after, so
// a training step allocates nothing once warmed up. The tensor returned by
// Forward (and by Backward) is owned by the layer and is valid until that
// layer's next Forward (Backward); callers copy it if they need it longer.
//
// Determinism: work is split among a fixed number of goroutines (Pool) by
// fixed index ranges, and every reduction runs in a fixed order inside one
// goroutine, so results are bit-identical from run to run for a fixed thread
// count (given a deterministic gemm).
//
// Parameter and buffer names follow PyTorch state_dict conventions and match
// the PyTorch module definitions in docs/checkpoints.md (Small, ResNet18),
// so a StateDict can be loaded into that torch code.
//
// Kernels: the element-wise loops (batch-norm statistics and normalisation,
// ReLU masks, residual adds, col2im adds, 2×2 max pooling with arg-max) run
// in AVX2+FMA assembly on amd64 when the CPU has it, and the Winograd
// transforms in AVX-512 assembly when the CPU has AVX-512F (both checked at
// run time); in portable Go elsewhere or with the purego build tag. Both paths are
// tested: go test ./stages/train/nn and go test -tags purego ./stages/train/nn.
//
// Modules are not safe for concurrent use: one goroutine drives a model
// (its Pool fans the work out internally).
package nn
