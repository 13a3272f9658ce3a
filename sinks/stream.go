package sinks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/contrastream/contrastream/pipeline"
	"github.com/contrastream/contrastream/stages"
	"github.com/contrastream/contrastream/stages/augment"
)

// StreamConfig configures Stream.
type StreamConfig struct {
	// View is the view stream (shards, rank/world, seed, cursor, epochs,
	// recipe, size, views, batch, workers; Normalize with Float32). Stream
	// sets Output to stages.Packed (PackedFloat32 with Float32) and
	// DropLast, so every rank sends BatchesPerEpoch full batches per epoch.
	View stages.ViewStreamConfig
	// W receives the stream when Socket is empty.
	W io.Writer
	// Socket, if set, is the path of a Unix socket to listen on: Stream
	// accepts one connection, removes the path, and writes the stream to it.
	Socket string
	// DeadLetters is the JSONL file for bad records (made only when one
	// fails); "" means none (they are still counted).
	DeadLetters string
	// BadRecordBudget fails the run once more than this fraction of the
	// records failed (see pipeline.WithBadRecordBudget); 0 means 0.01, the
	// default of train and bench; negative: no budget.
	BadRecordBudget float64
	// Digests, if set, receives ArrowStream's per-batch digests.
	Digests io.Writer
	// ParentPID: the stream stops when its parent process is no longer
	// this one (checked at once and every 200 ms, plus PR_SET_PDEATHSIG on
	// Linux). 0 means the parent at the start; negative turns the watch off.
	ParentPID int
	// ExpectFingerprint, if set, must equal the shards' fingerprint (the one
	// saved with a cursor): a changed dataset is refused, not misread.
	ExpectFingerprint string
	// Shm, if set, turns on the shared-memory transport (see ShmRing): the
	// pixels go into ShmSlots slots of this file (a memfd or a tmpfs file,
	// sized and mapped here; the reader maps it too), the stream carries
	// their offsets, and the reader returns each slot on Returns (or, with
	// Socket, on the socket) once done with it. ShmSlots (0: InFlight + 4)
	// replaces View.InFlight: every slot is a batch buffer, and a slot the
	// reader holds is not written.
	Shm      *os.File
	ShmSlots int
	// Returns is the shm transport's return channel without Socket (the
	// process's stdin for `contrastream stream --shm-fd`). Its end means
	// the reader went away. Stream's goroutine reading it ends when it
	// ends, which may be after Stream returns.
	Returns io.Reader
	// Float32 (with Shm only) puts the views in the slots normalized, as
	// float32 [B,V,C,H,W] with View.Normalize's mean and std (zero:
	// ImageNet's), as Tensorize's float32 batches: model input, with nothing
	// left to convert on the reader's side. The metadata records the mean
	// and std (StreamMeta.Normalize). Slots are then 4 times larger.
	// View.Normalize without Float32 is refused (the uint8 views are not
	// normalized).
	Float32 bool
	// Listening, if set, is called once the socket listens (tests).
	Listening func(path string)
	// Logger for run-level messages (nil: slog.Default()).
	Logger *slog.Logger
}

// StreamReport says how a stream ended.
type StreamReport struct {
	Meta       StreamMeta
	Batches    int
	Samples    int64
	BadRecords int64
	// Spliced is the bytes handed to a pipe by vmsplice (not copied).
	Spliced int64
	// ReaderGone: the reader went away (broken pipe, closed socket) and the
	// stream stopped; ParentGone: the parent process died.
	ReaderGone, ParentGone bool
}

// Stream runs shards → decode → views → packed uint8 batches → ArrowStream:
// what `contrastream stream` does. It writes the end-of-stream marker once
// the configured epochs are done. A reader that goes away or a parent that
// dies stops it cleanly (the report says which; the error is nil); a
// cancelled ctx returns ctx's error; bad records beyond the budget fail it
// with pipeline.ErrBadRecordBudget.
func Stream(ctx context.Context, cfg StreamConfig) (StreamReport, error) {
	var rep StreamReport
	if !(cfg.BadRecordBudget <= 1) {
		return rep, fmt.Errorf("sinks: stream: BadRecordBudget %v: want a fraction <= 1 (negative: no limit)", cfg.BadRecordBudget)
	}
	vc := cfg.View
	vc.Output, vc.DropLast = stages.Packed, true
	if cfg.Float32 {
		if cfg.Shm == nil {
			return rep, errors.New("sinks: stream: float32 views travel only by the shm transport (a pipe would carry 4 times the bytes)")
		}
		vc.Output = stages.PackedFloat32
	} else if vc.Normalize != (augment.Normalize{}) {
		return rep, errors.New("sinks: stream: View.Normalize needs Float32 (the uint8 views are not normalized)")
	}
	if cfg.Shm != nil {
		if cfg.Socket == "" && cfg.Returns == nil {
			return rep, errors.New("sinks: stream: the shm transport needs a return channel (Returns or Socket)")
		}
		if cfg.ShmSlots == 0 {
			cfg.ShmSlots = stages.DefaultInFlight + 4
			if vc.InFlight > 0 {
				cfg.ShmSlots = vc.InFlight + 4
			}
		}
		vc.InFlight = cfg.ShmSlots
	}
	vs, err := stages.NewViewStream(vc)
	if err != nil {
		return rep, err
	}
	vc = vs.Config()
	var ring *ShmRing
	if cfg.Shm != nil {
		elem := 1
		if cfg.Float32 {
			elem = 4
		}
		ring, err = NewShmRing(cfg.Shm, cfg.ShmSlots, elem*vc.Batch*vc.Views*vc.Recipe.Size*vc.Recipe.Size*vc.Channels)
		if err != nil {
			return rep, err
		}
		defer ring.Close()
		vs.Pipeline.Tensorize.PackedBuffer = ring.Slot
	}
	plan := vs.Source.Plan()
	pc := plan.Config()
	start := vc.Source.Cursor
	if start.Position == plan.EpochSize() {
		start.Epoch, start.Position = start.Epoch+1, 0
	}
	rep.Meta = StreamMeta{
		Recipe: vc.Recipe.String(), Size: vc.Recipe.Size, Views: vc.Views, Channels: vc.Channels, Batch: vc.Batch,
		Seed: pc.Seed, Rank: pc.Rank, World: pc.World, Fingerprint: vs.Source.Fingerprint(),
		EpochSize: plan.EpochSize(), BatchesPerEpoch: vs.BatchesPerEpoch(), Epochs: vc.Source.Epochs,
		Cursor: start.String(), ShuffleBuffer: pc.ShuffleBuffer,
	}
	if ring != nil {
		rep.Meta.ShmSlots, rep.Meta.ShmSlotBytes = ring.Slots(), ring.SlotBytes()
	}
	rep.Meta.Float32, rep.Meta.Normalize = cfg.Float32, vc.Normalize // Normalize is zero without Float32 (refused above)
	if cfg.ExpectFingerprint != "" && cfg.ExpectFingerprint != rep.Meta.Fingerprint {
		return rep, fmt.Errorf("sinks: stream: the shards are not the dataset the cursor was saved on "+
			"(fingerprint %s, saved %s): shards were added, removed, renamed or rewritten", rep.Meta.Fingerprint, cfg.ExpectFingerprint)
	}
	if rep.Meta.BatchesPerEpoch == 0 {
		return rep, fmt.Errorf("sinks: stream: rank %d's %d samples per epoch make no batch of %d", pc.Rank, plan.EpochSize(), vc.Batch)
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if cfg.ParentPID >= 0 {
		if err := watchParent(ctx, cfg.ParentPID, cancel); err != nil {
			return rep, err
		}
	}
	w := cfg.W
	if cfg.Socket != "" {
		conn, err := acceptOne(ctx, cfg.Socket, cfg.Listening)
		if err != nil {
			if errors.Is(context.Cause(ctx), errParentGone) {
				rep.ParentGone = true
				return rep, nil
			}
			return rep, err
		}
		defer conn.Close()
		w = conn
		if ring != nil {
			cfg.Returns = conn
		} else {
			// A reader that closes the socket is seen at once, not at the
			// next write: the reader never sends anything.
			go func() {
				var b [1]byte
				if _, err := conn.Read(b[:]); err != nil {
					cancel(ErrReaderGone)
				}
			}()
		}
	}
	if ring != nil {
		go func() { cancel(ring.Returns(cfg.Returns)) }()
	}
	if w == nil {
		return rep, errors.New("sinks: stream: no writer and no socket")
	}

	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	opts := []pipeline.Option{pipeline.WithLogger(log)}
	var dl *DeadLetters
	if cfg.DeadLetters != "" {
		dl = JSONL(cfg.DeadLetters)
		opts = append(opts, pipeline.WithDeadLetter(dl))
	}
	if budget := cfg.BadRecordBudget; budget >= 0 {
		if budget == 0 {
			budget = pipeline.DefaultBadRecordBudget
		}
		opts = append(opts, pipeline.WithBadRecordBudget(budget))
	}
	p := pipeline.New("stream", opts...)
	out := &ArrowStream{W: w, Meta: rep.Meta, Digests: cfg.Digests, Shm: ring}
	if err := out.Start(vc.Views, vc.Recipe.Size, vc.Recipe.Size, vc.Channels); err != nil {
		if errors.Is(err, ErrReaderGone) {
			rep.ReaderGone = true
			return rep, nil
		}
		return rep, err
	}
	pipeline.Sink(p, "arrow", vs.Add(p), out)
	runErr := p.Run(ctx)
	rep.Batches, rep.Samples, rep.Spliced = out.Batches(), out.Samples(), out.Spliced()
	for _, s := range p.Stats().Stages {
		rep.BadRecords += s.Errors
	}
	if dl != nil {
		if err := dl.Close(); err != nil && runErr == nil {
			runErr = err
		}
	}
	cause := context.Cause(ctx)
	switch {
	case errors.Is(runErr, ErrReaderGone) || errors.Is(cause, ErrReaderGone):
		rep.ReaderGone = true
		return rep, nil
	case errors.Is(cause, errParentGone):
		rep.ParentGone = true
		return rep, nil
	case errors.Is(cause, ErrShmReturn):
		return rep, cause
	case runErr != nil:
		return rep, runErr
	}
	err = out.Finish(vc.Views, vc.Recipe.Size, vc.Recipe.Size, vc.Channels)
	rep.Spliced = out.Spliced()
	if err != nil {
		if errors.Is(err, ErrReaderGone) {
			rep.ReaderGone = true
			return rep, nil
		}
		return rep, err
	}
	return rep, nil
}

var errParentGone = errors.New("sinks: stream: the parent process died")

// watchParent cancels ctx with errParentGone once the parent process is no
// longer pid (0: the parent now).
func watchParent(ctx context.Context, pid int, cancel context.CancelCauseFunc) error {
	if pid == 0 {
		pid = os.Getppid()
	}
	if err := dieWithParent(); err != nil {
		return fmt.Errorf("sinks: stream: PR_SET_PDEATHSIG: %w", err)
	}
	if os.Getppid() != pid {
		return fmt.Errorf("sinks: stream: parent process %d is gone (the parent is %d)", pid, os.Getppid())
	}
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if os.Getppid() != pid {
					cancel(errParentGone)
					return
				}
			}
		}
	}()
	return nil
}

// acceptOne listens on the Unix socket path, accepts one connection and
// removes the path. ctx ends the wait.
func acceptOne(ctx context.Context, path string, listening func(string)) (net.Conn, error) {
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("sinks: stream: socket %s already exists (another stream, or a stale one: remove it)", path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("sinks: stream: %w", err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	defer ln.Close()
	if listening != nil {
		listening(path)
	}
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	conn, err := ln.Accept()
	if err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, fmt.Errorf("sinks: stream: accept on %s: %w", path, err)
	}
	return conn, nil
}
