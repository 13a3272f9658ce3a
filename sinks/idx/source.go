package idx

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/contrastream/contrastream/sources"
)

// Source is a source of labeled images read from a pair of MNIST-format IDX
// files: Images (magic 0x0803: N×rows×cols unsigned bytes) and, optionally,
// Labels (magic 0x0801: N unsigned bytes). Either file may be gzipped.
//
// Produce emits one sources.RawImage per item (C = 1, Label = the label
// byte, or -1 without a labels file) in file order; it reads both files as
// streams and holds one item in memory. Each emitted Pix is a fresh slice
// (records are read-only once emitted and may be held downstream). It returns an error
// naming the file when a file is missing, is not IDX, has the wrong element
// type or rank, is truncated, or when the two files disagree on the number of
// items. The zero value is not usable: Images must be set. Safe for
// concurrent use (each Produce opens its own readers).
type Source struct {
	Images string // path of the images file
	Labels string // path of the labels file; "" for no labels
	Limit  int    // if > 0, emit at most this many images
}

// Open opens and checks both files and returns their readers and the number
// of images they hold. The caller closes both readers (labels may be nil).
func (s Source) Open() (images, labels *Reader, n int, err error) {
	if s.Images == "" {
		return nil, nil, 0, errors.New("idx: no images file given")
	}
	images, err = Open(s.Images)
	if err != nil {
		return nil, nil, 0, err
	}
	if images.Type != Uint8 || len(images.Dims) != 3 {
		images.Close()
		return nil, nil, 0, fmt.Errorf("idx: %s: not an images file (want magic 0x0803: unsigned bytes, 3 dimensions; have type 0x%02x, %d dimensions)", s.Images, images.Type, len(images.Dims))
	}
	if images.Dims[1] == 0 || images.Dims[2] == 0 {
		images.Close()
		return nil, nil, 0, fmt.Errorf("idx: %s: empty image size %dx%d", s.Images, images.Dims[2], images.Dims[1])
	}
	n = images.Len()
	if s.Labels != "" {
		labels, err = Open(s.Labels)
		if err != nil {
			images.Close()
			return nil, nil, 0, err
		}
		if labels.Type != Uint8 || len(labels.Dims) != 1 {
			images.Close()
			labels.Close()
			return nil, nil, 0, fmt.Errorf("idx: %s: not a labels file (want magic 0x0801: unsigned bytes, 1 dimension; have type 0x%02x, %d dimensions)", s.Labels, labels.Type, len(labels.Dims))
		}
		if labels.Len() != n {
			images.Close()
			labels.Close()
			return nil, nil, 0, fmt.Errorf("idx: %s holds %d images but %s holds %d labels", s.Images, n, s.Labels, labels.Len())
		}
	}
	if s.Limit > 0 && s.Limit < n {
		n = s.Limit
	}
	return images, labels, n, nil
}

// Produce emits the images in file order; see Source.
func (s Source) Produce(ctx context.Context, emit func(sources.RawImage) error) error {
	images, labels, n, err := s.Open()
	if err != nil {
		return err
	}
	defer images.Close()
	if labels != nil {
		defer labels.Close()
	}
	shard := filepath.Base(s.Images)
	h, w := images.Dims[1], images.Dims[2]
	var lab [1]byte
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		pix, err := images.Next(nil)
		if err != nil {
			return err
		}
		label := -1
		if labels != nil {
			if _, err := labels.Next(lab[:]); err != nil {
				return err
			}
			label = int(lab[0])
		}
		if err := emit(sources.RawImage{Shard: shard, Row: int64(i), Label: label, W: w, H: h, C: 1, Pix: pix}); err != nil {
			return err
		}
	}
	return nil
}
