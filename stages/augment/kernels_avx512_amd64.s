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

// func chwFMAVBMI(pr, pg, pb *float32, src *uint8, blocks int, mean, std, rstd *[3]float32)
// chwVBMI with each division q = a/d done as q0 = a·(1/d), q = q0 +
// (a − q0·d)·(1/d) (two FMAs): Normalizer uses it only after checking that
// it gives the table's value for every level and channel.
// Normalizes blocks×16 RGB pixels from src (reading 16 bytes past the last
// block's 48) into the planes pr, pg, pb: per channel c, (float32(v)/255 −
// mean[c])/std[c] with float32 division and subtraction, each correctly
// rounded as in torchvision's ToTensor + Normalize.
// CHWFMA is the body of chwFMAVBMI and chwFMANTVBMI (arguments loaded
// into R8-R13, SI, CX): STORE writes a vector of 16 results, FENCE runs
// before returning.
#define CHWFMA(STORE, FENCE) \
	VBROADCASTSS (R13), Z17; \
	VBROADCASTSS 4(R13), Z18; \
	VBROADCASTSS 8(R13), Z19; \
	VBROADCASTSS chwR255<>(SB), Z24; \
	VBROADCASTSS chw255<>(SB), Z31; \
	VBROADCASTSS (R11), Z28; \
	VBROADCASTSS 4(R11), Z29; \
	VBROADCASTSS 8(R11), Z30; \
	VBROADCASTSS (R12), Z25; \
	VBROADCASTSS 4(R12), Z26; \
	VBROADCASTSS 8(R12), Z27; \
	VMOVDQU64 chwIdx<>+0(SB), Z20; \
	VMOVDQU64 chwIdx<>+64(SB), Z21; \
	VMOVDQU64 chwIdx<>+128(SB), Z22; \
	XORQ BX, BX; \
chwfloop: \
	CMPQ CX, $0; \
	JLE  chwfdone; \
	VMOVDQU64 (SI), Z0; \
	VPERMB    Z0, Z20, Z1; \
	VPMOVZXBD X1, Z1; \
	VCVTDQ2PS    Z1, Z1; \
	VMULPS       Z24, Z1, Z4; \
	VMOVAPS      Z1, Z5; \
	VFNMADD231PS Z31, Z4, Z5; \
	VFMADD231PS  Z24, Z5, Z4; \
	VSUBPS       Z28, Z4, Z4; \
	VMULPS       Z17, Z4, Z1; \
	VMOVAPS      Z4, Z5; \
	VFNMADD231PS Z25, Z1, Z5; \
	VFMADD231PS  Z17, Z5, Z1; \
	STORE Z1, (R8)(BX*4); \
	VPERMB    Z0, Z21, Z2; \
	VPMOVZXBD X2, Z2; \
	VCVTDQ2PS    Z2, Z2; \
	VMULPS       Z24, Z2, Z4; \
	VMOVAPS      Z2, Z5; \
	VFNMADD231PS Z31, Z4, Z5; \
	VFMADD231PS  Z24, Z5, Z4; \
	VSUBPS       Z29, Z4, Z4; \
	VMULPS       Z18, Z4, Z2; \
	VMOVAPS      Z4, Z5; \
	VFNMADD231PS Z26, Z2, Z5; \
	VFMADD231PS  Z18, Z5, Z2; \
	STORE Z2, (R9)(BX*4); \
	VPERMB    Z0, Z22, Z3; \
	VPMOVZXBD X3, Z3; \
	VCVTDQ2PS    Z3, Z3; \
	VMULPS       Z24, Z3, Z4; \
	VMOVAPS      Z3, Z5; \
	VFNMADD231PS Z31, Z4, Z5; \
	VFMADD231PS  Z24, Z5, Z4; \
	VSUBPS       Z30, Z4, Z4; \
	VMULPS       Z19, Z4, Z3; \
	VMOVAPS      Z4, Z5; \
	VFNMADD231PS Z27, Z3, Z5; \
	VFMADD231PS  Z19, Z5, Z3; \
	STORE Z3, (R10)(BX*4); \
	ADDQ $48, SI; \
	ADDQ $16, BX; \
	DECQ CX; \
	JMP  chwfloop; \
chwfdone: \
	FENCE; \
	VZEROUPPER; \
	RET

TEXT ·chwFMAVBMI(SB), NOSPLIT, $0-64
	MOVQ pr+0(FP), R8
	MOVQ pg+8(FP), R9
	MOVQ pb+16(FP), R10
	MOVQ src+24(FP), SI
	MOVQ blocks+32(FP), CX
	MOVQ mean+40(FP), R11
	MOVQ std+48(FP), R12
	MOVQ rstd+56(FP), R13
	CHWFMA(VMOVUPS, NOP)

// func chwFMANTVBMI(pr, pg, pb *float32, src *uint8, blocks int, mean, std, rstd *[3]float32)
// chwFMAVBMI with non-temporal stores (pr, pg and pb 64-byte aligned), then
// SFENCE: the planes go to memory without first reading their lines.
TEXT ·chwFMANTVBMI(SB), NOSPLIT, $0-64
	MOVQ pr+0(FP), R8
	MOVQ pg+8(FP), R9
	MOVQ pb+16(FP), R10
	MOVQ src+24(FP), SI
	MOVQ blocks+32(FP), CX
	MOVQ mean+40(FP), R11
	MOVQ std+48(FP), R12
	MOVQ rstd+56(FP), R13
	CHWFMA(VMOVNTPS, SFENCE)

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

// func hue3VBMI(dst, src []uint8, blocks int, shift int)
// hue3AVX2 for blocks×16 RGB pixels, 16 per step and with no table: the
// hue byte, sat and p computed in float32 (see below), hi, hf and fs
// computed as there, and t in float32 (equal to its float64 form),
// with the sector's channel order applied by one VPSHUFB on v | t<<8 |
// p<<16. Reads 16 bytes past the last block's 48 and writes only the
// blocks' bytes. dst may be src.
TEXT ·hue3VBMI(SB), NOSPLIT, $0-64
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ blocks+48(FP), DX
	MOVQ shift+56(FP), AX
	MOVQ $0xffffffffffff, R11 // the 48 bytes of a block
	VMOVD AX, X0
	VPBROADCASTD X0, Z31          // shift
	VPBROADCASTD h5FF<>(SB), Z30  // 255
	VPBROADCASTD h5C1<>(SB), Z29  // 1
	VPBROADCASTD h5C2<>(SB), Z28  // 2
	VPBROADCASTD h5C4<>(SB), Z26  // 4
	VPBROADCASTD h5C5<>(SB), Z25  // 5
	VPBROADCASTD h5C6<>(SB), Z24  // 6
	VPBROADCASTD h5M193<>(SB), Z23
	VBROADCASTSS h5F255<>(SB), Z19
	VBROADCASTSD h5One<>(SB), Z18
	VBROADCASTSD h5Half<>(SB), Z17
	VMOVDQU64 chwIdx<>+0(SB), Z20
	VMOVDQU64 chwIdx<>+64(SB), Z21
	VMOVDQU64 chwIdx<>+128(SB), Z22
	VMOVDQU64 h5Ctrl<>(SB), Z16  // per sector: the v, t, p byte of R, G, B
	VMOVDQU64 h5Lane<>(SB), Z27  // 4·(lane mod 4) in each byte
	VMOVDQU64 h5Pack<>(SB), Z2   // moved to Z11 below
	VMOVDQA64 Z2, Z11
	VPXORD    Z15, Z15, Z15

	CMPQ DX, $0
	JLE  h5done
	VMOVDQU64 (SI), Z0 // the first block; each iteration loads the next before its store

h5loop:
	CMPQ DX, $0
	JLE  h5done
	VPERMB    Z0, Z20, Z1
	VPMOVZXBD X1, Z1 // r
	VPERMB    Z0, Z21, Z2
	VPMOVZXBD X2, Z2 // g
	VPERMB    Z0, Z22, Z3
	VPMOVZXBD X3, Z3 // b

	VPMAXSD Z2, Z1, Z5
	VPMAXSD Z3, Z5, Z5 // maxc = v
	VPMINSD Z2, Z1, Z6
	VPMINSD Z3, Z6, Z6 // minc
	VPSUBD  Z6, Z5, Z7 // cr
	VPADDD  Z5, Z5, Z8
	VPADDD  Z6, Z8, Z8
	VPSUBD  Z1, Z8, Z8
	VPSUBD  Z2, Z8, Z8
	VPSUBD  Z3, Z8, Z8 // n = maxc − middle channel
	VPCMPEQD Z3, Z6, K1 // b == minc
	VPCMPEQD Z1, Z6, K2 // r == minc
	VPCMPEQD Z1, Z5, K3 // r == maxc
	VPCMPEQD Z2, Z5, K4 // g == maxc

	// class k: r max → (b min ? 0 : 1); g max → (b min ? 2 : 3); else (r min ? 5 : 4)
	VMOVDQA32 Z29, Z9
	VMOVDQA32 Z15, K1, Z9 // kA
	VPADDD    Z28, Z9, Z10 // kB = kA + 2
	VMOVDQA32 Z26, Z12
	VMOVDQA32 Z25, K2, Z12
	VMOVDQA32 Z10, K4, Z12
	VMOVDQA32 Z9, K3, Z12 // k

	// hue byte, computed rather than gathered from hsvTables.hue: q =
	// n/cr, h = a_k + s_k·q (the table's float h), x = h/6, hf = x + 1
	// where x < 0, byte = floor(hf·255): the truncated float32 product,
	// less one where FMA shows the exact product below it. Equal to the
	// table for every (k, cr, n) (TestHueByteFloat32). Gray lanes (cr = 0)
	// compute garbage, replaced below.
	VCVTDQ2PS    Z8, Z1
	VCVTDQ2PS    Z7, Z2
	VDIVPS       Z2, Z1, Z1 // q
	VPERMD       h5A<>(SB), Z12, Z3
	VPERMD       h5S<>(SB), Z12, Z2
	VPXORD       Z2, Z1, Z1
	VADDPS       Z3, Z1, Z1 // h
	// x = h/6 as q0 = h·(1/6), x = q0 + (h − 6·q0)·(1/6) (FMA), equal to
	// the division for every h (TestHueAVX2Exhaustive covers them all)
	VBROADCASTSS h5F6<>(SB), Z2
	VBROADCASTSS h5R6<>(SB), Z3
	VMULPS       Z3, Z1, Z0
	VFNMADD231PS Z2, Z0, Z1
	VFMADD231PS  Z3, Z1, Z0
	VMOVAPS      Z0, Z1 // x
	VBROADCASTSS h5F1<>(SB), Z2
	VPXORD       Z3, Z3, Z3
	VCMPPS       $1, Z3, Z1, K5
	VADDPS       Z2, Z1, K5, Z1 // hf
	VMULPS       Z19, Z1, Z3
	VCVTTPS2DQ   Z3, Z10
	VCVTDQ2PS    Z10, Z3
	VFMSUB231PS  Z19, Z1, Z3 // hf·255 − byte, rounded once
	VPXORD       Z2, Z2, Z2
	VCMPPS       $1, Z2, Z3, K5
	VPSUBD       Z29, Z10, K5, Z10 // hue byte

	// sat = floor(float32(cr)/float32(maxc)·255), the product's floor
	// taken exactly as for the hue byte (TestSatAndPFloat32); garbage in
	// gray lanes
	VCVTDQ2PS   Z7, Z1
	VCVTDQ2PS   Z5, Z2
	VDIVPS      Z2, Z1, Z1
	VMULPS      Z19, Z1, Z3
	VCVTTPS2DQ  Z3, Z14
	VCVTDQ2PS   Z14, Z3
	VFMSUB231PS Z19, Z1, Z3
	VPXORD      Z2, Z2, Z2
	VCMPPS      $1, Z2, Z3, K6
	VPSUBD      Z29, Z14, K6, Z14 // sat

	// gray: cr == 0 or sat == 0
	VPTESTNMD Z7, Z7, K7
	VPTESTNMD Z14, Z14, K6
	KORW      K6, K7, K7

	// h' = (h + shift) & 255; i0 = (193h') >> 13, i = i0 mod 6,
	// f = float32(6h' − 255·i0)/255, fs = float32(sat)/255
	VPADDD    Z31, Z10, Z10
	VPANDD    Z30, Z10, Z10 // h'
	VPMULLD   Z23, Z10, Z4
	VPSRLD    $13, Z4, Z4 // i0
	VPMULLD   Z24, Z10, Z6 // 6h'
	VPMULLD   Z30, Z4, Z1 // 255·i0
	VPSUBD    Z1, Z6, Z6
	VPCMPEQD  Z24, Z4, K1
	VMOVDQA32 Z15, K1, Z4 // i
	VCVTDQ2PS Z6, Z6
	// f = m/255 and fs = sat/255 the same way (every m and sat occurs in
	// TestHueAVX2Exhaustive, which compares with PIL's arithmetic)
	VBROADCASTSS chwR255<>(SB), Z2
	VMULPS       Z2, Z6, Z0
	VFNMADD231PS Z19, Z0, Z6
	VFMADD231PS  Z2, Z6, Z0
	VMOVAPS      Z0, Z6 // f
	VCVTDQ2PS Z14, Z14
	VMULPS       Z2, Z14, Z0
	VFNMADD231PS Z19, Z0, Z14
	VFMADD231PS  Z2, Z14, Z0
	VMOVAPS      Z0, Z14 // fs
	VMULPS    Z6, Z14, Z8 // fs·f in float32

	// t = trunc(float32(v)·(1 − u) + 0.5), u = fs·f in odd sectors and
	// fs·(1 − f) in even ones, all in float32: for every (v, sat, h') this
	// equals hsvToRGBFast's float64 form (TestHueTInFloat32)
	VPTESTMD     Z29, Z4, K1 // odd sector
	VBROADCASTSS h5F1<>(SB), Z0
	VSUBPS       Z6, Z0, Z9
	VMULPS       Z9, Z14, Z9 // fs·(1 − f)
	VMOVAPS      Z8, K1, Z9 // odd: fs·f
	VSUBPS       Z9, Z0, Z9
	VCVTDQ2PS    Z5, Z1
	VMULPS       Z1, Z9, Z9
	VBROADCASTSS h5FHalf<>(SB), Z1
	VADDPS       Z1, Z9, Z9
	VCVTTPS2DQ   Z9, Z9 // t

	// p = min(255, trunc(float32(v)·(1 − fs) + 0.5)) in float32, equal to
	// hsvTables.p for every (sat, v) (TestSatAndPFloat32)
	VSUBPS       Z14, Z0, Z13 // Z0 = 1
	VCVTDQ2PS    Z5, Z2
	VMULPS       Z2, Z13, Z13
	VADDPS       Z1, Z13, Z13 // Z1 = 0.5
	VCVTTPS2DQ   Z13, Z13
	VPMINSD      Z30, Z13, Z13 // p

	// gray: t = p = v; then v | t<<8 | p<<16 reordered per sector
	VMOVDQA32 Z5, K7, Z9
	VMOVDQA32 Z5, K7, Z13
	VPSLLD    $8, Z9, Z9
	VPSLLD    $16, Z13, Z13
	VPORD     Z9, Z5, Z9
	VPORD     Z13, Z9, Z9
	VPERMD    Z16, Z4, Z1
	VPADDD    Z27, Z1, Z1
	VPSHUFB   Z1, Z9, Z9
	VPERMB    Z9, Z11, Z9
	// Load the next block before this store: a load that the masked
	// store's 64-byte range overlaps waits for it to retire (in place,
	// dst = src, that made the loop 2.4x slower).
	CMPQ DX, $1
	JLE  h5looplast
	VMOVDQU64 48(SI), Z0
h5looplast:
	KMOVQ     R11, K1
	VMOVDQU8  Z9, K1, (DI)

	ADDQ $48, SI
	ADDQ $48, DI
	DECQ DX
	JMP  h5loop

h5done:
	VZEROUPPER
	RET

DATA h5FF<>+0(SB)/4, $255
GLOBL h5FF<>(SB), RODATA|NOPTR, $4
DATA h5C1<>+0(SB)/4, $1
GLOBL h5C1<>(SB), RODATA|NOPTR, $4
DATA h5C2<>+0(SB)/4, $2
GLOBL h5C2<>(SB), RODATA|NOPTR, $4
DATA h5C4<>+0(SB)/4, $4
GLOBL h5C4<>(SB), RODATA|NOPTR, $4
DATA h5C5<>+0(SB)/4, $5
GLOBL h5C5<>(SB), RODATA|NOPTR, $4
DATA h5C6<>+0(SB)/4, $6
GLOBL h5C6<>(SB), RODATA|NOPTR, $4
DATA h5M193<>+0(SB)/4, $193
GLOBL h5M193<>(SB), RODATA|NOPTR, $4
DATA h5F255<>+0(SB)/4, $0x437f0000
GLOBL h5F255<>(SB), RODATA|NOPTR, $4
DATA h5One<>+0(SB)/8, $0x3ff0000000000000
GLOBL h5One<>(SB), RODATA|NOPTR, $8
DATA h5Half<>+0(SB)/8, $0x3fe0000000000000
GLOBL h5Half<>(SB), RODATA|NOPTR, $8
DATA h5Ctrl<>+0(SB)/8, $0x8002000180020100
DATA h5Ctrl<>+8(SB)/8, $0x8000010280010002
DATA h5Ctrl<>+16(SB)/8, $0x8001020080000201
DATA h5Ctrl<>+24(SB)/8, $0x8080808080808080
DATA h5Ctrl<>+32(SB)/8, $0x8080808080808080
DATA h5Ctrl<>+40(SB)/8, $0x8080808080808080
DATA h5Ctrl<>+48(SB)/8, $0x8080808080808080
DATA h5Ctrl<>+56(SB)/8, $0x8080808080808080
GLOBL h5Ctrl<>(SB), RODATA|NOPTR, $64
DATA h5Lane<>+0(SB)/8, $0x0404040400000000
DATA h5Lane<>+8(SB)/8, $0x0c0c0c0c08080808
DATA h5Lane<>+16(SB)/8, $0x0404040400000000
DATA h5Lane<>+24(SB)/8, $0x0c0c0c0c08080808
DATA h5Lane<>+32(SB)/8, $0x0404040400000000
DATA h5Lane<>+40(SB)/8, $0x0c0c0c0c08080808
DATA h5Lane<>+48(SB)/8, $0x0404040400000000
DATA h5Lane<>+56(SB)/8, $0x0c0c0c0c08080808
GLOBL h5Lane<>(SB), RODATA|NOPTR, $64
DATA h5Pack<>+0(SB)/8, $0x0908060504020100
DATA h5Pack<>+8(SB)/8, $0x141211100e0d0c0a
DATA h5Pack<>+16(SB)/8, $0x1e1d1c1a19181615
DATA h5Pack<>+24(SB)/8, $0x2928262524222120
DATA h5Pack<>+32(SB)/8, $0x343231302e2d2c2a
DATA h5Pack<>+40(SB)/8, $0x3e3d3c3a39383635
DATA h5Pack<>+48(SB)/8, $0x0000000000000000
DATA h5Pack<>+56(SB)/8, $0x0000000000000000
GLOBL h5Pack<>(SB), RODATA|NOPTR, $64

// func sat3VBMI(dst, src []uint8, blocks int, alpha float32)
// sat3AVX2 for blocks×16 RGB pixels, 16 per step: PIL luma, then per
// channel clamp(trunc(float32(L) + float32(alpha·float32(v − L)))). Reads 16
// bytes past the last block's 48 and writes only the blocks' bytes. dst may
// be src.
TEXT ·sat3VBMI(SB), NOSPLIT, $0-60
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ blocks+48(FP), DX
	VBROADCASTSS alpha+56(FP), Z15
	VPBROADCASTD lumR<>(SB), Z14
	VPBROADCASTD lumG<>(SB), Z13
	VPBROADCASTD lumB<>(SB), Z12
	VPBROADCASTD lumHalf<>(SB), Z11
	VPXORD       Z9, Z9, Z9
	VMOVDQU64    chwIdx<>+0(SB), Z20
	VMOVDQU64    chwIdx<>+64(SB), Z21
	VMOVDQU64    chwIdx<>+128(SB), Z22
	VMOVDQU64    ilvPack<>(SB), Z23
	MOVQ         $0xffffffffffff, AX
	KMOVQ        AX, K1

	CMPQ DX, $0
	JLE  s5done
	VMOVDQU64 (SI), Z0 // the first block; each iteration loads the next before its store

s5loop:
	CMPQ DX, $0
	JLE  s5done
	VPERMB    Z0, Z20, Z2
	VPMOVZXBD X2, Z2
	VPERMB    Z0, Z21, Z3
	VPMOVZXBD X3, Z3
	VPERMB    Z0, Z22, Z4
	VPMOVZXBD X4, Z4
	VPMULLD   Z14, Z2, Z5
	VPMULLD   Z13, Z3, Z6
	VPADDD    Z6, Z5, Z5
	VPMULLD   Z12, Z4, Z6
	VPADDD    Z6, Z5, Z5
	VPADDD    Z11, Z5, Z5
	VPSRLD    $16, Z5, Z5 // L
	VCVTDQ2PS Z5, Z6

	VPSUBD     Z5, Z2, Z7
	VCVTDQ2PS  Z7, Z7
	VMULPS     Z15, Z7, Z7
	VADDPS     Z7, Z6, Z7
	VCVTTPS2DQ Z7, Z7
	VPMAXSD    Z9, Z7, Z7
	VPMOVUSDB  Z7, X2
	VPSUBD     Z5, Z3, Z7
	VCVTDQ2PS  Z7, Z7
	VMULPS     Z15, Z7, Z7
	VADDPS     Z7, Z6, Z7
	VCVTTPS2DQ Z7, Z7
	VPMAXSD    Z9, Z7, Z7
	VPMOVUSDB  Z7, X3
	VPSUBD     Z5, Z4, Z7
	VCVTDQ2PS  Z7, Z7
	VMULPS     Z15, Z7, Z7
	VADDPS     Z7, Z6, Z7
	VCVTTPS2DQ Z7, Z7
	VPMAXSD    Z9, Z7, Z7
	VPMOVUSDB  Z7, X4

	VINSERTI32X4 $1, X3, Z2, Z2
	VINSERTI32X4 $2, X4, Z2, Z2
	VPERMB       Z2, Z23, Z2
	// Load the next block before this store: a load that the masked
	// store's 64-byte range overlaps waits for it to retire (in place,
	// dst = src, that made the loop 2.4x slower).
	CMPQ DX, $1
	JLE  s5looplast
	VMOVDQU64 48(SI), Z0
s5looplast:
	VMOVDQU8     Z2, K1, (DI)
	ADDQ $48, SI
	ADDQ $48, DI
	DECQ DX
	JMP  s5loop

s5done:
	VZEROUPPER
	RET

// func gray3VBMI(dst, src []uint8, blocks int)
// PIL's luma L of blocks×16 RGB pixels, written as L, L, L. Reads 16 bytes
// past the last block's 48 and writes only the blocks' bytes. dst may be
// src.
TEXT ·gray3VBMI(SB), NOSPLIT, $0-56
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ blocks+48(FP), DX
	VPBROADCASTD lumR<>(SB), Z14
	VPBROADCASTD lumG<>(SB), Z13
	VPBROADCASTD lumB<>(SB), Z12
	VPBROADCASTD lumHalf<>(SB), Z11
	VMOVDQU64    chwIdx<>+0(SB), Z20
	VMOVDQU64    chwIdx<>+64(SB), Z21
	VMOVDQU64    chwIdx<>+128(SB), Z22
	VMOVDQU64    grayPack<>(SB), Z23
	MOVQ         $0xffffffffffff, AX
	KMOVQ        AX, K1

	CMPQ DX, $0
	JLE  g5done
	VMOVDQU64 (SI), Z0 // the first block; each iteration loads the next before its store

g5loop:
	CMPQ DX, $0
	JLE  g5done
	VPERMB    Z0, Z20, Z2
	VPMOVZXBD X2, Z2
	VPERMB    Z0, Z21, Z3
	VPMOVZXBD X3, Z3
	VPERMB    Z0, Z22, Z4
	VPMOVZXBD X4, Z4
	VPMULLD   Z14, Z2, Z5
	VPMULLD   Z13, Z3, Z6
	VPADDD    Z6, Z5, Z5
	VPMULLD   Z12, Z4, Z6
	VPADDD    Z6, Z5, Z5
	VPADDD    Z11, Z5, Z5
	VPSRLD    $16, Z5, Z5 // L
	VPMOVUSDB Z5, X5
	VPERMB    Z5, Z23, Z5
	// Load the next block before this store: a load that the masked
	// store's 64-byte range overlaps waits for it to retire (in place,
	// dst = src, that made the loop 2.4x slower).
	CMPQ DX, $1
	JLE  g5looplast
	VMOVDQU64 48(SI), Z0
g5looplast:
	VMOVDQU8  Z5, K1, (DI)
	ADDQ $48, SI
	ADDQ $48, DI
	DECQ DX
	JMP  g5loop

g5done:
	VZEROUPPER
	RET

DATA lumR<>+0(SB)/4, $19595
GLOBL lumR<>(SB), RODATA|NOPTR, $4
DATA lumG<>+0(SB)/4, $38470
GLOBL lumG<>(SB), RODATA|NOPTR, $4
DATA lumB<>+0(SB)/4, $7471
GLOBL lumB<>(SB), RODATA|NOPTR, $4
DATA lumHalf<>+0(SB)/4, $0x8000
GLOBL lumHalf<>(SB), RODATA|NOPTR, $4
DATA ilvPack<>+0(SB)/8, $0x1202211101201000
DATA ilvPack<>+8(SB)/8, $0x0524140423130322
DATA ilvPack<>+16(SB)/8, $0x2717072616062515
DATA ilvPack<>+24(SB)/8, $0x1a0a291909281808
DATA ilvPack<>+32(SB)/8, $0x0d2c1c0c2b1b0b2a
DATA ilvPack<>+40(SB)/8, $0x2f1f0f2e1e0e2d1d
DATA ilvPack<>+48(SB)/8, $0x0000000000000000
DATA ilvPack<>+56(SB)/8, $0x0000000000000000
GLOBL ilvPack<>(SB), RODATA|NOPTR, $64
DATA grayPack<>+0(SB)/8, $0x0202010101000000
DATA grayPack<>+8(SB)/8, $0x0504040403030302
DATA grayPack<>+16(SB)/8, $0x0707070606060505
DATA grayPack<>+24(SB)/8, $0x0a0a090909080808
DATA grayPack<>+32(SB)/8, $0x0d0c0c0c0b0b0b0a
DATA grayPack<>+40(SB)/8, $0x0f0f0f0e0e0e0d0d
DATA grayPack<>+48(SB)/8, $0x0000000000000000
DATA grayPack<>+56(SB)/8, $0x0000000000000000
GLOBL grayPack<>(SB), RODATA|NOPTR, $64

// func flip3VBMI(d, s *uint8, w int) int
// Mirrors a row of w RGB pixels from s into d 16 pixels at a time, taking
// one block from each end per step while the two do not overlap, and
// returns how many pixels it did at each end (the caller reverses the
// middle). d may be s.
TEXT ·flip3VBMI(SB), NOSPLIT, $0-32
	MOVQ d+0(FP), DI
	MOVQ s+8(FP), SI
	MOVQ w+16(FP), CX
	MOVQ $0xffffffffffff, AX
	KMOVQ AX, K1
	VMOVDQU64 flipIdx<>(SB), Z23
	XORQ BX, BX          // front pixel
	LEAQ -16(CX), DX     // back block's first pixel

f5loop:
	LEAQ 16(BX), R8
	CMPQ R8, DX
	JGT  f5done
	LEAQ (BX)(BX*2), R9  // front byte offset
	LEAQ (DX)(DX*2), R10 // back byte offset
	VMOVDQU8 (SI)(R9*1), K1, Z0
	VMOVDQU8 (SI)(R10*1), K1, Z1
	VPERMB   Z0, Z23, Z0
	VPERMB   Z1, Z23, Z1
	VMOVDQU8 Z1, K1, (DI)(R9*1)
	VMOVDQU8 Z0, K1, (DI)(R10*1)
	ADDQ $16, BX
	SUBQ $16, DX
	JMP  f5loop

f5done:
	MOVQ BX, ret+24(FP)
	VZEROUPPER
	RET
DATA flipIdx<>+0(SB)/8, $0x28272c2b2a2f2e2d
DATA flipIdx<>+8(SB)/8, $0x1e23222126252429
DATA flipIdx<>+16(SB)/8, $0x1a19181d1c1b201f
DATA flipIdx<>+24(SB)/8, $0x100f141312171615
DATA flipIdx<>+32(SB)/8, $0x060b0a090e0d0c11
DATA flipIdx<>+40(SB)/8, $0x0201000504030807
DATA flipIdx<>+48(SB)/8, $0x0000000000000000
DATA flipIdx<>+56(SB)/8, $0x0000000000000000
GLOBL flipIdx<>(SB), RODATA|NOPTR, $64
DATA h5F1<>+0(SB)/4, $0x3f800000
GLOBL h5F1<>(SB), RODATA|NOPTR, $4
DATA h5FHalf<>+0(SB)/4, $0x3f000000
GLOBL h5FHalf<>(SB), RODATA|NOPTR, $4
DATA h5A<>+0(SB)/4, $0x3f800000
DATA h5A<>+4(SB)/4, $0xbf800000
DATA h5A<>+8(SB)/4, $0x3f800000
DATA h5A<>+12(SB)/4, $0x40400000
DATA h5A<>+16(SB)/4, $0x40a00000
DATA h5A<>+20(SB)/4, $0x40400000
DATA h5A<>+24(SB)/4, $0x00000000
DATA h5A<>+28(SB)/4, $0x00000000
DATA h5A<>+32(SB)/4, $0x00000000
DATA h5A<>+36(SB)/4, $0x00000000
DATA h5A<>+40(SB)/4, $0x00000000
DATA h5A<>+44(SB)/4, $0x00000000
DATA h5A<>+48(SB)/4, $0x00000000
DATA h5A<>+52(SB)/4, $0x00000000
DATA h5A<>+56(SB)/4, $0x00000000
DATA h5A<>+60(SB)/4, $0x00000000
GLOBL h5A<>(SB), RODATA|NOPTR, $64
DATA h5S<>+0(SB)/4, $0x80000000
DATA h5S<>+4(SB)/4, $0x00000000
DATA h5S<>+8(SB)/4, $0x00000000
DATA h5S<>+12(SB)/4, $0x80000000
DATA h5S<>+16(SB)/4, $0x80000000
DATA h5S<>+20(SB)/4, $0x00000000
DATA h5S<>+24(SB)/4, $0x00000000
DATA h5S<>+28(SB)/4, $0x00000000
DATA h5S<>+32(SB)/4, $0x00000000
DATA h5S<>+36(SB)/4, $0x00000000
DATA h5S<>+40(SB)/4, $0x00000000
DATA h5S<>+44(SB)/4, $0x00000000
DATA h5S<>+48(SB)/4, $0x00000000
DATA h5S<>+52(SB)/4, $0x00000000
DATA h5S<>+56(SB)/4, $0x00000000
DATA h5S<>+60(SB)/4, $0x00000000
GLOBL h5S<>(SB), RODATA|NOPTR, $64
DATA h5F6<>+0(SB)/4, $0x40c00000
GLOBL h5F6<>(SB), RODATA|NOPTR, $4
DATA chwR255<>+0(SB)/4, $0x3b808081
GLOBL chwR255<>(SB), RODATA|NOPTR, $4
DATA h5R6<>+0(SB)/4, $0x3e2aaaab
GLOBL h5R6<>(SB), RODATA|NOPTR, $4
