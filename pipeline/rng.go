package pipeline

import "math/rand/v2"

// RNG returns a random source determined only by seed and keys: the same
// arguments give the same sequence on every platform, Go version that keeps
// math/rand/v2's PCG, and scheduling. Key random choices by what identifies
// them, e.g. RNG(seed, epoch, sampleID, view), never by arrival order.
//
// The state is derived by mixing seed and keys with SplitMix64's finalizer
// (a bijective 64-bit mixer), one round per key, into the two 64-bit words
// of a PCG generator. It allocates the generator; in hot loops keep one
// *rand.PCG and reseed it with SeedPCG instead.
func RNG(seed uint64, keys ...uint64) *rand.Rand {
	pcg := new(rand.PCG)
	SeedPCG(pcg, seed, keys...)
	return rand.New(pcg)
}

// SeedPCG reseeds pcg exactly as RNG would seed a new one. It allocates nothing.
func SeedPCG(pcg *rand.PCG, seed uint64, keys ...uint64) {
	hi, lo := mix(seed^0x6a09e667f3bcc909), mix(seed^0xbb67ae8584caa73b)
	for i, k := range keys {
		hi = mix(hi ^ mix(k+uint64(i)*0x9e3779b97f4a7c15))
		lo = mix(lo + k*0xd1342543de82ef95 + uint64(i))
	}
	pcg.Seed(hi, lo)
}

// mix is SplitMix64's output function.
func mix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
