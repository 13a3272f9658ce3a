package stages

import (
	"fmt"
	"math"
	"runtime"
	"strconv"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages/augment"
	"github.com/contrastream/contrastream/stages/image"
)

// ViewPipeline is the view-making half of a training pipeline:
// decode → views → tensorize, with decode and views run on Workers
// goroutines each, in input order, so batches are bit-identical for any
// worker count. `train`, `bench` and `stream` all build their batches with
// it (NewViewStream adds the source in front).
type ViewPipeline struct {
	Decode    *Decode    // nil means &Decode{Channels: 3}
	Views     *Views     // required
	Tensorize *Tensorize // required
	// Workers for decode and for views (default GOMAXPROCS). Each stage gets
	// this many goroutines; they take turns on the cores.
	Workers int
}

// Add appends the stages ("decode", "views", "tensorize") to p after rows
// and returns the stream of batches. Release every batch once done with it.
func (v ViewPipeline) Add(p *pipeline.Pipeline, rows pipeline.Stream[*sources.Sample]) pipeline.Stream[*Batch] {
	w := v.Workers
	if w <= 0 {
		w = runtime.GOMAXPROCS(0)
	}
	dec := v.Decode
	if dec == nil {
		dec = &Decode{Channels: 3}
	}
	imgs := pipeline.Apply(p, "decode", rows, dec, pipeline.Workers(w), pipeline.Ordered())
	views := pipeline.Apply(p, "views", imgs, v.Views, pipeline.Workers(w), pipeline.Ordered())
	return pipeline.Apply(p, "tensorize", views, v.Tensorize)
}

// Recipe names a view recipe and its settings, as the command line's recipe
// flags give them. The zero value (with Size) is the SimCLR recipe of
// shared/bench/aug_bench.py: colour strength 0.5, crop area 0.08–1, blur at
// 224 px and above.
type Recipe struct {
	// Name is "simclr" (the default, see augment.SimCLR); it is the only one.
	Name string
	// Size is the view side in pixels (required).
	Size int
	// MinScale is the smallest crop area of RandomResizedCrop (0: 0.08).
	MinScale float64
	// ColorStrength is SimCLR's colour-jitter strength s (0: 0.5).
	ColorStrength float64
	// Blur is "auto" or "" (Gaussian blur p=0.5 at 224 px and above), "on"
	// or "off".
	Blur string
}

// RecipeError is a Recipe setting that is wrong: Setting is its field
// (Name, MinScale, ColorStrength or Blur), Value the value as given, Want
// what is accepted; a command line says it in terms of its flag.
type RecipeError struct {
	Setting, Value, Want string
}

var recipeSettingWords = map[string]string{"Name": "", "MinScale": " min scale", "ColorStrength": " colour strength", "Blur": " blur"}

func (e *RecipeError) Error() string {
	return fmt.Sprintf("stages: recipe%s %s: %s", recipeSettingWords[e.Setting], e.Value, e.Want)
}

// resolved returns r with its defaults filled in, or an error naming the
// setting that is wrong (a *RecipeError, or CheckViewSide's).
func (r Recipe) resolved() (Recipe, error) {
	if r.Name == "" {
		r.Name = "simclr"
	}
	if r.MinScale == 0 {
		r.MinScale = 0.08
	}
	if r.ColorStrength == 0 {
		r.ColorStrength = 0.5
	}
	switch r.Blur {
	case "", "auto":
		r.Blur = "off"
		if r.Size >= 224 {
			r.Blur = "on"
		}
	case "on", "off":
	default:
		return r, &RecipeError{"Blur", fmt.Sprintf("%q", r.Blur), "want auto, on or off"}
	}
	switch {
	case r.Name != "simclr":
		return r, &RecipeError{"Name", fmt.Sprintf("%q", r.Name), "the recipes are: simclr"}
	case r.Size < 1 || r.Size > MaxViewSide:
		return r, CheckViewSide("recipe size", r.Size)
	case r.MinScale <= 0 || r.MinScale > 1:
		return r, &RecipeError{"MinScale", fmt.Sprint(r.MinScale), "want 0 < s <= 1"}
	case r.ColorStrength < 0:
		return r, &RecipeError{"ColorStrength", fmt.Sprint(r.ColorStrength), "want >= 0"}
	}
	return r, nil
}

// Augmentation returns the recipe's augmentation (safe for concurrent use).
func (r Recipe) Augmentation() (augment.Augmentation, error) {
	r, err := r.resolved()
	if err != nil {
		return nil, err
	}
	s := r.ColorStrength
	ops := []augment.Augmentation{
		augment.RandomResizedCrop{Size: r.Size, Scale: [2]float32{float32(r.MinScale), 1}, Ratio: [2]float32{3.0 / 4, 4.0 / 3}},
		augment.HorizontalFlip{P: 0.5},
		augment.RandomApply{Aug: augment.ColorJitter{Brightness: 0.8 * s, Contrast: 0.8 * s, Saturation: 0.8 * s, Hue: 0.2 * s}, P: 0.8},
		augment.RandomGrayscale{P: 0.2},
	}
	if r.Blur == "on" {
		ops = append(ops, augment.RandomApply{Aug: augment.GaussianBlur{Kernel: r.Size/10/2*2 + 1, Sigma: [2]float32{0.1, 2}}, P: 0.5})
	}
	return augment.Chain(ops...), nil
}

// String returns the recipe with its defaults filled in, in one canonical
// form ("simclr size=96 min_scale=0.08 color_strength=0.5 blur=off"): two
// recipes with the same string make the same views.
func (r Recipe) String() string {
	if rr, err := r.resolved(); err == nil {
		r = rr
	}
	return r.Name + " size=" + strconv.Itoa(r.Size) +
		" min_scale=" + strconv.FormatFloat(r.MinScale, 'g', -1, 64) +
		" color_strength=" + strconv.FormatFloat(r.ColorStrength, 'g', -1, 64) +
		" blur=" + r.Blur
}

// Output chooses what a view stream's batches hold.
type Output int

// The outputs of a view stream.
const (
	// Float32 batches: one normalized float32 [B,C,H,W] tensor per view.
	Float32 Output = iota
	// Uint8 batches: one uint8 [B,H,W,C] tensor per view.
	Uint8
	// Packed batches: all views in one uint8 [B,V,H,W,C] array
	// (Batch.Pixels), what `contrastream stream` sends.
	Packed
	// PackedFloat32 batches: all views normalized in one float32
	// [B,V,C,H,W] array, as bytes in Batch.Pixels (Tensorize.PackedFloat):
	// what `contrastream stream --float32` puts in shared memory.
	PackedFloat32
)

// ViewStreamConfig configures a view stream: one rank's shards, read from a
// cursor, made into batches of views.
type ViewStreamConfig struct {
	// Source selects the shards, the rank and world, the seed (which keys
	// the views too), the cursor to start from and the epochs to emit.
	Source sources.ParquetConfig
	// Recipe makes the views unless Aug is set; its Size is the view side.
	Recipe Recipe
	// Aug, if set, makes every view instead of Recipe (Recipe.Size must
	// still give the view side for the stream's description).
	Aug augment.Augmentation
	// Views per image (0: 2); Batch samples per batch (required).
	Views, Batch int
	// Channels of the decoded images: 3 (the default) or 1.
	Channels int
	// Backend is the JPEG decoder.
	Backend image.Backend
	// FullDecode decodes every pixel of every image. By default the Decode
	// stage gets the Views stage's crop boxes (Decode.Crops = Views.Crops)
	// and the pure-Go JPEG decoder reconstructs only what the crops read:
	// the same views, less work. FullDecode is there to measure the gain.
	FullDecode bool
	// Workers for decode and for views (0: GOMAXPROCS).
	Workers int
	// Output is what the batches hold (default Float32).
	Output Output
	// Normalize is the per-channel mean and std of the float32 outputs
	// (Float32, PackedFloat32): (v/255 − mean)/std. The zero value means
	// ImageNet's (augment.ImageNetMean, augment.ImageNetStd); a Mean
	// without a Std is refused, as is a Std that is not > 0 or a value
	// that is not finite. Gray views (Channels 1) use channel 0. The uint8
	// outputs ignore it.
	Normalize augment.Normalize
	// DropLast drops each epoch's partial last batch, so every rank emits
	// BatchesPerEpoch batches per epoch (unless records fail).
	DropLast bool
	// InFlight batch buffers (0: 4; see Tensorize).
	InFlight int
	// PackedBuffer, with Output Packed, supplies the batches' pixel arrays
	// (see Tensorize.PackedBuffer): sinks.Stream's shared-memory ring.
	PackedBuffer func(i int) []uint8
}

// ViewStream is a source with its view pipeline, built by NewViewStream.
type ViewStream struct {
	// Source is the opened source (its plan, shards and fingerprint).
	Source *sources.Source
	// Pipeline is the view pipeline behind it.
	Pipeline ViewPipeline

	cfg ViewStreamConfig
}

// NewViewStream validates cfg, opens the shards (metadata only) and builds
// the view pipeline. Nothing runs until Add's pipeline runs.
func NewViewStream(cfg ViewStreamConfig) (*ViewStream, error) {
	if cfg.Views == 0 {
		cfg.Views = 2
	}
	if cfg.Channels == 0 {
		cfg.Channels = 3
	}
	if cfg.Workers == 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	switch {
	case cfg.Views < 1:
		return nil, fmt.Errorf("stages: view stream: %d views per image: want >= 1", cfg.Views)
	case cfg.Batch < 1:
		return nil, fmt.Errorf("stages: view stream: batch of %d: want >= 1", cfg.Batch)
	case cfg.Channels != 1 && cfg.Channels != 3:
		return nil, fmt.Errorf("stages: view stream: %d channels: want 1 or 3", cfg.Channels)
	case cfg.Workers < 1:
		return nil, fmt.Errorf("stages: view stream: %d workers: want >= 1", cfg.Workers)
	case cfg.Output < Float32 || cfg.Output > PackedFloat32:
		return nil, fmt.Errorf("stages: view stream: unknown output %d", cfg.Output)
	}
	if err := checkNormalize(cfg.Normalize); err != nil {
		return nil, err
	}
	rec, err := cfg.Recipe.resolved()
	if err != nil {
		return nil, err
	}
	cfg.Recipe = rec
	aug := cfg.Aug
	if aug == nil {
		if aug, err = rec.Augmentation(); err != nil {
			return nil, err
		}
	}
	src, err := sources.NewSource(cfg.Source)
	if err != nil {
		return nil, err
	}
	s := &ViewStream{Source: src, cfg: cfg}
	views := &Views{N: cfg.Views, Aug: aug, Seed: cfg.Source.Seed}
	dec := &Decode{Channels: cfg.Channels, Backend: cfg.Backend}
	if !cfg.FullDecode {
		// Views is the decoded images' only consumer (ViewPipeline.Add).
		dec.Crops = views.Crops
	}
	s.Pipeline = ViewPipeline{
		Decode: dec,
		Views:  views,
		Tensorize: &Tensorize{BatchSize: cfg.Batch, DropLast: cfg.DropLast, InFlight: cfg.InFlight,
			Uint8: cfg.Output == Uint8, Packed: cfg.Output == Packed || cfg.Output == PackedFloat32,
			PackedFloat: cfg.Output == PackedFloat32, PackedBuffer: cfg.PackedBuffer, Normalize: cfg.Normalize},
		Workers: cfg.Workers,
	}
	// The batches in flight, refused before anything is allocated when
	// they would not fit (Tensorize checks again at its first batch).
	shapes := make([][3]int, cfg.Views)
	for v := range shapes {
		shapes[v] = [3]int{cfg.Channels, rec.Size, rec.Size}
	}
	if err := s.Pipeline.Tensorize.CheckMemory(shapes); err != nil {
		return nil, err
	}
	return s, nil
}

// checkNormalize refuses statistics that would not normalize: a Std not > 0
// or not finite, a Mean not finite, or a Mean given without a Std (a zero
// Std means ImageNet's mean and std, so the Mean would be ignored).
func checkNormalize(n augment.Normalize) error {
	if n.Std == ([3]float32{}) {
		if n.Mean != ([3]float32{}) {
			return fmt.Errorf("stages: view stream: normalize mean %v without a std (a zero std means ImageNet's mean and std)", n.Mean)
		}
		return nil
	}
	for c := range 3 {
		if m := float64(n.Mean[c]); math.IsNaN(m) || math.IsInf(m, 0) {
			return fmt.Errorf("stages: view stream: normalize mean %v: want finite numbers", n.Mean)
		}
		if s := float64(n.Std[c]); !(s > 0) || math.IsInf(s, 0) {
			return fmt.Errorf("stages: view stream: normalize std %v: want finite numbers > 0", n.Std)
		}
	}
	return nil
}

// Config returns the configuration with its defaults filled in.
func (s *ViewStream) Config() ViewStreamConfig { return s.cfg }

// BatchesPerEpoch is the number of full batches every rank's epoch holds
// (⌊Plan.EpochSize / Batch⌋): with DropLast and no failed record, what each
// rank emits per epoch.
func (s *ViewStream) BatchesPerEpoch() int { return int(s.Source.Plan().EpochSize()) / s.cfg.Batch }

// Add adds the source stage (named by Source.Name, default "parquet") and
// the view pipeline to p and returns the batches. Release each batch once
// done with it.
func (s *ViewStream) Add(p *pipeline.Pipeline) pipeline.Stream[*Batch] {
	name := s.cfg.Source.Name
	if name == "" {
		name = "parquet"
	}
	rows := pipeline.Source[*sources.Sample](p, name, s.Source)
	return s.Pipeline.Add(p, rows)
}
