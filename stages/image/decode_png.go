package image

import (
	"bytes"
	"hash/crc32"
	"io"
	"sync"

	"github.com/klauspost/compress/zlib"
)

// A PNG fast path for the files datasets are made of (8- or 16-bit samples,
// not interlaced, no tRNS): chunks are checked in place, the IDAT stream is
// inflated by a pooled zlib reader (no 32 KB window allocated per image),
// and each row is unfiltered into a pooled row buffer and converted straight
// into dst. Anything else, and any error at all, falls back to image/png,
// so the results and errors are image/png's; the fast path only has to
// agree with it whenever it succeeds (FuzzPNGFast checks that).

type pngState struct {
	zr        io.ReadCloser // a klauspost zlib reader, reused through zlib.Resetter
	idat      idatReader
	zbuf      []byte       // the IDAT bodies joined, when there are several
	br        bytes.Reader // over the one IDAT body or zbuf: the inflater's fastest input
	cur, prev []byte
	one       [1]byte
}

var pngPool sync.Pool // *pngState

// idatReader lists the bodies of consecutive IDAT chunks.
type idatReader struct {
	chunks [][]byte
}

// decodePNGFast decodes data into dst as W×H×c and reports whether it did;
// false means "use image/png" (an unusual layout or any error).
func decodePNGFast(dst *Image, data []byte, h *Header, c int) bool {
	st, _ := pngPool.Get().(*pngState)
	if st == nil {
		st = &pngState{}
	}
	ok := st.decode(dst, data, h, c)
	clear(st.idat.chunks) // drop references to data
	st.idat.chunks = st.idat.chunks[:0]
	st.br.Reset(nil)
	pngPool.Put(st)
	return ok
}

func (st *pngState) decode(dst *Image, data []byte, h *Header, c int) bool {
	// IHDR was read by pngHeader; the fast path takes bit depth 8 and 16,
	// compression, filter and interlace methods 0.
	ihdr := data[16 : 16+13]
	depth, ct := int(ihdr[8]), ihdr[9]
	if (depth != 8 && depth != 16) || ihdr[10] != 0 || ihdr[11] != 0 || ihdr[12] != 0 {
		return false
	}
	var lut [256][3]uint8 // palette; missing entries are opaque black, as in image/png
	havePLTE, seenIDAT, idatDone, seenIEND := false, false, false, false
	st.idat.chunks = st.idat.chunks[:0]
	for pos := 8; !seenIEND; {
		if len(data)-pos < 12 {
			return false
		}
		n := int(be32(data[pos:]))
		if n > len(data)-pos-12 || n < 0 {
			return false
		}
		typ := string(data[pos+4 : pos+8])
		body := data[pos+8 : pos+8+n]
		if crc32.ChecksumIEEE(data[pos+4:pos+8+n]) != be32(data[pos+8+n:]) {
			return false
		}
		if seenIDAT && typ != "IDAT" {
			idatDone = true
		}
		switch typ {
		case "IHDR":
			if pos != 8 {
				return false
			}
		case "PLTE":
			if ct != 3 || havePLTE || seenIDAT || n == 0 || n%3 != 0 || n > 3*256 {
				return false
			}
			for i := 0; i < n/3; i++ {
				lut[i] = [3]uint8{body[3*i], body[3*i+1], body[3*i+2]}
			}
			havePLTE = true
		case "IDAT":
			if idatDone || (ct == 3 && !havePLTE) {
				return false
			}
			seenIDAT = true
			st.idat.chunks = append(st.idat.chunks, body)
		case "IEND":
			if !seenIDAT || n != 0 {
				return false
			}
			seenIEND = true
		case "tRNS":
			return false // alpha would be dropped anyway; leave its rules to image/png
		default:
			if typ[0]&0x20 == 0 { // an unknown critical chunk
				return false
			}
		}
		pos += 12 + n
	}

	var ch int // samples per pixel in the file
	switch ct {
	case 0, 3:
		ch = 1
	case 4:
		ch = 2
	case 2:
		ch = 3
	case 6:
		ch = 4
	default:
		return false
	}
	if ct == 3 && depth != 8 {
		return false
	}
	bpp := ch * depth / 8 // bytes per pixel, the filter's unit
	rowLen := h.W * bpp
	if rowLen/bpp != h.W {
		return false
	}

	// A *bytes.Reader lets klauspost's inflater take its fastest path
	// (a ByteReader it knows, no bufio wrapper).
	if len(st.idat.chunks) == 1 {
		st.br.Reset(st.idat.chunks[0])
	} else {
		st.zbuf = st.zbuf[:0]
		for _, b := range st.idat.chunks {
			st.zbuf = append(st.zbuf, b...)
		}
		st.br.Reset(st.zbuf)
	}
	if st.zr == nil {
		zr, err := zlib.NewReader(&st.br)
		if err != nil {
			return false
		}
		st.zr = zr
	} else if err := st.zr.(zlib.Resetter).Reset(&st.br, nil); err != nil {
		return false
	}
	if cap(st.cur) < rowLen+1 {
		st.cur = make([]byte, rowLen+1)
		st.prev = make([]byte, rowLen+1)
	}
	cur, prev := st.cur[:rowLen+1], st.prev[:rowLen+1]
	clear(prev)

	dst.Resize(h.W, h.H, c)
	for y := 0; y < h.H; y++ {
		if _, err := io.ReadFull(st.zr, cur); err != nil {
			return false
		}
		if !unfilter(cur[0], cur[1:], prev[1:], bpp) {
			return false
		}
		pngRow(dst.Row(y), cur[1:], ct, depth, c, &lut)
		cur, prev = prev, cur
	}
	// The stream must end here: reading on verifies the Adler-32 checksum,
	// and extra pixel data is an error for image/png.
	if n, err := st.zr.Read(st.one[:]); n != 0 || err != io.EOF {
		return false
	}
	return true
}

// unfilter reverses PNG filtering of row cur in place, given the previous
// (already unfiltered) row prev; bpp is the bytes per complete pixel.
func unfilter(ft byte, cur, prev []byte, bpp int) bool {
	n := len(cur)
	prev = prev[:n]
	switch ft {
	case 0:
	case 1: // Sub
		for i := bpp; i < n; i++ {
			cur[i] += cur[i-bpp]
		}
	case 2: // Up
		for i := range cur {
			cur[i] += prev[i]
		}
	case 3: // Average
		for i := 0; i < bpp && i < n; i++ {
			cur[i] += prev[i] / 2
		}
		for i := bpp; i < n; i++ {
			cur[i] += uint8((int(cur[i-bpp]) + int(prev[i])) / 2)
		}
	case 4: // Paeth
		for i := 0; i < bpp && i < n; i++ {
			cur[i] += prev[i] // a = c = 0, so the predictor is b
		}
		for i := bpp; i < n; i++ {
			a, b, c := int(cur[i-bpp]), int(prev[i]), int(prev[i-bpp])
			pa, pb, pc := b-c, a-c, a+b-2*c
			if pa < 0 {
				pa = -pa
			}
			if pb < 0 {
				pb = -pb
			}
			if pc < 0 {
				pc = -pc
			}
			switch {
			case pa <= pb && pa <= pc:
				cur[i] += uint8(a)
			case pb <= pc:
				cur[i] += uint8(b)
			default:
				cur[i] += uint8(c)
			}
		}
	default:
		return false
	}
	return true
}

// pngRow converts one unfiltered row of colour type ct and bit depth depth
// (8 or 16; 16-bit samples keep their high byte) into d with c channels.
func pngRow(d, src []byte, ct byte, depth, c int, lut *[256][3]uint8) {
	s := depth / 8 // bytes per sample
	w := len(d) / c
	switch ct {
	case 0, 4: // gray, gray+alpha
		ps := s
		if ct == 4 {
			ps = 2 * s
		}
		if c == 1 && ps == 1 {
			copy(d, src[:w])
			return
		}
		for x := 0; x < w; x++ {
			v := src[x*ps]
			if c == 1 {
				d[x] = v
			} else {
				d[3*x], d[3*x+1], d[3*x+2] = v, v, v
			}
		}
	case 2, 6: // RGB, RGBA
		ps := 3 * s
		if ct == 6 {
			ps = 4 * s
		}
		if c == 3 && ps == 3 {
			copy(d, src[:3*w])
			return
		}
		for x := 0; x < w; x++ {
			p := src[x*ps : x*ps+ps : x*ps+ps]
			r, g, b := p[0], p[s], p[2*s]
			if c == 1 {
				d[x] = luma(r, g, b)
			} else {
				d[3*x], d[3*x+1], d[3*x+2] = r, g, b
			}
		}
	case 3: // paletted
		for x, i := range src[:w] {
			e := &lut[i]
			if c == 1 {
				d[x] = luma(e[0], e[1], e[2])
			} else {
				d[3*x], d[3*x+1], d[3*x+2] = e[0], e[1], e[2]
			}
		}
	}
}
