package train

import (
	"errors"
	"fmt"
	"math"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/stages/augment"
	"github.com/contrastream/contrastream/stages/eval"
	"github.com/contrastream/contrastream/stages/train/nn"
	"github.com/contrastream/contrastream/stages/train/optim"
)

// Config is a whole training run, serializable as JSON: every checkpoint
// carries it, so a run resumes, and its model is rebuilt, from the
// checkpoint alone. DefaultConfig gives the command line's defaults; Run
// fills the zero values it can (see each field) and resolves Data.Size and
// Model.InChannels from the first image, and saves the resolved Config.
type Config struct {
	Data       Data          `json:"data"`
	Model      nn.Config     `json:"model"` // the architecture (Model.Seed seeds the weights)
	Recipe     Recipe        `json:"recipe"`
	Optimizer  Optimizer     `json:"optimizer"`
	Schedule   Schedule      `json:"schedule"`
	Eval       Evaluation    `json:"eval"`
	Checkpoint Checkpointing `json:"checkpoint"`
	Stop       Stopping      `json:"stop"`
	// History lists the settings changed when the run was resumed (see
	// Resume), oldest first; Run keeps it and adds nothing to it.
	History []Change `json:"history,omitempty"`
}

// Data is where the images come from and how they are read.
type Data struct {
	// Glob lists the training shards: a glob, a folder or a comma-separated
	// list (sources.Discover). Required. Run saves it with local paths made
	// absolute, so a run resumes from any working directory.
	Glob string `json:"glob"`
	// Fingerprint is the dataset's sources.Source.Fingerprint (shard base
	// names and row counts). Run sets it when empty and otherwise refuses
	// shards with another one, so a run resumed with its data moved
	// elsewhere (Glob changed) is checked to read the same dataset.
	Fingerprint string `json:"fingerprint,omitempty"`
	// Seed keys the data order and every view's random choices.
	Seed uint64 `json:"seed"`
	// ShuffleBuffer is the samples the shuffle buffer holds (0: off).
	ShuffleBuffer int `json:"shuffle_buffer"`
	// Size is the view side in pixels (0: the images' shorter side).
	Size int `json:"size"`
	// Workers is the goroutines for decode and for views each (0: one per
	// CPU). It changes speed only: batches are bit-identical for any value.
	Workers int `json:"workers,omitempty"`
	// MaxBad is the fraction of the records read that may fail (an image
	// that does not decode, a view that fails) before the run fails with
	// pipeline.ErrBadRecordBudget (0: 0.01; negative: no limit). Bad
	// records are skipped and sent to the run's dead letters.
	MaxBad float64 `json:"max_bad,omitempty"`
}

// Recipe is the SimCLR recipe: the views (RandomResizedCrop, flip, colour
// jitter with p 0.8, grayscale with p 0.2, optional blur) and the loss.
type Recipe struct {
	MinScale      float64 `json:"min_scale"`      // smallest crop area (0: 0.08)
	ColorStrength float64 `json:"color_strength"` // colour-jitter strength s (0: no jitter)
	Blur          bool    `json:"blur"`           // Gaussian blur with p 0.5, as SimCLR at ImageNet scale
	Temperature   float64 `json:"temperature"`    // NT-Xent τ (0: 0.5)
}

// Optimizer names the optimizer and its settings.
type Optimizer struct {
	Name        string  `json:"name"`         // sgd, lars or adamw ("": sgd)
	LR          float64 `json:"lr"`           // base learning rate (0: 0.3), scaled by LRScaling
	LRScaling   string  `json:"lr_scaling"`   // none, linear (lr·B/256) or sqrt (lr·√B) ("": none)
	Momentum    float64 `json:"momentum"`     // sgd, lars
	WeightDecay float64 `json:"weight_decay"` // L2, not on batch-norm and bias parameters
}

// Schedule is the length of the run and its learning-rate curve: linear
// warm-up, then cosine decay to 0 at the end of the last epoch.
type Schedule struct {
	Epochs       int     `json:"epochs"`        // epochs to train (0: 10)
	Batch        int     `json:"batch"`         // images per step, 2 views each (0: 256)
	WarmupEpochs float64 `json:"warmup_epochs"` // epochs of linear warm-up
}

// Evaluation is the kNN evaluation during training (none without Test).
type Evaluation struct {
	Train  string `json:"train,omitempty"` // labeled memory bank ("": Data.Glob)
	Test   string `json:"test,omitempty"`  // labeled test set
	Every  int    `json:"every"`           // epochs between evaluations (0: at the end only)
	KNNK   int    `json:"knn_k"`           // neighbours (0: 200)
	Linear bool   `json:"linear,omitempty"`
}

// Checkpointing says when snapshots are saved.
type Checkpointing struct {
	Every int `json:"every"` // steps between checkpoints (0: every epoch)
	// Keep is how many checkpoints the Store keeps; Run does not use it
	// (the Store's owner does: sinks.Checkpointer.Keep).
	Keep int `json:"keep"`
}

// Stopping ends a run early, gracefully (the step in progress finishes and
// a checkpoint is written); the schedule still spans every epoch. Resume
// may change it.
type Stopping struct {
	MaxSteps int     `json:"max_steps,omitempty"` // stop at this step count, resumed steps included (0: no limit)
	Minutes  float64 `json:"minutes,omitempty"`   // stop after this much training time (0: no limit)
}

// DefaultConfig returns the command line's defaults for training on glob:
// the small encoder, SGD with momentum 0.9 at lr 0.3·B/256, 10 epochs of
// 256 images with one epoch of warm-up, τ 0.5, colour strength 0.5,
// checkpoints every epoch (3 kept), kNN with k 200.
func DefaultConfig(glob string) Config {
	return Config{
		Data:       Data{Glob: glob, ShuffleBuffer: 4096},
		Model:      nn.Config{Model: "small", HeadDepth: 2, HeadBN: true},
		Recipe:     Recipe{MinScale: 0.08, ColorStrength: 0.5, Temperature: 0.5},
		Optimizer:  Optimizer{Name: "sgd", LR: 0.3, LRScaling: "linear", Momentum: 0.9, WeightDecay: 5e-4},
		Schedule:   Schedule{Epochs: 10, Batch: 256, WarmupEpochs: 1},
		Eval:       Evaluation{Every: 1, KNNK: 200},
		Checkpoint: Checkpointing{Keep: 3},
	}
}

// WithDefaults returns c with its zero values that have a default filled in:
// the config Run uses.
func (c Config) WithDefaults() Config {
	if c.Model.Model == "" {
		c.Model.Model = "small"
	}
	if c.Recipe.MinScale == 0 {
		c.Recipe.MinScale = 0.08
	}
	if c.Recipe.Temperature == 0 {
		c.Recipe.Temperature = 0.5
	}
	if c.Optimizer.Name == "" {
		c.Optimizer.Name = "sgd"
	}
	if c.Optimizer.LR == 0 {
		c.Optimizer.LR = 0.3
	}
	if c.Optimizer.LRScaling == "" {
		c.Optimizer.LRScaling = "none"
	}
	if c.Schedule.Epochs == 0 {
		c.Schedule.Epochs = 10
	}
	if c.Schedule.Batch == 0 {
		c.Schedule.Batch = 256
	}
	if c.Eval.KNNK == 0 {
		c.Eval.KNNK = 200
	}
	if c.Data.MaxBad == 0 {
		c.Data.MaxBad = pipeline.DefaultBadRecordBudget
	}
	return c
}

// ErrConfig is wrapped by the errors of a Config that cannot run.
var ErrConfig = errors.New("train: bad config")

// ConfigError is a Config setting that cannot run: Field is its path in
// the Config ("Schedule.Batch"), and the message is Field followed by
// Problem ("Schedule.Batch must be >= 2, not 1"), so a command line can
// name its own flag instead. It wraps ErrConfig.
type ConfigError struct {
	Field   string
	Problem string // follows the field: " must be >= 2, not 1", ` "bogus": want sgd, lars or adamw`
}

func (e *ConfigError) Error() string { return "train: bad config: " + e.Field + e.Problem }

// Unwrap returns ErrConfig.
func (e *ConfigError) Unwrap() error { return ErrConfig }

func configError(field, format string, a ...any) error {
	return &ConfigError{Field: field, Problem: fmt.Sprintf(format, a...)}
}

// validate checks what WithDefaults cannot fix.
func (c *Config) validate() error {
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case !finite(c.Optimizer.LR) || c.Optimizer.LR < 0:
		return configError("Optimizer.LR", " %v: want a finite learning rate >= 0", c.Optimizer.LR)
	case !finite(c.Optimizer.Momentum) || c.Optimizer.Momentum < 0:
		return configError("Optimizer.Momentum", " %v: want a finite momentum >= 0", c.Optimizer.Momentum)
	case !finite(c.Optimizer.WeightDecay) || c.Optimizer.WeightDecay < 0:
		return configError("Optimizer.WeightDecay", " %v: want a finite weight decay >= 0", c.Optimizer.WeightDecay)
	case !finite(c.Recipe.Temperature):
		return configError("Recipe.Temperature", " %v: want a finite temperature > 0", c.Recipe.Temperature)
	case !finite(c.Recipe.ColorStrength) || c.Recipe.ColorStrength < 0:
		return configError("Recipe.ColorStrength", " %v: want a finite strength >= 0", c.Recipe.ColorStrength)
	case !finite(c.Schedule.WarmupEpochs):
		return configError("Schedule.WarmupEpochs", " %v: want a finite number of epochs", c.Schedule.WarmupEpochs)
	case math.IsNaN(c.Data.MaxBad) || c.Data.MaxBad > 1:
		return configError("Data.MaxBad", " %v: want a fraction <= 1 (negative: no limit)", c.Data.MaxBad)
	case c.Model.Threads < 0:
		return configError("Model.Threads", " %d is negative", c.Model.Threads)
	case c.Checkpoint.Keep < -1:
		return configError("Checkpoint.Keep", " %d: want >= 1, 0 for the default (3) or -1 for all", c.Checkpoint.Keep)
	case c.Data.Glob == "":
		return configError("Data.Glob", " is empty: no training data")
	case c.Schedule.Batch < 2:
		return configError("Schedule.Batch", " must be >= 2, not %d (NT-Xent needs negatives)", c.Schedule.Batch)
	case c.Schedule.Epochs < 1:
		return configError("Schedule.Epochs", " must be >= 1, not %d", c.Schedule.Epochs)
	case c.Schedule.WarmupEpochs < 0:
		return configError("Schedule.WarmupEpochs", " %v is negative", c.Schedule.WarmupEpochs)
	case c.Data.Size != 0 && c.Data.Size < 16:
		return configError("Data.Size", " %d: the models need a view side of at least 16", c.Data.Size)
	case c.Recipe.MinScale <= 0 || c.Recipe.MinScale > 1:
		return configError("Recipe.MinScale", " %v: want a crop area in (0, 1]", c.Recipe.MinScale)
	case c.Recipe.Temperature < 0:
		return configError("Recipe.Temperature", " %v is negative", c.Recipe.Temperature)
	case c.Checkpoint.Every < 0:
		return configError("Checkpoint.Every", " %d is negative", c.Checkpoint.Every)
	case c.Eval.Every < 0:
		return configError("Eval.Every", " %d is negative", c.Eval.Every)
	case c.Stop.MaxSteps < 0:
		return configError("Stop.MaxSteps", " %d is negative", c.Stop.MaxSteps)
	case c.Stop.Minutes < 0:
		return configError("Stop.Minutes", " %v is negative", c.Stop.Minutes)
	case c.Data.ShuffleBuffer < 0:
		return configError("Data.ShuffleBuffer", " %d is negative", c.Data.ShuffleBuffer)
	case c.Data.Workers < 0:
		return configError("Data.Workers", " %d is negative", c.Data.Workers)
	}
	if err := (eval.KNN{K: c.Eval.KNNK}).Validate(); err != nil {
		return configError("Eval.KNNK", " %d: %v", c.Eval.KNNK, err)
	}
	if _, err := optim.ParseScaling(c.Optimizer.LRScaling); err != nil {
		return configError("Optimizer.LRScaling", " %q: want none, linear or sqrt", c.Optimizer.LRScaling)
	}
	if _, err := c.newOptimizer(); err != nil {
		return err
	}
	return nil
}

// newOptimizer returns the optimizer the config names.
func (c *Config) newOptimizer() (optim.Optimizer, error) {
	o := c.Optimizer
	switch o.Name {
	case "sgd":
		return &optim.SGD{Momentum: o.Momentum, WeightDecay: o.WeightDecay}, nil
	case "lars":
		return &optim.LARS{Momentum: o.Momentum, WeightDecay: o.WeightDecay}, nil
	case "adamw":
		return &optim.AdamW{WeightDecay: o.WeightDecay}, nil
	}
	return nil, configError("Optimizer.Name", " %q: want sgd, lars or adamw", o.Name)
}

// Augmentation returns the views' augmentation: SimCLR's, with the
// recipe's crop scale, colour strength and blur, at side Data.Size.
func (c *Config) Augmentation() augment.Augmentation {
	size, s := c.Data.Size, c.Recipe.ColorStrength
	ops := []augment.Augmentation{
		augment.RandomResizedCrop{Size: size, Scale: [2]float32{float32(c.Recipe.MinScale), 1}, Ratio: [2]float32{3.0 / 4, 4.0 / 3}},
		augment.HorizontalFlip{P: 0.5},
		augment.RandomApply{Aug: augment.ColorJitter{Brightness: 0.8 * s, Contrast: 0.8 * s, Saturation: 0.8 * s, Hue: 0.2 * s}, P: 0.8},
		augment.RandomGrayscale{P: 0.2},
	}
	if c.Recipe.Blur {
		ops = append(ops, augment.RandomApply{Aug: augment.GaussianBlur{Kernel: size/10/2*2 + 1, Sigma: [2]float32{0.1, 2}}, P: 0.5})
	}
	return augment.Chain(ops...)
}
