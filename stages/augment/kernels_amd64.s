//go:build amd64 && !purego

#include "textflag.h"

// func vconv8AVX2(out []uint8, rows []unsafe.Pointer, w []int32, n int)
TEXT ·vconv8AVX2(SB), NOSPLIT, $0-80
	MOVQ out_base+0(FP), DI
	MOVQ rows_base+24(FP), SI
	MOVQ rows_len+32(FP), CX
	MOVQ w_base+48(FP), R8
	MOVQ n+72(FP), DX
	MOVL $0x200000, AX
	VMOVD AX, X7
	VPBROADCASTD X7, Y7
	XORQ BX, BX

v8loop:
	CMPQ BX, DX
	JGE  v8done
	VMOVDQA Y7, Y0
	XORQ R9, R9

v8tap:
	MOVQ         (SI)(R9*8), R10
	VPMOVZXBD    (R10)(BX*1), Y1
	VPBROADCASTD (R8)(R9*4), Y2
	VPMULLD      Y2, Y1, Y1
	VPADDD       Y1, Y0, Y0
	INCQ         R9
	CMPQ         R9, CX
	JLT          v8tap

	VPSRAD    $22, Y0, Y0
	VPACKUSDW Y0, Y0, Y0
	VPERMQ    $0x08, Y0, Y0
	VPACKUSWB X0, X0, X0
	VMOVQ      X0, (DI)(BX*1)
	ADDQ      $8, BX
	JMP       v8loop

v8done:
	VZEROUPPER
	RET

// func vconv16AVX2(out []uint8, rows []unsafe.Pointer, w []int32, n int)
TEXT ·vconv16AVX2(SB), NOSPLIT, $0-80
	MOVQ out_base+0(FP), DI
	MOVQ rows_base+24(FP), SI
	MOVQ rows_len+32(FP), CX
	MOVQ w_base+48(FP), R8
	MOVQ n+72(FP), DX
	MOVL $0x200000, AX
	VMOVD AX, X7
	VPBROADCASTD X7, Y7
	XORQ BX, BX

v16loop:
	CMPQ BX, DX
	JGE  v16done
	VMOVDQA Y7, Y0
	XORQ R9, R9

v16tap:
	MOVQ         (SI)(R9*8), R10
	VPMOVZXWD    (R10)(BX*2), Y1
	VPBROADCASTD (R8)(R9*4), Y2
	VPMULLD      Y2, Y1, Y1
	VPADDD       Y1, Y0, Y0
	INCQ         R9
	CMPQ         R9, CX
	JLT          v16tap

	VPSRAD    $22, Y0, Y0
	VPACKUSDW Y0, Y0, Y0
	VPERMQ    $0x08, Y0, Y0
	VPACKUSWB X0, X0, X0
	VMOVQ      X0, (DI)(BX*1)
	ADDQ      $8, BX
	JMP       v16loop

v16done:
	VZEROUPPER
	RET

// func hconv16AVX2(out []uint16, pad []uint8, w []int32, stride int, n int)
TEXT ·hconv16AVX2(SB), NOSPLIT, $0-88
	MOVQ out_base+0(FP), DI
	MOVQ pad_base+24(FP), SI
	MOVQ w_base+48(FP), R8
	MOVQ w_len+56(FP), CX
	MOVQ stride+72(FP), R11
	MOVQ n+80(FP), DX
	MOVL $32, AX
	VMOVD AX, X7
	VPBROADCASTD X7, Y7
	XORQ BX, BX

h16loop:
	CMPQ BX, DX
	JGE  h16done
	VMOVDQA Y7, Y0
	XORQ R9, R9
	LEAQ (SI)(BX*1), R10

h16tap:
	VPMOVZXBD    (R10), Y1
	VPBROADCASTD (R8)(R9*4), Y2
	VPMULLD      Y2, Y1, Y1
	VPADDD       Y1, Y0, Y0
	ADDQ         R11, R10
	INCQ         R9
	CMPQ         R9, CX
	JLT          h16tap

	VPSRAD    $6, Y0, Y0
	VPACKUSDW Y0, Y0, Y0
	VPERMQ    $0x08, Y0, Y0
	VMOVDQU   X0, (DI)(BX*2)
	ADDQ      $8, BX
	JMP       h16loop

h16done:
	VZEROUPPER
	RET

// func hconv3AVX2(out []uint8, row []uint8, start []int32, w []int32, T int, n int)
TEXT ·hconv3AVX2(SB), NOSPLIT, $0-112
	MOVQ out_base+0(FP), DI
	MOVQ row_base+24(FP), SI
	MOVQ start_base+48(FP), R12
	MOVQ w_base+72(FP), R8
	MOVQ T+96(FP), CX
	MOVQ n+104(FP), DX
	MOVL $0x200000, AX
	VMOVD AX, X7
	VPBROADCASTD X7, X7
	XORQ BX, BX
	CMPQ CX, $2
	JNE  h3loop

	// two taps (every bilinear upscale): two pixels per step, one per
	// 128-bit lane, the inner loop unrolled
	VPBROADCASTD X7, Y8
	VMOVDQU      h3Idx0<>(SB), Y9
	VMOVDQU      h3Idx1<>(SB), Y10

h3pair:
	LEAQ 1(BX), R11
	CMPQ R11, DX
	JGE  h3loop // fewer than two left
	MOVLQSX     (R12)(BX*4), R10
	LEAQ        (R10)(R10*2), R10
	ADDQ        SI, R10
	MOVLQSX     4(R12)(BX*4), R11
	LEAQ        (R11)(R11*2), R11
	ADDQ        SI, R11
	VPMOVZXBD   (R10), X1
	VPMOVZXBD   (R11), X2
	VINSERTI128 $1, X2, Y1, Y1 // tap 0 of both pixels
	VPMOVZXBD   3(R10), X3
	VPMOVZXBD   3(R11), X4
	VINSERTI128 $1, X4, Y3, Y3 // tap 1
	VMOVDQU     (R8), X5       // w0 w1 of each pixel
	VPERMD      Y5, Y9, Y6
	VPERMD      Y5, Y10, Y5
	VPMULLD     Y6, Y1, Y1
	VPMULLD     Y5, Y3, Y3
	VPADDD      Y3, Y1, Y1
	VPADDD      Y8, Y1, Y1
	VPSRAD      $22, Y1, Y1
	VPACKUSDW   Y1, Y1, Y1
	VPACKUSWB   Y1, Y1, Y1
	LEAQ        (BX)(BX*2), R11
	VMOVD        X1, (DI)(R11*1)
	VEXTRACTI128 $1, Y1, X2
	VMOVD        X2, 3(DI)(R11*1)
	ADDQ        $16, R8
	ADDQ        $2, BX
	JMP         h3pair

h3loop:
	CMPQ BX, DX
	JGE  h3done
	MOVLQSX (R12)(BX*4), R10
	LEAQ    (R10)(R10*2), R10
	ADDQ    SI, R10
	VMOVDQA X7, X0
	XORQ    R9, R9

h3tap:
	VPMOVZXBD    (R10), X1
	VPBROADCASTD (R8), X2
	VPMULLD      X2, X1, X1
	VPADDD       X1, X0, X0
	ADDQ         $3, R10
	ADDQ         $4, R8
	INCQ         R9
	CMPQ         R9, CX
	JLT          h3tap

	VPSRAD    $22, X0, X0
	VPACKUSDW X0, X0, X0
	VPACKUSWB X0, X0, X0
	LEAQ      (BX)(BX*2), R11
	VMOVD      X0, (DI)(R11*1)
	INCQ      BX
	JMP       h3loop

h3done:
	VZEROUPPER
	RET

DATA h3Idx0<>+0(SB)/8, $0x0000000000000000
DATA h3Idx0<>+8(SB)/8, $0x0000000000000000
DATA h3Idx0<>+16(SB)/8, $0x0000000200000002
DATA h3Idx0<>+24(SB)/8, $0x0000000200000002
GLOBL h3Idx0<>(SB), RODATA|NOPTR, $32
DATA h3Idx1<>+0(SB)/8, $0x0000000100000001
DATA h3Idx1<>+8(SB)/8, $0x0000000100000001
DATA h3Idx1<>+16(SB)/8, $0x0000000300000003
DATA h3Idx1<>+24(SB)/8, $0x0000000300000003
GLOBL h3Idx1<>(SB), RODATA|NOPTR, $32

DATA satRA<>+0(SB)/8, $0x80800f0c09060300
DATA satRA<>+8(SB)/8, $0x8080808080808080
GLOBL satRA<>(SB), RODATA|NOPTR, $16

DATA satRB<>+0(SB)/8, $0x0d0a808080808080
DATA satRB<>+8(SB)/8, $0x8080808080808080
GLOBL satRB<>(SB), RODATA|NOPTR, $16

DATA satGA<>+0(SB)/8, $0x8080800d0a070401
DATA satGA<>+8(SB)/8, $0x8080808080808080
GLOBL satGA<>(SB), RODATA|NOPTR, $16

DATA satGB<>+0(SB)/8, $0x0e0b088080808080
DATA satGB<>+8(SB)/8, $0x8080808080808080
GLOBL satGB<>(SB), RODATA|NOPTR, $16

DATA satBA<>+0(SB)/8, $0x8080800e0b080502
DATA satBA<>+8(SB)/8, $0x8080808080808080
GLOBL satBA<>(SB), RODATA|NOPTR, $16

DATA satBB<>+0(SB)/8, $0x0f0c098080808080
DATA satBB<>+8(SB)/8, $0x8080808080808080
GLOBL satBB<>(SB), RODATA|NOPTR, $16

DATA satO1RG<>+0(SB)/8, $0x0a02800901800800
DATA satO1RG<>+8(SB)/8, $0x05800c04800b0380
GLOBL satO1RG<>(SB), RODATA|NOPTR, $16

DATA satO1B<>+0(SB)/8, $0x8080018080008080
DATA satO1B<>+8(SB)/8, $0x8004808003808002
GLOBL satO1B<>(SB), RODATA|NOPTR, $16

DATA satO2RG<>+0(SB)/8, $0x800f07800e06800d
DATA satO2RG<>+8(SB)/8, $0x8080808080808080
GLOBL satO2RG<>(SB), RODATA|NOPTR, $16

DATA satO2B<>+0(SB)/8, $0x0780800680800580
DATA satO2B<>+8(SB)/8, $0x8080808080808080
GLOBL satO2B<>(SB), RODATA|NOPTR, $16

// func sat3AVX2(dst, src []uint8, n int, alpha float32)
// PIL's ImageEnhance.Color blend for n RGB pixels (n a multiple of 8):
// L = (19595r + 38470g + 7471b + 0x8000) >> 16, then per channel
// clamp(trunc(float32(L) + float32(alpha·float32(v − L)))). dst may be src.
TEXT ·sat3AVX2(SB), NOSPLIT, $0-60
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ n+48(FP), DX
	VBROADCASTSS alpha+56(FP), Y15
	MOVL $19595, AX
	VMOVD AX, X14
	VPBROADCASTD X14, Y14
	MOVL $38470, AX
	VMOVD AX, X13
	VPBROADCASTD X13, Y13
	MOVL $7471, AX
	VMOVD AX, X12
	VPBROADCASTD X12, Y12
	MOVL $0x8000, AX
	VMOVD AX, X11
	VPBROADCASTD X11, Y11
	MOVL $255, AX
	VMOVD AX, X10
	VPBROADCASTD X10, Y10
	VPXOR Y9, Y9, Y9

satloop:
	CMPQ DX, $0
	JLE  satdone
	VMOVDQU (SI), X0
	VMOVDQU 8(SI), X1
	VPSHUFB satRA<>(SB), X0, X2
	VPSHUFB satRB<>(SB), X1, X3
	VPOR    X3, X2, X2
	VPSHUFB satGA<>(SB), X0, X3
	VPSHUFB satGB<>(SB), X1, X4
	VPOR    X4, X3, X3
	VPSHUFB satBA<>(SB), X0, X4
	VPSHUFB satBB<>(SB), X1, X5
	VPOR    X5, X4, X4
	VPMOVZXBD X2, Y2
	VPMOVZXBD X3, Y3
	VPMOVZXBD X4, Y4

	// L in Y5
	VPMULLD Y14, Y2, Y5
	VPMULLD Y13, Y3, Y6
	VPADDD  Y6, Y5, Y5
	VPMULLD Y12, Y4, Y6
	VPADDD  Y6, Y5, Y5
	VPADDD  Y11, Y5, Y5
	VPSRLD  $16, Y5, Y5
	VCVTDQ2PS Y5, Y6

	// R
	VPSUBD    Y5, Y2, Y7
	VCVTDQ2PS Y7, Y7
	VMULPS    Y15, Y7, Y7
	VADDPS    Y7, Y6, Y7
	VCVTTPS2DQ Y7, Y7
	VPMAXSD   Y9, Y7, Y7
	VPMINSD   Y10, Y7, Y7
	VPACKUSDW Y7, Y7, Y7
	VPERMQ    $0x08, Y7, Y7
	VPACKUSWB X7, X7, X2

	// G
	VPSUBD    Y5, Y3, Y7
	VCVTDQ2PS Y7, Y7
	VMULPS    Y15, Y7, Y7
	VADDPS    Y7, Y6, Y7
	VCVTTPS2DQ Y7, Y7
	VPMAXSD   Y9, Y7, Y7
	VPMINSD   Y10, Y7, Y7
	VPACKUSDW Y7, Y7, Y7
	VPERMQ    $0x08, Y7, Y7
	VPACKUSWB X7, X7, X3

	// B
	VPSUBD    Y5, Y4, Y7
	VCVTDQ2PS Y7, Y7
	VMULPS    Y15, Y7, Y7
	VADDPS    Y7, Y6, Y7
	VCVTTPS2DQ Y7, Y7
	VPMAXSD   Y9, Y7, Y7
	VPMINSD   Y10, Y7, Y7
	VPACKUSDW Y7, Y7, Y7
	VPERMQ    $0x08, Y7, Y7
	VPACKUSWB X7, X7, X4

	// interleave: X2 = R (low 8), X3 = G, X4 = B
	VPUNPCKLQDQ X3, X2, X2
	VPSHUFB satO1RG<>(SB), X2, X5
	VPSHUFB satO1B<>(SB), X4, X6
	VPOR    X6, X5, X5
	VPSHUFB satO2RG<>(SB), X2, X7
	VPSHUFB satO2B<>(SB), X4, X8
	VPOR    X8, X7, X7
	VMOVDQU X5, (DI)
	VMOVQ    X7, 16(DI)

	ADDQ $24, SI
	ADDQ $24, DI
	SUBQ $8, DX
	JMP  satloop

satdone:
	VZEROUPPER
	RET

DATA hueFF<>+0(SB)/4, $255
GLOBL hueFF<>(SB), RODATA|NOPTR, $4
DATA hueC1<>+0(SB)/4, $1
GLOBL hueC1<>(SB), RODATA|NOPTR, $4
DATA hueC2<>+0(SB)/4, $2
GLOBL hueC2<>(SB), RODATA|NOPTR, $4
DATA hueC3<>+0(SB)/4, $3
GLOBL hueC3<>(SB), RODATA|NOPTR, $4
DATA hueC4<>+0(SB)/4, $4
GLOBL hueC4<>(SB), RODATA|NOPTR, $4
DATA hueC5<>+0(SB)/4, $5
GLOBL hueC5<>(SB), RODATA|NOPTR, $4
DATA hueC0<>+0(SB)/4, $0
GLOBL hueC0<>(SB), RODATA|NOPTR, $4
DATA hueC6<>+0(SB)/4, $6
GLOBL hueC6<>(SB), RODATA|NOPTR, $4
DATA hueM193<>+0(SB)/4, $193
GLOBL hueM193<>(SB), RODATA|NOPTR, $4
DATA hue255f<>+0(SB)/4, $0x437f0000
GLOBL hue255f<>(SB), RODATA|NOPTR, $4
DATA hueOne<>+0(SB)/8, $0x3ff0000000000000
GLOBL hueOne<>(SB), RODATA|NOPTR, $8
DATA hueHalf<>+0(SB)/8, $0x3fe0000000000000
GLOBL hueHalf<>(SB), RODATA|NOPTR, $8

// func hue3AVX2(dst, src []uint8, n int, shift int, hue *uint8, satp *uint32)
// PIL's hue rotation (RGB→HSV, hue byte + shift, HSV→RGB) for n RGB pixels,
// n a multiple of 8, with the hue and satp tables of hsvTables gathered
// (hi, hf and fs computed: see TestHueTablesAreArithmetic), and the float
// and double arithmetic of hsvToRGBFast. dst may be src.
TEXT ·hue3AVX2(SB), NOSPLIT, $0-80
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ n+48(FP), DX
	MOVQ shift+56(FP), AX
	MOVQ hue+64(FP), R8
	MOVQ satp+72(FP), R9
	VMOVD AX, X15
	VPBROADCASTD X15, Y15

hueloop:
	CMPQ DX, $0
	JLE  huedone
	// deinterleave 8 pixels into r Y2, g Y3, b Y4
	VMOVDQU (SI), X0
	VMOVDQU 8(SI), X1
	VPSHUFB satRA<>(SB), X0, X2
	VPSHUFB satRB<>(SB), X1, X3
	VPOR    X3, X2, X2
	VPSHUFB satGA<>(SB), X0, X3
	VPSHUFB satGB<>(SB), X1, X4
	VPOR    X4, X3, X3
	VPSHUFB satBA<>(SB), X0, X4
	VPSHUFB satBB<>(SB), X1, X5
	VPOR    X5, X4, X4
	VPMOVZXBD X2, Y2
	VPMOVZXBD X3, Y3
	VPMOVZXBD X4, Y4

	VPMAXSD Y3, Y2, Y5
	VPMAXSD Y4, Y5, Y5 // maxc = v
	VPMINSD Y3, Y2, Y6
	VPMINSD Y4, Y6, Y6 // minc
	VPSUBD  Y6, Y5, Y7 // cr
	VPADDD  Y5, Y5, Y8
	VPADDD  Y6, Y8, Y8
	VPSUBD  Y2, Y8, Y8
	VPSUBD  Y3, Y8, Y8
	VPSUBD  Y4, Y8, Y8 // n = maxc − middle channel
	VPCMPEQD Y4, Y6, Y9  // b == minc
	VPCMPEQD Y2, Y6, Y10 // r == minc
	VPCMPEQD Y2, Y5, Y11 // r == maxc
	VPCMPEQD Y3, Y5, Y12 // g == maxc

	// class k: r max → (b min ? 0 : 1); g max → (b min ? 2 : 3); else (r min ? 5 : 4)
	VPBROADCASTD hueC1<>(SB), Y13
	VPADDD       Y9, Y13, Y2 // kA = 1 + bmin
	VPBROADCASTD hueC2<>(SB), Y13
	VPADDD       Y13, Y2, Y3 // kB = kA + 2
	VPBROADCASTD hueC4<>(SB), Y13
	VPSUBD       Y10, Y13, Y4 // kC = 4 − rmin
	VPBLENDVB    Y12, Y3, Y4, Y4
	VPBLENDVB    Y11, Y2, Y4, Y4 // k

	// hue byte: hue[k<<16 | cr<<8 | n]
	VPSLLD $16, Y4, Y4
	VPSLLD $8, Y7, Y9
	VPOR   Y9, Y4, Y4
	VPOR   Y8, Y4, Y4
	VPCMPEQD   Y13, Y13, Y13
	VPGATHERDD Y13, (R8)(Y4*1), Y2
	VPBROADCASTD hueFF<>(SB), Y14
	VPAND      Y14, Y2, Y2 // hue byte

	// sat | p<<8: satp[cr<<8 | maxc]
	VPOR       Y5, Y9, Y9
	VPCMPEQD   Y13, Y13, Y13
	VPGATHERDD Y13, (R9)(Y9*4), Y3
	VPAND      Y14, Y3, Y10 // sat
	VPSRLD     $8, Y3, Y3   // p

	// gray: cr == 0 or sat == 0
	VPXOR    Y12, Y12, Y12
	VPCMPEQD Y12, Y7, Y11
	VPCMPEQD Y12, Y10, Y8
	VPOR     Y8, Y11, Y11

	// h' = (h + shift) & 255; sector i, fraction f, fs
	// computed, not gathered: i0 = floor(6h'/255) = (193h') >> 13,
	// i = i0 mod 6, f = float32(6h' − 255·i0) / 255 and fs = float32(sat)
	// / 255 in float32 equal hsvTables' hi, hf and fs for every byte
	// (TestHueTablesAreArithmetic).
	VPADDD       Y15, Y2, Y2
	VPAND        Y14, Y2, Y2 // h'
	VPBROADCASTD hueM193<>(SB), Y13
	VPMULLD      Y13, Y2, Y4
	VPSRLD       $13, Y4, Y4 // i0
	VPBROADCASTD hueC6<>(SB), Y13
	VPMULLD      Y13, Y2, Y6 // 6h'
	VPMULLD      Y14, Y4, Y1 // 255·i0
	VPSUBD       Y1, Y6, Y6
	VPCMPEQD     Y13, Y4, Y1
	VPANDN       Y4, Y1, Y4 // i
	VBROADCASTSS hue255f<>(SB), Y0
	VCVTDQ2PS    Y6, Y6
	VDIVPS       Y0, Y6, Y6 // f
	VCVTDQ2PS    Y10, Y7
	VDIVPS       Y0, Y7, Y7 // fs
	VMULPS       Y6, Y7, Y8 // fs·f in float32

	// low 4 lanes: tOdd in X9, tEven in X10
	VBROADCASTSD hueOne<>(SB), Y12
	VCVTPS2PD    X8, Y9
	VSUBPD       Y9, Y12, Y9 // 1 − double(fs·f)
	VCVTPS2PD    X6, Y10
	VSUBPD       Y10, Y12, Y10 // 1 − f
	VCVTPS2PD    X7, Y13
	VMULPD       Y10, Y13, Y10
	VSUBPD       Y10, Y12, Y10 // 1 − fs·(1 − f)
	VCVTDQ2PD    X5, Y13
	VMULPD       Y13, Y9, Y9
	VMULPD       Y13, Y10, Y10
	VBROADCASTSD hueHalf<>(SB), Y14
	VADDPD       Y14, Y9, Y9
	VADDPD       Y14, Y10, Y10
	VCVTTPD2DQY  Y9, X9
	VCVTTPD2DQY  Y10, X10

	// high 4 lanes
	VEXTRACTF128 $1, Y8, X0
	VCVTPS2PD    X0, Y0
	VSUBPD       Y0, Y12, Y0
	VEXTRACTF128 $1, Y6, X1
	VCVTPS2PD    X1, Y1
	VSUBPD       Y1, Y12, Y1
	VEXTRACTF128 $1, Y7, X2
	VCVTPS2PD    X2, Y2
	VMULPD       Y1, Y2, Y1
	VSUBPD       Y1, Y12, Y1
	VEXTRACTI128 $1, Y5, X2
	VCVTDQ2PD    X2, Y2
	VMULPD       Y2, Y0, Y0
	VMULPD       Y2, Y1, Y1
	VADDPD       Y14, Y0, Y0
	VADDPD       Y14, Y1, Y1
	VCVTTPD2DQY  Y0, X0
	VCVTTPD2DQY  Y1, X1
	VINSERTI128  $1, X0, Y9, Y9
	VINSERTI128  $1, X1, Y10, Y10

	// t = odd sector ? tOdd : tEven
	VPBROADCASTD hueC1<>(SB), Y13
	VPAND        Y13, Y4, Y12
	VPCMPEQD     Y13, Y12, Y12
	VPBLENDVB    Y12, Y9, Y10, Y10 // t

	// sector masks e0..e5 in Y0 Y1 Y2 Y6 Y7 Y8
	VPBROADCASTD hueC0<>(SB), Y13
	VPCMPEQD     Y13, Y4, Y0
	VPBROADCASTD hueC1<>(SB), Y13
	VPCMPEQD     Y13, Y4, Y1
	VPBROADCASTD hueC2<>(SB), Y13
	VPCMPEQD     Y13, Y4, Y2
	VPBROADCASTD hueC3<>(SB), Y13
	VPCMPEQD     Y13, Y4, Y6
	VPBROADCASTD hueC4<>(SB), Y13
	VPCMPEQD     Y13, Y4, Y7
	VPBROADCASTD hueC5<>(SB), Y13
	VPCMPEQD     Y13, Y4, Y8

	// R: v in 0,5; t in 1,4; p in 2,3
	VPOR      Y1, Y7, Y9
	VPBLENDVB Y9, Y10, Y3, Y12
	VPOR      Y0, Y8, Y9
	VPBLENDVB Y9, Y5, Y12, Y12
	// G: v in 1,2; t in 0,3; p in 4,5
	VPOR      Y0, Y6, Y9
	VPBLENDVB Y9, Y10, Y3, Y13
	VPOR      Y1, Y2, Y9
	VPBLENDVB Y9, Y5, Y13, Y13
	// B: v in 3,4; t in 2,5; p in 0,1
	VPOR      Y2, Y8, Y9
	VPBLENDVB Y9, Y10, Y3, Y14
	VPOR      Y6, Y7, Y9
	VPBLENDVB Y9, Y5, Y14, Y14
	// gray pixels: v, v, v
	VPBLENDVB Y11, Y5, Y12, Y12
	VPBLENDVB Y11, Y5, Y13, Y13
	VPBLENDVB Y11, Y5, Y14, Y14

	// pack and interleave
	VPACKUSDW Y12, Y12, Y12
	VPERMQ    $0x08, Y12, Y12
	VPACKUSWB X12, X12, X2
	VPACKUSDW Y13, Y13, Y13
	VPERMQ    $0x08, Y13, Y13
	VPACKUSWB X13, X13, X3
	VPACKUSDW Y14, Y14, Y14
	VPERMQ    $0x08, Y14, Y14
	VPACKUSWB X14, X14, X4
	VPUNPCKLQDQ X3, X2, X2
	VPSHUFB satO1RG<>(SB), X2, X5
	VPSHUFB satO1B<>(SB), X4, X6
	VPOR    X6, X5, X5
	VPSHUFB satO2RG<>(SB), X2, X7
	VPSHUFB satO2B<>(SB), X4, X8
	VPOR    X8, X7, X7
	VMOVDQU X5, (DI)
	VMOVQ    X7, 16(DI)

	ADDQ $24, SI
	ADDQ $24, DI
	SUBQ $8, DX
	JMP  hueloop

huedone:
	VZEROUPPER
	RET

// func lumaSumAVX2(src []uint8, n int) uint64
// Σ PIL luma (19595r + 38470g + 7471b + 0x8000) >> 16 over n RGB pixels, n a
// multiple of 8 and at most 8·2^23 (the int32 lane sums cannot overflow).
TEXT ·lumaSumAVX2(SB), NOSPLIT, $0-40
	MOVQ src_base+0(FP), SI
	MOVQ n+24(FP), DX
	MOVL $19595, AX
	VMOVD AX, X14
	VPBROADCASTD X14, Y14
	MOVL $38470, AX
	VMOVD AX, X13
	VPBROADCASTD X13, Y13
	MOVL $7471, AX
	VMOVD AX, X12
	VPBROADCASTD X12, Y12
	MOVL $0x8000, AX
	VMOVD AX, X11
	VPBROADCASTD X11, Y11
	VPXOR Y10, Y10, Y10

lsloop:
	CMPQ DX, $0
	JLE  lsdone
	VMOVDQU (SI), X0
	VMOVDQU 8(SI), X1
	VPSHUFB satRA<>(SB), X0, X2
	VPSHUFB satRB<>(SB), X1, X3
	VPOR    X3, X2, X2
	VPSHUFB satGA<>(SB), X0, X3
	VPSHUFB satGB<>(SB), X1, X4
	VPOR    X4, X3, X3
	VPSHUFB satBA<>(SB), X0, X4
	VPSHUFB satBB<>(SB), X1, X5
	VPOR    X5, X4, X4
	VPMOVZXBD X2, Y2
	VPMOVZXBD X3, Y3
	VPMOVZXBD X4, Y4
	VPMULLD Y14, Y2, Y5
	VPMULLD Y13, Y3, Y6
	VPADDD  Y6, Y5, Y5
	VPMULLD Y12, Y4, Y6
	VPADDD  Y6, Y5, Y5
	VPADDD  Y11, Y5, Y5
	VPSRLD  $16, Y5, Y5
	VPADDD  Y5, Y10, Y10
	ADDQ $24, SI
	SUBQ $8, DX
	JMP  lsloop

lsdone:
	VEXTRACTI128 $1, Y10, X1
	VPADDD       X1, X10, X10
	VPSHUFD      $0x4e, X10, X1
	VPADDD       X1, X10, X10
	VPSHUFD      $0xb1, X10, X1
	VPADDD       X1, X10, X10
	VMOVD         X10, AX
	MOVQ         AX, ret+32(FP)
	VZEROUPPER
	RET
