package pipeline_test

// rngGolden is RNG(1, 2, 3).Uint64(), computed once; it must never change.
const rngGolden uint64 = 0xbe8f288c026e56bb
