package sinks

import (
	"context"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"

	"github.com/contrastream/contrastream/stages/train/nn"
	"github.com/contrastream/contrastream/stages/train/optim"
)

// TestCheckpointResumesBitIdentically trains the small model with a real
// optimizer (SGD with momentum, and AdamW, whose state holds 0-d float32
// step counters) for 4 steps straight, and for 2 steps, a checkpoint, a
// fresh model and optimizer loaded from it, and 2 more steps: the weights,
// batch-norm buffers and optimizer state end bit-identical.
func TestCheckpointResumesBitIdentically(t *testing.T) {
	opts := map[string]func() optim.Optimizer{
		"sgd":   func() optim.Optimizer { return &optim.SGD{Momentum: 0.9, WeightDecay: 1e-4} },
		"adamw": func() optim.Optimizer { return &optim.AdamW{WeightDecay: 0.01} },
	}
	for name, newOpt := range opts {
		t.Run(name, func(t *testing.T) {
			const n, c, s = 6, 1, 16
			batch := func(step int) *tensor.Dense { // the data of a step depends only on the step
				rng := rand.New(rand.NewPCG(uint64(step), 9))
				v := make([]float32, n*c*s*s)
				for i := range v {
					v[i] = float32(rng.NormFloat64())
				}
				return tensor.New(tensor.WithShape(n, c, s, s), tensor.WithBacking(v))
			}
			step := func(m *nn.SimCLR, o optim.Optimizer, i int) {
				nn.ZeroGrad(m.Params())
				z := m.Forward(batch(i), true)
				dz := make([]float32, len(z.Float32s())) // loss ½‖z − 0.1‖²
				for j, v := range z.Float32s() {
					dz[j] = v - 0.1
				}
				m.Backward(tensor.New(tensor.WithShape(z.Shape()...), tensor.WithBacking(dz)))
				if err := o.Step(0.05, m.Params()); err != nil {
					t.Fatal(err)
				}
			}
			newModel := func(seed uint64) *nn.SimCLR {
				m, err := nn.NewSimCLR(nn.Config{Model: "small", InChannels: c, Seed: seed, Threads: 1})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(m.Close)
				return m
			}

			straight, so := newModel(1), newOpt()
			for i := 1; i <= 4; i++ {
				step(straight, so, i)
			}

			a, ao := newModel(1), newOpt()
			for i := 1; i <= 2; i++ {
				step(a, ao, i)
			}
			dir := t.TempDir()
			st := &CheckpointState{Step: 2, Model: "small", Tensors: nn.CloneState(a.StateDict()), Optimizer: ao.State()}
			if err := (&Checkpointer{Dir: dir}).WriteState(context.Background(), st); err != nil {
				t.Fatal(err)
			}
			ck, err := LoadCheckpoint(dir)
			if err != nil {
				t.Fatal(err)
			}
			b, bo := newModel(77), newOpt() // different initial weights: all must come from the file
			if err := nn.LoadStateDict(b, ck.Tensors); err != nil {
				t.Fatal(err)
			}
			if err := bo.LoadState(b.Params(), ck.Optimizer); err != nil {
				t.Fatal(err)
			}
			for i := 3; i <= 4; i++ {
				step(b, bo, i)
			}
			ckEqualNamed(t, "model", b.StateDict(), straight.StateDict())
			ckEqualNamed(t, "optimizer", bo.State(), so.State())
		})
	}
}

// ckModelState is the small model's state dict plus momentum buffers of the
// same sizes (what an SGD checkpoint holds), for the benchmarks.
func ckModelState(b *testing.B, model string) (*CheckpointState, int64) {
	m, err := nn.NewSimCLR(nn.Config{Model: model, Seed: 1, Threads: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(m.Close)
	sd := m.StateDict()
	var opt []nn.Named
	var bytes int64
	for _, p := range m.Params() {
		opt = append(opt, nn.Named{Name: "state." + p.Name + ".momentum_buffer", Tensor: p.Value.Clone().(*tensor.Dense)})
		bytes += 8 * int64(len(p.Data()))
	}
	return &CheckpointState{Step: 1000, Model: model, Tensors: sd, Optimizer: opt}, bytes
}

// BenchmarkCheckpointSave writes the small and resnet18 models with SGD
// state: compress, fsync, rename, pointer, prune. SetBytes is the
// uncompressed tensor size.
func BenchmarkCheckpointSave(b *testing.B) {
	for _, model := range []string{"small", "resnet18"} {
		b.Run(model, func(b *testing.B) {
			st, size := ckModelState(b, model)
			c := &Checkpointer{Dir: b.TempDir()}
			b.ReportAllocs()
			b.SetBytes(size)
			for i := 0; i < b.N; i++ {
				st.Step = int64(i)
				if err := c.WriteState(context.Background(), st); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLoadCheckpoint reads, decompresses, verifies and copies out a
// checkpoint written as in BenchmarkCheckpointSave.
func BenchmarkLoadCheckpoint(b *testing.B) {
	for _, model := range []string{"small", "resnet18"} {
		b.Run(model, func(b *testing.B) {
			st, size := ckModelState(b, model)
			dir := b.TempDir()
			if err := (&Checkpointer{Dir: dir}).WriteState(context.Background(), st); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(size)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := LoadCheckpoint(dir); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
