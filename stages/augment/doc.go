// Package augment makes random views of images for contrastive learning:
// the [Augmentation] interface, composition ([Chain], [RandomApply],
// [RandomOrder]), the ops SimCLR uses ([RandomResizedCrop],
// [HorizontalFlip], [ColorJitter], [RandomGrayscale], [GaussianBlur],
// [Solarize]), [Normalize] for the float conversion, and presets ([SimCLR],
// [SimCLRCIFAR], [TorchvisionBench]).
//
// # Contract
//
// Every op is destination-first: Augment(dst, src, rng) resizes dst (reusing
// its buffer) and writes the view there. Randomness comes only from the
// *rand.Rand handed in, so a caller that seeds it from (seed, epoch, sample,
// view) gets the same bytes on any number of workers. dst and src must not
// share pixels, except for ops that implement [InPlace] (all pointwise ops,
// the blur and the compositions do). One op value is shared by many
// goroutines: ops keep no mutable state; scratch memory comes from
// sync.Pools, so steady-state calls allocate nothing.
//
// # Parity with torchvision
//
// Each random op draws its parameters and then calls a fixed-parameter
// kernel that reproduces torchvision 0.14 on PIL images: [ResizedCrop]
// (PIL's fixed-point, support-scaled bilinear and bicubic resampling),
// [HFlip], [AdjustBrightness], [AdjustContrast], [AdjustSaturation],
// [AdjustHue], [RGBToGrayscale], [Blur] and [SolarizeAt]. The tests compare
// them with golden PNGs written by testdata/make_golden.py; the tolerances
// are documented there (most kernels are bit-exact).
//
// # Speed
//
// The hot kernels (resampling, blur, saturation, hue, the contrast mean)
// have AVX2 versions in kernels_amd64.s, chosen at run time when the CPU
// has AVX2; where it also has AVX-512 F/BW/VBMI, kernels_avx512_amd64.s
// takes over the brightness/contrast tables (VPERMI2B), saturation, hue
// (16 pixels per step with no table lookups: its tables' entries are
// computed in float32, checked entry by entry against the tables),
// grayscale, flip and [Normalizer]. Elsewhere, or with the build tag
// purego, portable Go runs. All paths give the same bytes (the tests and
// FuzzSIMDMatchesPortable compare them). See docs/benchmarks.md for the
// cost of each op next to torchvision.
//
// # Probabilities
//
// In every op with a P field, P is the probability that the op is applied;
// 0 means torchvision's default for that op (documented on the field) and a
// negative P means never.
package augment
