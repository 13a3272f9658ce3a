//go:build amd64 && !purego

#include "textflag.h"

// func YCC(d, y, cb, cr *uint8, blocks int)
// image.yccRow for blocks×16 pixels with AVX-512: libjpeg's integer YCbCr→RGB
// (the products of build_ycc_rgb_table computed, not looked up), clamped to
// 0..255, interleaved to RGB by one VPERMB and stored 48 bytes per block.
TEXT ·YCC(SB), NOSPLIT, $0-40
	MOVQ d+0(FP), DI
	MOVQ y+8(FP), SI
	MOVQ cb+16(FP), R8
	MOVQ cr+24(FP), R9
	MOVQ blocks+32(FP), CX
	MOVQ $0xffffffffffff, AX
	KMOVQ AX, K1
	VPBROADCASTD ycc128<>(SB), Z31
	VPBROADCASTD yccCrR<>(SB), Z30
	VPBROADCASTD yccCbB<>(SB), Z29
	VPBROADCASTD yccCbG<>(SB), Z28
	VPBROADCASTD yccCrG<>(SB), Z27
	VPBROADCASTD yccHalf<>(SB), Z26
	VPXORD       Z24, Z24, Z24
	VMOVDQU64    yccPack<>(SB), Z23

yccloop:
	CMPQ CX, $0
	JLE  yccdone
	VPMOVZXBD (SI), Z0
	VPMOVZXBD (R8), Z1
	VPMOVZXBD (R9), Z2
	VPSUBD    Z31, Z1, Z1 // cb − 128
	VPSUBD    Z31, Z2, Z2 // cr − 128

	VPMULLD Z30, Z2, Z3
	VPADDD  Z26, Z3, Z3
	VPSRAD  $16, Z3, Z3
	VPADDD  Z0, Z3, Z3 // R
	VPMULLD Z29, Z1, Z4
	VPADDD  Z26, Z4, Z4
	VPSRAD  $16, Z4, Z4
	VPADDD  Z0, Z4, Z4 // B
	VPMULLD Z28, Z1, Z5
	VPMULLD Z27, Z2, Z6
	VPADDD  Z6, Z5, Z5
	VPADDD  Z26, Z5, Z5
	VPSRAD  $16, Z5, Z5
	VPADDD  Z0, Z5, Z5 // G

	VPMAXSD   Z24, Z3, Z3
	VPMAXSD   Z24, Z4, Z4
	VPMAXSD   Z24, Z5, Z5
	VPMOVUSDB Z3, X3
	VPMOVUSDB Z4, X4
	VPMOVUSDB Z5, X5
	VINSERTI32X4 $1, X5, Z3, Z3
	VINSERTI32X4 $2, X4, Z3, Z3
	VPERMB       Z3, Z23, Z3
	VMOVDQU8     Z3, K1, (DI)

	ADDQ $16, SI
	ADDQ $16, R8
	ADDQ $16, R9
	ADDQ $48, DI
	DECQ CX
	JMP  yccloop

yccdone:
	VZEROUPPER
	RET

DATA ycc128<>+0(SB)/4, $128
GLOBL ycc128<>(SB), RODATA|NOPTR, $4
DATA yccCrR<>+0(SB)/4, $91881
GLOBL yccCrR<>(SB), RODATA|NOPTR, $4
DATA yccCbB<>+0(SB)/4, $116130
GLOBL yccCbB<>(SB), RODATA|NOPTR, $4
DATA yccCbG<>+0(SB)/4, $-22554
GLOBL yccCbG<>(SB), RODATA|NOPTR, $4
DATA yccCrG<>+0(SB)/4, $-46802
GLOBL yccCrG<>(SB), RODATA|NOPTR, $4
DATA yccHalf<>+0(SB)/4, $32768
GLOBL yccHalf<>(SB), RODATA|NOPTR, $4
DATA yccPack<>+0(SB)/8, $0x1202211101201000
DATA yccPack<>+8(SB)/8, $0x0524140423130322
DATA yccPack<>+16(SB)/8, $0x2717072616062515
DATA yccPack<>+24(SB)/8, $0x1a0a291909281808
DATA yccPack<>+32(SB)/8, $0x0d2c1c0c2b1b0b2a
DATA yccPack<>+40(SB)/8, $0x2f1f0f2e1e0e2d1d
DATA yccPack<>+48(SB)/8, $0x0000000000000000
DATA yccPack<>+56(SB)/8, $0x0000000000000000
GLOBL yccPack<>(SB), RODATA|NOPTR, $64

// func YCC32(d, y, cb, cr *uint8, blocks int)
// image.yccRow for blocks×32 pixels with AVX-512 BW/VBMI in 16-bit lanes:
// the same results as YCC (libjpeg's integer YCbCr→RGB, jdcolor.c), with
// x = cr−128, u = cb−128:
//	R = y + ((91881x + 32768) >> 16) = y + VPMULHRSW(2x, 22970)
//	B = y + ((116130u + 32768) >> 16) = y + VPMULHRSW(2u, 29033)
//	G = y + ((−22554u − 46802x + 32768) >> 16)
//	  = y − x + ((−22554u + 18734x + 32768) >> 16)   (one VPMADDWD)
// (the VPMULHRSW forms checked equal for every x in −128..127 by
// TestYCC32Exhaustive), clamped to 0..255 and interleaved by two VPERMT2B,
// 96 bytes stored per block.
TEXT ·YCC32(SB), NOSPLIT, $0-40
	MOVQ d+0(FP), DI
	MOVQ y+8(FP), SI
	MOVQ cb+16(FP), R8
	MOVQ cr+24(FP), R9
	MOVQ blocks+32(FP), CX
	VPBROADCASTW ycc32W128<>(SB), Z31
	VPBROADCASTW ycc32CrR<>(SB), Z30
	VPBROADCASTW ycc32CbB<>(SB), Z29
	VPBROADCASTD ycc32G<>(SB), Z28
	VPBROADCASTD ycc32Half<>(SB), Z27
	VPXORD       Z26, Z26, Z26
	VMOVDQU64    ycc32Perm0<>(SB), Z25
	VMOVDQU64    ycc32Perm1<>(SB), Z24

ycc32loop:
	VPMOVZXBW (SI), Z0
	VPMOVZXBW (R8), Z1
	VPMOVZXBW (R9), Z2
	VPSUBW    Z31, Z1, Z1 // u
	VPSUBW    Z31, Z2, Z2 // x

	VPADDW    Z2, Z2, Z3
	VPMULHRSW Z30, Z3, Z3
	VPADDW    Z0, Z3, Z3 // R
	VPADDW    Z1, Z1, Z4
	VPMULHRSW Z29, Z4, Z4
	VPADDW    Z0, Z4, Z4 // B

	VPUNPCKLWD Z2, Z1, Z5 // (u, x) pairs
	VPUNPCKHWD Z2, Z1, Z6
	VPMADDWD   Z28, Z5, Z5
	VPMADDWD   Z28, Z6, Z6
	VPADDD     Z27, Z5, Z5
	VPADDD     Z27, Z6, Z6
	VPSRAD     $16, Z5, Z5
	VPSRAD     $16, Z6, Z6
	VPACKSSDW  Z6, Z5, Z5 // back in pixel order (unpack and pack are per lane)
	VPSUBW     Z2, Z0, Z0
	VPADDW     Z0, Z5, Z5 // G

	VPMAXSW   Z26, Z3, Z3
	VPMAXSW   Z26, Z4, Z4
	VPMAXSW   Z26, Z5, Z5
	VPMOVUSWB Z3, Y3
	VPMOVUSWB Z5, Y5
	VPMOVUSWB Z4, Y4
	VINSERTI64X4 $1, Y5, Z3, Z3 // R | G
	VMOVDQU64    Z3, Z7
	VPERMT2B     Z4, Z25, Z3 // bytes 0-63
	VPERMT2B     Z4, Z24, Z7 // bytes 64-95
	VMOVDQU64    Z3, (DI)
	VMOVDQU      Y7, 64(DI)

	ADDQ $32, SI
	ADDQ $32, R8
	ADDQ $32, R9
	ADDQ $96, DI
	DECQ CX
	JNZ  ycc32loop
	VZEROUPPER
	RET

DATA ycc32W128<>+0(SB)/2, $128
GLOBL ycc32W128<>(SB), RODATA|NOPTR, $2
DATA ycc32CrR<>+0(SB)/2, $22970
GLOBL ycc32CrR<>(SB), RODATA|NOPTR, $2
DATA ycc32CbB<>+0(SB)/2, $29033
GLOBL ycc32CbB<>(SB), RODATA|NOPTR, $2
DATA ycc32G<>+0(SB)/2, $-22554
DATA ycc32G<>+2(SB)/2, $18734
GLOBL ycc32G<>(SB), RODATA|NOPTR, $4
DATA ycc32Half<>+0(SB)/4, $32768
GLOBL ycc32Half<>(SB), RODATA|NOPTR, $4
DATA ycc32Perm0<>+0(SB)/8, $0x2202412101402000
DATA ycc32Perm0<>+8(SB)/8, $0x0544240443230342
DATA ycc32Perm0<>+16(SB)/8, $0x4727074626064525
DATA ycc32Perm0<>+24(SB)/8, $0x2a0a492909482808
DATA ycc32Perm0<>+32(SB)/8, $0x0d4c2c0c4b2b0b4a
DATA ycc32Perm0<>+40(SB)/8, $0x4f2f0f4e2e0e4d2d
DATA ycc32Perm0<>+48(SB)/8, $0x3212513111503010
DATA ycc32Perm0<>+56(SB)/8, $0x1554341453331352
GLOBL ycc32Perm0<>(SB), RODATA|NOPTR, $64
DATA ycc32Perm1<>+0(SB)/8, $0x5737175636165535
DATA ycc32Perm1<>+8(SB)/8, $0x3a1a593919583818
DATA ycc32Perm1<>+16(SB)/8, $0x1d5c3c1c5b3b1b5a
DATA ycc32Perm1<>+24(SB)/8, $0x5f3f1f5e3e1e5d3d
DATA ycc32Perm1<>+32(SB)/8, $0x0000000000000000
DATA ycc32Perm1<>+40(SB)/8, $0x0000000000000000
DATA ycc32Perm1<>+48(SB)/8, $0x0000000000000000
DATA ycc32Perm1<>+56(SB)/8, $0x0000000000000000
GLOBL ycc32Perm1<>(SB), RODATA|NOPTR, $64
