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
