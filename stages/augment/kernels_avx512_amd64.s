//go:build amd64 && !purego

#include "textflag.h"

// func lutVBMI(dst, src []uint8, n int, t *lut)
// dst[i] = t[src[i]] for i in [0, n), n a multiple of 64: the 256-byte table
// sits in four ZMM registers; VPERMI2B looks up the low and the high half
// (7 index bits each) and the index's top bit picks between them.
TEXT ·lutVBMI(SB), NOSPLIT, $0-64
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ n+48(FP), CX
	MOVQ t+56(FP), R8
	VMOVDQU64 (R8), Z0
	VMOVDQU64 64(R8), Z1
	VMOVDQU64 128(R8), Z2
	VMOVDQU64 192(R8), Z3
	XORQ BX, BX

lutloop:
	CMPQ BX, CX
	JGE  lutdone
	VMOVDQU64 (SI)(BX*1), Z4
	VPMOVB2M  Z4, K1
	VMOVDQA64 Z4, Z5
	VPERMI2B  Z1, Z0, Z4 // t[x&127] from the low half
	VPERMI2B  Z3, Z2, Z5 // t[128 + x&127] from the high half
	VPBLENDMB Z5, Z4, K1, Z6
	VMOVDQU64 Z6, (DI)(BX*1)
	ADDQ      $64, BX
	JMP       lutloop

lutdone:
	VZEROUPPER
	RET
