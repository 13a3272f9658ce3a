package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/contrastream/contrastream/sources"
)

// cacheFlags are --cache and --cache-size, on every command: they set the
// cache of sources.DefaultStore(), which reads bucket URLs.
var cacheFlags struct {
	dir  string
	size int64
}

func registerCacheFlags(fs *flag.FlagSet) {
	fs.Func("cache", "local `folder` keeping the byte ranges read from bucket URLs (row groups' column chunks), so that epoch 2 reads the disk; ranks on one node may share it (default: no cache)", func(v string) error {
		cacheFlags.dir = v
		return sources.DefaultStore().SetCache(v, cacheFlags.size)
	})
	fs.Func("cache-size", "most `bytes` --cache keeps, least recently used evicted first: 500MB, 50GiB, ... (default 10GiB)", func(v string) error {
		n, err := parseBytes(v)
		if err != nil {
			return err
		}
		cacheFlags.size = n
		return sources.DefaultStore().SetCache(cacheFlags.dir, n)
	})
}

// parseBytes reads a byte count with an optional unit: B, KB, MB, GB, TB
// (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024).
func parseBytes(v string) (int64, error) {
	s := strings.TrimSpace(v)
	units := []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(s), strings.ToUpper(u.suffix)) && (len(u.suffix) == 3 || !strings.HasSuffix(strings.ToUpper(s), "IB")) {
			s, mult = strings.TrimSpace(s[:len(s)-len(u.suffix)]), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || f*mult > 1<<62 {
		return 0, fmt.Errorf("%q: want a positive size such as 500MB or 50GiB", v)
	}
	return int64(f * mult), nil
}
