package sinks

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/contrastream/contrastream/sources"
	"github.com/contrastream/contrastream/stages/train"
	"github.com/contrastream/contrastream/stages/train/nn"
)

// CheckpointFormat is the "format" metadata value of a checkpoint file. A
// file with another value is refused.
const CheckpointFormat = "contrastream-checkpoint/1"

// OptimizerPrefix prefixes the names of optimizer state tensors in a
// checkpoint file ("optimizer.state.features.0.weight.momentum_buffer").
const OptimizerPrefix = "optimizer."

// maxCheckpointBytes bounds the decompressed size of a checkpoint (16 GiB),
// so that a damaged or hostile file cannot make LoadCheckpoint allocate
// without bound.
const maxCheckpointBytes int64 = 16 << 30

// maxCheckpointWindow bounds the zstd window a checkpoint may declare (the
// encoder's levels use at most 8 MiB).
const maxCheckpointWindow = 64 << 20

// zstdMagic starts every zstd frame.
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// Reserved metadata keys of a checkpoint; CheckpointState.Meta may not use them.
const (
	metaFormat   = "format"
	metaStep     = "step"
	metaEpoch    = "epoch"
	metaCursor   = "cursor"
	metaSeed     = "seed"
	metaSchedule = "schedule_step"
	metaModel    = "model"
	metaConfig   = "config"
	metaChecksum = "checksum"
)

var reservedMeta = []string{metaFormat, metaStep, metaEpoch, metaCursor, metaSeed, metaSchedule, metaModel, metaConfig, metaChecksum}

// ErrCheckpoint is wrapped by the errors of LoadCheckpoint for a file that is
// damaged or is not a contrastream checkpoint (truncated, wrong magic, bad
// safetensors, checksum mismatch, missing metadata).
var ErrCheckpoint = errors.New("sinks: bad checkpoint")

// CheckpointState is everything a checkpoint holds: the model's state dict,
// the optimizer state, and where the run is.
type CheckpointState struct {
	// Step is the number of completed optimizer steps.
	Step int64
	// Epoch is the epoch the next step belongs to.
	Epoch int
	// Cursor resumes the data source just after the last sample trained on.
	Cursor sources.Cursor
	// Seed is the run's seed.
	Seed uint64
	// Schedule is the learning-rate schedule's position (usually Step).
	Schedule int64
	// Model names the architecture ("small", "resnet18").
	Model string
	// Config is the resolved run configuration, a JSON object (may be nil).
	Config json.RawMessage
	// Tensors is the model's state dict under PyTorch names ("features.0.weight",
	// "head.2.bias", batch-norm buffers included). Names may not start with
	// OptimizerPrefix.
	Tensors []nn.Named
	// Optimizer is the optimizer state as its State method gives it; the
	// file stores each under OptimizerPrefix + name.
	Optimizer []nn.Named
	// Meta holds further string metadata (e.g. "optimizer": "sgd"); its keys
	// may not be the reserved ones (format, step, epoch, cursor, seed,
	// schedule_step, model, config, checksum).
	Meta map[string]string
}

// Checkpoint is a loaded checkpoint: the state, the file it came from and its
// verified checksum ("sha256:<hex>"). Its Tensors and Optimizer are in file
// order (by decreasing element size, then name), not state_dict order: match
// them by name, as nn.LoadStateDict and optim's LoadState do.
type Checkpoint struct {
	CheckpointState
	Path     string
	Checksum string
	// Skipped lists, newest first, what LoadCheckpoint passed over in a run
	// folder before it found this valid checkpoint: damaged or missing
	// checkpoints and an unusable `latest` pointer, each error naming its
	// file. Empty when the latest checkpoint loaded.
	Skipped []error
}

// Encoder returns the model tensors that are not part of the projection head
// (names not starting with "head."), in file order: the encoder's state dict
// under the names the PyTorch module's encoder layers have. It does not copy.
func (c *Checkpoint) Encoder() []nn.Named {
	var out []nn.Named
	for _, t := range c.Tensors {
		if !strings.HasPrefix(t.Name, "head.") {
			out = append(out, t)
		}
	}
	return out
}

// Checkpointer writes checkpoints into Dir/checkpoints as
// step-000001000.safetensors.zst (the step, zero-padded to 9 digits), each
// written atomically: a temporary file in the same folder, zstd-compressed
// safetensors written and fsynced, closed, renamed into place, then the
// folder fsynced. After each save the file `latest` (written the same way)
// names the new checkpoint, and only the newest Keep checkpoints remain. A
// crash at any point leaves the previous checkpoint and pointer intact.
//
// A Checkpointer is safe for concurrent use (saves are serialised); use one
// per folder. Save allocates the header, the compressor and its buffers, not
// a copy of the tensors.
type Checkpointer struct {
	// Dir is the run folder; checkpoints go to Dir/checkpoints.
	Dir string
	// Keep is how many checkpoints to keep; negative keeps all. 0 means
	// the saved run Config's Checkpoint.Keep for Save (when positive), and
	// 3 otherwise.
	Keep int
	// Level is the zstd level (default zstd.SpeedDefault).
	Level zstd.EncoderLevel
	// Warn, if set, is told about each damaged or missing checkpoint that
	// Latest passes over (Checkpoint.Skipped) on its way to the newest
	// valid one.
	Warn func(error)

	mu sync.Mutex
}

// CheckpointName returns the file name of the checkpoint of step.
func CheckpointName(step int64) string {
	return fmt.Sprintf("step-%09d.safetensors.zst", step)
}

// parseCheckpointName returns the step of a checkpoint file name.
func parseCheckpointName(name string) (int64, bool) {
	s, ok := strings.CutPrefix(name, "step-")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, ".safetensors.zst")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n >= 0
}

// checkpointTensors turns the state into the file's tensors and metadata,
// checksum included. The tensors alias the state's storage.
func checkpointTensors(s *CheckpointState) ([]Tensor, map[string]string, error) {
	meta := make(map[string]string, len(s.Meta)+len(reservedMeta))
	for k, v := range s.Meta {
		for _, r := range reservedMeta {
			if k == r {
				return nil, nil, fmt.Errorf("sinks: checkpoint: metadata key %q is reserved", k)
			}
		}
		meta[k] = v
	}
	for _, t := range s.Tensors {
		if strings.HasPrefix(t.Name, OptimizerPrefix) {
			return nil, nil, fmt.Errorf("sinks: checkpoint: model tensor %q uses the optimizer prefix", t.Name)
		}
	}
	if s.Step < 0 || s.Epoch < 0 || s.Schedule < 0 || s.Cursor.Epoch < 0 || s.Cursor.Position < 0 {
		return nil, nil, fmt.Errorf("sinks: checkpoint: negative step, epoch, schedule or cursor in %d/%d/%d/%v", s.Step, s.Epoch, s.Schedule, s.Cursor)
	}
	cfg := s.Config
	if len(cfg) == 0 {
		cfg = json.RawMessage("{}")
	}
	if !json.Valid(cfg) {
		return nil, nil, errors.New("sinks: checkpoint: config is not valid JSON")
	}
	var compact bytes.Buffer
	_ = json.Compact(&compact, cfg) // valid, checked above
	meta[metaFormat] = CheckpointFormat
	meta[metaStep] = strconv.FormatInt(s.Step, 10)
	meta[metaEpoch] = strconv.Itoa(s.Epoch)
	meta[metaCursor] = s.Cursor.String()
	meta[metaSeed] = strconv.FormatUint(s.Seed, 10)
	meta[metaSchedule] = strconv.FormatInt(s.Schedule, 10)
	meta[metaModel] = s.Model
	meta[metaConfig] = compact.String()
	model, err := NamedTensors("", s.Tensors)
	if err != nil {
		return nil, nil, fmt.Errorf("sinks: checkpoint: %w", err)
	}
	opt, err := NamedTensors(OptimizerPrefix, s.Optimizer)
	if err != nil {
		return nil, nil, fmt.Errorf("sinks: checkpoint: %w", err)
	}
	all := append(model, opt...)
	meta[metaChecksum] = checkpointChecksum(all, meta)
	return all, meta, nil
}

// checkpointChecksum returns "sha256:<hex>" of a canonical form of the file:
// every tensor sorted by name (name, dtype, shape, byte length, bytes), then
// every metadata entry but the checksum, sorted by key. It covers everything
// in the file except the header's layout and padding.
func checkpointChecksum(ts []Tensor, meta map[string]string) string {
	h := sha256.New()
	idx := make([]int, len(ts))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return ts[idx[a]].Name < ts[idx[b]].Name })
	var num [8]byte
	field := func(s string) {
		binary.LittleEndian.PutUint64(num[:], uint64(len(s)))
		h.Write(num[:])
		io.WriteString(h, s)
	}
	for _, i := range idx {
		t := &ts[i]
		field(t.Name)
		field(string(t.DType))
		binary.LittleEndian.PutUint64(num[:], uint64(len(t.Shape)))
		h.Write(num[:])
		for _, s := range t.Shape {
			binary.LittleEndian.PutUint64(num[:], uint64(s))
			h.Write(num[:])
		}
		binary.LittleEndian.PutUint64(num[:], uint64(len(t.Data)))
		h.Write(num[:])
		h.Write(t.Data)
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		if k != metaChecksum {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		field(k)
		field(meta[k])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// WriteState writes s as the checkpoint of step s.Step, updates `latest`
// and removes checkpoints beyond Keep. The tensors of s must not change
// during WriteState (hand it an nn.CloneState copy if training continues
// concurrently). A checkpoint of the same step is replaced. On error the
// previous checkpoints and pointer are untouched and no temporary file is
// left.
func (c *Checkpointer) WriteState(ctx context.Context, s *CheckpointState) error {
	return c.writeState(ctx, s, 3)
}

// writeState is WriteState with the count kept when Keep is 0 (at least 1).
func (c *Checkpointer) writeState(ctx context.Context, s *CheckpointState, keep int) error {
	if keep == 0 {
		keep = 3
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sinks: checkpoint: %w", err)
	}
	if s == nil {
		return errors.New("sinks: checkpoint: nil state")
	}
	if c.Dir == "" {
		return errors.New("sinks: checkpoint: no folder (Checkpointer.Dir)")
	}
	ts, meta, err := checkpointTensors(s)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	dir := filepath.Join(c.Dir, "checkpoints")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("sinks: checkpoint step %d: %w", s.Step, err)
	}
	// Temporary files of a writer that was killed: this Checkpointer owns
	// the folder, so they are garbage.
	if tmps, err := filepath.Glob(filepath.Join(dir, ".*.tmp-*")); err == nil {
		for _, t := range tmps {
			os.Remove(t)
		}
	}
	name := CheckpointName(s.Step)
	level := c.Level
	if level == 0 {
		level = zstd.SpeedDefault
	}
	err = WriteFileAtomic(filepath.Join(dir, name), func(w io.Writer) error {
		zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(level), zstd.WithEncoderCRC(true))
		if err != nil {
			return err
		}
		if _, err := WriteSafetensors(zw, ts, meta); err != nil {
			zw.Close()
			return err
		}
		return zw.Close()
	})
	if err != nil {
		return fmt.Errorf("sinks: checkpoint step %d: %w", s.Step, err)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "latest"), func(w io.Writer) error {
		_, err := io.WriteString(w, name+"\n")
		return err
	}); err != nil {
		return fmt.Errorf("sinks: checkpoint: latest pointer: %w", err)
	}
	return c.prune(dir, name, keep)
}

// prune removes the checkpoints beyond Keep (oldest steps first), never the
// one named keep.
func (c *Checkpointer) prune(dir, keep string, keepDefault int) error {
	k := c.Keep
	if k == 0 {
		k = keepDefault
	}
	if k < 0 {
		return nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("sinks: checkpoint: prune: %w", err)
	}
	type ck struct {
		name string
		step int64
	}
	var cks []ck
	for _, e := range ents {
		if st, ok := parseCheckpointName(e.Name()); ok && !e.IsDir() {
			cks = append(cks, ck{e.Name(), st})
		}
	}
	sort.Slice(cks, func(a, b int) bool { return cks[a].step > cks[b].step })
	kept := 1 // keep itself
	for _, x := range cks {
		if x.name == keep {
			continue
		}
		if kept < k {
			kept++
			continue
		}
		if err := os.Remove(filepath.Join(dir, x.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("sinks: checkpoint: prune: %w", err)
		}
	}
	return nil
}

// WriteFileAtomic writes path through write into a temporary file in the
// same folder, fsyncs and closes it, renames it to path (mode 0644) and
// fsyncs the folder, so a crash leaves either the old file or the new one,
// never a part. On error the temporary file is removed and path is
// untouched. Checkpoints, plots and run files are all written this way.
func WriteFileAtomic(path string, write func(w io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err = write(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// LatestCheckpoint returns the path of the checkpoint that path means: path
// itself when it is a file; for a folder, the file named by its `latest`
// pointer, looking in path/checkpoints and then in path; without a usable
// pointer (none, malformed, or naming a file that is not there), the
// checkpoint with the highest step there. It does not read the checkpoint:
// LoadCheckpoint also passes over damaged ones.
// When there is none (or path does not exist) the error wraps
// train.ErrNoCheckpoint.
func LatestCheckpoint(path string) (string, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("sinks: checkpoint: %w: %w", train.ErrNoCheckpoint, err)
	}
	if err != nil {
		return "", fmt.Errorf("sinks: checkpoint: %w", err)
	}
	if !fi.IsDir() {
		return path, nil
	}
	files, _, err := checkpointCandidates(path)
	if err != nil {
		return "", err
	}
	return files[0], nil
}

// checkpointCandidates returns the checkpoint files of the run folder path,
// newest first: the one the `latest` pointer names, then every other
// checkpoint file by decreasing step. It looks in path/checkpoints, then in
// path itself. problems lists a pointer that could not be followed (it is
// malformed or names a missing file): such a pointer is passed over, as if
// there were none.
func checkpointCandidates(path string) (files []string, problems []error, err error) {
	for _, dir := range []string{filepath.Join(path, "checkpoints"), path} {
		var pointed string
		ptr := filepath.Join(dir, "latest")
		if b, err := os.ReadFile(ptr); err == nil {
			name := strings.TrimSpace(string(b))
			switch _, ok := parseCheckpointName(name); {
			case !ok || filepath.Base(name) != name:
				problems = append(problems, fmt.Errorf("%w: %s names %q, not a checkpoint file", ErrCheckpoint, ptr, name))
			default:
				if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.IsDir() {
					problems = append(problems, fmt.Errorf("%w: %s names %s, which is missing", ErrCheckpoint, ptr, name))
				} else {
					pointed = name
				}
			}
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		type ck struct {
			name string
			step int64
		}
		var cks []ck
		for _, e := range ents {
			if st, ok := parseCheckpointName(e.Name()); ok && !e.IsDir() && e.Name() != pointed {
				cks = append(cks, ck{e.Name(), st})
			}
		}
		sort.Slice(cks, func(a, b int) bool { return cks[a].step > cks[b].step })
		if pointed != "" {
			files = append(files, filepath.Join(dir, pointed))
		}
		for _, c := range cks {
			files = append(files, filepath.Join(dir, c.name))
		}
		if len(files) > 0 {
			return files, problems, nil
		}
	}
	if len(problems) > 0 {
		return nil, problems, fmt.Errorf("sinks: checkpoint: %w in %s (%w)", train.ErrNoCheckpoint, path, errors.Join(problems...))
	}
	return nil, nil, fmt.Errorf("sinks: checkpoint: %w in %s", train.ErrNoCheckpoint, path)
}

// LoadCheckpoint reads and verifies a checkpoint: path is a checkpoint file,
// or a run folder (or its checkpoints folder), meaning its latest checkpoint.
// It refuses, with an error naming the file and wrapping ErrCheckpoint, a
// file that is not zstd, is truncated or corrupt (zstd's frame checksum),
// is not well-formed safetensors, lacks the metadata, or whose content does
// not match its checksum. It never panics. It allocates the file, its
// decompressed bytes and a copy of every tensor.
//
// For a folder it falls back: when the latest checkpoint is damaged or
// missing (or the `latest` pointer is unusable), it loads the newest valid
// one and lists what it passed over in Checkpoint.Skipped, each error naming
// its file, for the caller to warn about. Only when no checkpoint there is
// valid does it fail, with every file's error. A file named directly gets
// no fallback.
func LoadCheckpoint(path string) (*Checkpoint, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("sinks: checkpoint: %w: %w", train.ErrNoCheckpoint, err)
	}
	if err != nil {
		return nil, fmt.Errorf("sinks: checkpoint: %w", err)
	}
	if !fi.IsDir() {
		return loadCheckpointFile(path)
	}
	files, skipped, err := checkpointCandidates(path)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		ck, err := loadCheckpointFile(f)
		if err != nil {
			skipped = append(skipped, err)
			continue
		}
		ck.Skipped = skipped
		return ck, nil
	}
	return nil, fmt.Errorf("%w: no valid checkpoint in %s: %w", ErrCheckpoint, path, errors.Join(skipped...))
}

// loadCheckpointFile reads and verifies the checkpoint file at path.
func loadCheckpointFile(file string) (*Checkpoint, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("sinks: checkpoint: %w", err)
	}
	ck, err := decodeCheckpoint(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCheckpoint, file, err)
	}
	ck.Path = file
	return ck, nil
}

// decodeCheckpoint decompresses, parses and verifies a checkpoint file's bytes.
func decodeCheckpoint(raw []byte) (*Checkpoint, error) {
	if !bytes.HasPrefix(raw, zstdMagic) {
		n := min(len(raw), 4)
		return nil, fmt.Errorf("not a zstd-compressed checkpoint (starts with %x, want %x)", raw[:n], zstdMagic)
	}
	// Streaming, not DecodeAll: DecodeAll would allocate the size a (maybe
	// damaged) frame header declares up front; this grows with what
	// actually decompresses.
	zr, err := zstd.NewReader(bytes.NewReader(raw), zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderMaxMemory(uint64(maxCheckpointBytes)), zstd.WithDecoderMaxWindow(maxCheckpointWindow))
	if err != nil {
		return nil, fmt.Errorf("decompress: %v", err)
	}
	defer zr.Close()
	// Size hint: the declared content size when it is plausible, else
	// about what float weights give (they compress about 1.1×).
	hint := len(raw) + len(raw)/4
	var zh zstd.Header
	if zh.Decode(raw) == nil && zh.HasFCS && zh.FrameContentSize <= uint64(64*len(raw)) && zh.FrameContentSize < 1<<31 {
		hint = int(zh.FrameContentSize)
	}
	var out bytes.Buffer
	out.Grow(hint + bytes.MinRead)
	if _, err := io.Copy(&out, io.LimitReader(zr, maxCheckpointBytes+1)); err != nil {
		return nil, fmt.Errorf("decompress: %v", err)
	}
	if int64(out.Len()) > maxCheckpointBytes {
		return nil, fmt.Errorf("decompresses to more than %d bytes", maxCheckpointBytes)
	}
	buf := out.Bytes()
	st, err := ParseSafetensors(buf)
	if err != nil {
		return nil, err
	}
	m := st.Metadata
	if m[metaFormat] != CheckpointFormat {
		return nil, fmt.Errorf("format %q, want %q", m[metaFormat], CheckpointFormat)
	}
	sum := checkpointChecksum(st.Tensors, m)
	if m[metaChecksum] != sum {
		return nil, fmt.Errorf("checksum mismatch: file says %q, content is %q", m[metaChecksum], sum)
	}
	ck := &Checkpoint{Checksum: sum}
	s := &ck.CheckpointState
	var perr error
	geti := func(k string) int64 {
		v, err := strconv.ParseInt(m[k], 10, 64)
		if (err != nil || v < 0) && perr == nil {
			perr = fmt.Errorf("metadata %s = %q is not a non-negative integer", k, m[k])
		}
		return v
	}
	s.Step = geti(metaStep)
	s.Epoch = int(geti(metaEpoch))
	s.Schedule = geti(metaSchedule)
	if perr != nil {
		return nil, perr
	}
	if s.Seed, err = strconv.ParseUint(m[metaSeed], 10, 64); err != nil {
		return nil, fmt.Errorf("metadata seed = %q: %v", m[metaSeed], err)
	}
	if s.Cursor, err = sources.ParseCursor(m[metaCursor]); err != nil {
		return nil, fmt.Errorf("metadata cursor: %v", err)
	}
	s.Model = m[metaModel]
	if !json.Valid([]byte(m[metaConfig])) {
		return nil, fmt.Errorf("metadata config is not JSON")
	}
	s.Config = json.RawMessage(m[metaConfig])
	for k, v := range m {
		if !isReserved(k) {
			if s.Meta == nil {
				s.Meta = map[string]string{}
			}
			s.Meta[k] = v
		}
	}
	for _, t := range st.Tensors {
		d, err := t.Dense()
		if err != nil {
			return nil, err
		}
		if name, ok := strings.CutPrefix(t.Name, OptimizerPrefix); ok {
			s.Optimizer = append(s.Optimizer, nn.Named{Name: name, Tensor: d})
		} else {
			s.Tensors = append(s.Tensors, nn.Named{Name: t.Name, Tensor: d})
		}
	}
	return ck, nil
}

func isReserved(k string) bool {
	for _, r := range reservedMeta {
		if k == r {
			return true
		}
	}
	return false
}

// ExportEncoder writes the encoder part of ck (Checkpoint.Encoder: every
// model tensor outside "head.") as a plain, uncompressed .safetensors file
// at path, atomically, with metadata {"format": "pt", "model", "step",
// "source"}. The names are the PyTorch module's state_dict names, so
// load_state_dict of the encoder's torch module accepts the file (see
// docs/checkpoints.md).
func ExportEncoder(path string, ck *Checkpoint) error {
	enc := ck.Encoder()
	if len(enc) == 0 {
		return fmt.Errorf("sinks: export: checkpoint %s has no encoder tensors", ck.Path)
	}
	ts, err := NamedTensors("", enc)
	if err != nil {
		return fmt.Errorf("sinks: export: %w", err)
	}
	meta := map[string]string{"format": "pt", "model": ck.Model,
		"step": strconv.FormatInt(ck.Step, 10), "source": filepath.Base(ck.Path)}
	if err := WriteFileAtomic(path, func(w io.Writer) error {
		_, err := WriteSafetensors(w, ts, meta)
		return err
	}); err != nil {
		return fmt.Errorf("sinks: export %s: %w", path, err)
	}
	return nil
}

// Save writes a training snapshot as a checkpoint (WriteState of
// StateOf(s)): with its run Config, so the checkpoint alone resumes the run
// and rebuilds its model. It makes Checkpointer a train.Store. After the
// checkpoint it writes the Config, indented, to Dir/config.json for
// people to read, when it differs from what that file holds.
func (c *Checkpointer) Save(ctx context.Context, s *train.Snapshot) error {
	st, err := StateOf(s)
	if err != nil {
		return err
	}
	if err := c.writeState(ctx, st, s.Config.Checkpoint.Keep); err != nil {
		return err
	}
	b, err := json.MarshalIndent(s.Config, "", "  ")
	if err != nil {
		return fmt.Errorf("sinks: checkpoint: config: %w", err)
	}
	b = append(b, '\n')
	path := filepath.Join(c.Dir, "config.json")
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, b) {
		return nil
	}
	if err := WriteFileAtomic(path, func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
		return fmt.Errorf("sinks: checkpoint: %w", err)
	}
	return nil
}

// Latest loads and verifies the newest valid checkpoint of Dir (see
// LoadCheckpoint, and Warn) as a training snapshot. Without any, the error wraps
// train.ErrNoCheckpoint.
func (c *Checkpointer) Latest() (*train.Snapshot, error) {
	if c.Dir == "" {
		return nil, errors.New("sinks: checkpoint: no folder (Checkpointer.Dir)")
	}
	ck, err := LoadCheckpoint(c.Dir)
	if err != nil {
		return nil, err
	}
	if c.Warn != nil {
		for _, e := range ck.Skipped {
			c.Warn(e)
		}
	}
	return ck.Snapshot()
}

// StateOf returns the checkpoint state of a training snapshot: its tensors
// (not copied), position, and its Config as the "config" metadata (JSON).
func StateOf(s *train.Snapshot) (*CheckpointState, error) {
	if s == nil {
		return nil, errors.New("sinks: checkpoint: nil snapshot")
	}
	cfg, err := json.Marshal(s.Config)
	if err != nil {
		return nil, fmt.Errorf("sinks: checkpoint: config: %w", err)
	}
	st := &CheckpointState{
		Step: int64(s.Step), Epoch: s.Epoch, Cursor: s.Cursor, Seed: s.Config.Data.Seed, Schedule: int64(s.Step),
		Model: s.Config.Model.Model, Config: cfg, Tensors: s.Tensors, Optimizer: s.Optimizer,
	}
	if name := s.Config.Optimizer.Name; name != "" {
		st.Meta = map[string]string{"optimizer": name}
	}
	return st, nil
}

// Snapshot returns the checkpoint as a training snapshot: its tensors (not
// copied), its position and the run Config it carries, so that
// Snapshot().NewModel() rebuilds the model from the file alone. The flat
// configuration that checkpoints of earlier versions carry is read too.
func (c *Checkpoint) Snapshot() (*train.Snapshot, error) {
	s := &train.Snapshot{Step: int(c.Step), Epoch: c.Epoch, Cursor: c.Cursor, Tensors: c.Tensors, Optimizer: c.Optimizer}
	if len(c.Config) > 0 {
		cfg, err := decodeRunConfig(c.Config)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: its run configuration: %v", ErrCheckpoint, c.Path, err)
		}
		s.Config = cfg
	}
	if s.Config.Model.Model == "" {
		s.Config.Model.Model = c.Model
	}
	return s, nil
}

// decodeRunConfig reads a checkpoint's config metadata: a train.Config, or
// the flat command-line configuration of earlier versions (recognised by
// its "model" being a string).
func decodeRunConfig(b []byte) (train.Config, error) {
	var probe struct {
		Model json.RawMessage `json:"model"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return train.Config{}, err
	}
	if len(probe.Model) == 0 || probe.Model[0] != '"' {
		var cfg train.Config
		err := json.Unmarshal(b, &cfg)
		return cfg, err
	}
	var f struct {
		Data          string  `json:"data"`
		Model         string  `json:"model"`
		Epochs        int     `json:"epochs"`
		Batch         int     `json:"batch"`
		LR            float64 `json:"lr"`
		LRScaling     string  `json:"lr_scaling"`
		Optimizer     string  `json:"optimizer"`
		Momentum      float64 `json:"momentum"`
		WeightDecay   float64 `json:"weight_decay"`
		Temperature   float64 `json:"temperature"`
		WarmupEpochs  float64 `json:"warmup_epochs"`
		Size          int     `json:"size"`
		Channels      int     `json:"channels"`
		MinScale      float64 `json:"min_scale"`
		ColorStrength float64 `json:"color_strength"`
		Blur          bool    `json:"blur"`
		HeadDepth     int     `json:"head_depth"`
		HeadBN        bool    `json:"head_bn"`
		Workers       int     `json:"workers"`
		Threads       int     `json:"threads"`
		Seed          uint64  `json:"seed"`
		ShuffleBuffer int     `json:"shuffle_buffer"`
		CkptEvery     int     `json:"checkpoint_every"`
		Keep          int     `json:"keep"`
		EvalEvery     int     `json:"eval_every"`
		EvalTrain     string  `json:"eval_train"`
		EvalTest      string  `json:"eval_test"`
		KNNK          int     `json:"knn_k"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return train.Config{}, err
	}
	return train.Config{
		Data: train.Data{Glob: f.Data, Seed: f.Seed, ShuffleBuffer: f.ShuffleBuffer, Size: f.Size, Workers: f.Workers},
		Model: nn.Config{Model: f.Model, InChannels: f.Channels, HeadDepth: f.HeadDepth, HeadBN: f.HeadBN,
			Seed: f.Seed, Threads: f.Threads},
		Recipe: train.Recipe{MinScale: f.MinScale, ColorStrength: f.ColorStrength, Blur: f.Blur, Temperature: f.Temperature},
		Optimizer: train.Optimizer{Name: f.Optimizer, LR: f.LR, LRScaling: f.LRScaling, Momentum: f.Momentum,
			WeightDecay: f.WeightDecay},
		Schedule:   train.Schedule{Epochs: f.Epochs, Batch: f.Batch, WarmupEpochs: f.WarmupEpochs},
		Eval:       train.Evaluation{Train: f.EvalTrain, Test: f.EvalTest, Every: f.EvalEvery, KNNK: f.KNNK},
		Checkpoint: train.Checkpointing{Every: f.CkptEvery, Keep: f.Keep},
	}, nil
}
