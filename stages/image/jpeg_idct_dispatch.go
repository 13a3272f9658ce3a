package image

// idctBlock is the islow IDCT used by the decoder.
func idctBlock(dst []uint8, stride int, blk *[64]int32) { idctGo(dst, stride, blk) }
