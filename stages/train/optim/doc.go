// Package optim holds the optimizers and learning-rate schedules of
// contrastream's training engine: SGD with momentum (and Nesterov), LARS as
// in SimCLR, and AdamW; linear warm-up then cosine decay; the linear and
// square-root learning-rate scaling rules.
//
// Optimizers update the parameters of stages/train/nn in place from their
// accumulated gradients (nn.Param.Data, nn.Param.GradData). Parameters that
// nn.Param.NoDecay reports (batch-norm and bias) get no weight decay and no
// LARS trust-ratio adaptation, as in SimCLR. Element-wise arithmetic is
// float32 in the same order as PyTorch 1.13, so results match torch.optim to
// float32 rounding; norms are summed in float64.
//
// An optimizer allocates its state (momentum buffers, Adam moments) on its
// first Step and nothing after. Its state can be exported and imported under
// PyTorch state_dict-like names ("state.<param>.momentum_buffer",
// "state.<param>.exp_avg", ...) for checkpoints. Optimizers are not safe for
// concurrent use; schedules are plain values and are.
package optim
