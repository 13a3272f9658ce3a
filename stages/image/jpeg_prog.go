package image

// Buffered decoding: progressive scans (jdphuff.c) and sequential files
// with several scans keep every block's quantised coefficients; the output
// pass runs once all scans are read.

// scanBlocks calls f for every block of the current scan in order, with
// restart handling; f returns false on a bad Huffman code. It stops when
// the data ran out (bitReader.past) before a block.
func (d *jpegDecoder) scanBlocks(f func(cp *jpegComponent, blk []int16) bool) error {
	seg := 0
	if err := d.startSegment(0); err != nil {
		return err
	}
	left := d.restart
	next := func() error {
		if d.restart == 0 {
			return nil
		}
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
		return nil
	}
	if d.sn == 1 {
		cp := &d.comp[d.scomp[0]]
		bw, bh := (cp.dw+7)/8, (cp.dh+7)/8
		for by := 0; by < bh; by++ {
			row := cp.coef[by*cp.bw*64:]
			for bx := 0; bx < bw; bx++ {
				if err := next(); err != nil {
					return err
				}
				if d.br.past() || !f(cp, row[bx*64:bx*64+64:bx*64+64]) {
					return d.br.blockError()
				}
				if d.br.overrun() { // before the next block reads past the padding
					return corrupt("premature end of data")
				}
			}
			if d.br.overrun() {
				return corrupt("premature end of data")
			}
		}
		return nil
	}
	for my := 0; my < d.mcusY; my++ {
		for mx := 0; mx < d.mcusX; mx++ {
			if err := next(); err != nil {
				return err
			}
			for si := 0; si < d.sn; si++ {
				cp := &d.comp[d.scomp[si]]
				for y := 0; y < cp.v; y++ {
					row := cp.coef[(my*cp.v+y)*cp.bw*64:]
					for x := 0; x < cp.h; x++ {
						b := (mx*cp.h + x) * 64
						if d.br.past() || !f(cp, row[b:b+64:b+64]) {
							return d.br.blockError()
						}
						if d.br.overrun() { // before the next block reads past the padding
							return corrupt("premature end of data")
						}
					}
				}
			}
		}
		if d.br.overrun() {
			return corrupt("premature end of data")
		}
	}
	return nil
}

func (d *jpegDecoder) decodeBufferedScan() error {
	br := &d.br
	switch {
	case !d.progressive:
		return d.scanBlocks(func(cp *jpegComponent, blk []int16) bool {
			last := br.decodeBaselineBlock(&d.blk, &d.dcTab[cp.td], &d.acTab[cp.ta], &cp.pred)
			if last < 0 {
				return false
			}
			copy(blk, d.blk[:])
			d.blk = [64]int16{}
			return true
		})
	case d.ss == 0 && d.ah == 0: // DC first
		al := uint(d.al)
		return d.scanBlocks(func(cp *jpegComponent, blk []int16) bool {
			s, ok := br.symbol(&d.dcTab[cp.td])
			if !ok {
				return false
			}
			cp.pred += br.receiveExtend(uint(s))
			blk[0] = int16(cp.pred << al)
			return true
		})
	case d.ss == 0: // DC refinement
		p1 := int16(1) << uint(d.al)
		return d.scanBlocks(func(cp *jpegComponent, blk []int16) bool {
			if br.bit() {
				blk[0] |= p1
			}
			return true
		})
	default: // AC first or refinement
		return d.decodeACScan()
	}
}

// decodeACScan decodes a progressive AC scan (one component, the first
// pass or a refinement: jdphuff.c decode_mcu_AC_first and
// decode_mcu_AC_refine) with the bit reader's state in locals.
func (d *jpegDecoder) decodeACScan() error {
	cp := &d.comp[d.scomp[0]]
	t := &d.acTab[cp.ta]
	bw, bh := (cp.dw+7)/8, (cp.dh+7)/8
	ss, se, al := d.ss, d.se, uint(d.al)
	refine := d.ah != 0
	p1 := int16(1) << al
	seg := 0
	if err := d.startSegment(0); err != nil {
		return err
	}
	left := d.restart
	br := &d.br
	buf := br.buf
	acc, n, p, end := br.acc, br.n, br.p, br.end
	eobrun := 0
	for by := 0; by < bh; by++ {
		row := cp.coef[by*cp.bw*64:]
		for bx := 0; bx < bw; bx++ {
			if d.restart > 0 {
				if left == 0 {
					br.acc, br.n, br.p = acc, n, p
					if br.overrun() {
						return corrupt("premature end of data")
					}
					seg++
					if err := d.startSegment(seg); err != nil {
						return err
					}
					acc, n, p, end = br.acc, br.n, br.p, br.end
					eobrun = 0
					left = d.restart
				}
				left--
			}
			if p > end+8 { // br.past()
				return corrupt("premature end of data")
			}
			blk := (*[64]int16)(row[bx*64 : bx*64+64])
			if !refine {
				if eobrun > 0 {
					eobrun--
					continue
				}
				for k := ss; k <= se; k++ {
					if n < 32 {
						acc, n, p = refill(acc, n, p, buf)
					}
					sym, l := t.peekSymbol(acc)
					if l == 0 {
						if sym, l = t.slowPeek(acc); l == 0 {
							br.acc, br.n, br.p = acc, n, p
							return br.blockError()
						}
					}
					acc <<= l
					n -= l
					r, s := int(sym>>4), uint(sym&15)
					if s != 0 {
						k += r
						v := extend(int32(acc>>(64-s)), int32(s))
						acc <<= s
						n -= s
						blk[zigzag[k&127]&63] = int16(v << al)
						continue
					}
					if r == 15 {
						k += 15
						continue
					}
					eobrun = 1 << r
					if r > 0 {
						eobrun += int(acc >> (64 - uint(r)))
						acc <<= uint(r)
						n -= uint(r)
					}
					eobrun--
					break
				}
				continue
			}
			k := ss
			if eobrun == 0 {
				for ; k <= se; k++ {
					if n < 32 {
						acc, n, p = refill(acc, n, p, buf)
					}
					sym, l := t.peekSymbol(acc)
					if l == 0 {
						if sym, l = t.slowPeek(acc); l == 0 {
							br.acc, br.n, br.p = acc, n, p
							return br.blockError()
						}
					}
					acc <<= l
					n -= l
					r, s := int(sym>>4), sym&15
					var nv int16
					if s != 0 {
						if s != 1 {
							// libjpeg warns: an error under STOPONWARNING
							return corrupt("bad refinement code")
						}
						nv = -p1
						if acc>>63 != 0 {
							nv = p1
						}
						acc <<= 1
						n--
					} else if r != 15 {
						eobrun = 1 << r
						if r > 0 {
							eobrun += int(acc >> (64 - uint(r)))
							acc <<= uint(r)
							n -= uint(r)
						}
						break
					}
					// Correction bits of the coefficients already nonzero
					// up to the r+1-th zero one, where nv goes.
					for ; k <= se; k++ {
						c := &blk[zigzag[k&127]&63]
						if v := *c; v != 0 {
							if n < 8 {
								acc, n, p = refill(acc, n, p, buf)
							}
							*c = v + refineDelta(v, acc>>63, p1)
							acc <<= 1
							n--
						} else {
							r--
							if r < 0 {
								break
							}
						}
					}
					if nv != 0 {
						blk[zigzag[k&127]&63] = nv
					}
				}
			}
			if eobrun > 0 {
				for ; k <= se; k++ {
					c := &blk[zigzag[k&127]&63]
					if v := *c; v != 0 {
						if n < 8 {
							acc, n, p = refill(acc, n, p, buf)
						}
						*c = v + refineDelta(v, acc>>63, p1)
						acc <<= 1
						n--
					}
				}
				eobrun--
			}
		}
		br.acc, br.n, br.p = acc, n, p
		if br.overrun() {
			return corrupt("premature end of data")
		}
	}
	br.acc, br.n, br.p = acc, n, p
	d.eobrun = eobrun
	return nil
}

// refineDelta is what a correction bit adds to a nonzero coefficient v:
// p1 towards v's sign when the bit is set and v lacks that bit already.
func refineDelta(v int16, bit uint64, p1 int16) int16 {
	delta := p1
	if v < 0 {
		delta = -p1
	}
	if bit == 0 || v&p1 != 0 {
		delta = 0
	}
	return delta
}

func (d *jpegDecoder) checkComplete() error { return nil }

// output runs the output pass of a buffered decode: IDCT of every block
// (of the blocks d.plan names), MCU row by MCU row, then upsampling and
// colour conversion into dst.
func (d *jpegDecoder) output(dst *Image) {
	ctx := d.needContext()
	for my := 0; my <= d.lastRow; my++ {
		slot := my % 3
		m0, m1 := d.plan[my].m0, d.plan[my].m1
		for i := 0; i < d.ncomp; i++ {
			cp := &d.comp[i]
			if d.outC == 1 && d.colorKind == ccYCbCr && i > 0 {
				break
			}
			for y := 0; y < cp.v; y++ {
				by := my*cp.v + y
				row := cp.coef[by*cp.bw*64:]
				base := (slot*cp.v + y) * 8 * cp.stride
				for bx := m0 * cp.h; bx < min(m1*cp.h, cp.bw); bx++ {
					idctBlock(cp.plane[base+8*bx:], cp.stride, (*[64]int16)(row[bx*64:bx*64+64]), &cp.q)
				}
			}
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
}
