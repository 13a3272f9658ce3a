package image

import "github.com/contrastream/contrastream/stages/image/internal/simd"

// hasVBMI reports whether the AVX-512 colour conversion (internal/simd)
// runs here; useVBMI selects it (tests switch it off to compare with the Go
// loop).
var (
	hasVBMI = simd.Has
	useVBMI = hasVBMI
)
