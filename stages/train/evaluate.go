package train

import (
	"context"
	"fmt"
	"time"

	"github.com/contrastream/contrastream/stages/eval"
	"github.com/contrastream/contrastream/stages/train/nn"
)

// Evaluate scores the model of snapshot s with ev, rebuilt from the
// snapshot alone (Snapshot.NewModel), and returns the record the run's
// final evaluation gives (Final set). It is how a run stopped before its
// end (which skips the final evaluation), `contrastream eval` and a Go
// user score a checkpoint.
func Evaluate(ctx context.Context, s *Snapshot, ev Evaluator) (*Eval, error) {
	m, err := s.NewModel()
	if err != nil {
		return nil, fmt.Errorf("train: the model of step %d: %w", s.Step, err)
	}
	defer m.Close()
	sc, err := ev.Evaluate(ctx, m)
	if err != nil {
		return nil, err
	}
	return &Eval{Step: s.Step, Epoch: s.Epoch, Final: true, Scores: sc, Time: time.Now()}, nil
}

// EvaluateLatest is Evaluate of the newest snapshot of st.
func EvaluateLatest(ctx context.Context, st Store, ev Evaluator) (*Eval, error) {
	s, err := st.Latest()
	if err != nil {
		return nil, err
	}
	return Evaluate(ctx, s, ev)
}

// EvaluateInit scores the model that arch builds before any training (its
// seeded initialisation, Seed included): the baseline a checkpoint of the
// same run is compared with.
func EvaluateInit(ctx context.Context, arch nn.Config, ev Evaluator) (eval.Scores, error) {
	m, err := nn.NewSimCLR(arch)
	if err != nil {
		return eval.Scores{}, err
	}
	defer m.Close()
	return ev.Evaluate(ctx, m)
}
