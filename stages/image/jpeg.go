package image

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
)

// The pure-Go JPEG decoder (BackendGo). It reproduces libjpeg-turbo 2.1.5's
// default decompression exactly: islow IDCT (jpeg_idct.go), fancy chroma
// upsampling (jdsample.c: h2v1, h2v2, h1v2, replication otherwise) and
// its integer colour conversion (decode_ycc.go), so it gives the pixels
// PIL and the turbojpeg backend give, level for level.
//
// Sequential files whose one scan holds every component are decoded
// streaming, one MCU row at a time, straight into dst: the component
// samples live in three MCU rows of scratch planes (the row being decoded
// and the context rows fancy upsampling needs), never a whole image.
// Progressive files and sequential files with several scans keep the
// quantised coefficients of the whole image (as libjpeg does) and run the
// same output pass once every scan is read. All state is pooled: once the
// buffers have grown, a decode allocates nothing.
//
// What it does not implement (arithmetic coding, lossless, hierarchical,
// fractional sampling factors) is passed to image/jpeg (errStdFallback).

// errStdFallback says: let image/jpeg try (and give its verdict).
var errStdFallback = errors.New("image: jpeg: feature left to image/jpeg")

const (
	maxComponents = 4
	maxMCUBlocks  = 10 // libjpeg's D_MAX_BLOCKS_IN_MCU
)

type jpegComponent struct {
	id     uint8
	h, v   int // sampling factors
	tq     int // quantisation table
	td, ta int // Huffman tables of the current scan

	bw, bh int // blocks per row and column, padded to whole MCUs
	dw, dh int // downsampled width and height (libjpeg's downsampled_*)

	// planes: three MCU rows of samples (8*v rows each), a ring indexed by
	// MCU row mod 3; stride is bw*8.
	plane  []uint8
	stride int

	pred int32 // DC predictor

	// progressive / multi-scan: quantised coefficients, 64 per block,
	// blocks in raster order (bw per row); qlatch is the table in force
	// when the component's first scan began (libjpeg latches it).
	coef      []int16
	q         [64]int16 // quantisation steps, natural order
	coefBits  [64]int8  // progression state (-1: never coded)
	seenScan  bool
	upsampled []uint8 // one full-width row of upsampled samples
}

type jpegDecoder struct {
	data []byte
	pos  int

	w, h         int
	progressive  bool
	arith        bool
	ncomp        int
	comp         [maxComponents]jpegComponent
	hmax, vmax   int
	mcusX, mcusY int
	qt           [4][64]uint16 // natural order
	qdef         [4]bool
	dcTab, acTab [4]huffTable
	restart      int
	jfif, adobe  bool
	adobeXform   uint8
	frameSeen    bool
	scans        int
	buffered     bool // coefficients kept for every block
	colorKind    int  // jpeg colour space: ccGray, ccYCbCr, ccRGB, ccCMYK, ccYCCK
	fast         bool // FastUpsample
	outC         int

	// current scan
	scomp      [maxComponents]int // indexes into comp
	sn         int
	ss, se     int
	ah, al     int
	scan       []byte // destuffed entropy data with padding
	segs       []int  // segment boundaries: start0, end0, start1, end1, ...
	br         bitReader
	eobrun     int
	blk        [64]int16 // quantised coefficients, natural order
	cmykRow    []uint8
	rowScratch []uint8

	// crop-aware decoding (DecodeOptions.Crops, planCrop): what each MCU
	// row emits and reconstructs, and the last MCU row decoded.
	crops   []Rect
	plan    []mcuRowPlan
	lastRow int
}

// mcuRowPlan is the work of one MCU row: the pixels [x0, x1) × [y0, y1) it
// writes into dst, and the MCU columns [m0, m1) whose blocks it transforms
// (the rest are entropy decoded only). Empty spans (x0 >= x1, m0 >= m1)
// mean nothing.
type mcuRowPlan struct {
	x0, x1, y0, y1 int
	m0, m1         int
}

const (
	ccGray = iota
	ccYCbCr
	ccRGB
	ccCMYK
	ccYCCK
)

var jpegPool = sync.Pool{New: func() any { return new(jpegDecoder) }}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: jpeg: "+format, append([]any{ErrCorrupt}, args...)...)
}

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: jpeg: "+format, append([]any{ErrUnsupported}, args...)...)
}

// decodeJPEGPure decodes data into dst with c output channels.
func decodeJPEGPure(dst *Image, data []byte, hd *Header, c int, opt *DecodeOptions) error {
	d := jpegPool.Get().(*jpegDecoder)
	d.crops = opt.Crops
	err := d.decode(dst, data, c, opt.FastUpsample)
	d.data, d.crops = nil, nil
	jpegPool.Put(d)
	return err
}

func (d *jpegDecoder) reset(data []byte) {
	d.data, d.pos = data, 2
	d.w, d.h, d.progressive, d.arith, d.ncomp = 0, 0, false, false, 0
	d.qdef = [4]bool{}
	for i := range d.dcTab {
		// keep the built tables (build reuses one whose DHT bytes match),
		// but a table must be defined in this file to be used.
		d.dcTab[i].defined, d.acTab[i].defined = false, false
	}
	d.restart, d.jfif, d.adobe, d.adobeXform = 0, false, false, 0
	d.frameSeen, d.scans, d.buffered = false, 0, false
	d.eobrun = 0
	// A decode that failed inside a block leaves coefficients in blk,
	// which every block expects zero on entry.
	clear(d.blk[:])
}

func (d *jpegDecoder) decode(dst *Image, data []byte, c int, fast bool) error {
	d.reset(data)
	d.fast, d.outC = fast, c
	output := false
	for {
		m, seg, err := d.nextSegment()
		if err != nil {
			return err
		}
		switch {
		case m == 0xd9: // EOI
			if !d.frameSeen || d.scans == 0 {
				return corrupt("end of image before any scan")
			}
			if d.buffered {
				if err := d.checkComplete(); err != nil {
					return err
				}
				d.output(dst)
			} else if !output {
				return corrupt("no scan")
			}
			return nil
		case m == 0xc0 || m == 0xc1 || m == 0xc2:
			if err := d.parseSOF(seg, m == 0xc2); err != nil {
				return err
			}
		case m == 0xc3 || (m >= 0xc5 && m <= 0xcf && m != 0xc8 && m != 0xcc):
			return errStdFallback // lossless, hierarchical, arithmetic
		case m == 0xc4:
			if err := d.parseDHT(seg); err != nil {
				return err
			}
		case m == 0xdb:
			if err := d.parseDQT(seg); err != nil {
				return err
			}
		case m == 0xdd:
			if len(seg) != 2 {
				return corrupt("bad DRI length")
			}
			d.restart = int(seg[0])<<8 | int(seg[1])
		case m == 0xe0:
			if len(seg) >= 5 && string(seg[:5]) == "JFIF\x00" {
				d.jfif = true
			}
		case m == 0xee:
			if len(seg) >= 12 && string(seg[:5]) == "Adobe" {
				d.adobe, d.adobeXform = true, seg[11]
			}
		case m == 0xda:
			if !d.frameSeen {
				return corrupt("scan before frame header")
			}
			if output {
				// libjpeg: a single-scan sequential file must end after it.
				return corrupt("more scans after a complete sequential scan")
			}
			d.scans++
			if d.scans > maxScans {
				return unsupported("more than %d scans", maxScans)
			}
			if err := d.parseSOS(seg); err != nil {
				return err
			}
			if err := d.readScan(); err != nil {
				return err
			}
			if d.scans == 1 {
				// The output is allocated once the first scan is known to
				// be long enough for the declared size: a few bytes that
				// declare 8000x8000 are refused without 200 MB.
				if err := d.checkScanLength(); err != nil {
					return err
				}
				if err := d.startFrame(dst); err != nil {
					return err
				}
			}
			if err := d.decodeScan(dst); err != nil {
				return err
			}
			if !d.buffered {
				output = true
			}
		case m == 0xdc: // DNL
			return unsupported("DNL marker")
		}
	}
}

// nextSegment reads the marker at d.pos and its segment (nil for markers
// without one). Fill bytes (FF FF ...) before a marker are skipped.
func (d *jpegDecoder) nextSegment() (byte, []byte, error) {
	data := d.data
	i := d.pos
	if i >= len(data) {
		return 0, nil, corrupt("truncated: no end-of-image marker")
	}
	if data[i] != 0xff {
		// libjpeg skips garbage before a marker with a warning, which
		// TJFLAG_STOPONWARNING turns into an error.
		return 0, nil, corrupt("expected a marker at byte %d", i)
	}
	for i < len(data) && data[i] == 0xff {
		i++
	}
	if i >= len(data) {
		return 0, nil, corrupt("truncated marker")
	}
	m := data[i]
	i++
	if m == 0xd9 || m == 0x01 || (m >= 0xd0 && m <= 0xd7) {
		d.pos = i
		return m, nil, nil
	}
	if m == 0xd8 || m == 0x00 {
		return 0, nil, corrupt("unexpected marker %#x", m)
	}
	if i+2 > len(data) {
		return 0, nil, corrupt("truncated segment")
	}
	n := int(data[i])<<8 | int(data[i+1])
	if n < 2 || i+n > len(data) {
		return 0, nil, corrupt("truncated segment")
	}
	d.pos = i + n
	return m, data[i+2 : i+n], nil
}

func (d *jpegDecoder) parseSOF(seg []byte, progressive bool) error {
	if d.frameSeen {
		return corrupt("more than one frame header")
	}
	d.frameSeen = true
	d.progressive = progressive
	if len(seg) < 6 {
		return corrupt("short frame header")
	}
	if seg[0] != 8 {
		return unsupported("%d-bit precision", seg[0])
	}
	d.h = int(seg[1])<<8 | int(seg[2])
	d.w = int(seg[3])<<8 | int(seg[4])
	d.ncomp = int(seg[5])
	if d.w == 0 || d.h == 0 {
		return unsupported("size %dx%d", d.w, d.h)
	}
	if d.ncomp != 1 && d.ncomp != 3 && d.ncomp != 4 {
		return unsupported("%d components", d.ncomp)
	}
	if len(seg) != 6+3*d.ncomp {
		return corrupt("bad frame header length")
	}
	d.hmax, d.vmax = 1, 1
	for i := 0; i < d.ncomp; i++ {
		p := seg[6+3*i:]
		cp := &d.comp[i]
		cp.id = p[0]
		cp.h, cp.v = int(p[1]>>4), int(p[1]&15)
		cp.tq = int(p[2])
		if cp.h < 1 || cp.h > 4 || cp.v < 1 || cp.v > 4 {
			return corrupt("bad sampling factors %dx%d", cp.h, cp.v)
		}
		if cp.tq > 3 {
			return corrupt("bad quantisation table %d", cp.tq)
		}
		for j := 0; j < i; j++ {
			if d.comp[j].id == cp.id {
				// libjpeg accepts duplicate ids (it warns in 2.1); scans
				// then cannot tell the components apart.
				return errStdFallback
			}
		}
		d.hmax, d.vmax = max(d.hmax, cp.h), max(d.vmax, cp.v)
	}
	if d.ncomp == 1 {
		// A single-component frame is decoded block by block whatever its
		// sampling factors say.
		d.comp[0].h, d.comp[0].v, d.hmax, d.vmax = 1, 1, 1, 1
	}
	for i := 0; i < d.ncomp; i++ {
		cp := &d.comp[i]
		if d.hmax%cp.h != 0 || d.vmax%cp.v != 0 {
			return errStdFallback // fractional sampling (libjpeg refuses it too)
		}
	}
	d.mcusX = (d.w + 8*d.hmax - 1) / (8 * d.hmax)
	d.mcusY = (d.h + 8*d.vmax - 1) / (8 * d.vmax)
	for i := 0; i < d.ncomp; i++ {
		cp := &d.comp[i]
		cp.bw, cp.bh = d.mcusX*cp.h, d.mcusY*cp.v
		cp.dw = (d.w*cp.h + d.hmax - 1) / d.hmax
		cp.dh = (d.h*cp.v + d.vmax - 1) / d.vmax
		cp.seenScan = false
		for k := range cp.coefBits {
			cp.coefBits[k] = -1
		}
	}
	// Colour space, as libjpeg's default_decompress_parms guesses it.
	switch d.ncomp {
	case 1:
		d.colorKind = ccGray
	case 3:
		d.colorKind = ccYCbCr
		if !d.jfif {
			if d.adobe {
				if d.adobeXform == 0 {
					d.colorKind = ccRGB
				}
			} else if d.comp[0].id == 'R' && d.comp[1].id == 'G' && d.comp[2].id == 'B' {
				d.colorKind = ccRGB
			}
		}
	case 4:
		d.colorKind = ccCMYK
		if d.adobe && d.adobeXform != 0 {
			d.colorKind = ccYCCK
		}
	}
	return nil
}

func (d *jpegDecoder) parseDHT(seg []byte) error {
	for len(seg) > 0 {
		if len(seg) < 17 {
			return corrupt("short Huffman table")
		}
		tc, th := seg[0]>>4, seg[0]&15
		if tc > 1 || th > 3 {
			return corrupt("bad Huffman table class %d id %d", tc, th)
		}
		n := 0
		for _, c := range seg[1:17] {
			n += int(c)
		}
		if n > 256 || 17+n > len(seg) {
			return corrupt("bad Huffman table")
		}
		t := &d.dcTab[th]
		if tc == 1 {
			t = &d.acTab[th]
		}
		if !t.build(seg[1:17], seg[17:17+n], tc == 1) {
			return corrupt("bad Huffman table")
		}
		seg = seg[17+n:]
	}
	return nil
}

func (d *jpegDecoder) parseDQT(seg []byte) error {
	for len(seg) > 0 {
		pq, tq := seg[0]>>4, seg[0]&15
		if pq > 1 || tq > 3 {
			return corrupt("bad quantisation table")
		}
		n := 64 << pq
		if len(seg) < 1+n {
			return corrupt("short quantisation table")
		}
		t := &d.qt[tq]
		for k := 0; k < 64; k++ {
			var v uint16
			if pq == 0 {
				v = uint16(seg[1+k])
			} else {
				v = uint16(seg[1+2*k])<<8 | uint16(seg[2+2*k])
			}
			t[zigzag[k]] = v
		}
		d.qdef[tq] = true
		seg = seg[1+n:]
	}
	return nil
}

// latchQuant copies the component's quantisation table (as the 16-bit
// words libjpeg-turbo's SIMD IDCT multiplies by).
func (d *jpegDecoder) latchQuant(cp *jpegComponent) error {
	if !d.qdef[cp.tq] {
		return corrupt("quantisation table %d not defined", cp.tq)
	}
	for k, v := range &d.qt[cp.tq] {
		cp.q[k] = int16(v)
	}
	return nil
}

func (d *jpegDecoder) parseSOS(seg []byte) error {
	if len(seg) < 1 {
		return corrupt("short scan header")
	}
	n := int(seg[0])
	if n < 1 || n > 4 || len(seg) != 4+2*n {
		return corrupt("bad scan header")
	}
	d.sn = n
	blocks := 0
	for i := 0; i < n; i++ {
		id := seg[1+2*i]
		ci := -1
		for j := 0; j < d.ncomp; j++ {
			if d.comp[j].id == id {
				ci = j
			}
		}
		if ci < 0 {
			return corrupt("scan names unknown component %d", id)
		}
		for j := 0; j < i; j++ {
			if d.scomp[j] == ci {
				return corrupt("component %d twice in a scan", id)
			}
		}
		d.scomp[i] = ci
		cp := &d.comp[ci]
		cp.td, cp.ta = int(seg[2+2*i]>>4), int(seg[2+2*i]&15)
		if cp.td > 3 || cp.ta > 3 {
			return corrupt("bad Huffman table selector")
		}
		blocks += cp.h * cp.v
	}
	if n > 1 && blocks > maxMCUBlocks {
		return corrupt("too many blocks in an MCU")
	}
	p := seg[1+2*n:]
	d.ss, d.se, d.ah, d.al = int(p[0]), int(p[1]), int(p[2]>>4), int(p[2]&15)
	if !d.progressive {
		if d.ss != 0 || d.se != 63 || d.ah != 0 || d.al != 0 {
			return corrupt("bad spectral selection in a sequential scan")
		}
		if d.scans == 1 && n != d.ncomp {
			d.buffered = true
		}
	} else {
		d.buffered = true
		bad := false
		if d.ss == 0 {
			bad = d.se != 0
		} else {
			bad = d.ss > d.se || d.se > 63 || n != 1
		}
		if d.ah != 0 && d.al != d.ah-1 {
			bad = true
		}
		if d.al > 13 {
			bad = true
		}
		if bad {
			return corrupt("bad progressive scan parameters Ss=%d Se=%d Ah=%d Al=%d", d.ss, d.se, d.ah, d.al)
		}
	}
	for i := 0; i < n; i++ {
		cp := &d.comp[d.scomp[i]]
		if !cp.seenScan {
			cp.seenScan = true
			if err := d.latchQuant(cp); err != nil {
				return err
			}
		}
		if d.progressive {
			if d.ss > 0 && cp.coefBits[0] < 0 {
				return corrupt("AC scan before the DC scan")
			}
			for k := d.ss; k <= d.se; k++ {
				expected := max(int(cp.coefBits[k]), 0)
				if cp.coefBits[k] < 0 && d.ah != 0 || cp.coefBits[k] >= 0 && d.ah != expected {
					return corrupt("bogus progression")
				}
				cp.coefBits[k] = int8(d.al)
			}
		}
		// Tables must exist for what this scan decodes.
		needDC := !d.progressive || (d.ss == 0 && d.ah == 0)
		needAC := !d.progressive || d.ss > 0
		if needDC && !d.dcTab[cp.td].defined || needAC && !d.acTab[cp.ta].defined {
			return corrupt("scan uses an undefined Huffman table")
		}
	}
	return nil
}

// readScan destuffs the entropy-coded data after the SOS at d.pos into
// d.scan, one segment per restart interval, each followed by padBytes
// zeros, and leaves d.pos at the marker that ends the scan.
func (d *jpegDecoder) readScan() error {
	data := d.data
	i := d.pos
	d.scan = d.scan[:0]
	d.segs = d.segs[:0]
	d.segs = append(d.segs, 0)
	for {
		j := bytes.IndexByte(data[i:], 0xff)
		if j < 0 {
			return corrupt("truncated scan")
		}
		d.scan = append(d.scan, data[i:i+j]...)
		i += j
		// data[i] == 0xff: stuffed byte, fill bytes, or a marker
		k := i + 1
		for k < len(data) && data[k] == 0xff {
			k++
		}
		if k >= len(data) {
			return corrupt("truncated scan")
		}
		switch m := data[k]; {
		case m == 0:
			d.scan = append(d.scan, 0xff)
			i = k + 1
		case m >= 0xd0 && m <= 0xd7:
			d.endSegment()
			d.segs = append(d.segs, len(d.scan))
			// the restart number is checked when the segment is used
			d.scan = append(d.scan, m) // kept just before the segment start
			d.segs[len(d.segs)-1] = len(d.scan)
			i = k + 1
		default:
			d.endSegment()
			d.pos = i
			return nil
		}
	}
}

func (d *jpegDecoder) endSegment() {
	d.segs = append(d.segs, len(d.scan))
	n := len(d.scan)
	if cap(d.scan)-n < padBytes {
		grown := make([]byte, n, 2*cap(d.scan)+padBytes+1024)
		copy(grown, d.scan)
		d.scan = grown
	}
	d.scan = d.scan[:n+padBytes]
	clear(d.scan[n:])
}

// startFrame sizes the output and the per-component buffers.
func (d *jpegDecoder) startFrame(dst *Image) error {
	dst.Resize(d.w, d.h, d.outC)
	for i := 0; i < d.ncomp; i++ {
		cp := &d.comp[i]
		cp.stride = cp.bw * 8
		n := 3 * cp.stride * 8 * cp.v
		if cap(cp.plane) < n {
			cp.plane = make([]uint8, n)
		}
		cp.plane = cp.plane[:n]
		if cap(cp.upsampled) < d.w+16 {
			cp.upsampled = make([]uint8, d.w+16)
		}
		cp.upsampled = cp.upsampled[:d.w+16]
		cp.pred = 0
	}
	if d.ncomp == 4 {
		if cap(d.cmykRow) < 4*d.w {
			d.cmykRow = make([]uint8, 4*d.w)
		}
		d.cmykRow = d.cmykRow[:4*d.w]
	}
	if cap(d.rowScratch) < 3*d.w {
		d.rowScratch = make([]uint8, 3*d.w)
	}
	d.rowScratch = d.rowScratch[:3*d.w]
	d.planCrop()
	if poisonPlanes {
		for i := 0; i < d.ncomp; i++ {
			for j := range d.comp[i].plane {
				d.comp[i].plane[j] = uint8(j*7 + 91)
			}
		}
	}
	return nil
}

// poisonPlanes fills the component planes with a pattern before every
// decode (tests: a pixel computed from a sample the decode did not
// reconstruct then shows, whatever the pooled decoder held before).
var poisonPlanes = false

// planCrop fills d.plan and d.lastRow from d.crops: without crops every
// MCU row emits and reconstructs everything. With crops, MCU row my emits
// the bounding box of the crop pixels in it, and reconstructs the MCU
// columns that hold those pixels or the samples their upsampling reads:
// a crop is widened by hmax pixels left and right when some component is
// upsampled horizontally with the triangle filter (it reads the chroma
// samples on either side), and by vmax rows above and below when one is
// upsampled vertically (needContext); upsampledRow and emitRows read
// nothing else. Entropy decoding stops after the last MCU row that
// reconstructs something (d.lastRow).
func (d *jpegDecoder) planCrop() {
	if cap(d.plan) < d.mcusY {
		d.plan = make([]mcuRowPlan, d.mcusY)
	}
	d.plan = d.plan[:d.mcusY]
	rowH, colW := 8*d.vmax, 8*d.hmax
	hit := false
	for _, r := range d.crops {
		if max(r.X0, 0) < min(r.X1, d.w) && max(r.Y0, 0) < min(r.Y1, d.h) {
			hit = true
			break
		}
	}
	if !hit {
		for my := range d.plan {
			d.plan[my] = mcuRowPlan{0, d.w, my * rowH, min((my+1)*rowH, d.h), 0, d.mcusX}
		}
		d.lastRow = d.mcusY - 1
		return
	}
	mh, mv := 0, 0
	if d.needContext() {
		mv = d.vmax
	}
	if !d.fast && d.ncomp > 1 {
		for i := 0; i < d.outComps(); i++ {
			cp := &d.comp[i]
			if d.hmax == 2*cp.h && d.vmax <= 2*cp.v && cp.dw > 2 {
				mh = d.hmax
			}
		}
	}
	for my := range d.plan {
		d.plan[my] = mcuRowPlan{x0: d.w, y0: d.h, m0: d.mcusX}
	}
	d.lastRow = -1
	for _, r := range d.crops {
		x0, y0, x1, y1 := max(r.X0, 0), max(r.Y0, 0), min(r.X1, d.w), min(r.Y1, d.h)
		if x0 >= x1 || y0 >= y1 {
			continue
		}
		for my := y0 / rowH; my <= (y1-1)/rowH; my++ {
			p := &d.plan[my]
			p.x0, p.x1 = min(p.x0, x0), max(p.x1, x1)
			p.y0, p.y1 = min(p.y0, max(y0, my*rowH)), max(p.y1, min(y1, (my+1)*rowH))
		}
		m0, m1 := max(x0-mh, 0)/colW, (min(x1+mh, d.w)+colW-1)/colW
		ry0, ry1 := max(y0-mv, 0), min(y1+mv, d.h)
		for my := ry0 / rowH; my <= (ry1-1)/rowH; my++ {
			p := &d.plan[my]
			p.m0, p.m1 = min(p.m0, m0), max(p.m1, m1)
			d.lastRow = max(d.lastRow, my)
		}
	}
}

// allocCoefs makes the coefficient buffers for buffered decoding.
func (d *jpegDecoder) allocCoefs() {
	for i := 0; i < d.ncomp; i++ {
		cp := &d.comp[i]
		n := cp.bw * cp.bh * 64
		if cap(cp.coef) < n {
			cp.coef = make([]int16, n)
		}
		cp.coef = cp.coef[:n]
		clear(cp.coef)
	}
}

// segment returns the bounds of restart segment s.
func (d *jpegDecoder) segment(s int) (start, end int, ok bool) {
	if 2*s+1 >= len(d.segs) {
		return 0, 0, false
	}
	return d.segs[2*s], d.segs[2*s+1], true
}

// startSegment points the bit reader at restart segment s, checking the
// RSTn marker that begins it (s > 0), and resets the predictors.
func (d *jpegDecoder) startSegment(s int) error {
	start, end, ok := d.segment(s)
	if !ok {
		return corrupt("missing restart marker")
	}
	if s > 0 {
		if m := d.scan[start-1]; m != 0xd0+byte((s-1)&7) {
			return corrupt("restart marker %#x out of sequence", m)
		}
	}
	d.br.reset(d.scan, start, end)
	for i := 0; i < d.ncomp; i++ {
		d.comp[i].pred = 0
	}
	d.eobrun = 0
	return nil
}

var errHuffman = errors.New("bad huffman code")

// checkScanLength refuses a single-scan sequential file whose scan is too
// short for the declared size, before anything is allocated for it.
func (d *jpegDecoder) checkScanLength() error {
	if d.buffered {
		return nil
	}
	// Every block costs at least 2 bits (a DC code and an EOB code), and
	// every restart interval but the first starts with its marker: refuse
	// a scan too short for the image before decoding it (it would run out
	// of data or markers anyway, and a crop-aware decode would not get
	// there).
	blocks, units := 0, d.mcusX*d.mcusY
	for i := 0; i < d.sn; i++ {
		cp := &d.comp[d.scomp[i]]
		if d.sn == 1 {
			blocks = (cp.dw + 7) / 8 * ((cp.dh + 7) / 8)
			units = blocks
		} else {
			blocks += cp.bw * cp.bh
		}
	}
	if d.restart > 0 {
		if want := (units + d.restart - 1) / d.restart; len(d.segs)/2 < want {
			return corrupt("truncated scan: %d restart intervals, the image needs %d", len(d.segs)/2, want)
		}
		return nil
	}
	if (d.segs[1]-d.segs[0])*8 < 2*blocks {
		return corrupt("truncated scan")
	}
	return nil
}

func (d *jpegDecoder) decodeScan(dst *Image) error {
	if d.buffered && d.scans == 1 {
		d.allocCoefs()
	}
	if !d.buffered {
		return d.decodeSequential(dst)
	}
	return d.decodeBufferedScan()
}

// decodeSequential decodes an interleaved sequential scan MCU row by MCU
// row, emitting each finished row group into dst.
func (d *jpegDecoder) decodeSequential(dst *Image) error {
	seg := 0
	if err := d.startSegment(0); err != nil {
		return err
	}
	left := d.restart
	ctx := d.needContext()
	single := d.sn == 1
	var bw, bh int
	if single {
		cp := &d.comp[d.scomp[0]]
		bw, bh = (cp.dw+7)/8, (cp.dh+7)/8
		_ = bh
	}
	nout := d.outComps()
	for my := 0; my <= d.lastRow; my++ {
		slot := my % 3
		m0, m1 := d.plan[my].m0, d.plan[my].m1
		if single {
			cp := &d.comp[d.scomp[0]]
			dc, ac := &d.dcTab[cp.td], &d.acTab[cp.ta]
			base := slot * cp.stride * 8
			for bx := 0; bx < bw; bx++ {
				if d.restart > 0 {
					if left == 0 {
						if d.br.overrun() {
							return corrupt("premature end of data")
						}
						seg++
						if err := d.startSegment(seg); err != nil {
							return err
						}
						left = d.restart
					}
					left--
				}
				last := d.br.decodeBaselineBlock(&d.blk, dc, ac, &cp.pred)
				if last < 0 {
					return d.br.blockError()
				}
				if d.br.overrun() { // before the next block reads past the padding
					return corrupt("premature end of data")
				}
				if bx >= m0 && bx < m1 {
					d.idct(cp.plane[base+8*bx:], cp.stride, &cp.q, last)
				} else {
					d.dropBlock(last)
				}
			}
		} else {
			for mx := 0; mx < d.mcusX; mx++ {
				if d.restart > 0 {
					if left == 0 {
						if d.br.overrun() {
							return corrupt("premature end of data")
						}
						seg++
						if err := d.startSegment(seg); err != nil {
							return err
						}
						left = d.restart
					}
					left--
				}
				rec := mx >= m0 && mx < m1
				for si := 0; si < d.sn; si++ {
					cp := &d.comp[d.scomp[si]]
					// gray output of a YCbCr file reads luma only
					rec := rec && d.scomp[si] < nout
					dc, ac := &d.dcTab[cp.td], &d.acTab[cp.ta]
					base := slot*cp.stride*8*cp.v + mx*cp.h*8
					for by := 0; by < cp.v; by++ {
						for bx := 0; bx < cp.h; bx++ {
							last := d.br.decodeBaselineBlock(&d.blk, dc, ac, &cp.pred)
							if last < 0 {
								return d.br.blockError()
							}
							if d.br.overrun() { // before the next block reads past the padding
								return corrupt("premature end of data")
							}
							if rec {
								d.idct(cp.plane[base+by*8*cp.stride+bx*8:], cp.stride, &cp.q, last)
							} else {
								d.dropBlock(last)
							}
						}
					}
				}
			}
		}
		if d.br.overrun() {
			return corrupt("premature end of data")
		}
		if ctx {
			if my > 0 {
				d.emitRows(dst, my-1)
			}
		} else {
			d.emitRows(dst, my)
		}
	}
	if ctx {
		d.emitRows(dst, d.lastRow)
	}
	return nil
}

// idct transforms d.blk (last: coefficients written, 1 = DC only) with
// the quantisation steps q into dst and zeroes d.blk for the next block.
func (d *jpegDecoder) idct(dst []uint8, stride int, q *[64]int16, last int) {
	if last <= 1 {
		idctDC(dst, stride, d.blk[0], q[0])
		d.blk[0] = 0
		return
	}
	idctBlock(dst, stride, &d.blk, q)
	d.blk = [64]int16{}
}

// dropBlock zeroes d.blk without transforming it (a block outside the
// crops).
func (d *jpegDecoder) dropBlock(last int) {
	if last <= 1 {
		d.blk[0] = 0
		return
	}
	d.blk = [64]int16{}
}

// needContext reports whether some component is upsampled vertically with
// the triangle filter (it needs the sample row of the next MCU row).
func (d *jpegDecoder) needContext() bool {
	if d.fast || d.ncomp == 1 {
		return false
	}
	for i := 0; i < d.outComps(); i++ {
		cp := &d.comp[i]
		if cp.v*2 == d.vmax && (cp.h == d.hmax || cp.h*2 == d.hmax && cp.dw > 2) {
			return true
		}
	}
	return false
}

// outComps returns the number of components the output reads: gray
// output of a YCbCr image reads luma only (which may be subsampled too).
func (d *jpegDecoder) outComps() int {
	if d.outC == 1 && d.colorKind == ccYCbCr {
		return 1
	}
	return d.ncomp
}

// compRow returns row y (clamped to the component) of a component plane.
func (d *jpegDecoder) compRow(cp *jpegComponent, y int) []uint8 {
	y = min(max(y, 0), cp.dh-1)
	rows := 8 * cp.v
	slot := (y / rows) % 3
	o := (slot*rows + y%rows) * cp.stride
	return cp.plane[o : o+cp.stride]
}

// upsampledRow returns component cp's samples for output row y at full
// resolution, indexed by the pixel column: those for columns [x0, x1) are
// set (the rest of the slice is unspecified). It reads the component's
// samples for those columns and, with the triangle filter, one sample on
// either side (planCrop reconstructs them).
func (d *jpegDecoder) upsampledRow(cp *jpegComponent, y, x0, x1 int) []uint8 {
	if cp.h == d.hmax && cp.v == d.vmax {
		return d.compRow(cp, y)
	}
	out := cp.upsampled[:d.w]
	hf, vf := d.hmax/cp.h, d.vmax/cp.v
	fancy := !d.fast
	switch {
	case fancy && hf == 2 && vf == 1 && cp.dw > 2:
		c0, c1 := fancySpan(x0, x1, cp.dw)
		fancyH2V1(out[2*c0:min(2*c1, d.w)], d.compRow(cp, y)[c0:c1])
	case fancy && hf == 2 && vf == 2 && cp.dw > 2:
		cy := y / 2
		ny := cy + 1
		if y&1 == 0 {
			ny = cy - 1
		}
		c0, c1 := fancySpan(x0, x1, cp.dw)
		fancyH2V2(out[2*c0:min(2*c1, d.w)], d.compRow(cp, cy)[c0:c1], d.compRow(cp, ny)[c0:c1])
	case fancy && hf == 1 && vf == 2:
		cy := y / 2
		a := d.compRow(cp, cy)[x0:x1]
		o := out[x0:x1]
		if y&1 == 0 {
			b := d.compRow(cp, cy-1)[x0:x1]
			for x := range o {
				o[x] = uint8((3*int32(a[x]) + int32(b[x]) + 1) >> 2)
			}
		} else {
			b := d.compRow(cp, cy+1)[x0:x1]
			for x := range o {
				o[x] = uint8((3*int32(a[x]) + int32(b[x]) + 2) >> 2)
			}
		}
	default: // replication (libjpeg's h2v1/h2v2/int upsample)
		src := d.compRow(cp, y/vf)
		if hf == 1 {
			return src
		}
		for x := x0; x < x1; x++ {
			out[x] = src[x/hf]
		}
	}
	return out
}

// fancySpan returns the chroma samples [c0, c1) a horizontal triangle
// filter reads for output columns [x0, x1) of a component dw samples wide
// (dw > 2): those under the columns and one on either side, at least two.
// fancyH2V1 and fancyH2V2 on that span give the right outputs for columns
// [x0, x1) (the span's own end outputs are off unless at the image edge).
func fancySpan(x0, x1, dw int) (c0, c1 int) {
	c0, c1 = max(x0/2-1, 0), min((x1-1)/2+2, dw)
	if c1-c0 < 2 {
		if c0 > 0 {
			c0 = c1 - 2
		} else {
			c1 = 2
		}
	}
	return c0, c1
}

// emitRows converts MCU row my of the component planes into dst: the rows
// and columns d.plan[my] says (all of them without crops).
func (d *jpegDecoder) emitRows(dst *Image, my int) {
	p := &d.plan[my]
	x0, x1 := p.x0, p.x1
	if x0 >= x1 {
		return
	}
	c := d.outC
	for y := p.y0; y < p.y1; y++ {
		out := dst.Row(y)[x0*c : x1*c]
		switch d.colorKind {
		case ccGray:
			grayRow(out, d.compRow(&d.comp[0], y)[x0:x1], c)
		case ccYCbCr:
			yr := d.upsampledRow(&d.comp[0], y, x0, x1)[x0:x1]
			if c == 1 {
				copy(out, yr)
				continue
			}
			cb := d.upsampledRow(&d.comp[1], y, x0, x1)[x0:x1]
			cr := d.upsampledRow(&d.comp[2], y, x0, x1)[x0:x1]
			yccRow(out, yr, cb, cr)
		case ccRGB:
			r := d.upsampledRow(&d.comp[0], y, x0, x1)[x0:x1]
			g := d.upsampledRow(&d.comp[1], y, x0, x1)[x0:x1]
			b := d.upsampledRow(&d.comp[2], y, x0, x1)[x0:x1]
			if c == 1 {
				for x := range out {
					out[x] = luma(r[x], g[x], b[x])
				}
				continue
			}
			for x := range r {
				p := out[3*x : 3*x+3 : 3*x+3]
				p[0], p[1], p[2] = r[x], g[x], b[x]
			}
		case ccCMYK, ccYCCK:
			c0 := d.upsampledRow(&d.comp[0], y, x0, x1)[x0:x1]
			c1 := d.upsampledRow(&d.comp[1], y, x0, x1)[x0:x1]
			c2 := d.upsampledRow(&d.comp[2], y, x0, x1)[x0:x1]
			k := d.upsampledRow(&d.comp[3], y, x0, x1)[x0:x1]
			row := d.cmykRow[4*x0 : 4*x1]
			if d.colorKind == ccCMYK {
				for x := range c0 {
					p := row[4*x : 4*x+4 : 4*x+4]
					p[0], p[1], p[2], p[3] = c0[x], c1[x], c2[x], k[x]
				}
			} else {
				for x := range c0 {
					yy := int32(c0[x]) + rangeOff
					u, v := c1[x], c2[x]
					p := row[4*x : 4*x+4 : 4*x+4]
					p[0] = 255 - rangeLimit[(yy+yccTab.crR[v])&rangeMask]
					p[1] = 255 - rangeLimit[(yy+((yccTab.cbG[u]+yccTab.crG[v])>>16))&rangeMask]
					p[2] = 255 - rangeLimit[(yy+yccTab.cbB[u])&rangeMask]
					p[3] = k[x]
				}
			}
			cmykRow(out, row, c, true)
		}
	}
}
