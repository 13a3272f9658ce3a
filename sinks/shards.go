package sinks

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/metadata"
	"github.com/apache/arrow/go/v15/parquet/schema"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/sources"
)

// Defaults of ShardsConfig.
const (
	DefaultShardPrefix   = "shard"
	DefaultShardBytes    = 512 << 20 // 512 MiB of encoded images per shard
	DefaultRowGroupRows  = 1000
	DefaultRowGroupBytes = 64 << 20 // 64 MiB of encoded images per row group
)

// ImageRow is one row of an image shard: the encoded image (PNG or JPEG
// bytes, stored as they are), its class index (negative: no label, stored as
// null) and an optional path ("" is stored as null), the file name the image
// came from, as Hugging Face datasets keeps it.
type ImageRow struct {
	Image []byte
	Label int
	Path  string
}

// ShardsConfig configures a shard writer. Every zero field has a working
// default, except Dir.
type ShardsConfig struct {
	// Dir is the folder the shards are written to; it is created if needed.
	// It may be a bucket URL (s3://bucket/prefix, file:///abs/dir, ...; see
	// sources.Store): each shard is then written to a local temporary file
	// (in TempDir) and uploaded when complete, so that an object appears
	// whole or not at all.
	Dir string
	// TempDir holds the shard being written when Dir is a URL; "" means
	// os.TempDir(). It needs room for one shard (MaxBytes).
	TempDir string
	// Store uploads to a bucket Dir; nil means sources.DefaultStore().
	Store *sources.Store
	// Prefix names the shards: Prefix-00000.parquet, Prefix-00001.parquet...
	// Default "shard".
	Prefix string
	// MaxRows starts a new shard after this many rows; 0 means no row limit.
	MaxRows int64
	// MaxBytes starts a new shard before a row would take the shard's encoded
	// image bytes past it (a shard holds at least one row). The figure counts
	// the image bytes written, which zstd barely shrinks for PNG and JPEG, so
	// the files come out slightly smaller. 0 means DefaultShardBytes (512
	// MiB); negative means no byte limit.
	MaxBytes int64
	// RowGroupRows and RowGroupBytes close a row group after this many rows
	// or image bytes, whichever comes first. Readers take a row group as their
	// unit of work and of read-ahead, so a row group should hold enough rows
	// for one batch yet stay small in memory. Defaults 1,000 rows and 64 MiB.
	RowGroupRows  int
	RowGroupBytes int64
	// Labels adds a nullable int64 "label" column. ClassNames, if set, names
	// the classes (label i is ClassNames[i]) in the Hugging Face ClassLabel
	// feature and implies Labels.
	Labels     bool
	ClassNames []string
	// CompressionLevel is the zstd level (0 means the codec's default, 3).
	CompressionLevel int
	// Overwrite removes existing shards with the same prefix from Dir when the
	// writer is created. Without it, NewShards refuses to mix a new dataset
	// with an old one and returns an error.
	Overwrite bool
}

// ShardStats describes what a shard writer has committed so far.
type ShardStats struct {
	Rows   int64    `json:"rows"`   // rows in committed shards
	Shards int      `json:"shards"` // committed shards
	Bytes  int64    `json:"bytes"`  // size of the committed shard files
	Files  []string `json:"files"`  // paths of the committed shards, in order
}

// Shards writes image rows into Parquet shards in the Hugging Face datasets
// Image layout: a column image: struct<bytes: binary, path: string> and, with
// labels, a column label: int64, with the schema metadata key "huggingface"
// holding {"info": {"features": {...}}}, so that datasets decodes the column
// as images (and the labels as a ClassLabel when class names are given), and
// pyarrow, polars and DuckDB read it as plain columns. Pages are compressed
// with zstd; statistics and dictionaries are off for the image column.
//
// Each shard is written to a hidden temporary file in Dir (".<name>.*.tmp"),
// then flushed, fsynced, closed and renamed to its final name, and Dir is
// fsynced: a crash never leaves a partial shard under a final name. A shard
// is committed when it is full (MaxRows, MaxBytes) and on Close.
//
// Use it as a plain writer (Write, then Close; Abort on failure) or as a
// pipeline sink through Consumer. Rows are copied into reused arenas until a
// row group is full (memory: about one row group of image bytes), then each
// column is written with one call to the Parquet column writer; a writer in
// steady state allocates nothing per row beyond the Parquet library's pages.
// All methods are safe for concurrent use; rows keep the order of the calls.
type Shards struct {
	cfg    ShardsConfig
	schema *schema.GroupNode
	props  *parquet.WriterProperties
	meta   metadata.KeyValueMetadata

	mu     sync.Mutex
	cur    *openShard
	rg     rowGroup
	stats  ShardStats
	closed bool
	err    error // sticky: after a failed write every call returns it
}

// rowGroup buffers the rows of the row group being filled. The byte arenas
// and slices are reused from one row group to the next, so a writer in
// steady state allocates nothing per row.
type rowGroup struct {
	rows      int
	imgArena  []byte
	imgEnds   []int
	images    []parquet.ByteArray // views into imgArena, built at flush
	pathArena []byte
	pathEnds  []int
	paths     []parquet.ByteArray
	pathDefs  []int16 // 2: path present, 1: null path in a present struct
	imgDefs   []int16 // always 2: image and image.bytes present
	labels    []int64
	labelDefs []int16 // 1: label present, 0: null
}

func (g *rowGroup) bytes() int64 { return int64(len(g.imgArena)) }

func (g *rowGroup) reset() {
	g.rows = 0
	g.imgArena, g.imgEnds, g.images = g.imgArena[:0], g.imgEnds[:0], g.images[:0]
	g.pathArena, g.pathEnds, g.paths = g.pathArena[:0], g.pathEnds[:0], g.paths[:0]
	g.pathDefs, g.imgDefs = g.pathDefs[:0], g.imgDefs[:0]
	g.labels, g.labelDefs = g.labels[:0], g.labelDefs[:0]
}

// openShard is the shard being written.
type openShard struct {
	name   string // final path
	tmp    *os.File
	buf    *bufio.Writer
	cw     *countWriter
	fw     *file.Writer
	rows   int64
	images int64 // encoded image bytes written to this shard
}

// countWriter counts bytes on their way to w. It has no Close method, so the
// Parquet writer cannot close the file before it is fsynced.
type countWriter struct {
	w interface{ Write([]byte) (int, error) }
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// NewShards checks cfg, creates Dir and returns a writer. No file is created
// until the first row. It fails when Dir already holds shards with the same
// prefix and Overwrite is false.
func NewShards(cfg ShardsConfig) (*Shards, error) {
	if cfg.Dir == "" {
		return nil, errors.New("sinks: shards: no output folder given")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultShardPrefix
	}
	if filepath.Base(cfg.Prefix) != cfg.Prefix {
		return nil, fmt.Errorf("sinks: shards: prefix %q must be a plain name", cfg.Prefix)
	}
	if cfg.MaxRows < 0 {
		return nil, fmt.Errorf("sinks: shards: negative MaxRows %d", cfg.MaxRows)
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultShardBytes
	}
	if cfg.RowGroupRows <= 0 {
		cfg.RowGroupRows = DefaultRowGroupRows
	}
	if cfg.RowGroupBytes <= 0 {
		cfg.RowGroupBytes = DefaultRowGroupBytes
	}
	if len(cfg.ClassNames) > 0 {
		cfg.Labels = true
	}
	if sources.IsURL(cfg.Dir) {
		if err := remoteOutput(&cfg); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("sinks: shards: %w", err)
	}
	old, err := filepath.Glob(filepath.Join(cfg.Dir, cfg.Prefix+"-*.parquet"))
	if err != nil {
		return nil, fmt.Errorf("sinks: shards: %w", err)
	}
	if sources.IsURL(cfg.Dir) {
		old = nil // checked by remoteOutput
	}
	if len(old) > 0 && !cfg.Overwrite {
		return nil, fmt.Errorf("sinks: shards: %s already holds %d shard(s) named %s-*.parquet (replace them with --overwrite, ShardsConfig.Overwrite in Go, or write elsewhere)", cfg.Dir, len(old), cfg.Prefix)
	}
	if cfg.Overwrite && !sources.IsURL(cfg.Dir) {
		// Old shards and the temporary files of a crashed writer.
		tmps, _ := filepath.Glob(filepath.Join(cfg.Dir, "."+cfg.Prefix+"-*.parquet.*.tmp"))
		for _, f := range append(old, tmps...) {
			if err := os.Remove(f); err != nil {
				return nil, fmt.Errorf("sinks: shards: %w", err)
			}
		}
	}
	meta, err := HuggingFaceMetadata(cfg.Labels, cfg.ClassNames)
	if err != nil {
		return nil, err
	}
	root, err := shardSchema(cfg.Labels)
	if err != nil {
		return nil, err
	}
	w := &Shards{
		cfg:    cfg,
		schema: root,
		props: parquet.NewWriterProperties(
			parquet.WithCompression(compress.Codecs.Zstd),
			parquet.WithCompressionLevel(levelOrDefault(cfg.CompressionLevel)),
			parquet.WithDictionaryDefault(false),
			// A page closes once it holds a data page's worth (1 MiB) after
			// a value: with the default batch of 1,024 values a page held
			// 1,024 images (53 MB at 500 px JPEG), which a reader must hold
			// compressed and decompressed whatever the row group's size.
			parquet.WithBatchSize(pageBatch),
			parquet.WithStatsFor("image.bytes", false),
			parquet.WithCreatedBy("contrastream"),
		),
		meta: metadata.NewKeyValueMetadata(),
	}
	if err := w.meta.Append("huggingface", meta); err != nil {
		return nil, fmt.Errorf("sinks: shards: %w", err)
	}
	return w, nil
}

// pageBatch is the values the column writers write before checking the
// page size: a page holds at most about 1 MiB plus pageBatch images.
const pageBatch = 1

func levelOrDefault(l int) int {
	if l == 0 {
		return 3
	}
	return l
}

// shardSchema is the Parquet schema of the Hugging Face Image layout:
//
//	optional group image { optional binary bytes; optional binary path (STRING); }
//	optional int64 label;
//
// which Arrow readers (pyarrow, arrow/go, polars) map to image:
// struct<bytes: binary, path: string> and label: int64, the types of
// datasets' Image and ClassLabel features.
func shardSchema(labels bool) (*schema.GroupNode, error) {
	bytesNode := schema.NewByteArrayNode("bytes", parquet.Repetitions.Optional, -1)
	pathNode, err := schema.NewPrimitiveNodeLogical("path", parquet.Repetitions.Optional, schema.StringLogicalType{}, parquet.Types.ByteArray, -1, -1)
	if err != nil {
		return nil, fmt.Errorf("sinks: shards: schema: %w", err)
	}
	image, err := schema.NewGroupNode("image", parquet.Repetitions.Optional, schema.FieldList{bytesNode, pathNode}, -1)
	if err != nil {
		return nil, fmt.Errorf("sinks: shards: schema: %w", err)
	}
	fields := schema.FieldList{image}
	if labels {
		fields = append(fields, schema.NewInt64Node("label", parquet.Repetitions.Optional, -1))
	}
	root, err := schema.NewGroupNode("schema", parquet.Repetitions.Required, fields, -1)
	if err != nil {
		return nil, fmt.Errorf("sinks: shards: schema: %w", err)
	}
	return root, nil
}

// HuggingFaceMetadata returns the value of the "huggingface" schema metadata
// key that datasets writes for an Image column and, with labels, a label
// column: a ClassLabel when names are given, else an int64 Value. For
// example, with names ["cat", "dog"]:
//
//	{"info":{"features":{"image":{"_type":"Image"},"label":{"names":["cat","dog"],"_type":"ClassLabel"}}}}
func HuggingFaceMetadata(labels bool, names []string) (string, error) {
	type feature struct {
		Names []string `json:"names,omitempty"`
		Dtype string   `json:"dtype,omitempty"`
		Type  string   `json:"_type"`
	}
	type features struct {
		Image feature  `json:"image"`
		Label *feature `json:"label,omitempty"`
	}
	var f features
	f.Image.Type = "Image"
	if labels || len(names) > 0 {
		if len(names) > 0 {
			f.Label = &feature{Names: names, Type: "ClassLabel"}
		} else {
			f.Label = &feature{Dtype: "int64", Type: "Value"}
		}
	}
	var v struct {
		Info struct {
			Features features `json:"features"`
		} `json:"info"`
	}
	v.Info.Features = f
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("sinks: shards: metadata: %w", err)
	}
	return string(b), nil
}

// Write appends one row: the encoded image, its label (ignored without a
// label column; negative is stored as null) and its source path ("" is
// stored as null). It copies image. It returns an error (and keeps
// returning it) when a shard cannot be written or the writer is closed.
func (w *Shards) Write(image []byte, label int, path string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errors.New("sinks: shards: write after Close")
	}
	if err := w.write(image, label, path); err != nil {
		w.err = err
		return err
	}
	return nil
}

func (w *Shards) write(image []byte, label int, path string) error {
	n := int64(len(image))
	if c := w.cur; c != nil {
		pending := int64(w.rg.rows) // buffered rows count too
		full := w.cfg.MaxRows > 0 && c.rows+pending >= w.cfg.MaxRows
		if w.cfg.MaxBytes > 0 && c.rows+pending > 0 && c.images+w.rg.bytes()+n > w.cfg.MaxBytes {
			full = true
		}
		if full {
			if err := w.commit(); err != nil {
				return err
			}
		}
	}
	if w.cur == nil {
		if err := w.open(); err != nil {
			return err
		}
	}
	g := &w.rg
	g.imgArena = append(g.imgArena, image...)
	g.imgEnds = append(g.imgEnds, len(g.imgArena))
	g.imgDefs = append(g.imgDefs, 2)
	if path == "" {
		g.pathDefs = append(g.pathDefs, 1)
	} else {
		g.pathArena = append(g.pathArena, path...)
		g.pathEnds = append(g.pathEnds, len(g.pathArena))
		g.pathDefs = append(g.pathDefs, 2)
	}
	if w.cfg.Labels {
		if label < 0 {
			g.labelDefs = append(g.labelDefs, 0) // null: a level, no value
		} else {
			g.labels = append(g.labels, int64(label))
			g.labelDefs = append(g.labelDefs, 1)
		}
	}
	g.rows++
	if g.rows >= w.cfg.RowGroupRows || g.bytes() >= w.cfg.RowGroupBytes {
		return w.flushRowGroup()
	}
	return nil
}

// remoteOutput checks a bucket output: the store, the temporary folder, and
// the shards already there (removed with Overwrite, refused without).
func remoteOutput(cfg *ShardsConfig) error {
	if cfg.Store == nil {
		cfg.Store = sources.DefaultStore()
	}
	if cfg.TempDir == "" {
		cfg.TempDir = os.TempDir()
	}
	glob, err := sources.ObjectURL(cfg.Dir, cfg.Prefix+"-*.parquet")
	if err != nil {
		return fmt.Errorf("sinks: shards: %w", err)
	}
	ctx := context.Background()
	old, err := cfg.Store.Discover(ctx, glob)
	if err != nil && !errors.Is(err, sources.ErrNoFiles) {
		return fmt.Errorf("sinks: shards: %w", err)
	}
	if len(old) > 0 && !cfg.Overwrite {
		return fmt.Errorf("sinks: shards: %s already holds %d shard(s) named %s-*.parquet (use --overwrite to replace them)", cfg.Dir, len(old), cfg.Prefix)
	}
	for _, o := range old {
		if err := cfg.Store.Delete(ctx, o); err != nil {
			return fmt.Errorf("sinks: shards: %w", err)
		}
	}
	return nil
}

// open starts the next shard under a temporary name.
func (w *Shards) open() error {
	base := fmt.Sprintf("%s-%05d.parquet", w.cfg.Prefix, w.stats.Shards)
	name, tmpDir := filepath.Join(w.cfg.Dir, base), w.cfg.Dir
	if sources.IsURL(w.cfg.Dir) {
		var err error
		if name, err = sources.ObjectURL(w.cfg.Dir, base); err != nil {
			return fmt.Errorf("sinks: shards: %w", err)
		}
		tmpDir = w.cfg.TempDir
	}
	tmp, err := os.CreateTemp(tmpDir, "."+base+".*.tmp")
	if err != nil {
		return fmt.Errorf("sinks: shards: %w", err)
	}
	c := &openShard{name: name, tmp: tmp, buf: bufio.NewWriterSize(tmp, 1<<20)}
	c.cw = &countWriter{w: c.buf}
	c.fw = file.NewParquetWriter(c.cw, w.schema, file.WithWriterProps(w.props), file.WithWriteMetadata(w.meta))
	w.cur = c
	return nil
}

// flushRowGroup writes the buffered rows as one row group: each column in
// one WriteBatch straight from the arenas (the page encoder's copy is the
// only one).
func (w *Shards) flushRowGroup() (err error) {
	g := &w.rg
	if g.rows == 0 {
		return nil
	}
	defer func() {
		// The Parquet writer panics on some internal errors; keep the route.
		if r := recover(); r != nil {
			err = fmt.Errorf("sinks: shards: %s: parquet writer: %v", w.cur.name, r)
		}
	}()
	g.images = views(g.images[:0], g.imgArena, g.imgEnds)
	g.paths = views(g.paths[:0], g.pathArena, g.pathEnds)
	rgw := w.cur.fw.AppendRowGroup()
	if err := writeByteArrays(rgw, g.images, g.imgDefs); err != nil {
		return w.flushErr(err)
	}
	if err := writeByteArrays(rgw, g.paths, g.pathDefs); err != nil {
		return w.flushErr(err)
	}
	if w.cfg.Labels {
		cw, err := rgw.NextColumn()
		if err != nil {
			return w.flushErr(err)
		}
		if _, err := cw.(*file.Int64ColumnChunkWriter).WriteBatch(g.labels, g.labelDefs, nil); err != nil {
			return w.flushErr(err)
		}
	}
	if err := rgw.Close(); err != nil {
		return w.flushErr(err)
	}
	w.cur.rows += int64(g.rows)
	w.cur.images += g.bytes()
	g.reset()
	return nil
}

func (w *Shards) flushErr(err error) error {
	return fmt.Errorf("sinks: shards: %s: %w", w.cur.name, err)
}

// views appends to dst one slice of arena per end offset.
func views(dst []parquet.ByteArray, arena []byte, ends []int) []parquet.ByteArray {
	start := 0
	for _, e := range ends {
		dst = append(dst, parquet.ByteArray(arena[start:e:e]))
		start = e
	}
	return dst
}

func writeByteArrays(rgw file.SerialRowGroupWriter, vals []parquet.ByteArray, defs []int16) error {
	cw, err := rgw.NextColumn()
	if err != nil {
		return err
	}
	_, err = cw.(*file.ByteArrayColumnChunkWriter).WriteBatch(vals, defs, nil)
	return err
}

// commit finishes the current shard: last row group, footer, flush, fsync,
// close, rename, fsync of the folder.
func (w *Shards) commit() error {
	c := w.cur
	if c == nil {
		return nil
	}
	err := w.flushRowGroup()
	w.cur = nil
	fail := func(err error) error {
		c.tmp.Close()
		os.Remove(c.tmp.Name())
		return fmt.Errorf("sinks: shards: %s: %w", c.name, err)
	}
	if err != nil {
		return fail(err)
	}
	if err := c.fw.Close(); err != nil {
		return fail(err)
	}
	if err := c.buf.Flush(); err != nil {
		return fail(err)
	}
	if sources.IsURL(c.name) {
		err := w.cfg.Store.Upload(context.Background(), c.name, c.tmp, c.cw.n, "application/vnd.apache.parquet")
		c.tmp.Close()
		os.Remove(c.tmp.Name())
		if err != nil {
			return fmt.Errorf("sinks: shards: %w", err)
		}
		w.stats.Rows += c.rows
		w.stats.Shards++
		w.stats.Bytes += c.cw.n
		w.stats.Files = append(w.stats.Files, c.name)
		return nil
	}
	if err := c.tmp.Chmod(0o644); err != nil { // CreateTemp makes it 0600
		return fail(err)
	}
	if err := c.tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := c.tmp.Close(); err != nil {
		os.Remove(c.tmp.Name())
		return fmt.Errorf("sinks: shards: %s: %w", c.name, err)
	}
	if err := os.Rename(c.tmp.Name(), c.name); err != nil {
		os.Remove(c.tmp.Name())
		return fmt.Errorf("sinks: shards: %w", err)
	}
	if err := syncDir(w.cfg.Dir); err != nil {
		return fmt.Errorf("sinks: shards: %w", err)
	}
	w.stats.Rows += c.rows
	w.stats.Shards++
	w.stats.Bytes += c.cw.n
	w.stats.Files = append(w.stats.Files, c.name)
	return nil
}

// discard drops the current shard and the buffered rows.
func (w *Shards) discard() error {
	c := w.cur
	w.cur = nil
	w.rg.reset()
	if c == nil {
		return nil
	}
	c.tmp.Close()
	if err := os.Remove(c.tmp.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("sinks: shards: %w", err)
	}
	return nil
}

// Close commits the last shard (if it holds any row) and releases the
// builders. It returns the first error of the writer's life, if any; after a
// failed write it removes the partial shard instead. Calling it again
// returns nil.
func (w *Shards) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	defer w.release()
	if w.err != nil {
		w.discard()
		return w.err
	}
	if err := w.commit(); err != nil {
		w.err = err
		return err
	}
	return nil
}

// Abort removes the shard being written (committed shards stay) and closes
// the writer. Call it instead of Close when the input was not complete, so
// that no shard holds a partial tail of the data. Calling it after Close
// does nothing.
func (w *Shards) Abort() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	defer w.release()
	return w.discard()
}

func (w *Shards) release() {
	w.rg = rowGroup{} // let the arenas go
}

// Stats returns what has been committed so far (Files is a copy).
func (w *Shards) Stats() ShardStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.stats
	s.Files = append([]string(nil), s.Files...)
	return s
}

// Consumer returns w as a pipeline sink of ImageRows: Consume writes a row
// (a write error is fatal to the run: it cancels it); Close(ctx) commits the
// last shard, or aborts it when ctx was cancelled, so that a cancelled run
// leaves only complete shards. Use it once: pipeline.Sink(p, "write", rows,
// w.Consumer()).
func (w *Shards) Consumer() *ShardsConsumer { return &ShardsConsumer{w: w} }

// ShardsConsumer is a Shards used as a pipeline.Consumer[ImageRow].
type ShardsConsumer struct{ w *Shards }

// Consume writes r. Errors are fatal (returned wrapped with pipeline.Fatal).
func (c *ShardsConsumer) Consume(_ context.Context, r ImageRow) error {
	if err := c.w.Write(r.Image, r.Label, r.Path); err != nil {
		return pipeline.Fatal(err)
	}
	return nil
}

// Close commits the last shard, or aborts it if ctx is done.
func (c *ShardsConsumer) Close(ctx context.Context) error {
	if ctx.Err() != nil {
		return c.w.Abort()
	}
	return c.w.Close()
}
