package nnbench

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"gorgonia.org/tensor"

	"github.com/contrastream/contrastream/internal/cputime"
	"github.com/contrastream/contrastream/stages/train/loss"
	"github.com/contrastream/contrastream/stages/train/nn"
	"github.com/contrastream/contrastream/stages/train/optim"
)

// GFLOP of one training step at 256 pairs of 32×32×3, counted as
// shared/bench/train_step.py counts them (conv and linear layers: forward,
// weight gradient and input gradient, no input gradient for the first conv).
var stepGFLOP = map[string]float64{"small": 45.6, "resnet18": 1705}

// trainer is one SimCLR training step, set up as the PyTorch peer
// (shared/bench/train_step.py): NT-Xent τ = 0.5, SGD lr 0.05, momentum 0.9,
// weight decay 1e-6, random normal input.
type trainer struct {
	m   *nn.SimCLR
	l   loss.NTXent
	opt optim.SGD
	x   *tensor.Dense
	dz  *tensor.Dense
	ps  []*nn.Param
}

func newTrainer(model string, pairs, side, threads int) (*trainer, error) {
	return newTrainerC(model, pairs, 3, side, threads)
}

func newTrainerC(model string, pairs, channels, side, threads int) (*trainer, error) {
	m, err := nn.NewSimCLR(nn.Config{Model: model, InChannels: channels, Threads: threads, Seed: 1})
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(0, 0))
	xd := make([]float32, 2*pairs*channels*side*side)
	for i := range xd {
		xd[i] = float32(rng.NormFloat64())
	}
	t := &trainer{
		m:   m,
		l:   loss.NTXent{Temperature: 0.5},
		opt: optim.SGD{Momentum: 0.9, WeightDecay: 1e-6},
		x:   tensor.New(tensor.WithShape(2*pairs, channels, side, side), tensor.WithBacking(xd)),
		dz:  tensor.New(tensor.WithShape(2*pairs, m.OutDim), tensor.WithBacking(make([]float32, 2*pairs*m.OutDim))),
		ps:  m.Params(),
	}
	return t, nil
}

func (t *trainer) step() (float64, error) {
	nn.ZeroGrad(t.ps)
	z := t.m.Forward(t.x, true)
	st, err := t.l.Forward(z.Float32s(), z.Shape()[0], z.Shape()[1])
	if err != nil {
		return 0, err
	}
	if err := t.l.Backward(t.dz.Float32s()); err != nil {
		return 0, err
	}
	t.m.Backward(t.dz)
	return st.Loss, t.opt.Step(0.05, t.ps)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkSimCLRStep measures one training step of 256 pairs (batch 512)
// of 32×32×3 per op. NNBENCH_PAIRS and NNBENCH_THREADS override the pair
// count and the thread count of the layers' pool (default GOMAXPROCS);
// NNBENCH_SIDE and NNBENCH_CHANNELS the input side and channels (1 or 3), so
// NNBENCH_SIDE=28 NNBENCH_CHANNELS=1 is the Fashion-MNIST step.
// Reported: s/step, cpu-s/step (user+system CPU time of the process per
// step, which a loaded machine inflates less than wall time), GFLOP/s (from
// the peer's FLOP count, scaled by pairs; only meaningful at 32×32×3).
//
//	go test -run '^$' -bench 'SimCLRStep/small' -benchtime 5x ./stages/train/nn/nnbench/
func BenchmarkSimCLRStep(b *testing.B) {
	pairs := envInt("NNBENCH_PAIRS", 256)
	threads := envInt("NNBENCH_THREADS", 0)
	side := envInt("NNBENCH_SIDE", 32)
	channels := envInt("NNBENCH_CHANNELS", 3)
	for _, model := range []string{"small", "resnet18"} {
		b.Run(model, func(b *testing.B) {
			t, err := newTrainerC(model, pairs, channels, side, threads)
			if err != nil {
				b.Fatal(err)
			}
			defer t.m.Close()
			if _, err := t.step(); err != nil { // warm-up: buffers, optimizer state
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(t.x.Float32s()) * 4))
			cpu0 := cputime.Now().Seconds()
			b.ResetTimer()
			var l float64
			for i := 0; i < b.N; i++ {
				if l, err = t.step(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(sec, "s/step")
			b.ReportMetric((cputime.Now().Seconds()-cpu0)/float64(b.N), "cpu-s/step")
			b.ReportMetric(stepGFLOP[model]*float64(pairs)/256/sec, "GFLOP/s")
			b.ReportMetric(0, "ns/op")
			_ = l
		})
	}
}

// TestStepLossDecreases trains the small model for a few steps on a tiny
// batch and checks that the loss goes down (the whole step is wired right).
func TestStepLossDecreases(t *testing.T) {
	tr, err := newTrainer("small", 8, 16, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.m.Close()
	first, err := tr.step()
	if err != nil {
		t.Fatal(err)
	}
	var last float64
	for i := 0; i < 15; i++ {
		if last, err = tr.step(); err != nil {
			t.Fatal(err)
		}
	}
	if !(last < first*0.9) {
		t.Errorf("loss %v after 16 steps, first %v", last, first)
	}
	fmt.Fprintf(os.Stderr, "loss %.4f -> %.4f\n", first, last)
}
