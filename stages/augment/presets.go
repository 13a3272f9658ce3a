package augment

// SimCLR returns the view recipe of google-research/simclr (Chen et al.,
// 2020) with torchvision semantics for each op:
//
//	RandomResizedCrop(size, area 0.08–1, aspect 3/4–4/3, bilinear)
//	HorizontalFlip(p=0.5)
//	RandomApply(ColorJitter(0.8s, 0.8s, 0.8s, 0.2s), p=0.8)
//	RandomGrayscale(p=0.2)
//	RandomApply(GaussianBlur(kernel 10% of size, odd; σ 0.1–2), p=0.5)   if blur
//
// s is the colour strength (1 for ImageNet; 0.5 for CIFAR). The kernel is
// 2·⌊⌊size/10⌋/2⌋+1 (23 at 224). The result is safe for concurrent use and
// allocates nothing per view in steady state.
func SimCLR(size int, s float64, blur bool) Augmentation {
	ops := []Augmentation{
		RandomResizedCrop{Size: size, Scale: [2]float32{0.08, 1}, Ratio: [2]float32{3.0 / 4, 4.0 / 3}},
		HorizontalFlip{P: 0.5},
		RandomApply{Aug: ColorJitter{Brightness: 0.8 * s, Contrast: 0.8 * s, Saturation: 0.8 * s, Hue: 0.2 * s}, P: 0.8},
		RandomGrayscale{P: 0.2},
	}
	if blur {
		ops = append(ops, RandomApply{Aug: GaussianBlur{Kernel: size/10/2*2 + 1, Sigma: [2]float32{0.1, 2}}, P: 0.5})
	}
	return Chain(ops...)
}

// SimCLRCIFAR is SimCLR's CIFAR-10 variant: colour strength 0.5, no blur.
func SimCLRCIFAR(size int) Augmentation { return SimCLR(size, 0.5, false) }

// TorchvisionBench is the exact per-view recipe of the torchvision pipeline
// that the throughput comparison of docs/benchmarks.md measures: RandomResizedCrop(size, scale 0.08–1), flip p=0.5,
// RandomApply(ColorJitter(0.4, 0.4, 0.4, 0.1), p=0.8), RandomGrayscale(0.2),
// and at size 224 only RandomApply(GaussianBlur(int(0.1·size)//2·2+1, σ
// 0.1–2), p=0.5). ToTensor and Normalize are Tensorize's job (see
// [Normalize]). It equals SimCLR(size, 0.5, size == 224).
func TorchvisionBench(size int) Augmentation { return SimCLR(size, 0.5, size == 224) }
