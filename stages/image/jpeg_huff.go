package image

import "encoding/binary"

// Huffman decoding for the pure-Go JPEG decoder (jpeg.go).
//
// The entropy-coded data of a scan is first copied into a buffer with the
// byte stuffing removed (FF 00 → FF) and split at the restart markers
// (destuff), each segment followed by zero padding, so the bit reader needs
// no marker checks: it keeps a 64-bit, left-aligned bit buffer refilled
// without branches from an unaligned 8-byte load. Reading past a segment's
// end gives zero bits, as libjpeg inserts them; using any of them is an
// error (libjpeg's "premature end of data" warning, an error under
// TJFLAG_STOPONWARNING).

// lookBits is the width of the Huffman fast lookup.
const lookBits = 10

// Fast-lookup entry layout (uint32):
//
//	bits 0-4   bits to consume (0: code longer than lookBits, slow path)
//	bit  5     folded: the value is decoded too (code + size <= lookBits)
//	bit  6     end of block (AC: a symbol with size 0 and run != 15)
//	bits 8-15  the symbol (run<<4 | size)
//	bits 16-31 the value (int16), when folded
const (
	hFolded = 1 << 5
	hEOB    = 1 << 6
)

// huffTable is one decoding table (jpeg_make_d_derived_tbl's data plus the
// folding lookup).
type huffTable struct {
	fast    [1 << lookBits]uint32
	maxcode [18]int32 // largest code of each length, -1 if none; [17] sentinel
	valptr  [17]int32 // index in vals of the first code of each length, minus that code
	vals    [256]uint8
	defined bool // defined by a DHT of the current file
	built   bool // the tables hold a valid build of src
	ac      bool
	src     [16 + 256]byte // the DHT bytes it was built from (counts, symbols)
	srcLen  int
}

// build makes the table from a DHT entry: 16 counts then the symbols.
// It returns false for a table libjpeg refuses (too many codes, a code
// space overflow, DC symbols over 15).
func (t *huffTable) build(counts []byte, syms []byte, ac bool) bool {
	n := len(counts) + len(syms)
	if t.built && t.ac == ac && t.srcLen == n &&
		string(t.src[:16]) == string(counts) && string(t.src[16:n]) == string(syms) {
		t.defined = true // same table as last time (in this file or a previous one): keep it
		return true
	}
	t.defined, t.built = false, false
	var codes [256]uint16
	var lens [256]uint8
	code, k := uint32(0), 0
	for l := 1; l <= 16; l++ {
		c := int(counts[l-1])
		t.valptr[l] = int32(k) - int32(code)
		for i := 0; i < c; i++ {
			if k >= len(syms) {
				return false
			}
			codes[k], lens[k] = uint16(code), uint8(l)
			k++
			code++
		}
		if c > 0 {
			t.maxcode[l] = int32(code - 1)
		} else {
			t.maxcode[l] = -1
		}
		if code > 1<<l { // libjpeg: code >= 1<<si after the last code: overflow
			return false
		}
		code <<= 1
	}
	t.maxcode[17] = 0x7fffffff
	if k != len(syms) {
		return false
	}
	copy(t.vals[:], syms)
	if !ac {
		for _, s := range syms {
			if s > 15 {
				return false
			}
		}
	}
	clear(t.fast[:])
	for i := 0; i < k; i++ {
		l := int(lens[i])
		if l > lookBits {
			continue
		}
		sym := uint32(syms[i])
		r, s := sym>>4, sym&15
		if !ac {
			r, s = 0, sym
		}
		first := int(codes[i]) << (lookBits - l)
		cnt := 1 << (lookBits - l)
		for j := 0; j < cnt; j++ {
			var e uint32
			switch {
			case ac && s == 0 && r != 15:
				e = uint32(l) | hEOB | sym<<8
			case s == 0: // AC ZRL (run 15, value 0) or DC difference 0
				e = uint32(l) | hFolded | sym<<8
			case l+int(s) <= lookBits:
				v := int32(j >> (lookBits - l - int(s)))
				v = extend(v, int32(s))
				e = uint32(l+int(s)) | hFolded | sym<<8 | uint32(uint16(int16(v)))<<16
			default:
				e = uint32(l) | sym<<8
			}
			t.fast[first+j] = e
		}
	}
	t.defined, t.built, t.ac, t.srcLen = true, true, ac, n
	copy(t.src[:16], counts)
	copy(t.src[16:], syms)
	return true
}

// extend turns the s-bit magnitude v into a signed value (JPEG F.12).
func extend(v, s int32) int32 {
	if v < 1<<(s-1) {
		v += -1<<s + 1
	}
	return v
}

// bitReader reads bits from one destuffed segment (see destuff).
type bitReader struct {
	buf   []byte // destuffed data; at least padBytes readable past end
	acc   uint64 // left-aligned bits
	n     uint   // valid bits in acc
	p     int    // next byte of buf to load
	start int    // segment start in buf
	end   int    // segment end in buf
}

// padBytes of zeros follow every segment: more than one block can read. A
// block starts with p at most 8 bytes past the segment's end (beyond that,
// see past, the decoders stop), consumes at most 64 symbols of 16+16 bits
// (256 bytes), and a refill loads 8 bytes from at most 8 bytes ahead of the
// bits consumed: so a block that runs off the end reads zeros, and the
// overrun is found after it.
const padBytes = 8 + 64*4 + 16 + 8

// past reports whether the bits consumed certainly run beyond the
// segment's end (the next load would be more than 8 bytes past it): no
// further block may be decoded, the data ran out (overrun is true).
func (b *bitReader) past() bool { return b.p > b.end+8 }

func (b *bitReader) reset(buf []byte, start, end int) {
	b.buf, b.acc, b.n, b.p, b.start, b.end = buf, 0, 0, start, start, end
}

// blockError is the error for a block that could not be decoded: the data
// ran out, or a bad Huffman code.
func (b *bitReader) blockError() error {
	if b.overrun() {
		return corrupt("premature end of data")
	}
	return corrupt("bad Huffman code")
}

// overrun reports whether more bits were consumed than the segment has.
func (b *bitReader) overrun() bool {
	return (b.p-b.start)*8-int(b.n) > (b.end-b.start)*8
}

// slowSymbol decodes a code longer than lookBits with the canonical
// tables (jdhuff.c jpeg_huff_decode). It returns the symbol and the code
// length, or length 0 for a bad code.
func (t *huffTable) slowSymbol(acc uint64) (sym uint8, l uint) {
	code := int32(acc >> (64 - lookBits))
	l = lookBits
	for ; l < 16; l++ {
		code = int32(acc >> (64 - l - 1))
		if code <= t.maxcode[l+1] {
			return t.vals[(t.valptr[l+1]+code)&0xff], l + 1
		}
	}
	return 0, 0
}

// decodeBaselineBlock decodes one sequential block into blk (quantised
// coefficients, natural order), updating the DC predictor. blk must be zero
// on entry. It returns the number of the last coefficient written plus one
// (1: DC only), or -1 for a bad Huffman code or when the data ran out in an
// earlier block (see blockError).
func (b *bitReader) decodeBaselineBlock(blk *[64]int16, dc, ac *huffTable, pred *int32) int {
	acc, n, p := b.acc, b.n, b.p
	buf := b.buf
	if p > b.end+8 { // b.past(): the data ran out in an earlier block
		return -1
	}
	// refill
	acc |= binary.BigEndian.Uint64(buf[p:]) >> n
	p += int((63 - n) >> 3)
	n |= 56

	// DC
	e := dc.fast[acc>>(64-lookBits)]
	var diff int32
	if e&hFolded != 0 {
		l := uint(e & 31)
		acc <<= l
		n -= l
		diff = int32(int16(e >> 16))
	} else {
		var s uint32
		var l uint
		if e&31 != 0 {
			l = uint(e & 31)
			s = (e >> 8) & 0xff
		} else {
			sym, sl := dc.slowSymbol(acc)
			if sl == 0 {
				b.acc, b.n, b.p = acc, n, p
				return -1
			}
			l, s = sl, uint32(sym)
		}
		acc <<= l
		n -= l
		if s != 0 {
			v := int32(acc >> (64 - s))
			acc <<= s
			n -= uint(s)
			diff = extend(v, int32(s))
		}
	}
	v := *pred + diff
	*pred = v
	blk[0] = int16(v)

	last := 1
	for k := 1; k < 64; {
		if n < 32 {
			acc |= binary.BigEndian.Uint64(buf[p:]) >> n
			p += int((63 - n) >> 3)
			n |= 56
		}
		e := ac.fast[acc>>(64-lookBits)]
		if e&hFolded != 0 {
			l := uint(e & 31)
			acc <<= l
			n -= l
			k += int(e>>12) & 15
			z := zigzag[k&127]
			blk[z&63] = int16(e >> 16)
			k++
			last = k
			continue
		}
		if e&hEOB != 0 {
			l := uint(e & 31)
			acc <<= l
			n -= l
			break
		}
		var s uint32
		var l uint
		if e&31 != 0 {
			l = uint(e & 31)
			s = (e >> 8) & 0xff
		} else {
			sym, sl := ac.slowSymbol(acc)
			if sl == 0 {
				b.acc, b.n, b.p = acc, n, p
				return -1
			}
			l, s = sl, uint32(sym)
		}
		acc <<= l
		n -= l
		r, sz := int(s>>4), s&15
		if sz == 0 {
			if r != 15 {
				break // EOB
			}
			k += 16
			continue
		}
		k += r
		vv := int32(acc >> (64 - sz))
		acc <<= sz
		n -= uint(sz)
		vv = extend(vv, int32(sz))
		z := zigzag[k&127]
		blk[z&63] = int16(vv)
		k++
		last = k
	}
	b.acc, b.n, b.p = acc, n, p
	if last > 64 {
		last = 64
	}
	return last
}

// zigzag maps a zigzag index to its natural position. Indexes past 63 (a
// run that overshoots the block, which libjpeg tolerates) map to 63, as
// libjpeg's jpeg_natural_order does.
var zigzag = func() (z [128]uint8) {
	order := [64]uint8{
		0, 1, 8, 16, 9, 2, 3, 10,
		17, 24, 32, 25, 18, 11, 4, 5,
		12, 19, 26, 33, 40, 48, 41, 34,
		27, 20, 13, 6, 7, 14, 21, 28,
		35, 42, 49, 56, 57, 50, 43, 36,
		29, 22, 15, 23, 30, 37, 44, 51,
		58, 59, 52, 45, 38, 31, 39, 46,
		53, 60, 61, 54, 47, 55, 62, 63,
	}
	copy(z[:], order[:])
	for i := 64; i < 128; i++ {
		z[i] = 63
	}
	return z
}()

// The progressive decoders below follow jdphuff.c. They read bits through
// the generic helpers (progressive files are a minority and their scans
// are short).

func (b *bitReader) fill() {
	if b.n < 32 {
		b.acc |= binary.BigEndian.Uint64(b.buf[b.p:]) >> b.n
		b.p += int((63 - b.n) >> 3)
		b.n |= 56
	}
}

// bits returns the next s bits (1 <= s <= 16).
func (b *bitReader) bits(s uint) int32 {
	b.fill()
	v := int32(b.acc >> (64 - s))
	b.acc <<= s
	b.n -= s
	return v
}

func (b *bitReader) bit() bool {
	b.fill()
	v := b.acc>>63 != 0
	b.acc <<= 1
	b.n--
	return v
}

// refill tops up a bit buffer held in locals (acc, n, p) from buf, as
// decodeBaselineBlock does: afterwards n >= 56.
func refill(acc uint64, n uint, p int, buf []byte) (uint64, uint, int) {
	acc |= binary.BigEndian.Uint64(buf[p:]) >> n
	p += int((63 - n) >> 3)
	n |= 56
	return acc, n, p
}

// peekSymbol returns the Huffman symbol that the bits of acc (left-aligned,
// at least lookBits valid) start with and its code's length, without
// consuming them, for codes of up to lookBits bits; for a longer code or a
// bad one it returns length 0, and the caller asks slowPeek (with at least
// 16 bits valid). A folded entry (hFolded) counts the value's bits too:
// they are taken off, branch-free. It is inlined (go build -gcflags=-m),
// so the callers keep the bit state in locals.
func (t *huffTable) peekSymbol(acc uint64) (sym uint32, l uint) {
	e := t.fast[acc>>(64-lookBits)]
	return e >> 8 & 0xff, uint(e&31) - uint(e>>8&15)&-uint(e>>5&1)
}

// slowPeek returns the symbol whose code, longer than lookBits, starts acc
// and the code's length, 0 for a bad code (peekSymbol's slow path).
//
//go:noinline
func (t *huffTable) slowPeek(acc uint64) (uint32, uint) {
	s, sl := t.slowSymbol(acc)
	return uint32(s), sl
}

// symbol decodes one Huffman symbol; ok is false for a bad code.
func (b *bitReader) symbol(t *huffTable) (sym uint8, ok bool) {
	b.fill()
	s, l := t.peekSymbol(b.acc)
	if l == 0 {
		if s, l = t.slowPeek(b.acc); l == 0 {
			return 0, false
		}
	}
	b.acc <<= l
	b.n -= l
	return uint8(s), true
}

// receiveExtend reads s bits and extends them (0 for s == 0).
func (b *bitReader) receiveExtend(s uint) int32 {
	if s == 0 {
		return 0
	}
	return extend(b.bits(s), int32(s))
}
