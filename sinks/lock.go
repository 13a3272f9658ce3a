package sinks

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// LockName is the lock file of a run folder: flock'd by the process that
// trains in the folder, for the run's lifetime.
const LockName = "run.lock"

// ErrLocked is wrapped by Lock's error when another process holds the run
// folder.
var ErrLocked = errors.New("sinks: run folder in use")

// Lock takes the run folder Dir for one run, so that two runs cannot write
// the same checkpoints and metrics: it creates Dir if needed, opens
// Dir/run.lock and flocks it (exclusive, without waiting). Another process
// holding it gives an error wrapping ErrLocked, naming its pid, host and
// start time (which the holder writes into the file). The kernel releases a
// flock when its process ends, however it ends, so the lock file a killed
// run leaves behind never blocks a resume.
//
// Lock also finds an unwritable run folder before any work is done: it
// writes and removes a probe file in Dir and in Dir/checkpoints (when that
// exists), and fails naming the folder.
//
// The returned unlock releases the lock. When Lock created Dir and the run
// left nothing in it but the lock file (it was refused before it started),
// unlock removes the folder again. It implements train.Locker, so train.Run
// and train.Resume hold it while they run.
func (c *Checkpointer) Lock() (unlock func() error, err error) {
	if c.Dir == "" {
		return nil, errors.New("sinks: run folder: no folder (Checkpointer.Dir)")
	}
	dir := c.Dir
	created := false
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("sinks: run folder %s cannot be created: %w", dir, err)
		}
		created = true
	}
	cleanup := func() {
		if created {
			os.Remove(filepath.Join(dir, LockName))
			os.Remove(dir) // only if empty
		}
	}
	for _, d := range []string{dir, filepath.Join(dir, "checkpoints")} {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			if d == dir {
				cleanup()
				return nil, fmt.Errorf("sinks: run folder %s is not a folder", dir)
			}
			continue
		}
		if err := probeWritable(d); err != nil {
			cleanup()
			return nil, fmt.Errorf("sinks: run folder %s is not writable (found before training): %w", d, err)
		}
	}
	path := filepath.Join(dir, LockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("sinks: run folder %s: lock: %w", dir, err)
	}
	if err := flockExclusive(f); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, errWouldBlock) {
			who := strings.TrimSpace(string(holder))
			if who == "" {
				who = "another process"
			}
			return nil, fmt.Errorf("%w: %s is being written by %s: wait for that run to end, or use another folder", ErrLocked, dir, who)
		}
		cleanup()
		return nil, fmt.Errorf("sinks: run folder %s: lock: %w", dir, err)
	}
	host, _ := os.Hostname()
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte("pid "+strconv.Itoa(os.Getpid())+" on "+host+" since "+time.Now().UTC().Format(time.RFC3339)+"\n"), 0)
	return func() error {
		if created && onlyLock(dir) {
			os.Remove(path)
			err := funlock(f)
			f.Close()
			os.Remove(dir)
			return err
		}
		_ = f.Truncate(0)
		err := funlock(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}, nil
}

// probeWritable creates, writes and removes a file in dir.
func probeWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return err
	}
	_, err = f.Write([]byte{0})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if rerr := os.Remove(f.Name()); err == nil {
		err = rerr
	}
	return err
}

// onlyLock reports whether dir holds nothing but the lock file.
func onlyLock(dir string) bool {
	ents, err := os.ReadDir(dir)
	return err == nil && len(ents) == 1 && ents[0].Name() == LockName
}
