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

// func chwVBMI(pr, pg, pb *float32, src *uint8, blocks int, mean, std *[3]float32)
// Normalizes blocks×16 RGB pixels from src (reading 16 bytes past the last
// block's 48) into the planes pr, pg, pb: per channel c, (float32(v)/255 −
// mean[c])/std[c] with float32 division and subtraction, each correctly
// rounded as in torchvision's ToTensor + Normalize.
TEXT ·chwVBMI(SB), NOSPLIT, $0-56
	MOVQ pr+0(FP), R8
	MOVQ pg+8(FP), R9
	MOVQ pb+16(FP), R10
	MOVQ src+24(FP), SI
	MOVQ blocks+32(FP), CX
	MOVQ mean+40(FP), R11
	MOVQ std+48(FP), R12
	VBROADCASTSS chw255<>(SB), Z31
	VBROADCASTSS (R11), Z28
	VBROADCASTSS 4(R11), Z29
	VBROADCASTSS 8(R11), Z30
	VBROADCASTSS (R12), Z25
	VBROADCASTSS 4(R12), Z26
	VBROADCASTSS 8(R12), Z27
	VMOVDQU64 chwIdx<>+0(SB), Z20
	VMOVDQU64 chwIdx<>+64(SB), Z21
	VMOVDQU64 chwIdx<>+128(SB), Z22
	XORQ BX, BX

chwloop:
	CMPQ CX, $0
	JLE  chwdone
	VMOVDQU64 (SI), Z0

	VPERMB    Z0, Z20, Z1
	VPMOVZXBD X1, Z1
	VCVTDQ2PS Z1, Z1
	VDIVPS    Z31, Z1, Z1
	VSUBPS    Z28, Z1, Z1
	VDIVPS    Z25, Z1, Z1
	VMOVUPS   Z1, (R8)(BX*4)

	VPERMB    Z0, Z21, Z2
	VPMOVZXBD X2, Z2
	VCVTDQ2PS Z2, Z2
	VDIVPS    Z31, Z2, Z2
	VSUBPS    Z29, Z2, Z2
	VDIVPS    Z26, Z2, Z2
	VMOVUPS   Z2, (R9)(BX*4)

	VPERMB    Z0, Z22, Z3
	VPMOVZXBD X3, Z3
	VCVTDQ2PS Z3, Z3
	VDIVPS    Z31, Z3, Z3
	VSUBPS    Z30, Z3, Z3
	VDIVPS    Z27, Z3, Z3
	VMOVUPS   Z3, (R10)(BX*4)

	ADDQ $48, SI
	ADDQ $16, BX
	DECQ CX
	JMP  chwloop

chwdone:
	VZEROUPPER
	RET

DATA chw255<>+0(SB)/4, $0x437f0000
GLOBL chw255<>(SB), RODATA|NOPTR, $4
DATA chwIdx<>+0(SB)/8, $0x15120f0c09060300
DATA chwIdx<>+8(SB)/8, $0x2d2a2724211e1b18
DATA chwIdx<>+16(SB)/8, $0x0000000000000000
DATA chwIdx<>+24(SB)/8, $0x0000000000000000
DATA chwIdx<>+32(SB)/8, $0x0000000000000000
DATA chwIdx<>+40(SB)/8, $0x0000000000000000
DATA chwIdx<>+48(SB)/8, $0x0000000000000000
DATA chwIdx<>+56(SB)/8, $0x0000000000000000
DATA chwIdx<>+64(SB)/8, $0x1613100d0a070401
DATA chwIdx<>+72(SB)/8, $0x2e2b2825221f1c19
DATA chwIdx<>+80(SB)/8, $0x0000000000000000
DATA chwIdx<>+88(SB)/8, $0x0000000000000000
DATA chwIdx<>+96(SB)/8, $0x0000000000000000
DATA chwIdx<>+104(SB)/8, $0x0000000000000000
DATA chwIdx<>+112(SB)/8, $0x0000000000000000
DATA chwIdx<>+120(SB)/8, $0x0000000000000000
DATA chwIdx<>+128(SB)/8, $0x1714110e0b080502
DATA chwIdx<>+136(SB)/8, $0x2f2c292623201d1a
DATA chwIdx<>+144(SB)/8, $0x0000000000000000
DATA chwIdx<>+152(SB)/8, $0x0000000000000000
DATA chwIdx<>+160(SB)/8, $0x0000000000000000
DATA chwIdx<>+168(SB)/8, $0x0000000000000000
DATA chwIdx<>+176(SB)/8, $0x0000000000000000
DATA chwIdx<>+184(SB)/8, $0x0000000000000000
GLOBL chwIdx<>(SB), RODATA|NOPTR, $192
