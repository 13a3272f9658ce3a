//go:build amd64 && !purego

#include "textflag.h"

// The islow IDCT of package image (jpeg_idct.go, idctGo) in int32 lanes,
// AVX2, one block per call. Every lane computes exactly what idctGo
// computes with Go's int32 arithmetic: additions, VPMULLD products and
// left shifts wrap as int32 does, VPSRAD is >>, so the two agree on every
// input, blocks that overflow included. Layout:
//
//   - dequantisation: each 32-byte load of coef holds two rows; VPMADDWD
//     against q masked to its even (odd) words gives the even (odd)
//     columns' products in int32, and VPERM2I128 makes row vectors whose
//     lanes are the columns in the order 0 2 4 6 1 3 5 7;
//   - pass 1 (columns): the 1-D transform across the eight row registers;
//   - an 8×8 dword transpose (unpack dwords, unpack qwords, swap halves),
//     which also undoes the column order by its choice of registers;
//   - pass 2 (rows): the same transform, now across column registers;
//   - output: outputs j (lanes = rows) saturated to int16, then to int8,
//     +128 as XOR 0x80, each lane's 4×4 byte block transposed by VPSHUFB
//     and rows paired by VPUNPCK[LH]DQ; 8 bytes stored per row.
//
// A block whose 63 AC terms are all zero takes a scalar path that computes
// the one value the two passes give it.

// IDCTPASS is the 1-D islow transform of x0..x7 in Y0..Y7 (libjpeg's
// jidctint.c arithmetic; the rounding term rnd is added once to tmp0 and
// tmp1, which every output contains once), descaled by sh. Outputs 0..7
// end in Y11 Y13 Y15 Y9 Y4 Y10 Y14 Y12; Y0-Y3, Y5-Y8 are free after it.
#define IDCTPASS(rnd, sh) \
	VPADDD  Y1, Y7, Y8; \
	VPADDD  Y3, Y5, Y9; \
	VPADDD  Y3, Y7, Y10; \
	VPADDD  Y1, Y5, Y11; \
	VPADDD  Y11, Y10, Y12; \
	VPMULLD idctk1175<>(SB), Y12, Y12; \
	VPMULLD idctk0298<>(SB), Y7, Y7; \
	VPMULLD idctk2053<>(SB), Y5, Y5; \
	VPMULLD idctk3072<>(SB), Y3, Y3; \
	VPMULLD idctk1501<>(SB), Y1, Y1; \
	VPMULLD idctkm0899<>(SB), Y8, Y8; \
	VPMULLD idctkm2562<>(SB), Y9, Y9; \
	VPMULLD idctkm1961<>(SB), Y10, Y10; \
	VPMULLD idctkm0390<>(SB), Y11, Y11; \
	VPADDD  Y12, Y10, Y10; \
	VPADDD  Y12, Y11, Y11; \
	VPADDD  Y8, Y7, Y7; \
	VPADDD  Y10, Y7, Y7; \
	VPADDD  Y9, Y5, Y5; \
	VPADDD  Y11, Y5, Y5; \
	VPADDD  Y9, Y3, Y3; \
	VPADDD  Y10, Y3, Y3; \
	VPADDD  Y8, Y1, Y1; \
	VPADDD  Y11, Y1, Y1; \
	VPADDD  Y6, Y2, Y8; \
	VPMULLD idctk0541<>(SB), Y8, Y8; \
	VPMULLD idctkm1847<>(SB), Y6, Y6; \
	VPADDD  Y8, Y6, Y6; \
	VPMULLD idctk0765<>(SB), Y2, Y2; \
	VPADDD  Y8, Y2, Y2; \
	VPADDD  Y4, Y0, Y9; \
	VPSUBD  Y4, Y0, Y10; \
	VPSLLD  $13, Y9, Y9; \
	VPSLLD  $13, Y10, Y10; \
	VPADDD  rnd, Y9, Y9; \
	VPADDD  rnd, Y10, Y10; \
	VPADDD  Y2, Y9, Y0; \
	VPSUBD  Y2, Y9, Y4; \
	VPADDD  Y6, Y10, Y9; \
	VPSUBD  Y6, Y10, Y10; \
	VPADDD  Y1, Y0, Y11; \
	VPSUBD  Y1, Y0, Y12; \
	VPADDD  Y3, Y9, Y13; \
	VPSUBD  Y3, Y9, Y14; \
	VPADDD  Y5, Y10, Y15; \
	VPSUBD  Y5, Y10, Y10; \
	VPADDD  Y7, Y4, Y9; \
	VPSUBD  Y7, Y4, Y4; \
	VPSRAD  $sh, Y11, Y11; \
	VPSRAD  $sh, Y13, Y13; \
	VPSRAD  $sh, Y15, Y15; \
	VPSRAD  $sh, Y9, Y9; \
	VPSRAD  $sh, Y4, Y4; \
	VPSRAD  $sh, Y10, Y10; \
	VPSRAD  $sh, Y14, Y14; \
	VPSRAD  $sh, Y12, Y12

// DEQUANT makes rows 2j and 2j+1 (into ra, rb) from the two coefficient
// rows in c; Y13 holds 0x0000ffff in every dword.
#define DEQUANT(off, c, ra, rb) \
	VMOVDQU    off(DX), Y14; \
	VPAND      Y13, Y14, Y15; \
	VPANDN     Y14, Y13, Y14; \
	VPMADDWD   Y15, c, Y15; \
	VPMADDWD   Y14, c, Y14; \
	VPERM2I128 $0x20, Y14, Y15, ra; \
	VPERM2I128 $0x31, Y14, Y15, rb

// func IDCT(dst *uint8, stride int, coef, q *int16)
TEXT ·IDCT(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ stride+8(FP), BX
	MOVQ coef+16(FP), SI
	MOVQ q+24(FP), DX
	LEAQ (BX)(BX*2), R8

	VMOVDQU (SI), Y8
	VMOVDQU 32(SI), Y9
	VMOVDQU 64(SI), Y10
	VMOVDQU 96(SI), Y11
	VPAND   idctACMask<>(SB), Y8, Y12 // all but the DC
	VPOR    Y9, Y12, Y12
	VPOR    Y10, Y12, Y12
	VPOR    Y11, Y12, Y12
	VPTEST  Y12, Y12
	JEQ     dconly

	VPCMPEQD Y13, Y13, Y13
	VPSRLD   $16, Y13, Y13
	DEQUANT(0, Y8, Y0, Y1)
	DEQUANT(32, Y9, Y2, Y3)
	DEQUANT(64, Y10, Y4, Y5)
	DEQUANT(96, Y11, Y6, Y7)

	IDCTPASS(idctkRnd1<>(SB), 11)

	// Transpose: rows 0..7 are in Y11 Y13 Y15 Y9 Y4 Y10 Y14 Y12, their
	// lane k holding column p(k), p = 0 2 4 6 1 3 5 7.
	VPUNPCKLDQ Y13, Y11, Y0
	VPUNPCKHDQ Y13, Y11, Y1
	VPUNPCKLDQ Y9, Y15, Y2
	VPUNPCKHDQ Y9, Y15, Y3
	VPUNPCKLDQ Y10, Y4, Y5
	VPUNPCKHDQ Y10, Y4, Y6
	VPUNPCKLDQ Y12, Y14, Y7
	VPUNPCKHDQ Y12, Y14, Y8
	VPUNPCKLQDQ Y2, Y0, Y11 // lanes 0|4 of rows 0-3
	VPUNPCKHQDQ Y2, Y0, Y13 // 1|5
	VPUNPCKLQDQ Y3, Y1, Y15 // 2|6
	VPUNPCKHQDQ Y3, Y1, Y9  // 3|7
	VPUNPCKLQDQ Y7, Y5, Y4  // lanes 0|4 of rows 4-7
	VPUNPCKHQDQ Y7, Y5, Y10 // 1|5
	VPUNPCKLQDQ Y8, Y6, Y14 // 2|6
	VPUNPCKHQDQ Y8, Y6, Y12 // 3|7
	VPERM2I128  $0x20, Y4, Y11, Y0  // lane 0: column 0
	VPERM2I128  $0x31, Y4, Y11, Y1  // lane 4: column 1
	VPERM2I128  $0x20, Y10, Y13, Y2 // lane 1: column 2
	VPERM2I128  $0x31, Y10, Y13, Y3 // lane 5: column 3
	VPERM2I128  $0x20, Y14, Y15, Y4 // lane 2: column 4
	VPERM2I128  $0x31, Y14, Y15, Y5 // lane 6: column 5
	VPERM2I128  $0x20, Y12, Y9, Y6  // lane 3: column 6
	VPERM2I128  $0x31, Y12, Y9, Y7  // lane 7: column 7

	IDCTPASS(idctkRnd2<>(SB), 18)

	// Outputs 0..7 (lanes = rows) are in Y11 Y13 Y15 Y9 Y4 Y10 Y14 Y12.
	VPACKSSDW  Y13, Y11, Y0 // 0,1 of rows 0-3 | rows 4-7
	VPACKSSDW  Y9, Y15, Y1  // 2,3
	VPACKSSDW  Y10, Y4, Y2  // 4,5
	VPACKSSDW  Y12, Y14, Y3 // 6,7
	VPACKSSWB  Y1, Y0, Y0   // byte 4j+r: output j of row r (r = 0-3 | 4-7)
	VPACKSSWB  Y3, Y2, Y2   // the same for outputs 4-7
	VPXOR      idctk80<>(SB), Y0, Y0
	VPXOR      idctk80<>(SB), Y2, Y2
	VPSHUFB    idctTr4<>(SB), Y0, Y0 // dword r: outputs 0-3 of row r
	VPSHUFB    idctTr4<>(SB), Y2, Y2 // outputs 4-7
	VPUNPCKLDQ Y2, Y0, Y1            // rows 0, 1 | 4, 5
	VPUNPCKHDQ Y2, Y0, Y3            // rows 2, 3 | 6, 7
	VMOVQ      X1, (DI)
	VPEXTRQ    $1, X1, (DI)(BX*1)
	VMOVQ      X3, (DI)(BX*2)
	VPEXTRQ    $1, X3, (DI)(R8*1)
	LEAQ       (DI)(BX*4), DI
	VEXTRACTI128 $1, Y1, X1
	VEXTRACTI128 $1, Y3, X3
	VMOVQ      X1, (DI)
	VPEXTRQ    $1, X1, (DI)(BX*1)
	VMOVQ      X3, (DI)(BX*2)
	VPEXTRQ    $1, X3, (DI)(R8*1)
	VZEROUPPER
	RET

dconly:
	// Pass 1 gives column 0 (in0<<13 + 1<<10) >> 11 in every row, the
	// other columns 0; pass 2 gives every sample (w<<13 + 1<<17) >> 18.
	VZEROUPPER
	MOVWLSX (SI), AX
	MOVWLSX (DX), CX
	IMULL   CX, AX
	SHLL    $13, AX
	ADDL    $(1<<10), AX
	SARL    $11, AX
	SHLL    $13, AX
	ADDL    $(1<<17), AX
	SARL    $18, AX
	ADDL    $128, AX
	XORL    CX, CX
	CMPL    AX, CX
	CMOVLLT CX, AX
	MOVL    $255, CX
	CMPL    AX, CX
	CMOVLGT CX, AX
	MOVQ    $0x0101010101010101, CX
	IMULQ   CX, AX
	MOVQ    AX, (DI)
	MOVQ    AX, (DI)(BX*1)
	MOVQ    AX, (DI)(BX*2)
	MOVQ    AX, (DI)(R8*1)
	LEAQ    (DI)(BX*4), DI
	MOVQ    AX, (DI)
	MOVQ    AX, (DI)(BX*1)
	MOVQ    AX, (DI)(BX*2)
	MOVQ    AX, (DI)(R8*1)
	RET

DATA idctk0541<>+0(SB)/8, $0x0000115100001151
DATA idctk0541<>+8(SB)/8, $0x0000115100001151
DATA idctk0541<>+16(SB)/8, $0x0000115100001151
DATA idctk0541<>+24(SB)/8, $0x0000115100001151
GLOBL idctk0541<>(SB), RODATA|NOPTR, $32

DATA idctkm1847<>+0(SB)/8, $0xffffc4dfffffc4df
DATA idctkm1847<>+8(SB)/8, $0xffffc4dfffffc4df
DATA idctkm1847<>+16(SB)/8, $0xffffc4dfffffc4df
DATA idctkm1847<>+24(SB)/8, $0xffffc4dfffffc4df
GLOBL idctkm1847<>(SB), RODATA|NOPTR, $32

DATA idctk0765<>+0(SB)/8, $0x0000187e0000187e
DATA idctk0765<>+8(SB)/8, $0x0000187e0000187e
DATA idctk0765<>+16(SB)/8, $0x0000187e0000187e
DATA idctk0765<>+24(SB)/8, $0x0000187e0000187e
GLOBL idctk0765<>(SB), RODATA|NOPTR, $32

DATA idctk1175<>+0(SB)/8, $0x000025a1000025a1
DATA idctk1175<>+8(SB)/8, $0x000025a1000025a1
DATA idctk1175<>+16(SB)/8, $0x000025a1000025a1
DATA idctk1175<>+24(SB)/8, $0x000025a1000025a1
GLOBL idctk1175<>(SB), RODATA|NOPTR, $32

DATA idctk0298<>+0(SB)/8, $0x0000098e0000098e
DATA idctk0298<>+8(SB)/8, $0x0000098e0000098e
DATA idctk0298<>+16(SB)/8, $0x0000098e0000098e
DATA idctk0298<>+24(SB)/8, $0x0000098e0000098e
GLOBL idctk0298<>(SB), RODATA|NOPTR, $32

DATA idctk2053<>+0(SB)/8, $0x000041b3000041b3
DATA idctk2053<>+8(SB)/8, $0x000041b3000041b3
DATA idctk2053<>+16(SB)/8, $0x000041b3000041b3
DATA idctk2053<>+24(SB)/8, $0x000041b3000041b3
GLOBL idctk2053<>(SB), RODATA|NOPTR, $32

DATA idctk3072<>+0(SB)/8, $0x0000625400006254
DATA idctk3072<>+8(SB)/8, $0x0000625400006254
DATA idctk3072<>+16(SB)/8, $0x0000625400006254
DATA idctk3072<>+24(SB)/8, $0x0000625400006254
GLOBL idctk3072<>(SB), RODATA|NOPTR, $32

DATA idctk1501<>+0(SB)/8, $0x0000300b0000300b
DATA idctk1501<>+8(SB)/8, $0x0000300b0000300b
DATA idctk1501<>+16(SB)/8, $0x0000300b0000300b
DATA idctk1501<>+24(SB)/8, $0x0000300b0000300b
GLOBL idctk1501<>(SB), RODATA|NOPTR, $32

DATA idctkm0899<>+0(SB)/8, $0xffffe333ffffe333
DATA idctkm0899<>+8(SB)/8, $0xffffe333ffffe333
DATA idctkm0899<>+16(SB)/8, $0xffffe333ffffe333
DATA idctkm0899<>+24(SB)/8, $0xffffe333ffffe333
GLOBL idctkm0899<>(SB), RODATA|NOPTR, $32

DATA idctkm2562<>+0(SB)/8, $0xffffadfdffffadfd
DATA idctkm2562<>+8(SB)/8, $0xffffadfdffffadfd
DATA idctkm2562<>+16(SB)/8, $0xffffadfdffffadfd
DATA idctkm2562<>+24(SB)/8, $0xffffadfdffffadfd
GLOBL idctkm2562<>(SB), RODATA|NOPTR, $32

DATA idctkm1961<>+0(SB)/8, $0xffffc13bffffc13b
DATA idctkm1961<>+8(SB)/8, $0xffffc13bffffc13b
DATA idctkm1961<>+16(SB)/8, $0xffffc13bffffc13b
DATA idctkm1961<>+24(SB)/8, $0xffffc13bffffc13b
GLOBL idctkm1961<>(SB), RODATA|NOPTR, $32

DATA idctkm0390<>+0(SB)/8, $0xfffff384fffff384
DATA idctkm0390<>+8(SB)/8, $0xfffff384fffff384
DATA idctkm0390<>+16(SB)/8, $0xfffff384fffff384
DATA idctkm0390<>+24(SB)/8, $0xfffff384fffff384
GLOBL idctkm0390<>(SB), RODATA|NOPTR, $32

DATA idctkRnd1<>+0(SB)/8, $0x0000040000000400
DATA idctkRnd1<>+8(SB)/8, $0x0000040000000400
DATA idctkRnd1<>+16(SB)/8, $0x0000040000000400
DATA idctkRnd1<>+24(SB)/8, $0x0000040000000400
GLOBL idctkRnd1<>(SB), RODATA|NOPTR, $32

DATA idctkRnd2<>+0(SB)/8, $0x0002000000020000
DATA idctkRnd2<>+8(SB)/8, $0x0002000000020000
DATA idctkRnd2<>+16(SB)/8, $0x0002000000020000
DATA idctkRnd2<>+24(SB)/8, $0x0002000000020000
GLOBL idctkRnd2<>(SB), RODATA|NOPTR, $32

DATA idctk80<>+0(SB)/8, $0x8080808080808080
DATA idctk80<>+8(SB)/8, $0x8080808080808080
DATA idctk80<>+16(SB)/8, $0x8080808080808080
DATA idctk80<>+24(SB)/8, $0x8080808080808080
GLOBL idctk80<>(SB), RODATA|NOPTR, $32

DATA idctTr4<>+0(SB)/8, $0x0d0905010c080400
DATA idctTr4<>+8(SB)/8, $0x0f0b07030e0a0602
DATA idctTr4<>+16(SB)/8, $0x0d0905010c080400
DATA idctTr4<>+24(SB)/8, $0x0f0b07030e0a0602
GLOBL idctTr4<>(SB), RODATA|NOPTR, $32

DATA idctACMask<>+0(SB)/8, $0xffffffffffff0000
DATA idctACMask<>+8(SB)/8, $0xffffffffffffffff
DATA idctACMask<>+16(SB)/8, $0xffffffffffffffff
DATA idctACMask<>+24(SB)/8, $0xffffffffffffffff
GLOBL idctACMask<>(SB), RODATA|NOPTR, $32
