package sources

import (
	"fmt"
	"strconv"
	"strings"
)

// Cursor is a position in the stream of one rank: Position samples of epoch
// Epoch have been emitted (and consumed). The zero Cursor is the start.
//
// A cursor whose Position equals the epoch's per-rank size is the same as
// {Epoch + 1, 0}. Cursor is a plain value, safe to copy and compare; it
// marshals as text "epoch:position" (for checkpoint metadata).
type Cursor struct {
	Epoch    int
	Position int64
}

// String returns "epoch:position".
func (c Cursor) String() string {
	return strconv.Itoa(c.Epoch) + ":" + strconv.FormatInt(c.Position, 10)
}

// MarshalText returns the String form.
func (c Cursor) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText parses the "epoch:position" form; both must be non-negative.
func (c *Cursor) UnmarshalText(b []byte) error {
	v, err := ParseCursor(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// ParseCursor parses "epoch:position" (both non-negative integers).
func ParseCursor(s string) (Cursor, error) {
	e, p, ok := strings.Cut(s, ":")
	if !ok {
		return Cursor{}, fmt.Errorf("sources: cursor %q: want epoch:position", s)
	}
	epoch, err := strconv.Atoi(e)
	if err != nil || epoch < 0 {
		return Cursor{}, fmt.Errorf("sources: cursor %q: bad epoch", s)
	}
	pos, err := strconv.ParseInt(p, 10, 64)
	if err != nil || pos < 0 {
		return Cursor{}, fmt.Errorf("sources: cursor %q: bad position", s)
	}
	return Cursor{Epoch: epoch, Position: pos}, nil
}
