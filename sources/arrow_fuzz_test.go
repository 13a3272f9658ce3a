package sources

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzArrowReader feeds arbitrary bytes to OpenShard and ReadUnit as an
// Arrow IPC file: they must return errors, never panic.
func FuzzArrowReader(f *testing.F) {
	fuzzSeeds(f, true)
	f.Add([]byte("ARROW1\x00\x00ARROW1"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "fuzz.arrow")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		fuzzShard(t, path)
	})
}
