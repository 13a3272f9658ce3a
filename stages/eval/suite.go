package eval

import (
	"context"
	"fmt"
	"time"

	"github.com/contrastream/contrastream/stages/augment"
	"github.com/contrastream/contrastream/stages/train/nn"
)

// Scores is the outcome of one evaluation of an encoder on a Suite.
type Scores struct {
	KNNTop1 float64 `json:"knn_top1"` // kNN top-1 accuracy on the test set (0..1)
	// LinearTop1 is the linear probe's top-1 accuracy; set only when the
	// suite has Linear (HasLinear).
	LinearTop1 float64 `json:"linear_top1,omitempty"`
	HasLinear  bool    `json:"-"`
	Seconds    float64 `json:"eval_seconds"` // wall time of the evaluation
}

// Suite is the evaluation of a training run: a labeled memory-bank (or
// probe training) set and a labeled test set, held in memory, scored with
// KNN and, with Linear, a LinearProbe, on features that Encode computes.
// Build it once with LoadSuite; Evaluate may then run any number of times
// (between training steps, on the trainer's goroutine). Not safe for
// concurrent use with the same model.
type Suite struct {
	Train, Test *Labeled
	KNN         KNN
	Linear      bool
	// Batch is the encoding batch size (default 500).
	Batch int
	// Normalize is the per-channel normalization; zero means ImageNet's,
	// the same default Tensorize uses in training.
	Normalize augment.Normalize
}

// LoadSuite loads the labeled sets trainGlob and testGlob at side×side
// with channels (see LoadLabeled).
func LoadSuite(ctx context.Context, trainGlob, testGlob string, side, channels int) (*Suite, error) {
	tr, err := LoadLabeled(ctx, trainGlob, side, channels, 0)
	if err != nil {
		return nil, fmt.Errorf("evaluation train set: %w", err)
	}
	te, err := LoadLabeled(ctx, testGlob, side, channels, 0)
	if err != nil {
		return nil, fmt.Errorf("evaluation test set: %w", err)
	}
	return &Suite{Train: tr, Test: te}, nil
}

// Evaluate scores m's encoder features (evaluation mode: batch-norm uses
// its running statistics, which Evaluate does not change).
func (s *Suite) Evaluate(_ context.Context, m *nn.SimCLR) (Scores, error) {
	start := time.Now()
	b := s.Batch
	if b <= 0 {
		b = 500
	}
	ftr, err := Encode(m, s.Train, b, s.Normalize)
	if err != nil {
		return Scores{}, err
	}
	fte, err := Encode(m, s.Test, b, s.Normalize)
	if err != nil {
		return Scores{}, err
	}
	sc, err := s.score(ftr, fte, m.FeatureDim)
	sc.Seconds = time.Since(start).Seconds()
	return sc, err
}

// Pixels scores the raw-pixel baseline (PixelFeatures) the same way.
func (s *Suite) Pixels() (Scores, error) {
	start := time.Now()
	ftr, dim := PixelFeatures(s.Train, s.Normalize)
	fte, _ := PixelFeatures(s.Test, s.Normalize)
	sc, err := s.score(ftr, fte, dim)
	sc.Seconds = time.Since(start).Seconds()
	return sc, err
}

func (s *Suite) score(ftr, fte []float32, dim int) (Scores, error) {
	r, err := s.KNN.Evaluate(ftr, s.Train.Labels, fte, s.Test.Labels, dim)
	if err != nil {
		return Scores{}, err
	}
	out := Scores{KNNTop1: r.Top1}
	if s.Linear {
		lr, err := LinearProbe{}.Evaluate(ftr, s.Train.Labels, fte, s.Test.Labels, dim)
		if err != nil {
			return Scores{}, err
		}
		out.LinearTop1, out.HasLinear = lr.Top1, true
	}
	return out, nil
}
