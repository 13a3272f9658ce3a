package nn

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"

	"gorgonia.org/tensor"
)

// Config selects and sizes a SimCLR model: the architecture, saved as JSON
// in every checkpoint so a model can be rebuilt from the checkpoint alone.
// The zero value (plus Model) works.
type Config struct {
	// Model is "small" or "resnet18".
	Model string `json:"model"`
	// InChannels is 1 or 3 (default 3).
	InChannels int `json:"in_channels"`
	// HeadDepth is the number of Linear layers in the projection head
	// (default 2; 1 gives a single Linear to HeadOut).
	HeadDepth int `json:"head_depth"`
	// HeadHidden is the width of the hidden head layers (default: the
	// encoder's feature width, 256 for small, 512 for resnet18).
	HeadHidden int `json:"head_hidden,omitempty"`
	// HeadOut is the projection width (default 128).
	HeadOut int `json:"head_out,omitempty"`
	// HeadBN puts BatchNorm1d after each hidden Linear (Linear → BN → ReLU,
	// as SimCLR); false gives Linear → ReLU.
	HeadBN bool `json:"head_bn"`
	// Seed seeds the math/rand/v2 PCG source of the initial weights.
	Seed uint64 `json:"seed"`
	// Threads is the number of goroutines for the layers' loops (default
	// GOMAXPROCS). The gemm package parallelises products on its own.
	Threads int `json:"threads,omitempty"`
}

// ErrConfig is wrapped by configuration errors.
var ErrConfig = errors.New("nn: bad config")

// SimCLR is an encoder followed by a projection head. Forward gives the
// projections z; Features gives the encoder output h of the same Forward.
// Parameter names are those of the equivalent torch modules (docs/checkpoints.md)
// ("features.*", or "stem.*" and "blocks.*", then "head.*").
//
// A SimCLR owns a Pool: call Close when done. Not safe for concurrent use.
type SimCLR struct {
	Encoder    *Sequential
	Head       *Sequential
	FeatureDim int
	OutDim     int

	pool *Pool
	h    *tensor.Dense
}

// NewSimCLR builds the model of cfg with PyTorch's default initialisation.
func NewSimCLR(cfg Config) (*SimCLR, error) {
	if cfg.InChannels == 0 {
		cfg.InChannels = 3
	}
	if cfg.InChannels != 1 && cfg.InChannels != 3 {
		return nil, fmt.Errorf("%w: %d input channels, want 1 or 3", ErrConfig, cfg.InChannels)
	}
	if cfg.HeadDepth == 0 {
		cfg.HeadDepth = 2
	}
	if cfg.HeadOut == 0 {
		cfg.HeadOut = 128
	}
	if cfg.HeadDepth < 0 || cfg.HeadOut < 0 || cfg.HeadHidden < 0 || cfg.Threads < 0 {
		return nil, fmt.Errorf("%w: negative size in %+v", ErrConfig, cfg)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x636f6e7472617374)) // "contrast"
	pool := NewPool(cfg.Threads)
	pool.share = true // layers' input gradients come from one arena
	m := &SimCLR{pool: pool}
	switch cfg.Model {
	case "small":
		m.Encoder, m.FeatureDim = NewSmall(cfg.InChannels, rng, pool), 256
	case "resnet18":
		m.Encoder, m.FeatureDim = NewResNet18(cfg.InChannels, rng, pool), 512
	default:
		pool.Close()
		return nil, fmt.Errorf("%w: model %q, want small or resnet18", ErrConfig, cfg.Model)
	}
	if cfg.HeadHidden == 0 {
		cfg.HeadHidden = m.FeatureDim
	}
	m.Head = NewHead("head", m.FeatureDim, cfg.HeadHidden, cfg.HeadOut, cfg.HeadDepth, cfg.HeadBN, rng, pool)
	m.OutDim = cfg.HeadOut
	return m, nil
}

// NewSmall returns the `small` encoder: 4 × [conv3×3 pad 1 no bias → BN →
// ReLU → maxpool 2 (ceil mode)] with 32/64/128/256 channels, then global
// average pooling; [N, inC, S, S] → [N, 256] for S ≥ 16. Names features.0,
// features.1, features.4, … as nn.Sequential numbers them.
func NewSmall(inC int, rng *rand.Rand, pool *Pool) *Sequential {
	s := NewSequential(pool)
	c := inC
	for i, co := range []int{32, 64, 128, 256} {
		conv := NewConv2D("features."+strconv.Itoa(4*i), c, co, 3, 1, 1, false, rng, pool)
		conv.NoInputGrad = i == 0
		// BN → ReLU → max pool as one fused layer (same state dict).
		s.Layers = append(s.Layers, conv, NewBNReLUPool("features."+strconv.Itoa(4*i+1), co, true, pool))
		c = co
	}
	s.Layers = append(s.Layers, NewGlobalAvgPool(pool))
	return s
}

// NewResNet18 returns the CIFAR-style ResNet-18 encoder: a 3×3 stride-1 stem
// (stem.0 conv, stem.1 BN, ReLU; no max pool), 8 basic blocks (blocks.0–7)
// with 64/128/256/512 channels, then global average pooling; [N, inC, S, S]
// → [N, 512].
func NewResNet18(inC int, rng *rand.Rand, pool *Pool) *Sequential {
	stem := NewConv2D("stem.0", inC, 64, 3, 1, 1, false, rng, pool)
	stem.NoInputGrad = true
	s := NewSequential(pool, stem, NewBatchNorm2d("stem.1", 64, true, pool))
	c, i := 64, 0
	for _, st := range []struct{ co, stride int }{{64, 1}, {128, 2}, {256, 2}, {512, 2}} {
		s.Layers = append(s.Layers,
			NewBasicBlock("blocks."+strconv.Itoa(i), c, st.co, st.stride, rng, pool),
			NewBasicBlock("blocks."+strconv.Itoa(i+1), st.co, st.co, 1, rng, pool))
		c, i = st.co, i+2
	}
	s.Layers = append(s.Layers, NewGlobalAvgPool(pool))
	return s
}

// NewHead returns a projection head named prefix of depth Linear layers:
// hidden layers Linear → [BatchNorm1d] → ReLU, then Linear to out. The
// indices in the names count the ReLU (and BN) as nn.Sequential does.
func NewHead(prefix string, in, hidden, out, depth int, bn bool, rng *rand.Rand, pool *Pool) *Sequential {
	s := NewSequential(pool)
	idx := 0
	name := func() string { n := prefix + "." + strconv.Itoa(idx); idx++; return n }
	c := in
	for d := 0; d < depth-1; d++ {
		s.Layers = append(s.Layers, NewLinear(name(), c, hidden, true, rng))
		if bn {
			s.Layers = append(s.Layers, NewBatchNorm1d(name(), hidden, true, pool))
			idx++ // the ReLU, fused into the batch norm
		} else {
			name()
			s.Layers = append(s.Layers, NewReLU(pool))
		}
		c = hidden
	}
	s.Layers = append(s.Layers, NewLinear(name(), c, out, true, rng))
	return s
}

// Forward runs encoder and head on x [N, C, S, S] and returns z [N, OutDim].
func (m *SimCLR) Forward(x *tensor.Dense, train bool) *tensor.Dense {
	m.h = m.Encoder.Forward(x, train)
	return m.Head.Forward(m.h, train)
}

// Features returns the encoder output h [N, FeatureDim] of the last Forward
// (or Encode).
func (m *SimCLR) Features() *tensor.Dense { return m.h }

// Encode runs only the encoder, in evaluation mode, and returns h.
func (m *SimCLR) Encode(x *tensor.Dense) *tensor.Dense {
	m.h = m.Encoder.Forward(x, false)
	return m.h
}

// Backward takes dL/dz of the last Forward and accumulates all parameter
// gradients. The input gradient is not computed; it returns nil.
func (m *SimCLR) Backward(dz *tensor.Dense) *tensor.Dense {
	dh := m.Head.Backward(dz)
	dx := m.Encoder.Backward(dh)
	m.pool.release(dh)
	return dx
}

// Params returns all parameters in state_dict order.
func (m *SimCLR) Params() []*Param { return append(m.Encoder.Params(), m.Head.Params()...) }

// StateDict returns all parameters and buffers in state_dict order.
func (m *SimCLR) StateDict() []Named { return append(m.Encoder.StateDict(), m.Head.StateDict()...) }

// Pool returns the model's pool. It lends input-gradient buffers from an
// arena: layers built on it must be chained with NewSequential(pool, ...)
// (or otherwise have their Backward outputs released) to reuse them.
func (m *SimCLR) Pool() *Pool { return m.pool }

// Close stops the model's goroutines.
func (m *SimCLR) Close() { m.pool.Close() }
