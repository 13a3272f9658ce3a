package sinks

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/stages"
	"github.com/contrastream/contrastream/stages/augment"
)

// StreamFormatVersion is the version of the view-batch stream format that
// ArrowStream writes (schema metadata "contrastream.format"). Readers refuse
// a version they do not know.
const StreamFormatVersion = 1

// ErrReaderGone is returned (wrapped) by ArrowStream when the reader of the
// stream has gone away: a broken pipe, a closed or reset socket.
var ErrReaderGone = errors.New("sinks: the stream's reader went away")

// The columns of a view-batch stream, in order. The pixels come first, so
// they start the body of every record batch (offset 0, 8-byte aligned).
const (
	ColViews    = "views"    // fixed_size_list<uint8>[V·H·W·C], extension arrow.fixed_shape_tensor [V,H,W,C]
	ColLabel    = "label"    // int64, null where the shard has no label
	ColID       = "id"       // uint64 stable sample id (sources.SampleID)
	ColShard    = "shard"    // utf8 shard path, as discovered
	ColRow      = "row"      // int64 row in the shard
	ColEpoch    = "epoch"    // int32 epoch of the sample
	ColPosition = "position" // int64 samples the rank emitted in the epoch before this one

	// ColViewsOffset replaces ColViews in the shared-memory transport
	// (ArrowStream.Shm): uint64 byte offset, in the shared file, of each
	// sample's [V,H,W,C] pixels. A batch's samples are adjacent in one slot.
	ColViewsOffset = "views_offset"
)

// StreamMeta describes a view-batch stream; it is written as the schema's
// metadata (keys "contrastream.<name>") so a reader can check what it gets
// and what a saved cursor belongs to.
type StreamMeta struct {
	Recipe          string // stages.Recipe.String()
	Size            int    // view side
	Views           int    // views per sample
	Channels        int    // 1 or 3
	Batch           int    // samples per full batch
	Seed            uint64 // keys the plan and the views
	Rank, World     int
	Fingerprint     string // sources.Source.Fingerprint()
	EpochSize       int64  // samples per rank per epoch
	BatchesPerEpoch int    // full batches per rank per epoch
	Epochs          int    // epochs the stream emits (0: until stopped)
	Cursor          string // where the stream starts ("epoch:position")
	ShuffleBuffer   int
	// ShmSlots and ShmSlotBytes describe the shared-memory ring of the shm
	// transport (0 for the plain stream, whose metadata then has no
	// transport keys).
	ShmSlots, ShmSlotBytes int
	// Float32: the shm slots hold normalized float32 views in [B,V,C,H,W]
	// order (metadata dtype=float32, layout=BVCHW) instead of uint8
	// [B,V,H,W,C]; only with the shm transport.
	Float32 bool
	// Normalize is the mean and std the float32 views were normalized with
	// (zero: ImageNet's). With Float32, the metadata records them as
	// "contrastream.mean" and "contrastream.std": three comma-separated
	// decimals each (channels 0, 1, 2; gray views use channel 0), each the
	// shortest decimal that parses back to the same float32.
	Normalize augment.Normalize
}

// Metadata returns the schema metadata of m.
func (m StreamMeta) Metadata() arrow.Metadata {
	layout := "BVHWC"
	if m.Float32 {
		layout = "BVCHW"
	}
	kv := [][2]string{
		{"format", strconv.Itoa(StreamFormatVersion)},
		{"layout", layout},
		{"recipe", m.Recipe},
		{"size", strconv.Itoa(m.Size)},
		{"views", strconv.Itoa(m.Views)},
		{"channels", strconv.Itoa(m.Channels)},
		{"batch", strconv.Itoa(m.Batch)},
		{"seed", strconv.FormatUint(m.Seed, 10)},
		{"rank", strconv.Itoa(m.Rank)},
		{"world", strconv.Itoa(m.World)},
		{"fingerprint", m.Fingerprint},
		{"epoch_size", strconv.FormatInt(m.EpochSize, 10)},
		{"batches_per_epoch", strconv.Itoa(m.BatchesPerEpoch)},
		{"epochs", strconv.Itoa(m.Epochs)},
		{"cursor", m.Cursor},
		{"shuffle_buffer", strconv.Itoa(m.ShuffleBuffer)},
	}
	if m.ShmSlots > 0 {
		kv = append(kv, [][2]string{{"transport", "shm"}, {"shm_slots", strconv.Itoa(m.ShmSlots)},
			{"shm_slot_bytes", strconv.Itoa(m.ShmSlotBytes)}}...)
	}
	if m.Float32 {
		mean, std := m.Normalize.Stats()
		kv = append(kv, [][2]string{{"dtype", "float32"}, {"mean", formatStats(mean)}, {"std", formatStats(std)}}...)
	}
	keys := make([]string, len(kv))
	vals := make([]string, len(kv))
	for i, e := range kv {
		keys[i], vals[i] = "contrastream."+e[0], e[1]
	}
	return arrow.NewMetadata(keys, vals)
}

// formatStats writes per-channel statistics as "r,g,b", each value the
// shortest decimal that reads back as the same float32.
func formatStats(v [3]float32) string {
	return strconv.FormatFloat(float64(v[0]), 'g', -1, 32) + "," +
		strconv.FormatFloat(float64(v[1]), 'g', -1, 32) + "," +
		strconv.FormatFloat(float64(v[2]), 'g', -1, 32)
}

// StreamSchema returns the schema of a view-batch stream of views views of
// h×w×c pixels per sample, with meta as its metadata.
func StreamSchema(views, h, w, c int, meta arrow.Metadata) *arrow.Schema {
	shape := fmt.Sprintf(`{"shape":[%d,%d,%d,%d],"dim_names":["view","height","width","channel"]}`, views, h, w, c)
	tensorMeta := arrow.NewMetadata(
		[]string{"ARROW:extension:name", "ARROW:extension:metadata"},
		[]string{"arrow.fixed_shape_tensor", shape})
	fields := []arrow.Field{
		{Name: ColViews, Type: arrow.FixedSizeListOfNonNullable(int32(views*h*w*c), arrow.PrimitiveTypes.Uint8), Metadata: tensorMeta},
		{Name: ColLabel, Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: ColID, Type: arrow.PrimitiveTypes.Uint64},
		{Name: ColShard, Type: arrow.BinaryTypes.String},
		{Name: ColRow, Type: arrow.PrimitiveTypes.Int64},
		{Name: ColEpoch, Type: arrow.PrimitiveTypes.Int32},
		{Name: ColPosition, Type: arrow.PrimitiveTypes.Int64},
	}
	return arrow.NewSchema(fields, &meta)
}

// StreamSchemaShm is StreamSchema for the shared-memory transport: the
// views column is replaced by views_offset (uint64, the offset of each
// sample's pixels in the shared file); its field metadata
// "contrastream.shape" gives their [V,H,W,C] shape (uint8), or [V,C,H,W]
// with float32 (normalized float32 views).
func StreamSchemaShm(views, h, w, c int, float32 bool, meta arrow.Metadata) *arrow.Schema {
	s := StreamSchema(views, h, w, c, meta)
	fields := s.Fields()
	shape := fmt.Sprintf("[%d,%d,%d,%d]", views, h, w, c)
	if float32 {
		shape = fmt.Sprintf("[%d,%d,%d,%d]", views, c, h, w)
	}
	fields[0] = arrow.Field{Name: ColViewsOffset, Type: arrow.PrimitiveTypes.Uint64,
		Metadata: arrow.NewMetadata([]string{"contrastream.shape"}, []string{shape})}
	return arrow.NewSchema(fields, &meta)
}

// ArrowStream writes packed batches (stages.Tensorize with Packed) to W as
// an Arrow IPC stream (arrow/go/v15 ipc.Writer): the schema (StreamSchema,
// with Meta) before the first batch, then one record batch per training
// batch, flushed at once. The pixels of a batch travel as one contiguous
// uint8 buffer in [B,V,H,W,C] order (a reader maps it without copying),
// beside the label (null for none), the stable sample id, its key (shard,
// row), and the epoch and position of each sample: the cursor after a batch
// is (epoch, position of its last sample + 1).
//
// It is a pipeline.Consumer[*stages.Batch] for one goroutine; it releases
// every batch it consumes. The pixels are not copied (the IPC writer writes
// them from the batch's buffer). A write error ends the run (a fatal error);
// one that says the reader went away (broken pipe, connection reset or
// closed) wraps ErrReaderGone. Finish writes the end-of-stream marker; a
// stream that ends without it was cut short.
type ArrowStream struct {
	W    io.Writer
	Meta StreamMeta
	// Digests, if set, receives one JSON object per batch (see BatchDigest):
	// SHA-256 of the pixels, the ids, labels and cursor, as the batch was
	// written. Tests and tools compare readers' results against it.
	Digests io.Writer
	// NoSplice turns off vmsplice for a pipe W (every write copies).
	NoSplice bool
	// Shm, if set, is the shared-memory transport: every batch's pixels
	// must lie in one of its slots (the batcher wrote them there), the
	// record batches carry their offsets (StreamSchemaShm) instead of the
	// pixels, and a batch is released when the reader returns its slot
	// (ShmRing.Returns), not when it is written. Meta's ShmSlots and
	// ShmSlotBytes must describe it.
	Shm *ShmRing

	bw      *bufio.Writer
	sp      *splicer    // when W is a pipe (Linux): large pixel writes go by vmsplice
	held    []heldBatch // written batches the pipe may still reference
	w       *ipc.Writer
	schema  *arrow.Schema
	shape   [4]int
	batches int
	rows    int64
}

// BatchDigest is what ArrowStream.Digests receives per batch.
type BatchDigest struct {
	Batch  int      `json:"batch"` // 0-based in this stream
	Epoch  int      `json:"epoch"`
	Cursor string   `json:"cursor"` // after the batch
	Shape  [5]int   `json:"shape"`  // [B,V,H,W,C]
	Pixels string   `json:"pixels_sha256"`
	IDs    []uint64 `json:"ids"`
	Labels []int    `json:"labels"` // -1: none
}

// Batches returns the number of batches written so far.
func (a *ArrowStream) Batches() int { return a.batches }

// Samples returns the number of samples written so far.
func (a *ArrowStream) Samples() int64 { return a.rows }

// Consume writes one batch as a record batch and releases it.
func (a *ArrowStream) Consume(ctx context.Context, b *stages.Batch) error {
	if b.Pixels == nil {
		b.Release()
		return pipeline.Fatal(errors.New("sinks: arrow stream: the batch is not packed (use stages.Tensorize with Packed)"))
	}
	if a.w == nil {
		if err := a.Start(b.Shape[1], b.Shape[2], b.Shape[3], b.Shape[4]); err != nil {
			b.Release()
			return pipeline.Fatal(err)
		}
	}
	if s := [4]int{b.Shape[1], b.Shape[2], b.Shape[3], b.Shape[4]}; s != a.shape {
		b.Release()
		return pipeline.Fatal(fmt.Errorf("sinks: arrow stream: batch of shape %v after batches of %v", s, a.shape))
	}
	if a.Shm != nil {
		return a.consumeShm(b)
	}
	if a.sp != nil {
		a.sp.zero = b.Pixels
	}
	size := b.Size()
	rec := a.record(b, a.pixelColumn(b))
	err := a.w.Write(rec)
	rec.Release()
	if err == nil {
		err = a.bw.Flush()
	}
	if err == nil && a.Digests != nil {
		if derr := a.digest(b); derr != nil {
			err = fmt.Errorf("sinks: arrow stream: digests: %w", derr)
		}
	}
	if a.sp == nil {
		b.Release()
	} else {
		a.sp.zero = nil
		a.held = append(a.held, heldBatch{b, a.sp.written})
		if err == nil {
			err = a.releaseRead(ctx, 1)
		}
	}
	if err != nil {
		a.releaseAll()
		if errors.Is(err, ErrReaderGone) || ctx.Err() != nil {
			return pipeline.Fatal(err)
		}
		return pipeline.Fatal(a.writeErr(err))
	}
	a.batches++
	a.rows += int64(size)
	return nil
}

// consumeShm sends b, whose pixels lie in a slot of the shared ring, as a
// record of offsets; the ring releases b when the reader returns the slot.
func (a *ArrowStream) consumeShm(b *stages.Batch) error {
	slot, off, ok := a.Shm.SlotOf(b.Pixels)
	if !ok {
		b.Release()
		return pipeline.Fatal(errors.New("sinks: arrow stream: the batch's pixels are not in a slot of the shared ring (set stages.Tensorize.PackedBuffer)"))
	}
	// The digest first: once the record is sent the reader may return the
	// slot at any moment, and the batcher then reuses it.
	if a.Digests != nil {
		if err := a.digest(b); err != nil {
			b.Release()
			return pipeline.Fatal(fmt.Errorf("sinks: arrow stream: digests: %w", err))
		}
	}
	size := b.Size()
	per := int64(len(b.Pixels) / size)
	offs := make([]uint64, size)
	for i := range offs {
		offs[i] = uint64(off + int64(i)*per)
	}
	ob := array.NewUint64Builder(memory.DefaultAllocator)
	ob.AppendValues(offs, nil)
	col := ob.NewArray()
	ob.Release()
	if err := a.Shm.Hold(slot, b); err != nil {
		col.Release()
		b.Release()
		return pipeline.Fatal(err)
	}
	rec := a.record(b, col)
	err := a.w.Write(rec)
	rec.Release()
	if err == nil {
		err = a.bw.Flush()
	}
	if err != nil {
		if errors.Is(err, ErrReaderGone) {
			return pipeline.Fatal(err)
		}
		return pipeline.Fatal(a.writeErr(err))
	}
	a.batches++
	a.rows += int64(size)
	return nil
}

// heldBatch is a written batch whose pixels the pipe may still reference.
type heldBatch struct {
	b   *stages.Batch
	end int64 // stream offset just after it
}

// releaseRead releases the held batches the reader has read all of, and
// waits until at most keep remain (with a pipe larger than a batch, the
// pipe may still hold the one before the last).
func (a *ArrowStream) releaseRead(ctx context.Context, keep int) error {
	for {
		unread, err := a.sp.unread()
		if err != nil {
			return fmt.Errorf("sinks: arrow stream: FIONREAD: %w", err)
		}
		read := a.sp.written - unread
		for len(a.held) > 0 && a.held[0].end <= read {
			a.held[0].b.Release()
			a.held = a.held[1:]
		}
		if len(a.held) <= keep {
			return nil
		}
		if a.sp.readerGone() {
			a.releaseAll()
			return fmt.Errorf("%w (the pipe's read end is closed)", ErrReaderGone)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Microsecond):
		}
	}
}

func (a *ArrowStream) releaseAll() {
	for _, h := range a.held {
		h.b.Release()
	}
	a.held = nil
}

// Spliced returns the bytes handed to the pipe by vmsplice (zero-copy on
// the writer's side); 0 unless W is a pipe on Linux.
func (a *ArrowStream) Spliced() int64 {
	if a.sp == nil {
		return 0
	}
	return a.sp.spliced
}

// Start writes the schema (StreamSchema of views views of h×w×c pixels)
// at once, so a reader learns the stream's metadata before the first batch
// is ready. Consume calls it with the first batch's shape if it was not
// called; the batches must match it.
func (a *ArrowStream) Start(views, h, w, c int) error {
	if a.w != nil {
		return errors.New("sinks: arrow stream: started twice")
	}
	a.shape = [4]int{views, h, w, c}
	if a.Meta.Float32 && a.Shm == nil {
		return errors.New("sinks: arrow stream: float32 views travel only by the shm transport")
	}
	if a.Shm != nil {
		if a.Meta.ShmSlots != a.Shm.Slots() || a.Meta.ShmSlotBytes != a.Shm.SlotBytes() {
			return fmt.Errorf("sinks: arrow stream: Meta says %d shm slots of %d bytes, the ring has %d of %d",
				a.Meta.ShmSlots, a.Meta.ShmSlotBytes, a.Shm.Slots(), a.Shm.SlotBytes())
		}
		a.schema = StreamSchemaShm(views, h, w, c, a.Meta.Float32, a.Meta.Metadata())
	} else {
		a.schema = StreamSchema(views, h, w, c, a.Meta.Metadata())
	}
	// The IPC writer emits the schema with its first record; to send it
	// now, serialize it through a throwaway writer (schema + end marker),
	// send that, and have the real writer's identical schema bytes checked
	// and skipped.
	var msg bytes.Buffer
	tw := ipc.NewWriter(&msg, ipc.WithSchema(a.schema))
	if err := tw.Close(); err != nil {
		return fmt.Errorf("sinks: arrow stream: schema: %w", err)
	}
	schema := msg.Bytes()[:msg.Len()-len(eos)]
	var dst io.Writer = a.W
	if !a.NoSplice && a.Shm == nil {
		if sp := newSplicer(a.W); sp != nil {
			a.sp, dst = sp, sp
		}
	}
	a.bw = bufio.NewWriterSize(dst, 64<<10)
	if _, err := a.bw.Write(schema); err != nil {
		return a.writeErr(err)
	}
	if err := a.bw.Flush(); err != nil {
		return a.writeErr(err)
	}
	a.w = ipc.NewWriter(&skipPrefix{w: a.bw, prefix: schema}, ipc.WithSchema(a.schema))
	return nil
}

// eos is the Arrow IPC end-of-stream marker.
var eos = []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}

// skipPrefix drops the first len(prefix) bytes written, which must equal
// prefix, and passes the rest to w.
type skipPrefix struct {
	w      io.Writer
	prefix []byte
}

func (s *skipPrefix) Write(p []byte) (int, error) {
	if len(s.prefix) == 0 {
		return s.w.Write(p)
	}
	n := min(len(p), len(s.prefix))
	if !bytes.Equal(p[:n], s.prefix[:n]) {
		return 0, errors.New("sinks: arrow stream: the IPC writer's schema differs from the one sent")
	}
	s.prefix = s.prefix[n:]
	if n == len(p) {
		return n, nil
	}
	m, err := s.w.Write(p[n:])
	return n + m, err
}

// Finish writes the end-of-stream marker (after the schema, for a stream
// that was never started: it then needs the shape).
func (a *ArrowStream) Finish(views, h, w, c int) error {
	if a.w == nil {
		if err := a.Start(views, h, w, c); err != nil {
			return err
		}
	}
	err := a.w.Close()
	if err == nil {
		err = a.bw.Flush()
	}
	if a.sp != nil {
		// The process may reuse or free the pixels once we return: wait
		// until the reader has read everything (or went away).
		if rerr := a.releaseRead(context.Background(), 0); err == nil && rerr != nil {
			err = rerr
		}
	}
	if err != nil {
		return a.writeErr(err)
	}
	return nil
}

func (a *ArrowStream) writeErr(err error) error {
	if readerGone(err) {
		return fmt.Errorf("%w (%v)", ErrReaderGone, err)
	}
	return fmt.Errorf("sinks: arrow stream: %w", err)
}

// readerGone reports whether err says the other end of a pipe or socket
// has gone away.
func readerGone(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ENOTCONN) || errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrClosed)
}

// pixelColumn returns the views column of b; it shares b.Pixels.
func (a *ArrowStream) pixelColumn(b *stages.Batch) arrow.Array {
	pix := array.NewData(arrow.PrimitiveTypes.Uint8, len(b.Pixels),
		[]*memory.Buffer{nil, memory.NewBufferBytes(b.Pixels)}, nil, 0, 0)
	viewsData := array.NewData(a.schema.Field(0).Type, b.Size(), []*memory.Buffer{nil}, []arrow.ArrayData{pix}, 0, 0)
	views := array.MakeFromData(viewsData)
	pix.Release()
	viewsData.Release()
	return views
}

// record builds the record batch of b with views (the pixel column or
// the shm offsets) as its first column, which it takes over.
func (a *ArrowStream) record(b *stages.Batch, views arrow.Array) arrow.Record {
	n := b.Size()
	mem := memory.DefaultAllocator

	lb := array.NewInt64Builder(mem)
	lb.Reserve(n)
	ib := array.NewUint64Builder(mem)
	ib.AppendValues(b.IDs, nil)
	sb := array.NewStringBuilder(mem)
	rb := array.NewInt64Builder(mem)
	eb := array.NewInt32Builder(mem)
	pb := array.NewInt64Builder(mem)
	for i := range n {
		if l := b.Labels[i]; l >= 0 {
			lb.Append(int64(l))
		} else {
			lb.AppendNull()
		}
		sb.Append(b.Keys[i].Shard)
		rb.Append(b.Keys[i].Row)
		eb.Append(int32(b.Epoch))
		pb.Append(b.Positions[i])
	}
	cols := []arrow.Array{views, lb.NewArray(), ib.NewArray(), sb.NewArray(), rb.NewArray(), eb.NewArray(), pb.NewArray()}
	for _, bld := range []array.Builder{lb, ib, sb, rb, eb, pb} {
		bld.Release()
	}
	rec := array.NewRecord(a.schema, cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	return rec
}

func (a *ArrowStream) digest(b *stages.Batch) error {
	sum := sha256.Sum256(b.Pixels)
	d := BatchDigest{Batch: a.batches, Epoch: b.Epoch, Cursor: b.Cursor.String(), Shape: b.Shape,
		Pixels: hex.EncodeToString(sum[:]), IDs: b.IDs, Labels: b.Labels}
	return json.NewEncoder(a.Digests).Encode(d)
}
