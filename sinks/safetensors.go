package sinks

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"unsafe"

	"gorgonia.org/tensor"

	"github.com/contrastream/contrastream/stages/train/nn"
)

// DType is a safetensors element type, as written in the header ("F32").
type DType string

// The element types of the safetensors format.
const (
	F64  DType = "F64"
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	I64  DType = "I64"
	I32  DType = "I32"
	I16  DType = "I16"
	I8   DType = "I8"
	U64  DType = "U64"
	U32  DType = "U32"
	U16  DType = "U16"
	U8   DType = "U8"
	BOOL DType = "BOOL"
)

// Size returns the bytes per element, or 0 for an unknown type.
func (d DType) Size() int {
	switch d {
	case F64, I64, U64:
		return 8
	case F32, I32, U32:
		return 4
	case F16, BF16, I16, U16:
		return 2
	case I8, U8, BOOL:
		return 1
	}
	return 0
}

// ErrSafetensors is wrapped by every error of ParseSafetensors: the bytes are
// not a well-formed safetensors file.
var ErrSafetensors = errors.New("sinks: malformed safetensors")

// maxHeader is the largest header accepted, as in the reference
// implementation (100 MB).
const maxHeader = 100_000_000

// Tensor is one named tensor of a safetensors file: element type, shape
// (empty for a scalar) and the raw little-endian bytes, row-major.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// numel returns the element count of shape, or -1 on a negative dimension or
// overflow.
func numel(shape []int) int {
	n := 1
	for _, s := range shape {
		if s < 0 {
			return -1
		}
		if s != 0 && n > math.MaxInt32*16/s {
			return -1
		}
		n *= s
	}
	return n
}

// Safetensors is a parsed safetensors file: its tensors in file order (by
// data offset) and its free-form string metadata (nil when absent).
type Safetensors struct {
	Tensors  []Tensor
	Metadata map[string]string
}

// Get returns the tensor called name and whether it exists. It is a linear
// search.
func (s *Safetensors) Get(name string) (Tensor, bool) {
	for _, t := range s.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return Tensor{}, false
}

// WriteSafetensors writes tensors and metadata to w in the safetensors
// format: an 8-byte little-endian header length, the JSON header padded with
// spaces to a multiple of 8 bytes, then the data. As the reference
// implementation does, the data are laid out by decreasing element size,
// then by name, so every tensor is aligned to its element size. Names must be
// unique, non-empty and not "__metadata__"; each Data must hold exactly
// numel(Shape)·Size bytes. It returns the bytes written. It allocates the
// header; the data are written from the callers' slices without copying.
func WriteSafetensors(w io.Writer, tensors []Tensor, metadata map[string]string) (int64, error) {
	hdr, order, err := safetensorsHeader(tensors, metadata)
	if err != nil {
		return 0, err
	}
	var n int64
	k, err := w.Write(hdr)
	n += int64(k)
	if err != nil {
		return n, fmt.Errorf("sinks: write safetensors: %w", err)
	}
	for _, i := range order {
		k, err := w.Write(tensors[i].Data)
		n += int64(k)
		if err != nil {
			return n, fmt.Errorf("sinks: write safetensors: %w", err)
		}
	}
	return n, nil
}

// safetensorsHeader validates tensors and returns the length-prefixed,
// padded header and the order in which the data follow.
func safetensorsHeader(tensors []Tensor, metadata map[string]string) ([]byte, []int, error) {
	order := make([]int, len(tensors))
	seen := make(map[string]bool, len(tensors))
	for i, t := range tensors {
		order[i] = i
		sz := t.DType.Size()
		switch {
		case t.Name == "" || t.Name == "__metadata__":
			return nil, nil, fmt.Errorf("sinks: safetensors: bad tensor name %q", t.Name)
		case seen[t.Name]:
			return nil, nil, fmt.Errorf("sinks: safetensors: duplicate tensor %q", t.Name)
		case sz == 0:
			return nil, nil, fmt.Errorf("sinks: safetensors: tensor %q has unknown dtype %q", t.Name, t.DType)
		case numel(t.Shape) < 0 || numel(t.Shape)*sz != len(t.Data):
			return nil, nil, fmt.Errorf("sinks: safetensors: tensor %q: %d bytes for %s%v", t.Name, len(t.Data), t.DType, t.Shape)
		}
		seen[t.Name] = true
	}
	sort.SliceStable(order, func(a, b int) bool {
		ta, tb := &tensors[order[a]], &tensors[order[b]]
		if sa, sb := ta.DType.Size(), tb.DType.Size(); sa != sb {
			return sa > sb
		}
		return ta.Name < tb.Name
	})
	var buf bytes.Buffer
	buf.Write(make([]byte, 8))
	buf.WriteByte('{')
	first := true
	if len(metadata) > 0 {
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		buf.WriteString(`"__metadata__":{`)
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJSONString(&buf, k)
			buf.WriteByte(':')
			writeJSONString(&buf, metadata[k])
		}
		buf.WriteByte('}')
		first = false
	}
	off := 0
	for _, i := range order {
		t := &tensors[i]
		if !first {
			buf.WriteByte(',')
		}
		first = false
		writeJSONString(&buf, t.Name)
		buf.WriteString(`:{"dtype":"`)
		buf.WriteString(string(t.DType))
		buf.WriteString(`","shape":[`)
		for j, s := range t.Shape {
			if j > 0 {
				buf.WriteByte(',')
			}
			buf.WriteString(strconv.Itoa(s))
		}
		buf.WriteString(`],"data_offsets":[`)
		buf.WriteString(strconv.Itoa(off))
		buf.WriteByte(',')
		off += len(t.Data)
		buf.WriteString(strconv.Itoa(off))
		buf.WriteString("]}")
	}
	buf.WriteByte('}')
	for (buf.Len()-8)%8 != 0 {
		buf.WriteByte(' ')
	}
	b := buf.Bytes()
	binary.LittleEndian.PutUint64(b[:8], uint64(len(b)-8))
	return b, order, nil
}

// writeJSONString writes s as a JSON string, without HTML escaping (as
// serde_json, the reference implementation, writes it).
func writeJSONString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes; Encode appends '\n'
	buf.Truncate(buf.Len() - 1)
}

// ParseSafetensors parses a whole safetensors file held in buf. It checks
// everything the reference implementation checks: the header length fits,
// the header is a JSON object starting with '{', names are unique, every
// dtype is known, shapes and data_offsets agree, and the tensors cover the
// data exactly, without holes or overlaps. Metadata values must be strings.
// Errors wrap ErrSafetensors. The returned tensors' Data alias buf (copy buf
// before reusing it). It never panics, whatever buf holds.
func ParseSafetensors(buf []byte) (*Safetensors, error) {
	if len(buf) < 8 {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the 8-byte header length", ErrSafetensors, len(buf))
	}
	hl := binary.LittleEndian.Uint64(buf[:8])
	if hl > maxHeader {
		return nil, fmt.Errorf("%w: header length %d exceeds %d", ErrSafetensors, hl, maxHeader)
	}
	if hl > uint64(len(buf)-8) {
		return nil, fmt.Errorf("%w: header length %d, but only %d bytes follow", ErrSafetensors, hl, len(buf)-8)
	}
	hdr, data := buf[8:8+hl], buf[8+hl:]
	if len(hdr) == 0 || hdr[0] != '{' {
		return nil, fmt.Errorf("%w: header does not start with '{'", ErrSafetensors)
	}
	type entry struct {
		DType   DType    `json:"dtype"`
		Shape   []int    `json:"shape"`
		Offsets []uint64 `json:"data_offsets"`
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // '{'
		return nil, fmt.Errorf("%w: header: %v", ErrSafetensors, err)
	}
	st := &Safetensors{}
	seen := map[string]bool{}
	type span struct{ b, e uint64 }
	var spans []span
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: header: %v", ErrSafetensors, err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("%w: header: key is not a string", ErrSafetensors)
		}
		if seen[name] {
			return nil, fmt.Errorf("%w: header: duplicate key %q", ErrSafetensors, name)
		}
		seen[name] = true
		if name == "__metadata__" {
			var m map[string]string
			if err := dec.Decode(&m); err != nil {
				return nil, fmt.Errorf("%w: __metadata__ is not a map of strings: %v", ErrSafetensors, err)
			}
			st.Metadata = m
			continue
		}
		var e entry
		if err := dec.Decode(&e); err != nil {
			return nil, fmt.Errorf("%w: tensor %q: %v", ErrSafetensors, name, err)
		}
		sz := e.DType.Size()
		n := numel(e.Shape)
		switch {
		case sz == 0:
			return nil, fmt.Errorf("%w: tensor %q has unknown dtype %q", ErrSafetensors, name, e.DType)
		case n < 0:
			return nil, fmt.Errorf("%w: tensor %q has bad shape %v", ErrSafetensors, name, e.Shape)
		case len(e.Offsets) != 2 || e.Offsets[0] > e.Offsets[1] || e.Offsets[1] > uint64(len(data)):
			return nil, fmt.Errorf("%w: tensor %q has data_offsets %v outside the %d data bytes", ErrSafetensors, name, e.Offsets, len(data))
		case e.Offsets[1]-e.Offsets[0] != uint64(n)*uint64(sz):
			return nil, fmt.Errorf("%w: tensor %q: %d bytes for %s%v", ErrSafetensors, name, e.Offsets[1]-e.Offsets[0], e.DType, e.Shape)
		}
		if e.Shape == nil {
			e.Shape = []int{}
		}
		st.Tensors = append(st.Tensors, Tensor{Name: name, DType: e.DType, Shape: e.Shape,
			Data: data[e.Offsets[0]:e.Offsets[1]:e.Offsets[1]]})
		spans = append(spans, span{e.Offsets[0], e.Offsets[1]})
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, fmt.Errorf("%w: header: %v", ErrSafetensors, err)
	}
	if rest := bytes.TrimRight(hdr[dec.InputOffset():], " "); len(rest) != 0 {
		return nil, fmt.Errorf("%w: header: %d bytes after the JSON object", ErrSafetensors, len(rest))
	}
	idx := make([]int, len(spans))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		if spans[idx[a]].b != spans[idx[b]].b {
			return spans[idx[a]].b < spans[idx[b]].b
		}
		return spans[idx[a]].e < spans[idx[b]].e
	})
	var end uint64
	for _, i := range idx {
		if spans[i].b != end {
			return nil, fmt.Errorf("%w: tensor %q starts at %d, want %d (holes or overlaps in the data)", ErrSafetensors, st.Tensors[i].Name, spans[i].b, end)
		}
		end = spans[i].e
	}
	if end != uint64(len(data)) {
		return nil, fmt.Errorf("%w: tensors cover %d of %d data bytes", ErrSafetensors, end, len(data))
	}
	ordered := make([]Tensor, len(idx))
	for k, i := range idx {
		ordered[k] = st.Tensors[i]
	}
	st.Tensors = ordered
	return st, nil
}

// ReadSafetensors reads all of r and parses it (see ParseSafetensors).
func ReadSafetensors(r io.Reader) (*Safetensors, error) {
	buf, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("sinks: read safetensors: %w", err)
	}
	return ParseSafetensors(buf)
}

// hostLittleEndian reports whether native byte order is little-endian, so
// that tensor backing arrays can be written as safetensors bytes directly.
var hostLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// TensorOf describes the dense tensor t as a safetensors Tensor called name.
// Float64, Float32, Int64, Int32, Uint8 and Bool tensors are supported. On a
// little-endian machine Data aliases t's backing array (no copy: do not
// modify t until the Tensor has been written); elsewhere it is a copy.
func TensorOf(name string, t *tensor.Dense) (Tensor, error) {
	if t == nil {
		return Tensor{}, fmt.Errorf("sinks: tensor %q is nil", name)
	}
	shape := append([]int{}, t.Shape()...)
	if t.IsScalar() {
		shape = []int{}
	}
	n := numel(shape)
	var (
		dt  DType
		raw []byte
	)
	switch t.Dtype() {
	case tensor.Float64:
		dt, raw = F64, bytesOf(t.Float64s())
	case tensor.Float32:
		dt, raw = F32, bytesOf(t.Float32s())
	case tensor.Int64:
		dt, raw = I64, bytesOf(t.Int64s())
	case tensor.Int32:
		dt, raw = I32, bytesOf(t.Int32s())
	case tensor.Uint8:
		dt, raw = U8, t.Uint8s()
	case tensor.Bool:
		dt, raw = BOOL, bytesOf(t.Bools())
	default:
		return Tensor{}, fmt.Errorf("sinks: tensor %q has unsupported type %v", name, t.Dtype())
	}
	if n < 0 || len(raw) < n*dt.Size() {
		return Tensor{}, fmt.Errorf("sinks: tensor %q: %d bytes for %s%v", name, len(raw), dt, shape)
	}
	raw = raw[:n*dt.Size()]
	if !hostLittleEndian && dt.Size() > 1 {
		raw = swapCopy(raw, dt.Size())
	}
	return Tensor{Name: name, DType: dt, Shape: shape, Data: raw}, nil
}

// bytesOf views a slice of fixed-size values as bytes, without copying.
func bytesOf[E float64 | float32 | int64 | int32 | bool](s []E) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(s[0])))
}

// swapCopy returns a copy of b with each size-byte word reversed.
func swapCopy(b []byte, size int) []byte {
	out := make([]byte, len(b))
	for i := 0; i+size <= len(b); i += size {
		for j := 0; j < size; j++ {
			out[i+j] = b[i+size-1-j]
		}
	}
	return out
}

// Dense copies the tensor into a new gorgonia dense tensor: F64, F32, I64,
// I32, U8 and BOOL are supported (other types are an error). A scalar (empty
// shape) gives a 0-d tensor. It allocates the copy.
func (t Tensor) Dense() (*tensor.Dense, error) {
	n := numel(t.Shape)
	if n < 0 || t.DType.Size() == 0 || n*t.DType.Size() != len(t.Data) {
		return nil, fmt.Errorf("sinks: tensor %q: %d bytes for %s%v", t.Name, len(t.Data), t.DType, t.Shape)
	}
	var back any
	switch t.DType {
	case F64:
		v := make([]float64, n)
		for i := range v {
			v[i] = math.Float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:]))
		}
		back = v
	case F32:
		v := make([]float32, n)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
		}
		back = v
	case I64:
		v := make([]int64, n)
		for i := range v {
			v[i] = int64(binary.LittleEndian.Uint64(t.Data[8*i:]))
		}
		back = v
	case I32:
		v := make([]int32, n)
		for i := range v {
			v[i] = int32(binary.LittleEndian.Uint32(t.Data[4*i:]))
		}
		back = v
	case U8:
		back = slices.Clone(t.Data)
	case BOOL:
		v := make([]bool, n)
		for i := range v {
			v[i] = t.Data[i] != 0
		}
		back = v
	default:
		return nil, fmt.Errorf("sinks: tensor %q has unsupported dtype %s", t.Name, t.DType)
	}
	if len(t.Shape) == 0 {
		return tensor.New(tensor.WithShape(), tensor.WithBacking(back)), nil
	}
	if n == 0 {
		return nil, fmt.Errorf("sinks: tensor %q has an empty shape %v, not supported by tensor.Dense", t.Name, t.Shape)
	}
	return tensor.New(tensor.WithShape(t.Shape...), tensor.WithBacking(back)), nil
}

// NamedTensors converts a state dict into safetensors tensors with
// TensorOf, prefixing every name with prefix. Data alias the state dict's
// storage on little-endian machines.
func NamedTensors(prefix string, sd []nn.Named) ([]Tensor, error) {
	out := make([]Tensor, 0, len(sd))
	for _, s := range sd {
		t, err := TensorOf(prefix+s.Name, s.Tensor)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}
