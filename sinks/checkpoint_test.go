package sinks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"gorgonia.org/tensor"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/pipeline/pipelinetest"
	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages/train"
	"github.com/contrastream/contrastream/stages/train/nn"
)

// ckState returns a checkpoint state with a small model's worth of tensors
// (a conv weight, batch-norm buffers with the int64 scalar, a head) and
// momentum buffers, filled from seed.
func ckState(step int64, seed uint64, width int) *CheckpointState {
	rng := rand.New(rand.NewPCG(seed, 7))
	f32 := func(shape ...int) *tensor.Dense {
		n := 1
		for _, s := range shape {
			n *= s
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
	}
	model := []nn.Named{
		{Name: "features.0.weight", Tensor: f32(width, 3, 3, 3)},
		{Name: "features.1.weight", Tensor: f32(width)},
		{Name: "features.1.bias", Tensor: f32(width)},
		{Name: "features.1.running_mean", Tensor: f32(width)},
		{Name: "features.1.running_var", Tensor: f32(width)},
		{Name: "features.1.num_batches_tracked", Tensor: tensor.New(tensor.WithShape(), tensor.WithBacking([]int64{step}))},
		{Name: "head.0.weight", Tensor: f32(16, width)},
		{Name: "head.0.bias", Tensor: f32(16)},
	}
	var opt []nn.Named
	for _, p := range []int{0, 1, 2, 6, 7} {
		opt = append(opt, nn.Named{Name: "state." + model[p].Name + ".momentum_buffer",
			Tensor: f32(model[p].Tensor.Shape()...)})
	}
	return &CheckpointState{Step: step, Epoch: int(step / 10), Cursor: sources.Cursor{Epoch: int(step / 10), Position: step % 10 * 256},
		Seed: seed, Schedule: step, Model: "small", Config: json.RawMessage(`{"lr": 0.3, "batch": 256}`),
		Tensors: model, Optimizer: opt, Meta: map[string]string{"optimizer": "sgd"}}
}

func ckEqualNamed(t *testing.T, what string, got, want []nn.Named) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d tensors, want %d", what, len(got), len(want))
	}
	have := map[string]*tensor.Dense{}
	for _, g := range got {
		have[g.Name] = g.Tensor
	}
	for _, w := range want {
		g := have[w.Name]
		if g == nil {
			t.Fatalf("%s: missing %q", what, w.Name)
		}
		a, err1 := TensorOf(w.Name, g)
		b, err2 := TensorOf(w.Name, w.Tensor)
		if err1 != nil || err2 != nil || a.DType != b.DType || !slices.Equal(a.Shape, b.Shape) || !bytes.Equal(a.Data, b.Data) {
			t.Errorf("%s: %q differs: %v %v", what, w.Name, g.Shape(), w.Tensor.Shape())
		}
	}
}

func ckFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "checkpoints"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestCheckpointSaveLoad(t *testing.T) {
	dir := t.TempDir()
	c := &Checkpointer{Dir: dir}
	st := ckState(1000, 42, 8)
	if err := c.WriteState(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	if got := ckFiles(t, dir); !slices.Equal(got, []string{"latest", "step-000001000.safetensors.zst"}) {
		t.Fatalf("files %v", got)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "checkpoints", "latest"))
	if string(b) != "step-000001000.safetensors.zst\n" {
		t.Fatalf("latest = %q", b)
	}
	for _, p := range []string{dir, filepath.Join(dir, "checkpoints"), filepath.Join(dir, "checkpoints", "step-000001000.safetensors.zst")} {
		ck, err := LoadCheckpoint(p)
		if err != nil {
			t.Fatal(err)
		}
		if ck.Path != filepath.Join(dir, "checkpoints", "step-000001000.safetensors.zst") {
			t.Errorf("path %q", ck.Path)
		}
		if ck.Step != 1000 || ck.Epoch != 100 || ck.Cursor != st.Cursor || ck.Seed != 42 || ck.Schedule != 1000 ||
			ck.Model != "small" || string(ck.Config) != `{"lr":0.3,"batch":256}` || ck.Meta["optimizer"] != "sgd" || len(ck.Meta) != 1 {
			t.Errorf("state %+v", ck.CheckpointState)
		}
		if !strings.HasPrefix(ck.Checksum, "sha256:") || len(ck.Checksum) != 7+64 {
			t.Errorf("checksum %q", ck.Checksum)
		}
		ckEqualNamed(t, "model", ck.Tensors, st.Tensors)
		ckEqualNamed(t, "optimizer", ck.Optimizer, st.Optimizer)
		if enc := ck.Encoder(); len(enc) != 6 || slices.ContainsFunc(enc, func(n nn.Named) bool { return strings.HasPrefix(n.Name, "head.") }) {
			t.Errorf("encoder %v", enc)
		}
	}
	// The file is zstd-compressed safetensors with the state in its metadata.
	raw, _ := os.ReadFile(filepath.Join(dir, "checkpoints", "step-000001000.safetensors.zst"))
	zr, _ := zstd.NewReader(nil)
	plain, err := zr.DecodeAll(raw, nil)
	zr.Close()
	if err != nil {
		t.Fatal(err)
	}
	sf, err := ParseSafetensors(plain)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"format": CheckpointFormat, "step": "1000", "epoch": "100", "cursor": "100:0",
		"seed": "42", "schedule_step": "1000", "model": "small", "optimizer": "sgd"} {
		if sf.Metadata[k] != v {
			t.Errorf("metadata %s = %q, want %q", k, sf.Metadata[k], v)
		}
	}
	if _, ok := sf.Get("optimizer.state.features.0.weight.momentum_buffer"); !ok {
		t.Error("no optimizer tensor under its prefixed name")
	}
}

func TestCheckpointKeepsLastK(t *testing.T) {
	for _, keep := range []int{0, 1, 2, -1} {
		t.Run(strconv.Itoa(keep), func(t *testing.T) {
			dir := t.TempDir()
			c := &Checkpointer{Dir: dir, Keep: keep, Level: zstd.SpeedFastest}
			for _, step := range []int64{100, 200, 300, 400, 500} {
				if err := c.WriteState(context.Background(), ckState(step, 1, 4)); err != nil {
					t.Fatal(err)
				}
			}
			var want []string
			n := map[int]int{0: 3, 1: 1, 2: 2, -1: 5}[keep]
			for _, s := range []int64{100, 200, 300, 400, 500}[5-n:] {
				want = append(want, CheckpointName(s))
			}
			want = append([]string{"latest"}, want...)
			if got := ckFiles(t, dir); !slices.Equal(got, want) {
				t.Fatalf("files %v, want %v", got, want)
			}
			ck, err := LoadCheckpoint(dir)
			if err != nil || ck.Step != 500 {
				t.Fatalf("latest: %v %v", ck, err)
			}
		})
	}
}

func TestCheckpointSaveErrors(t *testing.T) {
	dir := t.TempDir()
	c := &Checkpointer{Dir: dir}
	if err := c.WriteState(context.Background(), ckState(10, 1, 4)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	bad := func(f func(*CheckpointState)) *CheckpointState { s := ckState(20, 1, 4); f(s); return s }
	cases := []struct {
		name string
		c    *Checkpointer
		ctx  context.Context
		s    *CheckpointState
		want string
	}{
		{"cancelled", c, ctx, ckState(20, 1, 4), "context canceled"},
		{"nil", c, context.Background(), nil, "nil state"},
		{"no dir", &Checkpointer{}, context.Background(), ckState(20, 1, 4), "no folder"},
		{"reserved meta", c, context.Background(), bad(func(s *CheckpointState) { s.Meta["step"] = "1" }), "reserved"},
		{"bad config", c, context.Background(), bad(func(s *CheckpointState) { s.Config = json.RawMessage("{") }), "not valid JSON"},
		{"prefix clash", c, context.Background(), bad(func(s *CheckpointState) { s.Tensors[0].Name = "optimizer.x" }), "optimizer prefix"},
		{"negative", c, context.Background(), bad(func(s *CheckpointState) { s.Step = -1 }), "negative"},
		{"dir is a file", &Checkpointer{Dir: filepath.Join(dir, "checkpoints", "latest")}, context.Background(), ckState(20, 1, 4), "not a directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.WriteState(tc.ctx, tc.s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
	// Nothing changed: the one checkpoint and its pointer, no temporary files.
	if got := ckFiles(t, dir); !slices.Equal(got, []string{"latest", CheckpointName(10)}) {
		t.Fatalf("files after failed saves: %v", got)
	}
}

// ckDamage rewrites a valid checkpoint's payload with f and recompresses it.
func ckDamage(t *testing.T, raw []byte, f func(st *Safetensors)) []byte {
	zr, _ := zstd.NewReader(nil)
	defer zr.Close()
	plain, err := zr.DecodeAll(raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := ParseSafetensors(plain)
	if err != nil {
		t.Fatal(err)
	}
	f(st)
	var buf bytes.Buffer
	if _, err := WriteSafetensors(&buf, st.Tensors, st.Metadata); err != nil {
		t.Fatal(err)
	}
	zw, _ := zstd.NewWriter(nil)
	return zw.EncodeAll(buf.Bytes(), nil)
}

func TestLoadCheckpointRefusesDamage(t *testing.T) {
	dir := t.TempDir()
	if err := (&Checkpointer{Dir: dir}).WriteState(context.Background(), ckState(7, 3, 8)); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(filepath.Join(dir, "checkpoints", CheckpointName(7)))
	flip := func(i int) []byte { b := slices.Clone(good); b[i] ^= 0x40; return b }
	cases := []struct {
		name string
		raw  []byte
		want string
	}{
		{"empty", nil, "not a zstd"},
		{"wrong magic", append([]byte("PK\x03\x04"), good[4:]...), "not a zstd"},
		{"plain safetensors", stRaw("{}      ", nil), "not a zstd"},
		{"truncated", good[:len(good)/2], "decompress"},
		{"truncated tail", good[:len(good)-1], "decompress"},
		{"flipped byte", flip(len(good) / 2), ""},
		{"checksum mismatch", ckDamage(t, good, func(st *Safetensors) {
			tt, _ := st.Get("features.0.weight")
			tt.Data[5] ^= 1
		}), "checksum mismatch"},
		{"metadata edited", ckDamage(t, good, func(st *Safetensors) { st.Metadata["step"] = "8" }), "checksum mismatch"},
		{"tensor dropped", ckDamage(t, good, func(st *Safetensors) { st.Tensors = st.Tensors[1:] }), "checksum mismatch"},
		{"not a checkpoint", ckDamage(t, good, func(st *Safetensors) { st.Metadata = map[string]string{"format": "pt"} }), "format"},
		{"bad step", ckDamage(t, good, func(st *Safetensors) {
			st.Metadata["step"] = "x"
			st.Metadata["checksum"] = checkpointChecksum(st.Tensors, st.Metadata)
		}), "step"},
		{"bad cursor", ckDamage(t, good, func(st *Safetensors) {
			st.Metadata["cursor"] = "1"
			st.Metadata["checksum"] = checkpointChecksum(st.Tensors, st.Metadata)
		}), "cursor"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "step-000000007.safetensors.zst")
			if err := os.WriteFile(p, c.raw, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadCheckpoint(p)
			if err == nil || !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want ErrCheckpoint naming the file and %q", err, c.want)
			}
		})
	}
	if _, err := LoadCheckpoint(filepath.Join(dir, "nope")); err == nil {
		t.Error("missing file loads")
	}
	// A hostile pointer is not followed: the folder falls back to its
	// newest checkpoint, and says so.
	ptr := filepath.Join(dir, "checkpoints", "latest")
	if err := os.WriteFile(ptr, []byte("../../etc/passwd\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ck, err := LoadCheckpoint(dir)
	if err != nil || ck.Step != 7 || len(ck.Skipped) != 1 || !errors.Is(ck.Skipped[0], ErrCheckpoint) ||
		!strings.Contains(ck.Skipped[0].Error(), ptr) || !strings.Contains(ck.Skipped[0].Error(), "etc/passwd") {
		t.Errorf("bad latest pointer: %+v, %v; want step 7 with the pointer named in Skipped", ck, err)
	}
}

// TestLoadCheckpointFallsBackToNewestValid: in a run folder whose latest
// checkpoint is damaged (or whose pointer names a missing file), Load gives
// the newest valid one and names each thing it passed over; the damaged
// file stays where it was. A file named directly, or a folder with no valid
// checkpoint, is an error naming every file.
func TestLoadCheckpointFallsBackToNewestValid(t *testing.T) {
	save := func(t *testing.T, steps ...int64) string {
		dir := t.TempDir()
		c := &Checkpointer{Dir: dir, Keep: -1}
		for _, s := range steps {
			if err := c.WriteState(t.Context(), ckState(s, 3, 8)); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	ckDir := func(dir string) string { return filepath.Join(dir, "checkpoints") }
	damage := func(t *testing.T, path string) []byte {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		bad := slices.Clone(b[:len(b)/2])
		if err := os.WriteFile(path, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		return bad
	}
	t.Run("corrupt latest", func(t *testing.T) {
		dir := save(t, 10, 20, 30)
		bad30 := damage(t, filepath.Join(ckDir(dir), CheckpointName(30)))
		damage(t, filepath.Join(ckDir(dir), CheckpointName(20)))
		ck, err := LoadCheckpoint(dir)
		if err != nil {
			t.Fatal(err)
		}
		if ck.Step != 10 || ck.Path != filepath.Join(ckDir(dir), CheckpointName(10)) || len(ck.Skipped) != 2 {
			t.Fatalf("loaded step %d from %s, skipped %v; want step 10 after two skipped", ck.Step, ck.Path, ck.Skipped)
		}
		for i, step := range []int64{30, 20} {
			if e := ck.Skipped[i]; !errors.Is(e, ErrCheckpoint) || !strings.Contains(e.Error(), CheckpointName(step)) {
				t.Errorf("skipped[%d] = %v, want it to name %s", i, e, CheckpointName(step))
			}
		}
		if b, _ := os.ReadFile(filepath.Join(ckDir(dir), CheckpointName(30))); !bytes.Equal(b, bad30) {
			t.Error("loading touched the damaged checkpoint")
		}
		if p, err := LatestCheckpoint(dir); err != nil || p != filepath.Join(ckDir(dir), CheckpointName(30)) {
			t.Errorf("LatestCheckpoint = %q, %v; want the pointer's file", p, err)
		}
		// Named directly, a damaged file is an error, not a fallback.
		if _, err := LoadCheckpoint(filepath.Join(ckDir(dir), CheckpointName(30))); !errors.Is(err, ErrCheckpoint) {
			t.Errorf("damaged file named directly: %v", err)
		}
	})
	t.Run("latest names a missing file", func(t *testing.T) {
		dir := save(t, 10, 20)
		if err := os.Remove(filepath.Join(ckDir(dir), CheckpointName(20))); err != nil {
			t.Fatal(err)
		}
		ck, err := LoadCheckpoint(dir)
		if err != nil || ck.Step != 10 || len(ck.Skipped) != 1 || !strings.Contains(ck.Skipped[0].Error(), "missing") {
			t.Fatalf("got %+v, %v; want step 10 and the pointer named as pointing at a missing file", ck, err)
		}
		if p, err := LatestCheckpoint(dir); err != nil || p != filepath.Join(ckDir(dir), CheckpointName(10)) {
			t.Errorf("LatestCheckpoint = %q, %v; want step 10, as with no pointer", p, err)
		}
	})
	t.Run("nothing valid", func(t *testing.T) {
		dir := save(t, 10, 20)
		damage(t, filepath.Join(ckDir(dir), CheckpointName(10)))
		damage(t, filepath.Join(ckDir(dir), CheckpointName(20)))
		_, err := LoadCheckpoint(dir)
		if !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), CheckpointName(10)) ||
			!strings.Contains(err.Error(), CheckpointName(20)) || !strings.Contains(err.Error(), "no valid checkpoint") {
			t.Errorf("err %v, want one naming both damaged files", err)
		}
	})
	t.Run("pointer to nothing, no checkpoint", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.MkdirAll(ckDir(dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ckDir(dir), "latest"), []byte(CheckpointName(5)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadCheckpoint(dir); err == nil || !strings.Contains(err.Error(), "no checkpoint") {
			t.Errorf("err %v", err)
		}
	})
}

// TestLoadCheckpointEveryFlippedByte flips each byte of a small checkpoint:
// every damaged file is refused, or (a flip in a bit zstd ignores) loads to
// exactly the original content.
func TestLoadCheckpointEveryFlippedByte(t *testing.T) {
	dir := t.TempDir()
	st := ckState(3, 5, 2)
	if err := (&Checkpointer{Dir: dir}).WriteState(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(filepath.Join(dir, "checkpoints", CheckpointName(3)))
	ref, err := decodeCheckpoint(good)
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	for i := range good {
		b := slices.Clone(good)
		b[i] ^= 1 << (i % 8)
		ck, err := decodeCheckpoint(b)
		if err != nil {
			refused++
			continue
		}
		if ck.Checksum != ref.Checksum {
			t.Fatalf("byte %d flipped: loaded different content without error", i)
		}
	}
	t.Logf("%d of %d single-bit flips refused, the rest decode to the identical content", refused, len(good))
	if refused < len(good)*9/10 {
		t.Errorf("only %d of %d flips refused", refused, len(good))
	}
}

func FuzzLoadCheckpoint(f *testing.F) {
	dir := f.TempDir()
	if err := (&Checkpointer{Dir: dir}).WriteState(context.Background(), ckState(3, 5, 2)); err != nil {
		f.Fatal(err)
	}
	good, _ := os.ReadFile(filepath.Join(dir, "checkpoints", CheckpointName(3)))
	f.Add(good)
	f.Add(good[:40])
	f.Add(zstdMagic)
	f.Fuzz(func(t *testing.T, b []byte) {
		ck, err := decodeCheckpoint(b)
		if err == nil && (ck == nil || !strings.HasPrefix(ck.Checksum, "sha256:")) {
			t.Fatal("loaded without a verified checksum")
		}
	})
}

// TestCheckpointKilledWhileWriting kills (SIGKILL) a process that saves
// checkpoints in a loop at random moments: the folder always loads, to a
// complete checkpoint.
func TestCheckpointKilledWhileWriting(t *testing.T) {
	if dir := os.Getenv("SINKS_CKPT_KILL_DIR"); dir != "" {
		c := &Checkpointer{Dir: dir, Keep: 2}
		for step := int64(1); ; step++ {
			if err := c.WriteState(context.Background(), ckState(step, uint64(step), 64)); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(3)
			}
		}
	}
	if testing.Short() {
		t.Skip("skipping the kill test in -short mode")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	loaded, midWrite := map[int64]bool{}, 0
	for round := 0; round < 4; round++ {
		cmd := exec.Command(exe, "-test.run=^TestCheckpointKilledWhileWriting$")
		cmd.Env = append(os.Environ(), "SINKS_CKPT_KILL_DIR="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait until it has written something, then kill it at a random moment.
		deadline := time.Now().Add(20 * time.Second)
		for {
			if _, err := os.Stat(filepath.Join(dir, "checkpoints", "latest")); err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if ckTemps(t, dir) > 0 {
			midWrite++
		}
		ck, err := LoadCheckpoint(dir)
		if err != nil {
			t.Fatalf("round %d: after SIGKILL: %v", round, err)
		}
		ckEqualNamed(t, "model", ck.Tensors, ckState(ck.Step, uint64(ck.Step), 64).Tensors)
		loaded[ck.Step] = true
	}
	t.Logf("loaded steps after kills: %v; %d kills left a temporary file (killed mid-write)", loaded, midWrite)
	// The next save clears the killed writers' temporary files.
	if err := (&Checkpointer{Dir: dir}).WriteState(context.Background(), ckState(1000, 1, 4)); err != nil {
		t.Fatal(err)
	}
	if n := ckTemps(t, dir); n != 0 {
		t.Errorf("%d temporary files left after a save", n)
	}
}

func ckTemps(t *testing.T, dir string) int {
	n := 0
	for _, f := range ckFiles(t, dir) {
		if strings.Contains(f, ".tmp-") {
			n++
		}
	}
	return n
}

func TestCheckpointerIsATrainStore(t *testing.T) {
	dir := t.TempDir()
	var store train.Store = &Checkpointer{Dir: dir}
	if _, err := store.Latest(); !errors.Is(err, train.ErrNoCheckpoint) {
		t.Fatalf("empty store: Latest error %v, want train.ErrNoCheckpoint", err)
	}
	cfg := train.DefaultConfig("shards/*.parquet")
	cfg.Model.InChannels, cfg.Data.Size, cfg.Data.Seed = 1, 28, 11
	var recs []train.Record
	for i := int64(1); i <= 10; i++ {
		recs = append(recs, &train.Step{Step: int(i)})
		if i%4 == 0 {
			st := ckState(i, 9, 4)
			recs = append(recs, &train.Snapshot{Step: int(i), Epoch: st.Epoch, Cursor: st.Cursor,
				Tensors: st.Tensors, Optimizer: st.Optimizer, Config: cfg})
		}
	}
	p := pipeline.New("ckpt")
	pipeline.Sink(p, "checkpoint", pipelinetest.Slice(p, "records", recs), train.Checkpoints{Store: store})
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := ckFiles(t, dir); !slices.Equal(got, []string{"latest", CheckpointName(4), CheckpointName(8)}) {
		t.Fatalf("files %v", got)
	}
	snap, err := store.Latest()
	if err != nil {
		t.Fatal(err)
	}
	want := recs[len(recs)-3].(*train.Snapshot)
	if snap.Step != 8 || snap.Cursor != want.Cursor || !reflect.DeepEqual(snap.Config, cfg) {
		t.Fatalf("latest: step %d cursor %v config %+v", snap.Step, snap.Cursor, snap.Config)
	}
	ckEqualNamed(t, "tensors", snap.Tensors, want.Tensors)
	ck, err := LoadCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Model != "small" || ck.Seed != 11 || ck.Meta["optimizer"] != "sgd" {
		t.Errorf("metadata model %q seed %d meta %v", ck.Model, ck.Seed, ck.Meta)
	}

	// A failed write is fatal to the run.
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p = pipeline.New("ckpt")
	pipeline.Sink(p, "checkpoint", pipelinetest.Slice(p, "records", recs),
		train.Checkpoints{Store: &Checkpointer{Dir: filepath.Join(dir, "file")}})
	err = p.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "checkpoint step 4") {
		t.Fatalf("run error %v, want the failed save", err)
	}
}

func TestCheckpointReadsTheFlatConfigOfEarlierVersions(t *testing.T) {
	dir := t.TempDir()
	st := ckState(5, 1, 4)
	st.Config = json.RawMessage(`{"data":"d/train","out":"runs/a","model":"resnet18","epochs":15,"batch":128,` +
		`"lr":0.5,"lr_scaling":"linear","optimizer":"lars","momentum":0.9,"weight_decay":0.0005,"temperature":0.2,` +
		`"warmup_epochs":1,"size":28,"channels":1,"min_scale":0.3,"color_strength":1,"blur":false,"head_depth":2,` +
		`"head_bn":true,"workers":2,"threads":0,"seed":3,"shuffle_buffer":4096,"checkpoint_every":0,"keep":3,` +
		`"eval_every":5,"eval_test":"d/test","knn_k":200}`)
	if err := (&Checkpointer{Dir: dir}).WriteState(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	snap, err := (&Checkpointer{Dir: dir}).Latest()
	if err != nil {
		t.Fatal(err)
	}
	c := snap.Config
	if c.Model != (nn.Config{Model: "resnet18", InChannels: 1, HeadDepth: 2, HeadBN: true, Seed: 3}) ||
		c.Data != (train.Data{Glob: "d/train", Seed: 3, ShuffleBuffer: 4096, Size: 28, Workers: 2}) ||
		c.Optimizer.Name != "lars" || c.Schedule.Batch != 128 || c.Recipe.MinScale != 0.3 || c.Eval.Test != "d/test" {
		t.Errorf("legacy config read as %+v", c)
	}
}

func TestCloneStateIsDeep(t *testing.T) {
	st := ckState(1, 1, 2)
	c := nn.CloneState(st.Tensors)
	ckEqualNamed(t, "clone", c, st.Tensors)
	st.Tensors[0].Tensor.Float32s()[0] = 99
	st.Tensors[5].Tensor.Int64s()[0] = 99
	if c[0].Tensor.Float32s()[0] == 99 || c[5].Tensor.Int64s()[0] == 99 {
		t.Error("clone shares storage")
	}
}

func ExampleCheckpointer() {
	dir, _ := os.MkdirTemp("", "run")
	defer os.RemoveAll(dir)

	w := tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float32{1, 2, 3, 4}))
	c := &Checkpointer{Dir: dir, Keep: 2}
	for step := int64(1000); step <= 3000; step += 1000 {
		err := c.WriteState(context.Background(), &CheckpointState{
			Step: step, Model: "small", Seed: 1,
			Cursor:  sources.Cursor{Epoch: 1, Position: step * 256},
			Tensors: []nn.Named{{Name: "head.0.weight", Tensor: w}},
		})
		if err != nil {
			fmt.Println(err)
		}
	}
	ck, err := LoadCheckpoint(dir) // the run folder means its latest checkpoint
	if err != nil {
		fmt.Println(err)
		return
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "checkpoints"))
	for _, e := range ents {
		fmt.Println(e.Name())
	}
	fmt.Println(filepath.Base(ck.Path), ck.Step, ck.Cursor, ck.Tensors[0].Name, ck.Tensors[0].Tensor.Float32s())
	// Output:
	// latest
	// step-000002000.safetensors.zst
	// step-000003000.safetensors.zst
	// step-000003000.safetensors.zst 3000 1:768000 head.0.weight [1 2 3 4]
}
