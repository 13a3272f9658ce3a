package train

import (
	"time"

	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages/eval"
	"github.com/contrastream/contrastream/stages/train/nn"
)

// Record is what the Trainer emits: a *Step after every optimizer step, an
// *Eval after every evaluation and a *Snapshot whenever a checkpoint is due.
// The set is closed (the method is unexported); take the records apart with
// a type switch, or hand the stream to the Checkpoints sink (snapshots to a
// Store) and the Report sink (steps and evaluations to typed Metrics).
type Record interface{ record() }

func (*Step) record()     {}
func (*Eval) record()     {}
func (*Snapshot) record() {}

// Step is the record of one optimizer step. Its JSON form is one line of
// metrics.jsonl (with "type": "step").
type Step struct {
	Step     int     `json:"step"`  // optimizer steps completed, this one included
	Epoch    int     `json:"epoch"` // epoch of the batch
	Loss     float64 `json:"loss"`
	LR       float64 `json:"lr"`
	PosSim   float64 `json:"pos_sim"`         // mean cosine similarity of positive pairs
	NegSim   float64 `json:"neg_sim"`         // mean cosine similarity of negative pairs
	Accuracy float64 `json:"contrastive_acc"` // anchors whose nearest other view is their positive
	GradNorm float64 `json:"grad_norm"`       // L2 norm of all gradients before the update
	Pairs    int     `json:"pairs"`           // images in the batch (2 views each)
	// Seconds is the wall time since the previous step ended; Wait is the
	// part of it spent waiting for this batch. DataWait = Wait/Seconds tells
	// whether training is input-bound (near 1) or compute-bound (near 0).
	Seconds   float64        `json:"step_seconds"`
	Wait      float64        `json:"wait_seconds"`
	DataWait  float64        `json:"data_wait"`
	PairsPerS float64        `json:"pairs_per_s"`
	Cursor    sources.Cursor `json:"cursor"` // resumes the data after this batch
	Time      time.Time      `json:"time"`
}

// Eval is the record of one evaluation of the encoder, after step Step
// (the last step of epoch Epoch, or the last step of the run when Final).
type Eval struct {
	Step  int  `json:"step"`
	Epoch int  `json:"epoch"`
	Final bool `json:"final,omitempty"` // the evaluation at the end of the run
	eval.Scores
	Time time.Time `json:"time"`
}

// Snapshot is a consistent copy of everything needed to resume, and to
// rebuild the model alone: model tensors (state_dict names, batch-norm
// buffers included), optimizer state, the position in the data and the
// schedule, and the run's Config (the architecture is Config.Model). It is
// a deep copy, so a Store may write it while training goes on.
type Snapshot struct {
	Step      int            // optimizer steps completed
	Epoch     int            // epoch of the next batch
	Cursor    sources.Cursor // resumes the data just after the last batch trained on
	Tensors   []nn.Named     // the model's state dict
	Optimizer []nn.Named     // the optimizer's state
	Config    Config         // the run's configuration (zero when the Trainer runs outside Run)
}

// NewModel rebuilds the snapshot's model from its Config.Model and loads
// its tensors. The caller owns (and must Close) the model.
func (s *Snapshot) NewModel() (*nn.SimCLR, error) {
	m, err := nn.NewSimCLR(s.Config.Model)
	if err != nil {
		return nil, err
	}
	if err := nn.LoadStateDict(m, s.Tensors); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}
