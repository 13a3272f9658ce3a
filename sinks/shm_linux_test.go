//go:build linux

package sinks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"golang.org/x/sys/unix"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/stages"
	"github.com/contrastream/contrastream/stages/augment"
)

func memfd(t *testing.T) *os.File {
	t.Helper()
	fd, err := unix.MemfdCreate("contrastream-test", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "memfd")
	t.Cleanup(func() { f.Close() })
	return f
}

type streamResult struct {
	rep StreamReport
	err error
}

// startShm runs Stream with the shm transport into pipes: it returns the
// stream's read end, the return channel's write end and the result.
func startShm(t *testing.T, cfg StreamConfig) (*os.File, *os.File, <-chan streamResult) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	rr, rw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); rw.Close(); rr.Close() })
	cfg.W, cfg.Returns = w, rr
	done := make(chan streamResult, 1)
	go func() {
		rep, err := Stream(context.Background(), cfg)
		w.Close()
		done <- streamResult{rep, err}
	}()
	return r, rw, done
}

// slotBytes is the slot size the stream's metadata gives (0 if none).
func slotBytes(md arrow.Metadata) int {
	v, _ := md.GetValue("contrastream.shm_slot_bytes")
	n, _ := strconv.Atoi(v)
	return n
}

func giveBack(t *testing.T, rw io.Writer, slot int) {
	t.Helper()
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(slot))
	if _, err := rw.Write(b[:]); err != nil {
		t.Fatal(err)
	}
}

// TestStreamShm: with the shm transport the stream carries views_offset
// instead of the pixels, the pixels in the shared file at those offsets
// equal the view pipeline's and the digests, batch by batch; a slot the
// reader holds is never written (a reader that keeps two slots finds them
// unchanged when it hands them back), and a reader that returns nothing
// stops the stream after ShmSlots batches (backpressure), which goes on
// once a slot comes back.
func TestStreamShm(t *testing.T) {
	dir := synthShards(t, 150, 3)
	shm := memfd(t)
	cfg := streamConfig(dir, 16, 3)
	cfg.Shm, cfg.ShmSlots = shm, 3
	var dig lockedBuffer // written by the stream's goroutine, read here
	cfg.Digests = &dig
	r, rw, done := startShm(t, cfg)
	want := viewBatches(t, streamConfig(dir, 16, 1).View)

	rd, err := ipc.NewReader(r)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Release()
	md := rd.Schema().Metadata()
	per := 2 * 12 * 12 * 3
	for k, v := range map[string]string{"format": "1", "transport": "shm", "shm_slots": "3", "shm_slot_bytes": "16384", "batch": "16"} {
		if got, _ := md.GetValue("contrastream." + k); got != v {
			t.Errorf("metadata %s = %q, want %q", k, got, v)
		}
	}
	if f := rd.Schema().Field(0); f.Name != ColViewsOffset {
		t.Fatalf("column 0 is %q, want %q", f.Name, ColViewsOffset)
	} else if s, _ := f.Metadata.GetValue("contrastream.shape"); s != "[2,12,12,3]" {
		t.Errorf("views_offset shape %q", s)
	}
	if st, err := shm.Stat(); err != nil || st.Size() != 3*16384 {
		t.Fatalf("shared file of %v bytes (%v), want 3 slots of 16384", st.Size(), err)
	}
	pixels := func(off uint64, n int) []byte {
		b := make([]byte, n)
		if _, err := shm.ReadAt(b, int64(off)); err != nil {
			t.Fatal(err)
		}
		return b
	}
	type heldSlot struct {
		slot int
		off  uint64
		pix  []byte
	}
	var held []heldSlot
	dec := json.NewDecoder(&dig)
	i := 0
	next := func() bool {
		ok := rd.Next()
		if !ok && rd.Err() != nil {
			t.Fatal(rd.Err())
		}
		return ok
	}
	for next() {
		rec := rd.Record()
		offs := rec.Column(0).(*array.Uint64).Uint64Values()
		n := int(rec.NumRows())
		for j := range offs {
			if offs[j] != offs[0]+uint64(j*per) {
				t.Fatalf("batch %d: offsets %v are not adjacent", i, offs)
			}
		}
		slot := int(offs[0] / 16384)
		if offs[0]%16384 != 0 || int(offs[0])+n*per > (slot+1)*16384 {
			t.Fatalf("batch %d: pixels at %d..%d are not one slot's", i, offs[0], int(offs[0])+n*per)
		}
		pix := pixels(offs[0], n*per)
		if !bytes.Equal(pix, want[i].pixels) {
			t.Fatalf("batch %d: the pixels in the shared memory differ from the view pipeline's", i)
		}
		ids := rec.Column(2).(*array.Uint64).Uint64Values()
		for j := range ids {
			if ids[j] != want[i].ids[j] || int(rec.Column(1).(*array.Int64).Value(j)) != want[i].labels[j] {
				t.Fatalf("batch %d row %d: id or label differs", i, j)
			}
		}
		var d BatchDigest
		if err := dec.Decode(&d); err != nil {
			t.Fatal(err)
		}
		if s := sha256.Sum256(pix); d.Pixels != hex.EncodeToString(s[:]) || d.Cursor != want[i].cursor {
			t.Fatalf("batch %d: digest %+v", i, d)
		}
		held = append(held, heldSlot{slot, offs[0], pix})
		if i == 4 {
			// Hold all three slots: the stream must wait for one.
			got := make(chan bool, 1)
			go func() { got <- rd.Next() }()
			select {
			case <-got:
				t.Fatal("a batch came while the reader held every slot")
			case <-time.After(200 * time.Millisecond):
			}
			giveBack(t, rw, held[0].slot)
			held = held[1:]
			select {
			case ok := <-got:
				if !ok {
					t.Fatal("the stream ended after a slot came back")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no batch after a slot came back")
			}
			i++
			// the record got above is batch 5: check it through the loop
			// by re-reading it
			rec := rd.Record()
			offs := rec.Column(0).(*array.Uint64).Uint64Values()
			pix := pixels(offs[0], int(rec.NumRows())*per)
			if !bytes.Equal(pix, want[i].pixels) {
				t.Fatalf("batch %d: pixels differ", i)
			}
			if err := dec.Decode(&d); err != nil {
				t.Fatal(err)
			}
			held = append(held, heldSlot{int(offs[0] / 16384), offs[0], pix})
		}
		// Keep the two latest slots; hand back the older ones, checking
		// that nothing wrote them while they were held.
		for len(held) > 2 {
			h := held[0]
			if !bytes.Equal(pixels(h.off, len(h.pix)), h.pix) {
				t.Fatalf("slot %d was written while the reader held it", h.slot)
			}
			giveBack(t, rw, h.slot)
			held = held[1:]
		}
		i++
	}
	if i != len(want) {
		t.Fatalf("read %d batches, want %d", i, len(want))
	}
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	if res.rep.Batches != len(want) || res.rep.Spliced != 0 {
		t.Fatalf("report %+v", res.rep)
	}
}

// TestStreamShmReturns: a reader that returns a slot it does not hold fails
// the stream with a message saying so; one that closes the return channel
// stops it as a reader that went away; a ring needs two slots.
func TestStreamShmReturns(t *testing.T) {
	dir := synthShards(t, 150, 3)
	cfg := streamConfig(dir, 16, 2)
	cfg.View.Source.Epochs = 0
	cfg.Shm, cfg.ShmSlots = memfd(t), 3
	r, rw, done := startShm(t, cfg)
	rd, err := ipc.NewReader(r)
	if err != nil {
		t.Fatal(err)
	}
	if !rd.Next() {
		t.Fatal(rd.Err())
	}
	giveBack(t, rw, 7)
	res := <-done
	if !errors.Is(res.err, ErrShmReturn) || !strings.Contains(res.err.Error(), "returned slot 7, which it does not hold (3 slots)") {
		t.Fatalf("err %v, want ErrShmReturn naming slot 7", res.err)
	}
	rd.Release()

	cfg.Shm = memfd(t)
	r, rw, done = startShm(t, cfg)
	if rd, err = ipc.NewReader(r); err != nil {
		t.Fatal(err)
	}
	if !rd.Next() {
		t.Fatal(rd.Err())
	}
	rw.Close()
	res = <-done
	if res.err != nil || !res.rep.ReaderGone {
		t.Fatalf("closed return channel: %+v, %v; want ReaderGone", res.rep, res.err)
	}
	rd.Release()

	cfg.ShmSlots, cfg.Returns = 1, bytes.NewReader(nil)
	if _, err := Stream(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "want >= 2") {
		t.Fatalf("1 slot: %v", err)
	}
	cfg.Shm, cfg.Returns = memfd(t), nil
	if _, err := Stream(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "return channel") {
		t.Fatalf("no return channel: %v", err)
	}
}

// TestStreamShmSocket: with Socket, the slots come back on the socket: a
// reader that returns every slot gets more batches than the ring holds,
// and closing the socket stops the stream as a reader gone.
func TestStreamShmSocket(t *testing.T) {
	dir := synthShards(t, 150, 2)
	cfg := streamConfig(dir, 8, 2)
	cfg.View.Source.Epochs = 0
	cfg.Shm, cfg.ShmSlots = memfd(t), 2
	sock := filepath.Join(t.TempDir(), "s.sock")
	cfg.Socket = sock
	ready := make(chan struct{})
	cfg.Listening = func(string) { close(ready) }
	done := make(chan streamResult, 1)
	go func() {
		rep, err := Stream(context.Background(), cfg)
		done <- streamResult{rep, err}
	}()
	<-ready
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ipc.NewReader(conn)
	if err != nil {
		t.Fatal(err)
	}
	sb := slotBytes(r.Schema().Metadata())
	for range 6 { // 3 times the ring
		if !r.Next() {
			t.Fatal(r.Err())
		}
		giveBack(t, conn, int(r.Record().Column(0).(*array.Uint64).Value(0))/sb)
	}
	conn.Close()
	select {
	case res := <-done:
		if res.err != nil || !res.rep.ReaderGone || res.rep.Batches < 6 {
			t.Fatalf("closed socket: %+v, %v", res.rep, res.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("stream did not stop after its socket reader closed")
	}
	r.Release()
}

// lockedBuffer is a bytes.Buffer that one goroutine may write while another
// reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Read(p)
}

// TestStreamShmFloat32: with Float32 the slots hold the views normalized
// as float32 [B,V,C,H,W], bit-identical to the float32 batches of the view
// pipeline (the same Normalizer), and the metadata says so; without the
// shm transport it is refused.
func TestStreamShmFloat32(t *testing.T) {
	dir := synthShards(t, 150, 3)
	cfg := streamConfig(dir, 16, 2)
	cfg.View.Source.Epochs = 1
	cfg.Shm, cfg.ShmSlots, cfg.Float32 = memfd(t), 3, true
	r, rw, done := startShm(t, cfg)

	ref := streamConfig(dir, 16, 1).View
	ref.Source.Epochs = 1
	ref.Output, ref.DropLast = stages.Float32, true
	vs, err := stages.NewViewStream(ref)
	if err != nil {
		t.Fatal(err)
	}
	p := pipeline.New("ref")
	var want [][]byte
	pipeline.Sink(p, "keep", vs.Add(p), pipeline.ConsumerFunc[*stages.Batch](func(_ context.Context, b *stages.Batch) error {
		defer b.Release()
		var out []byte
		for i := range b.Size() {
			for v := range b.Views {
				f := b.Float32s(v)
				n := len(f) / b.Size()
				for _, x := range f[i*n : (i+1)*n] {
					out = binary.LittleEndian.AppendUint32(out, math.Float32bits(x))
				}
			}
		}
		want = append(want, out)
		return nil
	}))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}

	rd, err := ipc.NewReader(r)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Release()
	md := rd.Schema().Metadata()
	for k, v := range map[string]string{"dtype": "float32", "layout": "BVCHW", "mean": "0.485,0.456,0.406", "std": "0.229,0.224,0.225", "shm_slot_bytes": strconv.Itoa((16*2*3*12*12*4 + 4095) / 4096 * 4096)} {
		if got, _ := md.GetValue("contrastream." + k); got != v {
			t.Errorf("metadata %s = %q, want %q", k, got, v)
		}
	}
	if s, _ := rd.Schema().Field(0).Metadata.GetValue("contrastream.shape"); s != "[2,3,12,12]" {
		t.Errorf("views_offset shape %q", s)
	}
	sb := slotBytes(md)
	i := 0
	for rd.Next() {
		rec := rd.Record()
		off := rec.Column(0).(*array.Uint64).Value(0)
		if d := rec.Column(0).(*array.Uint64).Value(1) - off; d != 2*3*12*12*4 {
			t.Fatalf("batch %d: samples %d bytes apart", i, d)
		}
		got := make([]byte, int(rec.NumRows())*2*3*12*12*4)
		if _, err := cfg.Shm.ReadAt(got, int64(off)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want[i]) {
			t.Fatalf("batch %d: the float32 views differ from the view pipeline's", i)
		}
		giveBack(t, rw, int(off)/sb)
		i++
	}
	if i != len(want) || i != 150/16 {
		t.Fatalf("read %d batches, want %d", i, len(want))
	}
	if res := <-done; res.err != nil {
		t.Fatal(res.err)
	}

	cfg = streamConfig(dir, 16, 2)
	cfg.Float32, cfg.W = true, io.Discard
	if _, err := Stream(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "only by the shm transport") {
		t.Fatalf("float32 without shm: %v", err)
	}
}

// TestStreamShmFloat32Normalize: with View.Normalize the float32 slots hold
// (float32(v)/255 − mean)/std of the uint8 views of the same stream,
// computed here from the packed uint8 view pipeline, value for value (gray
// views use channel 0), and the metadata records the statistics (ImageNet's
// when Normalize is zero; none without Float32). Normalize without Float32,
// a zero std and a mean without a std are refused.
func TestStreamShmFloat32Normalize(t *testing.T) {
	dir := synthShards(t, 70, 2)
	norm := augment.Normalize{Mean: [3]float32{0.4, 0.5, 0.6}, Std: [3]float32{0.3, 0.2, 0.7}}
	for _, ch := range []int{3, 1} {
		cfg := streamConfig(dir, 16, 2)
		cfg.View.Source.Epochs, cfg.View.Channels, cfg.View.Normalize = 1, ch, norm
		cfg.Shm, cfg.ShmSlots, cfg.Float32 = memfd(t), 3, true
		r, rw, done := startShm(t, cfg)

		ref := streamConfig(dir, 16, 1).View
		ref.Source.Epochs, ref.Channels = 1, ch
		want := viewBatches(t, ref) // uint8 [B,V,H,W,C]

		rd, err := ipc.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		md := rd.Schema().Metadata()
		for k, v := range map[string]string{"dtype": "float32", "mean": "0.4,0.5,0.6", "std": "0.3,0.2,0.7", "channels": strconv.Itoa(ch)} {
			if got, _ := md.GetValue("contrastream." + k); got != v {
				t.Errorf("channels %d: metadata %s = %q, want %q", ch, k, got, v)
			}
		}
		sb := slotBytes(md)
		const hw = 12 * 12
		i := 0
		for rd.Next() {
			rec := rd.Record()
			off := rec.Column(0).(*array.Uint64).Value(0)
			raw := make([]byte, int(rec.NumRows())*2*ch*hw*4)
			if _, err := cfg.Shm.ReadAt(raw, int64(off)); err != nil {
				t.Fatal(err)
			}
			pix := want[i].pixels
			if len(pix)*4 != len(raw) {
				t.Fatalf("channels %d, batch %d: %d float32 bytes for %d uint8 values", ch, i, len(raw), len(pix))
			}
			for s := range int(rec.NumRows()) {
				for v := range 2 {
					for c := range ch {
						for p := range hw {
							u := pix[((s*2+v)*hw+p)*ch+c]
							exp := (float32(u)/255 - norm.Mean[c]) / norm.Std[c]
							at := (((s*2+v)*ch+c)*hw + p) * 4
							if got := math.Float32frombits(binary.LittleEndian.Uint32(raw[at:])); got != exp {
								t.Fatalf("channels %d, batch %d, sample %d, view %d, channel %d, pixel %d: %v from level %d, want %v",
									ch, i, s, v, c, p, got, u, exp)
							}
						}
					}
				}
			}
			giveBack(t, rw, int(off)/sb)
			i++
		}
		rd.Release()
		if i != len(want) || i != 70/16 {
			t.Fatalf("channels %d: read %d batches, want %d", ch, i, len(want))
		}
		if res := <-done; res.err != nil {
			t.Fatal(res.err)
		}
	}

	for _, c := range []struct {
		m         StreamMeta
		mean, std string // "": no key
	}{
		{StreamMeta{Float32: true}, "0.485,0.456,0.406", "0.229,0.224,0.225"},
		{StreamMeta{Float32: true, Normalize: augment.Normalize{Std: [3]float32{1, 1, 1}}}, "0,0,0", "1,1,1"},
		{StreamMeta{}, "", ""},
		{StreamMeta{Normalize: norm}, "", ""},
	} {
		md := c.m.Metadata()
		mean, hasMean := md.GetValue("contrastream.mean")
		std, hasStd := md.GetValue("contrastream.std")
		if mean != c.mean || std != c.std || hasMean != (c.mean != "") || hasStd != (c.std != "") {
			t.Errorf("%+v: metadata mean %q (%v), std %q (%v); want %q, %q", c.m, mean, hasMean, std, hasStd, c.mean, c.std)
		}
	}

	for _, c := range []struct {
		float32 bool
		norm    augment.Normalize
		want    string
	}{
		{false, norm, "View.Normalize needs Float32"},
		{true, augment.Normalize{Std: [3]float32{0.2, 0, 0.2}}, "normalize std [0.2 0 0.2]: want finite numbers > 0"},
		{true, augment.Normalize{Mean: [3]float32{0.5, 0.5, 0.5}}, "normalize mean [0.5 0.5 0.5] without a std"},
	} {
		cfg := streamConfig(dir, 16, 2)
		cfg.View.Normalize, cfg.Float32 = c.norm, c.float32
		cfg.Shm, cfg.W, cfg.Returns = memfd(t), io.Discard, strings.NewReader("")
		if _, err := Stream(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("float32 %v, %+v: %v; want an error with %q", c.float32, c.norm, err, c.want)
		}
	}
}
