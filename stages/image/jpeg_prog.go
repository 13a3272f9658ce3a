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
	case d.ah == 0: // AC first
		ss, se, al := d.ss, d.se, uint(d.al)
		return d.scanBlocks(func(cp *jpegComponent, blk []int16) bool {
			if d.eobrun > 0 {
				d.eobrun--
				return true
			}
			t := &d.acTab[cp.ta]
			for k := ss; k <= se; k++ {
				rs, ok := br.symbol(t)
				if !ok {
					return false
				}
				r, s := int(rs>>4), uint(rs&15)
				if s != 0 {
					k += r
					v := br.receiveExtend(s)
					blk[zigzag[k&127]&63] = int16(v << al)
					continue
				}
				if r == 15 {
					k += 15
					continue
				}
				d.eobrun = 1 << r
				if r > 0 {
					d.eobrun += int(br.bits(uint(r)))
				}
				d.eobrun--
				break
			}
			return true
		})
	default: // AC refinement
		ss, se := d.ss, d.se
		p1 := int16(1) << uint(d.al)
		m1 := int16(-1) << uint(d.al)
		var bad bool
		err := d.scanBlocks(func(cp *jpegComponent, blk []int16) bool {
			t := &d.acTab[cp.ta]
			k := ss
			if d.eobrun == 0 {
				for ; k <= se; k++ {
					rs, ok := br.symbol(t)
					if !ok {
						return false
					}
					r, s := int(rs>>4), int(rs&15)
					var nv int16
					if s != 0 {
						if s != 1 {
							bad = true // libjpeg warns: an error under STOPONWARNING
							return false
						}
						if br.bit() {
							nv = p1
						} else {
							nv = m1
						}
					} else if r != 15 {
						d.eobrun = 1 << r
						if r > 0 {
							d.eobrun += int(br.bits(uint(r)))
						}
						break
					}
					for ; k <= se; k++ {
						c := &blk[zigzag[k&127]&63]
						if *c != 0 {
							if br.bit() && *c&p1 == 0 {
								if *c >= 0 {
									*c += p1
								} else {
									*c += m1
								}
							}
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
			if d.eobrun > 0 {
				for ; k <= se; k++ {
					c := &blk[zigzag[k&127]&63]
					if *c != 0 && br.bit() && *c&p1 == 0 {
						if *c >= 0 {
							*c += p1
						} else {
							*c += m1
						}
					}
				}
				d.eobrun--
			}
			return true
		})
		if bad {
			return corrupt("bad refinement code")
		}
		return err
	}
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
