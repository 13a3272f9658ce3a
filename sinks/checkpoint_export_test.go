package sinks

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/contrastream/contrastream/stages/train/nn"
)

// docPython returns the first ```python block of docs/checkpoints.md.
func docPython(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../docs/checkpoints.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```python\n")
	if !ok {
		t.Fatal("docs/checkpoints.md has no python block")
	}
	code, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("unterminated python block")
	}
	return code
}

func writeF32(t *testing.T, path string, v []float32) {
	t.Helper()
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// exportModel builds a model, moves its batch-norm statistics away from
// their initial values, saves, loads and exports it into dir, and returns
// an input batch and the encoder's features for it.
func exportModel(t *testing.T, dir, model string, inC, size int) (x, h []float32, shape []int) {
	m, err := nn.NewSimCLR(nn.Config{Model: model, InChannels: inC, Seed: 11, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	batch := func(n int) *tensor.Dense {
		v := make([]float32, n*inC*size*size)
		for i := range v {
			v[i] = float32(rng.NormFloat64())*0.7 + 0.2
		}
		return tensor.New(tensor.WithShape(n, inC, size, size), tensor.WithBacking(v))
	}
	for i := 0; i < 2; i++ {
		m.Forward(batch(4), true) // updates the running statistics
	}
	in := batch(3)
	h = append([]float32(nil), m.Encode(in).Float32s()...)

	c := &Checkpointer{Dir: dir}
	if err := c.WriteState(context.Background(), &CheckpointState{Step: 2, Model: model, Tensors: m.StateDict()}); err != nil {
		t.Fatal(err)
	}
	ck, err := LoadCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The Go round trip: a fresh model loaded from the checkpoint encodes the same.
	m2, err := nn.NewSimCLR(nn.Config{Model: model, InChannels: inC, Seed: 99, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if err := nn.LoadStateDict(m2, ck.Tensors); err != nil {
		t.Fatal(err)
	}
	for i, v := range m2.Encode(in).Float32s() {
		if v != h[i] {
			t.Fatalf("reloaded model's feature %d = %v, want %v", i, v, h[i])
		}
	}
	out := filepath.Join(dir, "encoder.safetensors")
	if err := ExportEncoder(out, ck); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	st, err := ParseSafetensors(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Tensors) != len(m.Encoder.StateDict()) || st.Metadata["model"] != model || st.Metadata["format"] != "pt" {
		t.Fatalf("export has %d tensors (encoder has %d), metadata %v", len(st.Tensors), len(m.Encoder.StateDict()), st.Metadata)
	}
	for _, tt := range st.Tensors {
		if strings.HasPrefix(tt.Name, "head.") {
			t.Fatalf("export holds %q", tt.Name)
		}
	}
	return in.Float32s(), h, []int{3, inC, size, size}
}

// TestExportLoadsInPyTorch runs the Python block of docs/checkpoints.md
// against encoders exported from Go (small on 1×28×28, where max pooling's
// ceil mode matters, and resnet18 on 3×16×16) and compares the features.
func TestExportLoadsInPyTorch(t *testing.T) {
	py := stPython(t)
	code := docPython(t)
	cases := []struct {
		model     string
		inC, size int
	}{{"small", 1, 28}, {"resnet18", 3, 16}}
	for _, c := range cases {
		t.Run(c.model, func(t *testing.T) {
			if testing.Short() && c.model == "resnet18" {
				t.Skip("skipping resnet18 in -short mode")
			}
			dir := t.TempDir()
			x, h, shape := exportModel(t, dir, c.model, c.inC, c.size)
			writeF32(t, filepath.Join(dir, "x.f32"), x)
			writeF32(t, filepath.Join(dir, "h.f32"), h)
			harness := code + fmt.Sprintf(`
import numpy as np
x = torch.from_numpy(np.fromfile("x.f32", dtype="<f4").reshape(%d, %d, %d, %d))
want = np.fromfile("h.f32", dtype="<f4").reshape(%d, -1)
with torch.no_grad():
    got = encoder(x).numpy()
print(json.dumps({"shape": list(got.shape), "maxdiff": float(np.abs(got - want).max()), "scale": float(np.abs(want).max())}))
`, shape[0], shape[1], shape[2], shape[3], shape[0])
			script := filepath.Join(dir, "load.py")
			if err := os.WriteFile(script, []byte(harness), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(py, script)
			cmd.Dir = dir
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("python: %v\n%s", err, stderrOf(err))
			}
			var res struct {
				Shape   []int
				MaxDiff float64
				Scale   float64
			}
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			t.Logf("%s: torch features %v, max |torch - go| = %.3g (max |h| = %.3g)", c.model, res.Shape, res.MaxDiff, res.Scale)
			if res.Shape[0] != 3 || res.Shape[1]*3 != len(h) || !(res.MaxDiff <= 1e-4*math.Max(1, res.Scale)) || res.Scale == 0 {
				t.Errorf("torch features differ from Go's: %+v", res)
			}
		})
	}
}
