package sources

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// This file is the storage seam: a shard is an Object (an io.ReaderAt and its
// size), opened by a Store from a local path (an *os.File: pread, no copy, no
// request accounting) or from a bucket URL through gocloud.dev/blob, where
// every ReadAt is one ranged GET, retried on transient faults and counted.

// Object is one shard's bytes opened for random access. ReadAt is safe for
// concurrent use; Close releases the handle (remote objects hold none).
type Object interface {
	io.ReaderAt
	Size() int64
	Close() error
}

// Errors a Store wraps (test with errors.Is); messages name the URL.
var (
	// ErrNoDriver: the URL's scheme has no driver in this build.
	ErrNoDriver = errors.New("no storage driver")
	// ErrObjectChanged: an object's size or ETag changed while it was read.
	ErrObjectChanged = errors.New("object changed while being read")
)

// StorageError is a remote read or listing that failed for good: a permanent
// error (not found, permission denied, a changed object) or a transient one
// that outlasted the retries. It names the URL.
type StorageError struct {
	URL      string
	What     string // "not found", "permission denied", "changed", "failed"
	Attempts int
	Err      error
}

func (e *StorageError) Error() string {
	if e.Attempts > 1 {
		return fmt.Sprintf("sources: %s: %s after %d attempts: %v", e.URL, e.What, e.Attempts, e.Err)
	}
	return fmt.Sprintf("sources: %s: %s: %v", e.URL, e.What, e.Err)
}

func (e *StorageError) Unwrap() error { return e.Err }

// Retry is the retry policy of remote reads. Transient faults (HTTP 5xx,
// 429, 408, connection resets, truncated bodies, timeouts) are retried up to
// Attempts times in all, sleeping a random duration in [d/2, d) between
// attempts, with d = Base·2^attempt capped at Max. Permanent errors (403,
// 404, a changed object) and a cancelled context are never retried. The
// zero value means 10 attempts, 50 ms base, 5 s cap, 60 s per request.
type Retry struct {
	Attempts  int
	Base, Max time.Duration
	// Timeout bounds one request (a stalled connection is abandoned and
	// retried).
	Timeout time.Duration
}

func (r Retry) withDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = 10
	}
	if r.Base <= 0 {
		r.Base = 50 * time.Millisecond
	}
	if r.Max <= 0 {
		r.Max = 5 * time.Second
	}
	if r.Timeout <= 0 {
		r.Timeout = 60 * time.Second
	}
	return r
}

func (r Retry) backoff(attempt int) time.Duration {
	d := r.Base << min(attempt, 30)
	if d <= 0 || d > r.Max {
		d = r.Max
	}
	return d/2 + rand.N(d/2+1)
}

// StoreConfig configures a Store. The zero value works: default retries, no
// cache.
type StoreConfig struct {
	Retry Retry
	// CacheDir, if set, keeps the byte ranges read from remote objects (the
	// column chunks of the row groups read, in windows of up to 2 MiB, and
	// the footers) in this folder, evicted least recently used beyond
	// CacheSize bytes (0 means 10 GiB). Several processes may share it.
	// Local files are never cached.
	CacheDir  string
	CacheSize int64
}

// StoreStats counts a Store's remote traffic (local reads are not counted).
type StoreStats struct {
	Requests    int64 `json:"requests"`     // GET / HEAD / LIST requests sent, retries included
	Bytes       int64 `json:"bytes"`        // bytes received from remote objects
	Retries     int64 `json:"retries"`      // requests that failed transiently and were retried
	CacheHits   int64 `json:"cache_hits"`   // reads served from the cache
	CacheMisses int64 `json:"cache_misses"` // cacheable reads that went to the network
	CacheBytes  int64 `json:"cache_bytes"`  // bytes served from the cache
	// Footers counts the shard metadata reads (OpenShard calls), local
	// shards included: the footer of a Parquet file, the footer and
	// record-batch headers of an Arrow IPC file.
	Footers int64 `json:"footers"`
}

// Sub returns s - o, field by field.
func (s StoreStats) Sub(o StoreStats) StoreStats {
	return StoreStats{s.Requests - o.Requests, s.Bytes - o.Bytes, s.Retries - o.Retries,
		s.CacheHits - o.CacheHits, s.CacheMisses - o.CacheMisses, s.CacheBytes - o.CacheBytes, s.Footers - o.Footers}
}

// Store opens shards named by local paths or bucket URLs (s3://, file:// and,
// in builds with -tags gcs / -tags azure, gs:// and azblob://). Credentials,
// regions and endpoints come from each cloud's standard chain and the URL's
// query parameters as gocloud.dev documents them (for S3: AWS_* variables,
// ~/.aws profiles, instance roles; ?region=, ?endpoint=, ?use_path_style=,
// ?disable_https=, ?profile=). It keeps one bucket handle per bucket URL and
// is safe for concurrent use.
type Store struct {
	retry Retry

	transport *http.Transport // of the S3 clients, so that Close can drop idle connections

	mu        sync.Mutex
	buckets   map[string]*blob.Bucket
	cacheDir  string
	cacheSize int64
	cache     *Cache
	cacheErr  error

	requests, bytes, retries          atomic.Int64
	cacheHits, cacheMisses, cacheRead atomic.Int64
	footers                           atomic.Int64
}

// NewStore returns a store; it opens nothing until used.
func NewStore(cfg StoreConfig) *Store {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	return &Store{retry: cfg.Retry.withDefaults(), buckets: map[string]*blob.Bucket{},
		cacheDir: cfg.CacheDir, cacheSize: cfg.CacheSize, transport: tr}
}

var (
	defaultStoreMu sync.Mutex
	defaultStore   *Store
)

// DefaultStore returns the process's shared store, used wherever no Store is
// given (ParquetConfig.Store nil, Discover, OpenShard). It is created on first
// use with the zero StoreConfig; the command-line tool sets its cache from
// --cache and --cache-size.
func DefaultStore() *Store {
	defaultStoreMu.Lock()
	defer defaultStoreMu.Unlock()
	if defaultStore == nil {
		defaultStore = NewStore(StoreConfig{})
	}
	return defaultStore
}

// SetCache sets the cache folder and size (see StoreConfig) before the store's
// first remote read; dir "" turns the cache off. It fails once the cache is
// open.
func (st *Store) SetCache(dir string, size int64) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.cache != nil {
		return errors.New("sources: the store's cache is already open")
	}
	if size < 0 {
		return fmt.Errorf("sources: negative cache size %d", size)
	}
	st.cacheDir, st.cacheSize, st.cacheErr = dir, size, nil
	return nil
}

// Stats returns the store's counters so far.
func (st *Store) Stats() StoreStats {
	return StoreStats{st.requests.Load(), st.bytes.Load(), st.retries.Load(),
		st.cacheHits.Load(), st.cacheMisses.Load(), st.cacheRead.Load(), st.footers.Load()}
}

// Close closes the store's bucket handles and idle connections. The store
// stays usable (it reopens buckets on demand).
func (st *Store) Close() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	defer st.transport.CloseIdleConnections()
	var errs []error
	for k, b := range st.buckets {
		errs = append(errs, b.Close())
		delete(st.buckets, k)
	}
	return errors.Join(errs...)
}

func (st *Store) getCache() (*Cache, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.cacheDir == "" {
		return nil, nil
	}
	if st.cache == nil && st.cacheErr == nil {
		st.cache, st.cacheErr = OpenCache(st.cacheDir, st.cacheSize)
	}
	return st.cache, st.cacheErr
}

// IsURL reports whether name is a URL ("scheme://...") rather than a local
// path.
func IsURL(name string) bool {
	i := strings.Index(name, "://")
	if i <= 0 {
		return false
	}
	for _, c := range name[:i] {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// location is a parsed object URL: the bucket's URL (scheme, host and query;
// for file:// the folder) and the key inside it.
type location struct {
	bucketURL string
	key       string
	display   string // the URL as users wrote it (query included)
}

// parseLocation splits a URL into bucket and key. For file:// the bucket is
// the folder that holds the first path element with a glob character (or the
// object's folder), so listing never walks more than the folder asked for.
func parseLocation(raw string) (location, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return location{}, fmt.Errorf("sources: shard URL %q: %w", raw, err)
	}
	if u.Scheme == "" || (u.Host == "" && u.Scheme != "file") {
		return location{}, fmt.Errorf("sources: shard URL %q: want scheme://bucket/key", raw)
	}
	q := u.RawQuery
	if u.Scheme == "file" {
		p := u.Path
		if p == "" || !strings.HasPrefix(p, "/") {
			return location{}, fmt.Errorf("sources: shard URL %q: file URLs need an absolute path (file:///abs/path)", raw)
		}
		dir := path.Dir(p)
		for i, el := range strings.Split(p, "/") {
			if strings.ContainsAny(el, "*?[") {
				dir = strings.Join(strings.Split(p, "/")[:i], "/")
				break
			}
		}
		if dir == "" {
			dir = "/"
		}
		key := strings.TrimPrefix(strings.TrimPrefix(p, dir), "/")
		bu := (&url.URL{Scheme: "file", Path: dir, RawQuery: q}).String()
		return location{bucketURL: bu, key: key, display: raw}, nil
	}
	bu := (&url.URL{Scheme: u.Scheme, Host: u.Host, RawQuery: q}).String()
	return location{bucketURL: bu, key: strings.TrimPrefix(u.Path, "/"), display: raw}, nil
}

// objectURL returns the URL of key in the bucket at bucketURL. Only "%",
// "?" and "#" are escaped in the key, so that globs and most keys read as
// written.
func objectURL(bucketURL, key string) string {
	u, err := url.Parse(bucketURL)
	if err != nil {
		return bucketURL + "/" + key
	}
	p := "/" + key
	if u.Scheme == "file" {
		p = path.Join("/", u.Path, key)
	}
	out := u.Scheme + "://" + u.Host + strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(p)
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	return out
}

// idName is the part of a shard name that keys its sample ids: the base name
// of the path or of the URL's key (so ids do not depend on endpoints, query
// parameters or where the dataset lives).
func idName(name string) string {
	if IsURL(name) {
		if loc, err := parseLocation(name); err == nil {
			return path.Base(loc.key)
		}
	}
	return filepathBase(name)
}

func (st *Store) bucket(ctx context.Context, bucketURL string) (*blob.Bucket, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if b := st.buckets[bucketURL]; b != nil {
		return b, nil
	}
	u, err := url.Parse(bucketURL)
	if err != nil {
		return nil, err
	}
	open := drivers[u.Scheme]
	if open == nil {
		hint := ""
		switch u.Scheme {
		case "gs":
			hint = " (build with -tags gcs)"
		case "azblob":
			hint = " (build with -tags azure)"
		}
		return nil, fmt.Errorf("sources: %s: scheme %q%s: %w", bucketURL, u.Scheme, hint, ErrNoDriver)
	}
	b, err := open(ctx, st, u)
	if err != nil {
		return nil, fmt.Errorf("sources: open bucket %s: %w", bucketURL, err)
	}
	st.buckets[bucketURL] = b
	return b, nil
}

// driverFunc opens a bucket URL.
type driverFunc func(ctx context.Context, st *Store, u *url.URL) (*blob.Bucket, error)

// drivers is the explicit table of storage drivers; gcsDriver and
// azureDriver are nil unless built with their tags.
var drivers = map[string]driverFunc{
	"s3":     openS3,
	"file":   openFile,
	"gs":     gcsDriver,
	"azblob": azureDriver,
}

// transient reports whether err is worth retrying: an HTTP 5xx, 429 or 408,
// a gocloud ResourceExhausted / DeadlineExceeded / Internal
// code, or a network failure (reset, refused, timeout, a body cut short).
// Anything else (not found, permission denied, a bad configuration) fails
// at once.
func transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, ErrObjectChanged) {
		return false
	}
	// An error without an HTTP answer (the AWS SDK reports status 0 when
	// the connection was reset before a response) is judged by what failed
	// below.
	var hs interface{ HTTPStatusCode() int }
	if errors.As(err, &hs) && hs.HTTPStatusCode() != 0 {
		c := hs.HTTPStatusCode()
		return c >= 500 || c == 429 || c == 408
	}
	switch gcerrors.Code(err) {
	case gcerrors.ResourceExhausted, gcerrors.DeadlineExceeded, gcerrors.Internal:
		return true
	case gcerrors.NotFound, gcerrors.PermissionDenied, gcerrors.InvalidArgument,
		gcerrors.FailedPrecondition, gcerrors.Unimplemented, gcerrors.AlreadyExists, gcerrors.Canceled:
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "send request failed")
}

// do runs req with the store's retry policy; what names the request in the
// error.
func (st *Store) do(ctx context.Context, what string, req func(ctx context.Context) error) error {
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		st.requests.Add(1)
		rctx, cancel := context.WithTimeout(ctx, st.retry.Timeout)
		err := req(rctx)
		timedOut := rctx.Err() != nil && ctx.Err() == nil
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !timedOut && !transient(ctx, err) {
			return &StorageError{URL: stripQuery(what), What: describeCode(err), Attempts: attempt + 1, Err: err}
		}
		if attempt+1 >= st.retry.Attempts {
			return &StorageError{URL: stripQuery(what), What: "failed", Attempts: attempt + 1, Err: err}
		}
		st.retries.Add(1)
		t := time.NewTimer(st.retry.backoff(attempt))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

func describeCode(err error) string {
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		return "not found"
	case gcerrors.PermissionDenied:
		return "permission denied"
	}
	if errors.Is(err, ErrObjectChanged) {
		return "changed"
	}
	return "failed"
}

// Open opens the object named by a local path or a URL. For a URL it makes
// one request (its attributes: size and ETag).
func (st *Store) Open(ctx context.Context, name string) (Object, error) {
	if !IsURL(name) {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("sources: shard %w", err)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("sources: shard %w", err)
		}
		if fi.IsDir() {
			f.Close()
			return nil, fmt.Errorf("sources: shard %s is a directory: %w", name, ErrNotShard)
		}
		return localObject{f, fi.Size()}, nil
	}
	loc, err := parseLocation(name)
	if err != nil {
		return nil, err
	}
	b, err := st.bucket(ctx, loc.bucketURL)
	if err != nil {
		return nil, err
	}
	o := &remoteObject{st: st, b: b, loc: loc, ctx: ctx}
	err = st.do(ctx, loc.display, func(ctx context.Context) error {
		a, err := b.Attributes(ctx, loc.key)
		if err != nil {
			return err
		}
		o.size, o.etag = a.Size, a.ETag
		return nil
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

// reopen returns an object for a shard opened before (its size and ETag
// known) without a request; ctx bounds its reads.
func (st *Store) reopen(ctx context.Context, name string, size int64, etag string) (Object, error) {
	if !IsURL(name) {
		return st.Open(ctx, name)
	}
	loc, err := parseLocation(name)
	if err != nil {
		return nil, err
	}
	b, err := st.bucket(ctx, loc.bucketURL)
	if err != nil {
		return nil, err
	}
	return &remoteObject{st: st, b: b, loc: loc, ctx: ctx, size: size, etag: etag}, nil
}

type localObject struct {
	*os.File
	size int64
}

func (o localObject) Size() int64 { return o.size }

// remoteObject reads an object by ranged GETs.
type remoteObject struct {
	st   *Store
	b    *blob.Bucket
	loc  location
	ctx  context.Context
	size int64
	etag string
}

func (o *remoteObject) Size() int64  { return o.size }
func (o *remoteObject) Close() error { return nil }

// ReadAt reads len(p) bytes at off with one ranged GET (or from the cache),
// retrying transient faults.
func (o *remoteObject) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("sources: %s: negative offset %d", o.loc.display, off)
	}
	if off >= o.size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), o.size-off))
	var short error
	if n < len(p) {
		short = io.EOF
	}
	if n == 0 {
		return 0, short
	}
	cache, err := o.st.getCache()
	if err != nil {
		return 0, err
	}
	var key string
	if cache != nil {
		key = cacheKey(o.loc, o.size, o.etag, off, n)
		if cache.get(key, p[:n]) {
			o.st.cacheHits.Add(1)
			o.st.cacheRead.Add(int64(n))
			return n, short
		}
		o.st.cacheMisses.Add(1)
	}
	err = o.st.do(o.ctx, o.loc.display, func(ctx context.Context) error {
		r, err := o.b.NewRangeReader(ctx, o.loc.key, off, int64(n), nil)
		if err != nil {
			return err
		}
		defer r.Close()
		if r.Size() != o.size {
			return fmt.Errorf("size %d, was %d when opened: %w", r.Size(), o.size, ErrObjectChanged)
		}
		got, err := io.ReadFull(r, p[:n])
		o.st.bytes.Add(int64(got))
		return err
	})
	if err != nil {
		return 0, err
	}
	if cache != nil {
		cache.put(key, p[:n]) // best effort: a full disk only costs the hit
	}
	return n, short
}

// Discover expands spec into a sorted list of shards without duplicates.
// spec is a comma-separated list whose items are each a local glob
// (filepath.Match syntax, no "**"), a local directory (meaning every
// *.parquet and *.arrow file directly inside it), a local file, or a bucket
// URL: an object, a "folder" (a key prefix: every *.parquet and *.arrow
// object directly under it) or a glob in the key's path elements
// (s3://bucket/imagenet/train-*.parquet; "*" does not cross "/"). Remote
// items are listed with the default store. An item that matches nothing is
// an error wrapping ErrNoFiles (or the os error for a missing file), naming
// the item.
func Discover(spec string) ([]string, error) {
	return DefaultStore().Discover(context.Background(), spec)
}

// Discover is the package-level Discover with this store and ctx.
func (st *Store) Discover(ctx context.Context, spec string) ([]string, error) {
	var out []string
	items := 0
	for item := range strings.SplitSeq(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		items++
		var got []string
		var err error
		if IsURL(item) {
			got, err = st.list(ctx, item)
		} else {
			got, err = discoverOne(item)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	if items == 0 {
		return nil, fmt.Errorf("sources: empty shard list %q: %w", spec, ErrNoFiles)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// list expands one URL item.
func (st *Store) list(ctx context.Context, item string) ([]string, error) {
	loc, err := parseLocation(item)
	if err != nil {
		return nil, err
	}
	b, err := st.bucket(ctx, loc.bucketURL)
	if err != nil {
		return nil, err
	}
	pattern := loc.key
	glob := strings.ContainsAny(pattern, "*?[")
	if glob {
		if _, err := path.Match(pattern, ""); err != nil {
			return nil, fmt.Errorf("sources: glob %q: %w", item, err)
		}
	}
	prefix := pattern
	if i := strings.IndexAny(pattern, "*?["); i >= 0 {
		prefix = pattern[:i]
	}
	var keys []string
	listed := func(prefix string, match func(key string) bool) error {
		return st.do(ctx, item, func(ctx context.Context) error {
			keys = keys[:0]
			it := b.List(&blob.ListOptions{Prefix: prefix})
			for {
				obj, err := it.Next(ctx)
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
				if !obj.IsDir && match(obj.Key) {
					keys = append(keys, obj.Key)
				}
			}
		})
	}
	shardExt := func(key string) bool {
		ext := strings.ToLower(path.Ext(key))
		return ext == ".parquet" || ext == ".arrow"
	}
	switch {
	case glob:
		err = listed(prefix, func(key string) bool { ok, _ := path.Match(pattern, key); return ok })
		if err == nil && len(keys) == 0 {
			return nil, fmt.Errorf("sources: glob %q matched no objects: %w", item, ErrNoFiles)
		}
	default:
		// An object, or a folder of shards.
		err = listed(pattern, func(key string) bool {
			if key == pattern {
				return true
			}
			dir := strings.TrimSuffix(pattern, "/") + "/"
			return strings.HasPrefix(key, dir) && !strings.Contains(key[len(dir):], "/") && shardExt(key)
		})
		if err == nil && slices.Contains(keys, pattern) {
			keys = []string{pattern}
		}
		if err == nil && len(keys) == 0 {
			return nil, fmt.Errorf("sources: %s: no such object, nor *.parquet / *.arrow objects under it: %w", item, ErrNoFiles)
		}
	}
	if err != nil {
		return nil, err
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = objectURL(loc.bucketURL, k)
	}
	return out, nil
}

// Upload writes size bytes of src as the object name (a URL), replacing it:
// the object appears whole when the upload completes, or not at all (a
// failed or cancelled upload is aborted). Transient faults retry the whole
// upload, which is why src is an io.ReaderAt (a finished local file).
func (st *Store) Upload(ctx context.Context, name string, src io.ReaderAt, size int64, contentType string) error {
	loc, err := parseLocation(name)
	if err != nil {
		return err
	}
	b, err := st.bucket(ctx, loc.bucketURL)
	if err != nil {
		return err
	}
	return st.do(ctx, loc.display, func(ctx context.Context) error {
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		w, err := b.NewWriter(wctx, loc.key, &blob.WriterOptions{ContentType: contentType})
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, io.NewSectionReader(src, 0, size)); err != nil {
			cancel() // aborts the upload: Close after a cancel leaves no object
			w.Close()
			return err
		}
		return w.Close()
	})
}

// Delete removes the object name (a URL); a missing object is no error.
func (st *Store) Delete(ctx context.Context, name string) error {
	loc, err := parseLocation(name)
	if err != nil {
		return err
	}
	b, err := st.bucket(ctx, loc.bucketURL)
	if err != nil {
		return err
	}
	err = st.do(ctx, loc.display, func(ctx context.Context) error { return b.Delete(ctx, loc.key) })
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil
	}
	return err
}

// ObjectURL returns the URL of the object named key (a relative path) under
// the folder URL dir, keeping dir's query parameters.
func ObjectURL(dir, key string) (string, error) {
	u, err := url.Parse(dir)
	if err != nil {
		return "", fmt.Errorf("sources: URL %q: %w", dir, err)
	}
	if u.Scheme == "file" {
		u.Path = path.Join(u.Path, key)
		if !strings.HasPrefix(u.Path, "/") {
			return "", fmt.Errorf("sources: %q: file URLs need an absolute path (file:///abs/path)", dir)
		}
		return objectURL((&url.URL{Scheme: "file", RawQuery: u.RawQuery}).String(), strings.TrimPrefix(u.Path, "/")), nil
	}
	k := strings.Trim(path.Join(u.Path, key), "/")
	return objectURL((&url.URL{Scheme: u.Scheme, Host: u.Host, RawQuery: u.RawQuery}).String(), k), nil
}
