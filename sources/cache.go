package sources

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultCacheSize is the cache size when none is given: 10 GiB.
const DefaultCacheSize = 10 << 30

// Cache keeps byte ranges of remote objects in a local folder: one file per
// range, named by a hash of (object URL without its query, size, ETag,
// offset, length), holding the bytes and a trailer (CRC-32C and length).
//
// A range is filled atomically: written to a temporary file in the folder,
// then renamed into place, so a reader sees a whole entry or none; an entry
// whose trailer does not match (a crash before the data reached the disk)
// is removed and read again from the network. Hits refresh the file's
// modification time, and eviction removes the least recently used entries
// until the folder holds at most the size, under an exclusive flock of the
// folder's lock file, so several processes (ranks on one node) can share a
// cache: an entry evicted while another process reads it stays readable
// through that process's open descriptor. Its methods are safe for
// concurrent use.
type Cache struct {
	dir  string
	max  int64
	lock *os.File

	mu      sync.Mutex
	written int64 // bytes put since the last eviction scan
	used    int64 // folder size at the last scan
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const cacheTrailer = 12 // crc32c (4) + length (8)

// OpenCache opens (creating it if needed) the cache folder dir holding at
// most size bytes (0 means DefaultCacheSize).
func OpenCache(dir string, size int64) (*Cache, error) {
	if size == 0 {
		size = DefaultCacheSize
	}
	if size < 0 {
		return nil, fmt.Errorf("sources: cache %s: negative size %d", dir, size)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sources: cache: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("sources: cache: %w", err)
	}
	c := &Cache{dir: dir, max: size, lock: lock}
	c.mu.Lock()
	c.used = -1
	c.mu.Unlock()
	return c, nil
}

// Dir returns the cache folder.
func (c *Cache) Dir() string { return c.dir }

func cacheKey(loc location, size int64, etag string, off int64, n int) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%s\x00%d\x00%d", objectURL(stripQuery(loc.bucketURL), loc.key), size, etag, off, n)
	return hex.EncodeToString(h.Sum(nil)[:20])
}

func stripQuery(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

func (c *Cache) path(key string) string { return filepath.Join(c.dir, key[:2], key) }

// get fills dst with the entry key and reports whether it was there whole.
func (c *Cache) get(key string, dst []byte) bool {
	p := c.path(key)
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	var tr [cacheTrailer]byte
	if n, _ := f.ReadAt(dst, 0); n != len(dst) {
		os.Remove(p)
		return false
	}
	if n, _ := f.ReadAt(tr[:], int64(len(dst))); n != cacheTrailer ||
		binary.LittleEndian.Uint64(tr[4:]) != uint64(len(dst)) ||
		binary.LittleEndian.Uint32(tr[:4]) != crc32.Checksum(dst, castagnoli) {
		os.Remove(p)
		return false
	}
	now := time.Now()
	_ = os.Chtimes(p, now, now) // LRU clock
	return true
}

// put stores data as entry key (best effort: errors leave no entry).
func (c *Cache) put(key string, data []byte) error {
	p := c.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".fill-*")
	if err != nil {
		return err
	}
	var tr [cacheTrailer]byte
	binary.LittleEndian.PutUint32(tr[:4], crc32.Checksum(data, castagnoli))
	binary.LittleEndian.PutUint64(tr[4:], uint64(len(data)))
	_, err = tmp.Write(data)
	if err == nil {
		_, err = tmp.Write(tr[:])
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return err
	}
	c.mu.Lock()
	c.written += int64(len(data) + cacheTrailer)
	scan := c.used < 0 || c.used+c.written > c.max || c.written > c.max/16
	c.mu.Unlock()
	if scan {
		return c.evict()
	}
	return nil
}

// evict removes least recently used entries until the folder holds at most
// the cache size, holding the folder's lock so that processes sharing it do
// not race.
func (c *Cache) evict() error {
	if err := syscall.Flock(int(c.lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer syscall.Flock(int(c.lock.Fd()), syscall.LOCK_UN)
	type entry struct {
		path  string
		size  int64
		mtime time.Time
	}
	var entries []entry
	var total int64
	subs, err := os.ReadDir(c.dir)
	if err != nil {
		return err
	}
	for _, s := range subs {
		if !s.IsDir() {
			continue
		}
		files, _ := os.ReadDir(filepath.Join(c.dir, s.Name()))
		for _, f := range files {
			info, err := f.Info()
			if err != nil || !info.Mode().IsRegular() {
				continue
			}
			p := filepath.Join(c.dir, s.Name(), f.Name())
			if strings.HasPrefix(f.Name(), ".fill-") {
				// A fill older than an hour was left by a killed process.
				if time.Since(info.ModTime()) > time.Hour {
					os.Remove(p)
				}
				continue
			}
			entries = append(entries, entry{p, info.Size(), info.ModTime()})
			total += info.Size()
		}
	}
	slices.SortFunc(entries, func(a, b entry) int { return a.mtime.Compare(b.mtime) })
	var errs []error
	for _, e := range entries {
		if total <= c.max {
			break
		}
		if err := os.Remove(e.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		total -= e.size
	}
	c.mu.Lock()
	c.used, c.written = total, 0
	c.mu.Unlock()
	return errors.Join(errs...)
}

// Usage returns the bytes the cache folder holds (a scan).
func (c *Cache) Usage() (int64, error) {
	var total int64
	err := filepath.WalkDir(c.dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && d.Name() != ".lock" && !strings.HasPrefix(d.Name(), ".fill-") {
			info, err := d.Info()
			if err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return total, err
}
