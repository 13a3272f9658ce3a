package sinks

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

// stFixture returns the tensors that testdata/checkpoint/safetensors_interop.py
// writes with `write` (its fixture()), built in Go.
func stFixture(t testing.TB) ([]Tensor, map[string]string) {
	w := make([]float32, 24)
	for i := range w {
		w[i] = (float32(i) - 7.5) / 3
	}
	dense := []struct {
		name string
		d    *tensor.Dense
	}{
		{"encoder.0.weight", tensor.New(tensor.WithShape(2, 3, 4), tensor.WithBacking(w))},
		{"encoder.1.num_batches_tracked", tensor.New(tensor.WithShape(), tensor.WithBacking([]int64{12345678901}))},
		{"x.f64", tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float64{1.0 / 3, -2.5e300, math.Inf(1), math.Copysign(0, -1)}))},
		{"x.i32", tensor.New(tensor.WithShape(3), tensor.WithBacking([]int32{math.MinInt32, math.MaxInt32, 0}))},
		{"x.u8", tensor.New(tensor.WithShape(5), tensor.WithBacking([]uint8{0, 1, 254, 255, 7}))},
	}
	var ts []Tensor
	for _, d := range dense {
		st, err := TensorOf(d.name, d.d)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, st)
	}
	return ts, map[string]string{"format": "pt", "note": "written by python ✓"}
}

func stWrite(t testing.TB, ts []Tensor, meta map[string]string) []byte {
	var buf bytes.Buffer
	n, err := WriteSafetensors(&buf, ts, meta)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("WriteSafetensors returned %d, wrote %d", n, buf.Len())
	}
	return buf.Bytes()
}

func TestSafetensorsRoundTrip(t *testing.T) {
	ts, meta := stFixture(t)
	buf := stWrite(t, ts, meta)
	hl := binary.LittleEndian.Uint64(buf)
	if hl%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", hl)
	}
	st, err := ParseSafetensors(buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Tensors) != len(ts) || st.Metadata["note"] != meta["note"] || len(st.Metadata) != 2 {
		t.Fatalf("got %d tensors, metadata %v", len(st.Tensors), st.Metadata)
	}
	// Layout: by decreasing element size, then name; each aligned to its size.
	want := []string{"encoder.1.num_batches_tracked", "x.f64", "encoder.0.weight", "x.i32", "x.u8"}
	for i, tt := range st.Tensors {
		if tt.Name != want[i] {
			t.Errorf("tensor %d is %q, want %q", i, tt.Name, want[i])
		}
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(buf[8:8+hl], &hdr); err != nil {
		t.Fatal(err)
	}
	for _, tt := range st.Tensors {
		var e struct {
			Offsets []int `json:"data_offsets"`
		}
		if err := json.Unmarshal(hdr[tt.Name], &e); err != nil {
			t.Fatal(err)
		}
		if e.Offsets[0]%tt.DType.Size() != 0 {
			t.Errorf("%q at offset %d is not aligned to %d", tt.Name, e.Offsets[0], tt.DType.Size())
		}
	}
	for _, in := range ts {
		got, ok := st.Get(in.Name)
		if !ok {
			t.Fatalf("missing %q", in.Name)
		}
		if got.DType != in.DType || !equalInts(got.Shape, in.Shape) || !bytes.Equal(got.Data, in.Data) {
			t.Errorf("%q: got %s%v %x, want %s%v %x", in.Name, got.DType, got.Shape, got.Data, in.DType, in.Shape, in.Data)
		}
		d, err := got.Dense()
		if err != nil {
			t.Fatal(err)
		}
		back, err := TensorOf(in.Name, d)
		if err != nil || !bytes.Equal(back.Data, in.Data) {
			t.Errorf("%q: Dense round trip differs (%v)", in.Name, err)
		}
	}
	if nbt, _ := st.Get("encoder.1.num_batches_tracked"); len(nbt.Shape) != 0 {
		t.Errorf("scalar has shape %v", nbt.Shape)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSafetensorsPythonGolden reads the file the Python script wrote
// (committed) and checks it equals, byte for byte, what Go writes for the
// same tensors: the two writers lay files out identically.
func TestSafetensorsPythonGolden(t *testing.T) {
	py, err := os.ReadFile("testdata/checkpoint/py_fixture.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	ts, meta := stFixture(t)
	if g := stWrite(t, ts, meta); !bytes.Equal(g, py) {
		t.Errorf("Go writes %d bytes, differing from Python's %d:\n%q\n%q", len(g), len(py), g[:min(len(g), 200)], py[:min(len(py), 200)])
	}
	st, err := ParseSafetensors(py)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := st.Get("encoder.0.weight")
	d, err := f.Dense()
	if err != nil {
		t.Fatal(err)
	}
	if v := d.Float32s(); v[0] != -2.5 || v[23] != (23-7.5)/3.0 {
		t.Errorf("weights %v", v)
	}
}

func stPython(t *testing.T) string {
	t.Helper()
	const py = "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip("skipping: /usr/bin/python3 not installed")
	}
	if err := exec.Command(py, "-c", "import torch").Run(); err != nil {
		t.Skip("skipping: python3-torch not installed (apt-get install python3-torch)")
	}
	return py
}

// TestSafetensorsPythonInterop writes with Go and loads with torch, and
// writes with Python and loads with Go, live.
func TestSafetensorsPythonInterop(t *testing.T) {
	py := stPython(t)
	dir := t.TempDir()
	ts, meta := stFixture(t)
	gofile := filepath.Join(dir, "go.safetensors")
	if err := os.WriteFile(gofile, stWrite(t, ts, meta), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "testdata/checkpoint/safetensors_interop.py", "read", gofile).Output()
	if err != nil {
		t.Fatalf("python read: %v\n%s", err, stderrOf(err))
	}
	var got struct {
		Metadata map[string]string
		Tensors  map[string]struct {
			DType  string
			Shape  []int
			Values []json.RawMessage
		}
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if got.Metadata["note"] != meta["note"] {
		t.Errorf("metadata %v", got.Metadata)
	}
	for _, in := range ts {
		g, ok := got.Tensors[in.Name]
		if !ok || g.DType != string(in.DType) || !equalInts(g.Shape, in.Shape) {
			t.Fatalf("%q: python sees %+v", in.Name, g)
		}
		d, _ := in.Dense()
		for i, raw := range g.Values {
			var want string
			switch in.DType {
			case F32:
				want = strconv.Quote(pyRepr(float64(d.Float32s()[i])))
			case F64:
				want = strconv.Quote(pyRepr(d.Float64s()[i]))
			case I64:
				want = strconv.FormatInt(d.Int64s()[i], 10)
			case I32:
				want = strconv.FormatInt(int64(d.Int32s()[i]), 10)
			case U8:
				want = strconv.Itoa(int(d.Uint8s()[i]))
			}
			if string(raw) != want {
				t.Errorf("%q[%d]: python %s, go %s", in.Name, i, raw, want)
			}
		}
	}
	pyfile := filepath.Join(dir, "py.safetensors")
	if out, err := exec.Command(py, "testdata/checkpoint/safetensors_interop.py", "write", pyfile).CombinedOutput(); err != nil {
		t.Fatalf("python write: %v\n%s", err, out)
	}
	b, err := os.ReadFile(pyfile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, stWrite(t, ts, meta)) {
		t.Error("python-written file differs from Go's")
	}
	if _, err := ParseSafetensors(b); err != nil {
		t.Error(err)
	}
}

// pyRepr formats f as Python's repr(float) does for the fixture values.
func pyRepr(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if strings.Contains(s, "e") {
		m, e, _ := strings.Cut(s, "e")
		if e[0] == '+' {
			e = "+" + strings.TrimLeft(e[1:], "0")
		}
		return m + "e" + e
	}
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

func TestSafetensorsWriteErrors(t *testing.T) {
	f32 := func(name string, shape []int, n int) Tensor {
		return Tensor{Name: name, DType: F32, Shape: shape, Data: make([]byte, n)}
	}
	cases := []struct {
		name string
		ts   []Tensor
		want string
	}{
		{"empty name", []Tensor{f32("", []int{1}, 4)}, "bad tensor name"},
		{"metadata name", []Tensor{f32("__metadata__", []int{1}, 4)}, "bad tensor name"},
		{"duplicate", []Tensor{f32("a", []int{1}, 4), f32("a", []int{1}, 4)}, "duplicate"},
		{"short data", []Tensor{f32("a", []int{2}, 4)}, "4 bytes for F32[2]"},
		{"negative dim", []Tensor{f32("a", []int{-1}, 4)}, "bytes for"},
		{"unknown dtype", []Tensor{{Name: "a", DType: "Q7", Shape: []int{1}, Data: []byte{1}}}, "unknown dtype"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := WriteSafetensors(&bytes.Buffer{}, c.ts, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
		})
	}
}

func stRaw(header string, data []byte) []byte {
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	return append(append(b, header...), data...)
}

func TestParseSafetensorsRejects(t *testing.T) {
	good := `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	cases := []struct {
		name string
		buf  []byte
		want string
	}{
		{"short", []byte{1, 2, 3}, "shorter than"},
		{"empty", nil, "shorter than"},
		{"header past end", append(binary.LittleEndian.AppendUint64(nil, 1000), "{}"...), "only 2 bytes follow"},
		{"header over limit", binary.LittleEndian.AppendUint64(nil, 1<<40), "exceeds"},
		{"not an object", stRaw(`[1,2]   `, nil), "does not start"},
		{"bad json", stRaw(`{"a":`, nil), "tensor \"a\""},
		{"duplicate", stRaw(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, []byte{1, 2}), "duplicate key"},
		{"unknown dtype", stRaw(`{"a":{"dtype":"F12","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)), "unknown dtype"},
		{"negative shape", stRaw(`{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, make([]byte, 8)), "bad shape"},
		{"size mismatch", stRaw(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8)), "8 bytes for F32[3]"},
		{"offsets past end", stRaw(good, make([]byte, 4)), "outside"},
		{"reversed offsets", stRaw(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}`, make([]byte, 8)), "outside"},
		{"hole", stRaw(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, make([]byte, 2)), "holes"},
		{"overlap", stRaw(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, make([]byte, 2)), "holes"},
		{"trailing data", stRaw(good, make([]byte, 9)), "cover 8 of 9"},
		{"metadata not strings", stRaw(`{"__metadata__":{"a":1}}`, nil), "map of strings"},
		{"trailing header", stRaw(`{} x`, nil), "after the JSON"},
		{"key not string", stRaw(`{1:2}`, nil), "header"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseSafetensors(c.buf)
			if err == nil || !errors.Is(err, ErrSafetensors) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
		})
	}
	if _, err := ParseSafetensors(stRaw(good, make([]byte, 8))); err != nil {
		t.Fatalf("good file: %v", err)
	}
	if _, err := ParseSafetensors(stRaw("{}      ", nil)); err != nil {
		t.Fatalf("empty file: %v", err)
	}
}

// FuzzParseSafetensors: parsing never panics, and whatever parses writes
// back to a file that parses to the same tensors.
func FuzzParseSafetensors(f *testing.F) {
	ts, meta := stFixture(f)
	f.Add(stWrite(f, ts, meta))
	f.Add(stRaw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add(stRaw(`{"__metadata__":{"k":"v"}}`, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseSafetensors(b)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if _, err := WriteSafetensors(&buf, st.Tensors, st.Metadata); err != nil {
			t.Fatalf("parsed file does not write back: %v", err)
		}
		st2, err := ParseSafetensors(buf.Bytes())
		if err != nil {
			t.Fatalf("rewritten file does not parse: %v", err)
		}
		if len(st2.Tensors) != len(st.Tensors) {
			t.Fatalf("%d tensors, then %d", len(st.Tensors), len(st2.Tensors))
		}
		for _, x := range st.Tensors {
			y, ok := st2.Get(x.Name)
			if !ok || !bytes.Equal(x.Data, y.Data) || x.DType != y.DType || !equalInts(x.Shape, y.Shape) {
				t.Fatalf("tensor %q changed", x.Name)
			}
			if _, err := x.Dense(); err != nil && x.DType.Size() > 0 && numel(x.Shape) > 0 &&
				x.DType != F16 && x.DType != BF16 && x.DType != I8 && x.DType != I16 && x.DType != U16 && x.DType != U32 && x.DType != U64 {
				t.Fatalf("Dense of %q: %v", x.Name, err)
			}
		}
	})
}
