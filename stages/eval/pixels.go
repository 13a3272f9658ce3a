package eval

import "github.com/contrastream/contrastream/stages/augment"

// PixelFeatures returns the raw-pixel baseline's features of set: each
// image's samples normalized as Encode normalizes them (norm; the zero value
// means ImageNet statistics, Normalize{Std: [3]float32{1, 1, 1}} gives plain
// v/255) and flattened in CHW order, [N, C·Side·Side] row-major. kNN on
// these is the "no learning at all" reference. It allocates the features.
func PixelFeatures(set *Labeled, norm augment.Normalize) (feats []float32, dim int) {
	s, c := set.Side, set.C
	plane := s * s
	dim = c * plane
	z := norm.Normalizer()
	feats = make([]float32, set.Len()*dim)
	for i := 0; i < set.Len(); i++ {
		if err := z.Planes(feats[i*dim:(i+1)*dim], set.image(i)); err != nil {
			panic(err) // the set's images are valid by construction
		}
	}
	return feats, dim
}
