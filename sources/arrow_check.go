package sources

import (
	"encoding/binary"
	"fmt"
)

// arrow/go builds its schema and record batches from FlatBuffers without
// checking a vector's declared length against the buffer that holds it:
// schemaFromFB makes a []arrow.Field of FieldsLength() entries, fieldFromFB
// one of ChildrenLength(), metadataFromFB two []string of
// CustomMetadataLength(), and the view-type loader a []*memory.Buffer of a
// variadic buffer count taken from the record batch. A 1.7 KB file whose
// schema declares 2^31 fields made it ask for 144 GB and the process die
// ("fatal error: out of memory", not a recoverable panic). And since tables
// can be shared, a schema of a few hundred bytes can name the same child
// table from every level, so that the tree arrow builds grows exponentially
// with the nesting depth. So every message's metadata (and the file
// footer's schema) is walked here first, with the bounds-checked reader of
// arrow.go, before arrow sees it: vectors must fit in their buffer, the
// schema tree may hold at most maxSchemaFields fields and maxSchemaDepth
// levels, what arrow builds from it (fields, metadata entries, and the
// names, metadata and time zones it copies) at most maxSchemaBytes by an
// estimate that counts shared tables once per time they are reached, and the variadic buffer counts of a record
// batch at most its number of buffers.
const (
	maxSchemaFields = 1 << 16
	maxSchemaDepth  = 64 // arrow/go's own limit for nested arrays
	maxSchemaBytes  = 64 << 20
)

// fbCheck walks one message's metadata and counts what arrow would build.
type fbCheck struct {
	fields int
	bytes  int64
}

// checkMessageBytes checks an encapsulated IPC message: its 4- or 8-byte
// length prefix, then the Message flatbuffer (the body that may follow is
// not read).
func checkMessageBytes(b []byte) error {
	if len(b) < 4 {
		return fmt.Errorf("message of %d bytes: %w", len(b), ErrTruncated)
	}
	hl := 4
	n := int64(int32(binary.LittleEndian.Uint32(b)))
	if uint32(n) == 0xffffffff {
		if len(b) < 8 {
			return fmt.Errorf("message of %d bytes: %w", len(b), ErrTruncated)
		}
		hl, n = 8, int64(int32(binary.LittleEndian.Uint32(b[4:])))
	}
	if n <= 0 || n > int64(len(b)-hl) {
		return fmt.Errorf("message metadata of %d bytes in %d: %w", n, len(b), ErrCorrupt)
	}
	m, err := fbRoot(b[hl : int64(hl)+n])
	if err != nil {
		return err
	}
	return checkMessage(m)
}

// checkMessage checks a Message table: a Schema, DictionaryBatch or
// RecordBatch header and its custom metadata.
func checkMessage(m fbTable) error {
	var c fbCheck
	if err := c.keyValues(m, 4); err != nil {
		return err
	}
	typ, _, err := m.scalar(1, 1)
	if err != nil {
		return err
	}
	h, ok, err := m.table(2)
	if err != nil {
		return err
	}
	if !ok {
		return nil // arrow refuses a message without a header itself
	}
	switch typ {
	case 1:
		return c.schema(h)
	case 2: // DictionaryBatch { id, data: RecordBatch, isDelta }
		rb, ok, err := h.table(1)
		if err != nil || !ok {
			return err
		}
		return checkRecordBatch(rb)
	case 3:
		return checkRecordBatch(h)
	}
	return nil
}

// checkFooterSchema checks the schema table of an IPC file's footer (which
// arrow's FileReader reads instead of the schema message).
func checkFooterSchema(footer fbTable) error {
	var c fbCheck
	if err := c.keyValues(footer, 4); err != nil {
		return err
	}
	s, ok, err := footer.table(1)
	if err != nil {
		return err
	}
	if !ok {
		return nil
	}
	return c.schema(s)
}

// checkRecordBatch checks RecordBatch { length, nodes: [FieldNode],
// buffers: [Buffer], compression, variadicBufferCounts: [long] }.
func checkRecordBatch(rb fbTable) error {
	if _, _, err := rb.vector(1, 16); err != nil {
		return fmt.Errorf("record batch nodes: %w", err)
	}
	bufs, _, err := rb.vector(2, 16)
	if err != nil {
		return fmt.Errorf("record batch buffers: %w", err)
	}
	if _, _, err := rb.table(3); err != nil {
		return fmt.Errorf("record batch compression: %w", err)
	}
	vc, ok, err := rb.vector(4, 8)
	if err != nil {
		return fmt.Errorf("record batch variadic buffer counts: %w", err)
	}
	if ok {
		var sum uint64
		for i := range vc.n {
			v := binary.LittleEndian.Uint64(rb.b[vc.pos+8*i:])
			sum += v
			if v > uint64(bufs.n) || sum > uint64(bufs.n) {
				return fmt.Errorf("record batch declares %d variadic buffers and holds %d: %w", int64(v), bufs.n, ErrCorrupt)
			}
		}
	}
	return nil
}

// schema checks Schema { endianness, fields: [Field], custom_metadata,
// features: [long] }.
func (c *fbCheck) schema(s fbTable) error {
	if err := c.keyValues(s, 2); err != nil {
		return err
	}
	if _, _, err := s.vector(3, 8); err != nil {
		return fmt.Errorf("schema features: %w", err)
	}
	return c.fieldVector(s, 1, 1)
}

func (c *fbCheck) fieldVector(t fbTable, i, depth int) error {
	v, ok, err := t.vector(i, 4)
	if err != nil {
		return fmt.Errorf("schema fields: %w", err)
	}
	if !ok {
		return nil
	}
	if depth > maxSchemaDepth {
		return fmt.Errorf("schema nested more than %d levels deep: %w", maxSchemaDepth, ErrCorrupt)
	}
	for k := range v.n {
		f, err := t.elemTable(v, k)
		if err != nil {
			return fmt.Errorf("schema field: %w", err)
		}
		if err := c.field(f, depth); err != nil {
			return err
		}
	}
	return nil
}

// field checks Field { name, nullable, type_type, type, dictionary,
// children: [Field], custom_metadata }.
func (c *fbCheck) field(f fbTable, depth int) error {
	c.fields++
	if c.fields > maxSchemaFields {
		return fmt.Errorf("schema holds more than %d fields: %w", maxSchemaFields, ErrCorrupt)
	}
	if err := c.grow(128); err != nil { // an arrow.Field and its type
		return err
	}
	if err := c.str(f, 0); err != nil {
		return err
	}
	if err := c.keyValues(f, 6); err != nil {
		return err
	}
	typ, _, err := f.scalar(2, 1)
	if err != nil {
		return err
	}
	tt, ok, err := f.table(3)
	if err != nil {
		return fmt.Errorf("schema field type: %w", err)
	}
	if ok {
		switch typ {
		case 10: // Timestamp { unit, timezone }
			if err := c.str(tt, 1); err != nil {
				return err
			}
		case 14: // Union { mode, typeIds: [int] }
			if _, _, err := tt.vector(1, 4); err != nil {
				return fmt.Errorf("union type ids: %w", err)
			}
		}
	}
	if d, ok, err := f.table(4); err != nil {
		return fmt.Errorf("schema field dictionary: %w", err)
	} else if ok {
		if _, _, err := d.table(1); err != nil {
			return fmt.Errorf("dictionary index type: %w", err)
		}
	}
	return c.fieldVector(f, 5, depth+1)
}

// keyValues checks field i of t as a [KeyValue { key, value }] vector.
func (c *fbCheck) keyValues(t fbTable, i int) error {
	v, ok, err := t.vector(i, 4)
	if err != nil {
		return fmt.Errorf("custom metadata: %w", err)
	}
	if !ok {
		return nil
	}
	for k := range v.n {
		if err := c.grow(32); err != nil { // a key and a value string header
			return err
		}
		kv, err := t.elemTable(v, k)
		if err != nil {
			return fmt.Errorf("custom metadata: %w", err)
		}
		if err := c.str(kv, 0); err != nil {
			return err
		}
		if err := c.str(kv, 1); err != nil {
			return err
		}
	}
	return nil
}

// str checks field i of t as a string and counts its bytes (arrow copies
// it, once per time the table is reached).
func (c *fbCheck) str(t fbTable, i int) error {
	at, ok, err := t.ref(i)
	if err != nil || !ok {
		return err
	}
	n, ok := fbU32(t.b, at)
	if !ok || int64(n) > int64(len(t.b)-at-4) {
		return fmt.Errorf("string of %d bytes past the end of its buffer: %w", n, errFlatbuf)
	}
	return c.grow(int64(n))
}

// grow counts n more bytes that arrow would allocate for the schema.
func (c *fbCheck) grow(n int64) error {
	c.bytes += n
	if c.bytes > maxSchemaBytes {
		return fmt.Errorf("schema would take more than %d bytes to build: %w", maxSchemaBytes, ErrCorrupt)
	}
	return nil
}

// elemTable returns element k of a vector of tables.
func (t fbTable) elemTable(v fbVector, k int) (fbTable, error) {
	at := v.pos + 4*k
	off, ok := fbU32(t.b, at)
	if !ok {
		return fbTable{}, errFlatbuf
	}
	return fbTableAt(t.b, at+int(off))
}
