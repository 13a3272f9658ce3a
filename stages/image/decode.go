package image

import (
	"bytes"
	"errors"
	"fmt"
	stdimage "image"
	"image/jpeg"
	"image/png"
)

// DefaultMaxPixels is the pixel-count limit (W*H) that Decode applies when
// DecodeOptions.MaxPixels is zero: 1<<26, about 64 megapixels.
const DefaultMaxPixels = 1 << 26

// Errors returned by Decode and DecodeHeader. They are sentinels: test with
// errors.Is; the returned error wraps one of them and says more.
var (
	// ErrFormat: the bytes are neither PNG nor JPEG (this includes empty input).
	ErrFormat = errors.New("image: unknown format")
	// ErrTooLarge: the header declares more pixels than the limit allows.
	// It is detected from the header, before any pixel buffer is allocated.
	ErrTooLarge = errors.New("image: too many pixels")
	// ErrCorrupt: the data is truncated or malformed.
	ErrCorrupt = errors.New("image: corrupt data")
	// ErrUnsupported: a valid file using a feature the decoder lacks (for
	// example 12-bit or lossless JPEG, or a 4-component JPEG without an
	// Adobe marker).
	ErrUnsupported = errors.New("image: unsupported feature")
	// ErrNoTurbo: DecodeOptions.Backend asked for BackendTurbo in a binary
	// built without the turbojpeg build tag (or without cgo).
	ErrNoTurbo = errors.New("image: turbojpeg backend not built in (build with -tags turbojpeg and cgo)")
)

// Format is an encoded image format.
type Format uint8

// Formats recognised by DecodeHeader and Decode.
const (
	FormatUnknown Format = iota
	FormatPNG
	FormatJPEG
)

// String returns "png", "jpeg" or "unknown".
func (f Format) String() string {
	switch f {
	case FormatPNG:
		return "png"
	case FormatJPEG:
		return "jpeg"
	}
	return "unknown"
}

// Backend selects the JPEG decoder. PNG is always decoded in pure Go.
type Backend uint8

const (
	// BackendAuto uses libjpeg-turbo when the binary was built with the
	// turbojpeg tag (see HaveTurbo), and pure Go otherwise.
	BackendAuto Backend = iota
	// BackendGo always uses this package's pure-Go decoder: libjpeg-turbo's
	// pixels exactly (islow IDCT, fancy upsampling, integer colour), with
	// Go assembly kernels where the CPU has them. Files using what it lacks
	// (arithmetic coding, lossless, fractional sampling) go to image/jpeg.
	BackendGo
	// BackendTurbo always uses libjpeg-turbo; Decode returns ErrNoTurbo
	// when it is not built in.
	BackendTurbo
	// BackendStd uses Go's image/jpeg plus this package's conversion (its
	// IDCT rounds differently from libjpeg's: samples off by one or two).
	BackendStd
)

// String returns "auto", "go" or "turbo".
func (b Backend) String() string {
	switch b {
	case BackendGo:
		return "go"
	case BackendTurbo:
		return "turbo"
	case BackendStd:
		return "std"
	}
	return "auto"
}

// DecodeOptions configures Decode. The zero value decodes at full size, keeps
// gray sources gray, applies DefaultMaxPixels and uses BackendAuto.
type DecodeOptions struct {
	// MaxPixels refuses images whose header declares more than this many
	// pixels (width*height) with ErrTooLarge, before anything is allocated.
	// 0 means DefaultMaxPixels; a negative value means no limit.
	MaxPixels int

	// Channels chooses the output: 0 keeps the source's kind (C=1 for
	// grayscale sources, with or without alpha, and C=3 for everything
	// else, palettes included); 3 always gives RGB (gray replicated); 1
	// always gives gray (JPEG: the decoded luma plane; other sources:
	// libjpeg's and PIL's integer BT.601 luma, (19595R+38470G+7471B+32768)>>16).
	Channels int

	// MinSide, when positive, lets a JPEG be decoded at a reduced DCT scale
	// (1/2, 1/4 or 1/8: the smallest whose shorter output side is still at
	// least MinSide), which is several times cheaper than a full decode
	// followed by a downscale. Only the turbojpeg backend honours it; the
	// pure-Go backend and PNG always decode at full size. Callers must read
	// the size from dst, never assume it.
	MinSide int

	// FastUpsample replicates subsampled chroma (nearest neighbour) instead
	// of libjpeg's default triangle ("fancy") upsampling. It is a little
	// faster and a little blockier. Both backends honour it.
	FastUpsample bool

	// FastDCT uses libjpeg-turbo's fast, less accurate integer IDCT
	// (TJFLAG_FASTDCT). Only the turbojpeg backend honours it; see
	// docs/benchmarks.md for its cost in accuracy.
	FastDCT bool

	// Backend picks the JPEG decoder; see Backend.
	Backend Backend

	// Crops, when not empty, is a promise that the caller reads only the
	// pixels inside these rectangles (of the full-size image; they are
	// clipped to it). The pure-Go JPEG decoder then reconstructs (IDCT,
	// upsampling, colour conversion) only the MCUs the rectangles touch,
	// plus the neighbouring samples fancy upsampling reads, and stops
	// entropy decoding after the last MCU row they need. Pixels inside the
	// union of the rectangles are exactly those of a full decode; pixels
	// outside it are unspecified (they may hold an earlier image's); dst is
	// still W×H. Damage in the entropy-coded data after the last needed MCU
	// row goes unnoticed (a truncated scan is still refused). When no
	// rectangle meets the image the whole image is decoded. The turbojpeg
	// backend, image/jpeg (BackendStd and the pure-Go fallback) and PNG
	// ignore Crops and decode everything. The Views stage's crop boxes
	// (stages.Views.Crops) are meant for it.
	Crops []Rect
}

func (o *DecodeOptions) maxPixels() int {
	switch {
	case o.MaxPixels == 0:
		return DefaultMaxPixels
	case o.MaxPixels < 0:
		return int(^uint(0) >> 1)
	}
	return o.MaxPixels
}

// CheckPixels is Decode's size check on its own: an error wrapping
// ErrTooLarge when h declares more pixels than o.MaxPixels allows, else nil.
// Code that takes a size from a header without decoding (a view side from
// the first image) applies the decoder's limit through it.
func (o DecodeOptions) CheckPixels(h Header) error {
	if limit := o.maxPixels(); h.W > limit/max(h.H, 1) {
		return fmt.Errorf("%w: %dx%d is over the limit of %d pixels", ErrTooLarge, h.W, h.H, limit)
	}
	return nil
}

// Check is the header check Decode makes before it decodes a pixel, on its
// own: DecodeHeader (PNG or JPEG, a readable header), CheckPixels (the
// pixel limit) and the layouts Decode refuses (a 4-component JPEG without
// an Adobe marker). Import (header-only or not), training's peek at the
// first image and Decode all use it, so they agree on what is valid. It
// allocates nothing.
func (o DecodeOptions) Check(data []byte) (Header, error) {
	h, err := DecodeHeader(data)
	if err != nil {
		return h, err
	}
	if err := o.CheckPixels(h); err != nil {
		return h, err
	}
	if h.Format == FormatJPEG && h.Components == 4 && !h.Adobe {
		return h, fmt.Errorf("%w: jpeg: 4-component image without Adobe marker", ErrUnsupported)
	}
	return h, nil
}

// outChannels returns the channel count of the output for a source that is
// gray or not.
func (o *DecodeOptions) outChannels(gray bool) (int, error) {
	switch o.Channels {
	case 0:
		if gray {
			return 1, nil
		}
		return 3, nil
	case 1, 3:
		return o.Channels, nil
	}
	return 0, fmt.Errorf("image: DecodeOptions.Channels must be 0, 1 or 3, not %d", o.Channels)
}

// Header is what DecodeHeader reads from the start of an encoded image.
type Header struct {
	Format Format
	W, H   int
	// Gray is true for single-channel sources (PNG gray or gray+alpha,
	// one-component JPEG).
	Gray bool
	// Components is the number of colour components a JPEG declares (1, 3
	// or 4); for PNG it is 1 (gray), 2 (gray+alpha), 3 (RGB), 4 (RGBA) or
	// 1 for paletted images.
	Components int
	// Adobe reports a JPEG APP14 "Adobe" segment and AdobeTransform its
	// colour-transform byte (0 unknown/RGB/CMYK, 1 YCbCr, 2 YCCK).
	Adobe          bool
	AdobeTransform uint8
	// Progressive reports a progressive (SOF2) JPEG; Interlaced an Adam7 PNG.
	Progressive bool
	Interlaced  bool
}

// DecodeHeader reads the format, size and colour layout of a PNG or JPEG
// without decoding pixels. It allocates nothing and is safe for concurrent
// use. It checks only the header: a valid header does not promise valid data.
func DecodeHeader(data []byte) (Header, error) {
	switch {
	case len(data) == 0:
		return Header{}, fmt.Errorf("%w: empty input", ErrFormat)
	case bytes.HasPrefix(data, pngSig):
		return pngHeader(data)
	case len(data) >= 2 && data[0] == 0xff && data[1] == 0xd8:
		return jpegHeader(data)
	}
	return Header{}, ErrFormat
}

var (
	pngSig    = []byte("\x89PNG\r\n\x1a\n")
	sosMarker = []byte{0xff, 0xda}
)

func pngHeader(data []byte) (Header, error) {
	h := Header{Format: FormatPNG}
	// signature (8), IHDR length (4) "IHDR" (4), then 13 bytes of IHDR.
	if len(data) < 8+8+13 {
		return h, fmt.Errorf("%w: png: truncated header", ErrCorrupt)
	}
	d := data[8:]
	if be32(d) != 13 || string(d[4:8]) != "IHDR" {
		return h, fmt.Errorf("%w: png: first chunk is not IHDR", ErrCorrupt)
	}
	d = d[8:]
	w, ht := be32(d), be32(d[4:])
	if w == 0 || ht == 0 || w > 1<<31-1 || ht > 1<<31-1 {
		return h, fmt.Errorf("%w: png: bad size %dx%d", ErrCorrupt, w, ht)
	}
	h.W, h.H = int(w), int(ht)
	switch d[9] { // colour type
	case 0:
		h.Gray, h.Components = true, 1
	case 4:
		h.Gray, h.Components = true, 2
	case 2:
		h.Components = 3
	case 6:
		h.Components = 4
	case 3:
		h.Components = 1
	default:
		return h, fmt.Errorf("%w: png: bad colour type %d", ErrCorrupt, d[9])
	}
	h.Interlaced = d[12] == 1
	return h, nil
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// jpegHeader walks the marker segments up to the first SOS, as Go's and
// libjpeg's decoders do, recording the frame header and the Adobe segment.
func jpegHeader(data []byte) (Header, error) {
	h := Header{Format: FormatJPEG}
	sof := false
	i := 2
	for {
		// Markers are 0xff then a code; any number of 0xff fill bytes may
		// precede the code.
		if i >= len(data) {
			return h, fmt.Errorf("%w: jpeg: truncated before frame header", ErrCorrupt)
		}
		if data[i] != 0xff {
			return h, fmt.Errorf("%w: jpeg: expected marker at byte %d", ErrCorrupt, i)
		}
		for i < len(data) && data[i] == 0xff {
			i++
		}
		if i >= len(data) {
			return h, fmt.Errorf("%w: jpeg: truncated before frame header", ErrCorrupt)
		}
		m := data[i]
		i++
		if m == 0x01 || (m >= 0xd0 && m <= 0xd8) { // TEM, RSTn, SOI: no length
			continue
		}
		if m == 0xd9 {
			return h, fmt.Errorf("%w: jpeg: end of image before scan", ErrCorrupt)
		}
		if i+2 > len(data) {
			return h, fmt.Errorf("%w: jpeg: truncated segment", ErrCorrupt)
		}
		n := int(data[i])<<8 | int(data[i+1])
		if n < 2 || i+n > len(data) {
			return h, fmt.Errorf("%w: jpeg: truncated segment", ErrCorrupt)
		}
		seg := data[i+2 : i+n]
		i += n
		switch {
		case m == 0xda: // SOS
			if !sof {
				return h, fmt.Errorf("%w: jpeg: scan before frame header", ErrCorrupt)
			}
			return h, nil
		case m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc: // SOFn
			if sof {
				return h, fmt.Errorf("%w: jpeg: more than one frame header", ErrCorrupt)
			}
			sof = true
			if len(seg) < 6 {
				return h, fmt.Errorf("%w: jpeg: short frame header", ErrCorrupt)
			}
			h.H = int(seg[1])<<8 | int(seg[2])
			h.W = int(seg[3])<<8 | int(seg[4])
			h.Components = int(seg[5])
			h.Gray = h.Components == 1
			h.Progressive = m == 0xc2 || m == 0xc6 || m == 0xca || m == 0xce
			if len(seg) < 6+3*h.Components {
				return h, fmt.Errorf("%w: jpeg: short frame header", ErrCorrupt)
			}
			if h.W == 0 || h.H == 0 {
				// H == 0 means "given later by a DNL marker": neither Go nor
				// this package supports that.
				return h, fmt.Errorf("%w: jpeg: size %dx%d", ErrUnsupported, h.W, h.H)
			}
			if h.Components != 1 && h.Components != 3 && h.Components != 4 {
				return h, fmt.Errorf("%w: jpeg: %d components", ErrUnsupported, h.Components)
			}
			if seg[0] != 8 {
				return h, fmt.Errorf("%w: jpeg: %d-bit precision", ErrUnsupported, seg[0])
			}
		case m == 0xee: // APP14
			if len(seg) >= 12 && string(seg[:5]) == "Adobe" {
				h.Adobe, h.AdobeTransform = true, seg[11]
			}
		}
	}
}

// Decode decodes the PNG or JPEG in data into dst, reusing dst.Pix when it is
// large enough (see Image.Resize). On success dst is W×H×C with C = 1 or 3 as
// opt.Channels chooses; on error dst's contents are unspecified.
//
// The header is checked first: more pixels than opt.MaxPixels gives
// ErrTooLarge before any pixel buffer is allocated. Bytes that are not PNG
// or JPEG give ErrFormat, malformed or truncated data ErrCorrupt, valid files
// using features no backend has ErrUnsupported. Progressive JPEGs with more
// than 500 scans are refused (a CPU bomb). Decode never panics on bad input.
//
// Colour handling: alpha is dropped, not composited (the stored,
// non-premultiplied colour is kept, as PIL's convert("RGB") does); 16-bit
// samples keep their high byte (as libpng's strip_16); palettes are expanded;
// CMYK and YCCK JPEGs (Adobe convention) become RGB with PIL's integer
// formula R = (255-K) - (C*(255-K))/255 (rounded). YCbCr JPEGs are converted
// with libjpeg's integer coefficients, and 4:2:0 and 4:2:2 chroma is
// upsampled with libjpeg's triangle filter unless opt.FastUpsample, so the Go
// and libjpeg-turbo backends agree to within the IDCT's rounding (YCCK is
// the exception: image/jpeg converts it itself, with replicated chroma).
//
// Costs: the libjpeg-turbo backend decodes straight into dst and allocates
// nothing once dst is large enough (CMYK JPEGs use a pooled scratch buffer).
// The pure-Go JPEG backend allocates what image/jpeg allocates (one decoded
// image per call) and then converts it into dst with tight integer loops.
// PNGs with 8- or 16-bit samples, not interlaced and without tRNS, take a
// fast path that inflates with a pooled zlib reader and unfilters rows
// straight into dst, allocating nothing in steady state; other PNGs (and
// any PNG the fast path cannot decode) go through image/png, which
// allocates its decoded image.
//
// Decode is safe for concurrent use with distinct dst.
func Decode(dst *Image, data []byte, opt DecodeOptions) error {
	h, err := opt.Check(data)
	if err != nil {
		return err
	}
	c, err := opt.outChannels(h.Gray)
	if err != nil {
		return err
	}
	if h.Format == FormatPNG {
		return decodePNG(dst, data, &h, c)
	}
	switch opt.Backend {
	case BackendGo:
		return decodeJPEGGo(dst, data, &h, c, &opt)
	case BackendStd:
		return decodeJPEGStd(dst, data, &h, c, &opt)
	case BackendTurbo:
		return decodeJPEGTurbo(dst, data, &h, c, &opt)
	case BackendAuto:
		if HaveTurbo {
			return decodeJPEGTurbo(dst, data, &h, c, &opt)
		}
		return decodeJPEGGo(dst, data, &h, c, &opt)
	}
	return fmt.Errorf("image: unknown backend %d", opt.Backend)
}

// wrapStd maps an error from image/png or image/jpeg onto the sentinels.
func wrapStd(f Format, err error) error {
	var ju jpeg.UnsupportedError
	var pu png.UnsupportedError
	if errors.As(err, &ju) || errors.As(err, &pu) {
		return fmt.Errorf("%w: %s: %w", ErrUnsupported, f, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrCorrupt, f, err)
}

func decodePNG(dst *Image, data []byte, h *Header, c int) error {
	if decodePNGFast(dst, data, h, c) {
		return nil
	}
	return decodePNGStd(dst, data, h, c)
}

// decodePNGStd decodes with image/png, for the layouts decodePNGFast leaves
// alone and to give image/png's verdict on files it could not decode.
func decodePNGStd(dst *Image, data []byte, h *Header, c int) error {
	m, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return wrapStd(FormatPNG, err)
	}
	if b := m.Bounds(); b.Dx() != h.W || b.Dy() != h.H {
		return fmt.Errorf("%w: png: decoded %v, header says %dx%d", ErrCorrupt, b, h.W, h.H)
	}
	convertStd(dst, m, h.Gray, c, false)
	return nil
}

// maxScans bounds the scans of a progressive JPEG, as libjpeg-turbo's
// TJFLAG_LIMITSCANS does: a file of a few kilobytes with thousands of tiny
// scans would otherwise cost seconds of CPU (a "CPU bomb").
const maxScans = 500

func decodeJPEGGo(dst *Image, data []byte, h *Header, c int, opt *DecodeOptions) error {
	if h.Progressive && bytes.Count(data, sosMarker) > maxScans {
		return fmt.Errorf("%w: jpeg: more than %d scans", ErrUnsupported, maxScans)
	}
	err := decodeJPEGPure(dst, data, h, c, opt)
	if err == errStdFallback {
		return decodeJPEGStd(dst, data, h, c, opt)
	}
	return err
}

func decodeJPEGStd(dst *Image, data []byte, h *Header, c int, opt *DecodeOptions) error {
	// Every scan starts with an SOS marker (FF DA), and entropy-coded data
	// never contains FF DA (an FF there is followed by 00 or RSTn), so this
	// count is an upper bound on the scans.
	if h.Progressive && bytes.Count(data, sosMarker) > maxScans {
		return fmt.Errorf("%w: jpeg: more than %d scans", ErrUnsupported, maxScans)
	}
	m, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		return wrapStd(FormatJPEG, err)
	}
	if b := m.Bounds(); b.Dx() != h.W || b.Dy() != h.H {
		return fmt.Errorf("%w: jpeg: decoded %v, header says %dx%d", ErrCorrupt, b, h.W, h.H)
	}
	_, gray := m.(*stdimage.Gray)
	convertStd(dst, m, gray, c, opt.FastUpsample)
	return nil
}
