package sources

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"
)

// streamOf frames Message flatbuffers as an Arrow IPC stream (continuation
// marker, length, metadata padded to 8, no bodies) ending with the
// end-of-stream marker.
func streamOf(msgs ...[]byte) []byte {
	var out []byte
	for _, m := range msgs {
		for len(m)%8 != 0 {
			m = append(m, 0)
		}
		out = binary.LittleEndian.AppendUint32(out, 0xffffffff)
		out = binary.LittleEndian.AppendUint32(out, uint32(len(m)))
		out = append(out, m...)
	}
	return binary.LittleEndian.AppendUint64(out, 0x00000000ffffffff)
}

// message builds Message { version: V5, header_type, header, bodyLength: 0 }.
func message(b *flatbuffers.Builder, typ byte, header flatbuffers.UOffsetT) []byte {
	b.StartObject(5)
	b.PrependInt16Slot(0, 4, 0)
	b.PrependByteSlot(1, typ, 0)
	b.PrependUOffsetTSlot(2, header, 0)
	b.Finish(b.EndObject())
	return b.FinishedBytes()
}

func writeShardBytes(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hostile.arrows")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A schema of a few hundred bytes in which every struct field names the same
// child twice: 2^40 fields as arrow/go would build them (it never finished).
func TestArrowSchemaSharedChildren(t *testing.T) {
	b := flatbuffers.NewBuilder(0)
	name := b.CreateString("x")
	b.StartObject(0)
	structType := b.EndObject() // Struct_ {}
	b.StartObject(0)
	leafType := b.EndObject() // Null {}
	b.StartObject(7)
	b.PrependUOffsetTSlot(0, name, 0)
	b.PrependByteSlot(2, 1, 0) // Null
	b.PrependUOffsetTSlot(3, leafType, 0)
	child := b.EndObject()
	for range 40 {
		b.StartVector(4, 2, 4)
		b.PrependUOffsetT(child)
		b.PrependUOffsetT(child)
		kids := b.EndVector(2)
		b.StartObject(7)
		b.PrependUOffsetTSlot(0, name, 0)
		b.PrependByteSlot(2, 13, 0) // Struct_
		b.PrependUOffsetTSlot(3, structType, 0)
		b.PrependUOffsetTSlot(5, kids, 0)
		child = b.EndObject()
	}
	b.StartVector(4, 1, 4)
	b.PrependUOffsetT(child)
	fields := b.EndVector(1)
	b.StartObject(4)
	b.PrependUOffsetTSlot(1, fields, 0)
	schema := b.EndObject()
	data := streamOf(message(b, 1, schema))
	if len(data) > 2000 {
		t.Fatalf("fixture of %d bytes", len(data))
	}
	p := writeShardBytes(t, data)
	_, err := OpenShard(p, Columns{})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "more than 65536 fields") || !strings.Contains(err.Error(), p) {
		t.Fatalf("err = %v, want a corrupt-file error naming the shard and the field limit", err)
	}
}

// A schema message declaring 2^31 fields in a small buffer (the fuzzer's
// 144 GB allocation, sources/testdata/fuzz/FuzzArrowReader).
func TestArrowSchemaVectorPastItsBuffer(t *testing.T) {
	b := flatbuffers.NewBuilder(0)
	b.StartVector(4, 0, 4)
	fields := b.EndVector(0)
	b.StartObject(4)
	b.PrependUOffsetTSlot(1, fields, 0)
	schema := b.EndObject()
	msg := message(b, 1, schema)
	// Patch the empty vector's length to 2^31-1.
	at := findVectorLen(t, msg)
	binary.LittleEndian.PutUint32(msg[at:], 0x7fffffff)
	p := writeShardBytes(t, streamOf(msg))
	_, err := OpenShard(p, Columns{})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "schema fields") {
		t.Fatalf("err = %v, want a corrupt-file error on the schema's fields", err)
	}
}

// findVectorLen returns the position of the Schema's fields vector length in
// a Message built by message.
func findVectorLen(t *testing.T, msg []byte) int {
	m, err := fbRoot(msg)
	if err != nil {
		t.Fatal(err)
	}
	s, ok, err := m.table(2)
	if err != nil || !ok {
		t.Fatal("no schema", err)
	}
	at, ok, err := s.ref(1)
	if err != nil || !ok {
		t.Fatal("no fields", err)
	}
	return at
}

// A record batch whose variadic buffer count (read by arrow/go's view-type
// loader as a slice capacity) exceeds the buffers it holds.
func TestArrowRecordBatchVariadicCounts(t *testing.T) {
	b := flatbuffers.NewBuilder(0)
	b.StartVector(8, 1, 8)
	b.PrependInt64(1 << 40)
	counts := b.EndVector(1)
	b.StartObject(5)
	b.PrependInt64Slot(0, 1, 0)
	b.PrependUOffsetTSlot(4, counts, 0)
	rb := b.EndObject()
	err := checkMessage(mustRoot(t, message(b, 3, rb)))
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "declares 1099511627776 variadic buffers and holds 0") {
		t.Fatalf("err = %v", err)
	}
}

func mustRoot(t *testing.T, b []byte) fbTable {
	t.Helper()
	m, err := fbRoot(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
