package sources

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"path/filepath"
)

// Fingerprint names the dataset a plan is made from: the first 16 hex
// digits of SHA-256 over every shard's base name and the row count of each
// of its units, in discovery order. Two sources with the same fingerprint
// (and seed, world and shuffle settings) make the same plan, so a cursor
// saved on one resumes the other; a dataset that gained, lost or reordered a
// shard or a row gets another fingerprint. It depends on base names only, so
// a dataset may move (to another folder or a bucket).
func (s *Source) Fingerprint() string {
	h := sha256.New()
	var n [8]byte
	for _, sh := range s.shards {
		name := filepath.Base(sh.Path)
		binary.LittleEndian.PutUint64(n[:], uint64(len(name)))
		h.Write(n[:])
		h.Write([]byte(name))
		binary.LittleEndian.PutUint64(n[:], uint64(sh.NumUnits()))
		h.Write(n[:])
		for u := range sh.NumUnits() {
			binary.LittleEndian.PutUint64(n[:], uint64(sh.UnitRows(u)))
			h.Write(n[:])
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}
