package sources

import (
	"path/filepath"

	"github.com/contrastream/contrastream/pipeline"
)

// Sample is one image read from a shard, the record type the shard sources
// emit (as *Sample). It is read-only once emitted: several stages may hold it
// at once.
type Sample struct {
	// ID is the stable sample id, SampleID(Shard, Row): the same for every
	// epoch, rank count, worker count and resume.
	ID uint64
	// Shard is the path of the file the sample was read from, as discovered.
	Shard string
	// Row is the row of the sample in its shard (0-based, over all row
	// groups or record batches).
	Row int64
	// Epoch is the epoch (0-based) in which the sample was emitted.
	Epoch int
	// Position is the number of samples this rank emitted in Epoch before
	// this one; Cursor() is the cursor to store after consuming the sample.
	Position int64
	// Label is the integer label, or -1 when the shard has no label column or
	// the value is null.
	Label int
	// Bytes holds the encoded image (PNG or JPEG, as stored). It is nil for a
	// null image; decoding stages report that as a record error. The slice
	// is owned by the sample and never reused by the source.
	Bytes []byte
}

// Cursor returns the cursor that resumes a source just after s: a source
// built with it emits, as its first sample, the sample that followed s.
func (s *Sample) Cursor() Cursor { return Cursor{Epoch: s.Epoch, Position: s.Position + 1} }

// SampleID returns the stable id of row row of the shard at path shard.
// It depends on the base name of the path only (so a dataset may move) and
// is splitmix64(fnv1a64(base name) XOR splitmix64(row)), where splitmix64 is
// the finalizer of Steele, Lea and Flood's SplitMix64 and fnv1a64 is 64-bit
// FNV-1a over the name's bytes. It allocates nothing.
func SampleID(shard string, row int64) uint64 {
	return mix64(fnv1a64(filepath.Base(shard)) ^ mix64(uint64(row)))
}

// fnv1a64 is 64-bit FNV-1a over the bytes of s.
func fnv1a64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// mix64 is the SplitMix64 finalizer: a bijection on uint64 that spreads every
// input bit over every output bit.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Key returns the sample's shard path and row, which name it in record
// errors and dead letters.
func (s *Sample) Key() pipeline.Key { return pipeline.Key{Shard: s.Shard, Row: s.Row} }
