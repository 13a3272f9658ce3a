package sinks

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"unsafe"

	"github.com/contrastream/contrastream/stages"
)

// ErrShmReturn is wrapped by the error of a reader that broke the
// shared-memory return protocol (a slot it does not hold, a short record).
var ErrShmReturn = errors.New("sinks: shm ring: bad slot return")

// ShmRing is the shared-memory transport of a view-batch stream: Slots()
// slots of SlotBytes() each, in one file that both processes map (a memfd
// the reader made and handed down to the stream's process, or a file on
// tmpfs). The batcher writes each batch's pixels straight into a slot
// (stages.Tensorize.PackedBuffer), the Arrow IPC stream on the pipe or
// socket carries everything else plus the pixels' offsets in the file
// (column views_offset), and the reader hands a slot back, once it is done
// with it, by writing its index (uint32, little-endian) on the return
// channel (Returns). A slot is never written while the reader holds it: the
// batch in it is released only when it comes back, so the ring's size is
// also the number of batches in flight between the two processes.
//
// Hold and Returns may be called from different goroutines.
type ShmRing struct {
	mem       []byte
	slots     int
	slotBytes int

	mu   sync.Mutex
	held map[int]*stages.Batch // slots written and not yet returned
}

// shmAlign is the alignment of every slot (a page).
const shmAlign = 4096

// NewShmRing sizes f to slots slots of at least bytes bytes each (rounded
// up to a page) and maps it shared.
func NewShmRing(f *os.File, slots, bytes int) (*ShmRing, error) {
	if slots < 2 {
		return nil, fmt.Errorf("sinks: shm ring: %d slots: want >= 2 (one being written while the reader holds one)", slots)
	}
	if bytes < 1 {
		return nil, fmt.Errorf("sinks: shm ring: slots of %d bytes", bytes)
	}
	sb := (bytes + shmAlign - 1) / shmAlign * shmAlign
	if int64(sb)*int64(slots) > 1<<46 {
		return nil, fmt.Errorf("sinks: shm ring: %d slots of %d bytes is too large", slots, sb)
	}
	mem, err := mapShared(f, sb*slots)
	if err != nil {
		return nil, err
	}
	return &ShmRing{mem: mem, slots: slots, slotBytes: sb, held: map[int]*stages.Batch{}}, nil
}

// Slots returns the number of slots.
func (r *ShmRing) Slots() int { return r.slots }

// SlotBytes returns the size of a slot (a multiple of 4096).
func (r *ShmRing) SlotBytes() int { return r.slotBytes }

// Slot returns slot i's memory.
func (r *ShmRing) Slot(i int) []byte {
	return r.mem[i*r.slotBytes : (i+1)*r.slotBytes : (i+1)*r.slotBytes]
}

// SlotOf returns the slot p starts and lies within, and p's offset in the
// file; ok is false when p is not inside one slot.
func (r *ShmRing) SlotOf(p []byte) (slot int, off int64, ok bool) {
	if len(p) == 0 || len(r.mem) == 0 {
		return 0, 0, false
	}
	d := uintptr(unsafe.Pointer(unsafe.SliceData(p))) - uintptr(unsafe.Pointer(unsafe.SliceData(r.mem)))
	if d >= uintptr(len(r.mem)) {
		return 0, 0, false
	}
	slot = int(d) / r.slotBytes
	if int(d)+len(p) > (slot+1)*r.slotBytes {
		return 0, 0, false
	}
	return slot, int64(d), true
}

// Hold records that slot's batch b goes to the reader: b is released when
// the reader returns the slot.
func (r *ShmRing) Hold(slot int, b *stages.Batch) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.held[slot]; dup {
		return fmt.Errorf("sinks: shm ring: slot %d sent again before the reader returned it", slot)
	}
	r.held[slot] = b
	return nil
}

// Held returns the number of slots the reader holds.
func (r *ShmRing) Held() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.held)
}

// Returns reads slot returns from rd (uint32 little-endian slot indices)
// and releases each slot's batch, until rd ends: it then returns an error
// wrapping ErrReaderGone (the reader closed the channel: it went away or
// is done). A slot the reader does not hold, or a stream that stops inside
// a record, is an error wrapping ErrShmReturn.
func (r *ShmRing) Returns(rd io.Reader) error {
	br := bufio.NewReaderSize(rd, 256)
	var rec [4]byte
	for {
		n, err := io.ReadFull(br, rec[:])
		if err != nil {
			if n == 0 && (err == io.EOF || readerGone(err)) {
				return fmt.Errorf("%w (it closed the slot return channel)", ErrReaderGone)
			}
			if n > 0 {
				return fmt.Errorf("%w: the return channel ended inside a record (%d of 4 bytes)", ErrShmReturn, n)
			}
			return fmt.Errorf("%w: %v", ErrReaderGone, err)
		}
		slot := int(binary.LittleEndian.Uint32(rec[:]))
		r.mu.Lock()
		b, ok := r.held[slot]
		delete(r.held, slot)
		r.mu.Unlock()
		if !ok {
			return fmt.Errorf("%w: the reader returned slot %d, which it does not hold (%d slots)", ErrShmReturn, slot, r.slots)
		}
		b.Release()
	}
}

// Close unmaps the ring. No batch may use its memory after.
func (r *ShmRing) Close() error {
	if r.mem == nil {
		return nil
	}
	err := unmapShared(r.mem)
	r.mem = nil
	return err
}
