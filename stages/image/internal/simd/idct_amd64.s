//go:build amd64 && !purego

#include "textflag.h"

// func IDCT(dst *uint8, stride int, coef, q *int16)
//
// libjpeg-turbo's jsimd_idct_islow_avx2 (simd/x86_64/jidctint-avx2.asm)
// rewritten for the Go assembler, instruction for instruction, so that it
// gives its results bit for bit, overflow behaviour included: the 64
// quantised coefficients (natural order) are dequantised by 16-bit products
// (VPMULLW), pass 1 transforms the columns with pairs of 16-bit inputs
// multiplied by VPMADDWD and packs them to 16 bits with saturation, pass 2
// the rows, and the samples are saturated to 0..255. Blocks whose rows 1-7
// are all zero take the pass-1 shortcut (the column outputs are DC << 2).
// Each register holds two rows or columns, one per 128-bit lane.

// DODCT is the macro dodct of jidctint-avx2.asm: a 1-D islow IDCT of the
// eight vectors in r1..r4 (r1 = in0_4, r2 = in3_1, r3 = in2_6, r4 = in7_5),
// temporaries t5..t12; the results are r1 = data0_1, r2 = data3_2,
// r3 = data4_5, r4 = data7_6. rnd is the descaling constant's register,
// sh the shift.
#define DODCT(r1, r2, r3, r4, t5, t6, t7, t8, t9, t10, t11, t12, rnd, sh) \
	VPERM2I128 $0x01, r3, r3, t6; \
	VPUNPCKLWD t6, r3, t5; \
	VPUNPCKHWD t6, r3, t6; \
	VPMADDWD   idctF130F054<>(SB), t5, t5; \
	VPMADDWD   idctF130F054<>(SB), t6, t6; \
	VPERM2I128 $0x01, r1, r1, t7; \
	VPSIGNW    idctOneNeg<>(SB), r1, r1; \
	VPADDW     r1, t7, t7; \
	VPXOR      r1, r1, r1; \
	VPUNPCKLWD t7, r1, t8; \
	VPUNPCKHWD t7, r1, r1; \
	VPSRAD     $3, t8, t8; \
	VPSRAD     $3, r1, r1; \
	VPSUBD     t5, t8, t11; \
	VPADDD     t5, t8, t9; \
	VPSUBD     t6, r1, t12; \
	VPADDD     t6, r1, t10; \
	VPADDW     r2, r4, r1; \
	VPERM2I128 $0x01, r1, r1, t8; \
	VPUNPCKLWD t8, r1, t7; \
	VPUNPCKHWD t8, r1, t8; \
	VPMADDWD   idctMF078F117<>(SB), t7, t7; \
	VPMADDWD   idctMF078F117<>(SB), t8, t8; \
	VPERM2I128 $0x01, r2, r2, r2; \
	VPUNPCKLWD r2, r4, r3; \
	VPUNPCKHWD r2, r4, r4; \
	VPMADDWD   idctMF060MF089<>(SB), r3, t5; \
	VPMADDWD   idctMF060MF089<>(SB), r4, t6; \
	VPADDD     t7, t5, t5; \
	VPADDD     t8, t6, t6; \
	VPMADDWD   idctMF089F060<>(SB), r3, r3; \
	VPMADDWD   idctMF089F060<>(SB), r4, r4; \
	VPERM2I128 $0x01, t7, t7, t7; \
	VPERM2I128 $0x01, t8, t8, t8; \
	VPADDD     t7, r3, t7; \
	VPADDD     t8, r4, t8; \
	VPADDD     t7, t9, r1; \
	VPADDD     t8, t10, r2; \
	VPADDD     rnd, r1, r1; \
	VPADDD     rnd, r2, r2; \
	VPSRAD     $sh, r1, r1; \
	VPSRAD     $sh, r2, r2; \
	VPACKSSDW  r2, r1, r1; \
	VPSUBD     t7, t9, r3; \
	VPSUBD     t8, t10, r4; \
	VPADDD     rnd, r3, r3; \
	VPADDD     rnd, r4, r4; \
	VPSRAD     $sh, r3, r3; \
	VPSRAD     $sh, r4, r4; \
	VPACKSSDW  r4, r3, r4; \
	VPADDD     t5, t11, t7; \
	VPADDD     t6, t12, t8; \
	VPADDD     rnd, t7, t7; \
	VPADDD     rnd, t8, t8; \
	VPSRAD     $sh, t7, t7; \
	VPSRAD     $sh, t8, t8; \
	VPACKSSDW  t8, t7, r2; \
	VPSUBD     t5, t11, t7; \
	VPSUBD     t6, t12, t8; \
	VPADDD     rnd, t7, t7; \
	VPADDD     rnd, t8, t8; \
	VPSRAD     $sh, t7, t7; \
	VPSRAD     $sh, t8, t8; \
	VPACKSSDW  t8, t7, r3

// TRANSPOSE is the macro dotranspose: an in-place 8×8 transpose of 16-bit
// values held as (0,4) (1,5) (2,6) (3,7) row pairs... of the four
// registers r1..r4, temporaries t5..t8.
#define TRANSPOSE(r1, r2, r3, r4, t5, t6, t7, t8) \
	VPERMQ      $0xD8, r1, t5; \
	VPERMQ      $0x72, r2, t6; \
	VPERMQ      $0xD8, r3, t7; \
	VPERMQ      $0x72, r4, t8; \
	VPUNPCKLWD  t6, t5, r1; \
	VPUNPCKHWD  t6, t5, r2; \
	VPUNPCKLWD  t8, t7, r3; \
	VPUNPCKHWD  t8, t7, r4; \
	VPUNPCKLWD  r2, r1, t5; \
	VPUNPCKLWD  r4, r3, t6; \
	VPUNPCKHWD  r2, r1, t7; \
	VPUNPCKHWD  r4, r3, t8; \
	VPUNPCKLQDQ t6, t5, r1; \
	VPUNPCKHQDQ t6, t5, r2; \
	VPUNPCKLQDQ t8, t7, r3; \
	VPUNPCKHQDQ t8, t7, r4

TEXT ·IDCT(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ stride+8(FP), BX
	MOVQ coef+16(FP), SI
	MOVQ q+24(FP), DX

	// ---- Pass 1: columns. Shortcut when rows 1-7 are all zero.
	MOVL 16(SI), AX
	ORL  32(SI), AX
	JNZ  columnDCT
	VMOVDQU 16(SI), X0
	VMOVDQU 32(SI), X1
	VPOR    48(SI), X0, X0
	VPOR    64(SI), X1, X1
	VPOR    80(SI), X0, X0
	VPOR    96(SI), X1, X1
	VPOR    112(SI), X0, X0
	VPOR    X0, X1, X1
	VPTEST  X1, X1
	JNZ     columnDCT

	VMOVDQU     (SI), X5
	VPMULLW     (DX), X5, X5
	VPSLLW      $2, X5, X5
	VPUNPCKLWD  X5, X5, X4
	VPUNPCKHWD  X5, X5, X5
	VINSERTI128 $1, X5, Y4, Y4
	VPSHUFD     $0x00, Y4, Y0
	VPSHUFD     $0x55, Y4, Y1
	VPSHUFD     $0xAA, Y4, Y2
	VPSHUFD     $0xFF, Y4, Y3
	JMP         columnEnd

columnDCT:
	VMOVDQU (SI), Y4   // in0_1
	VMOVDQU 32(SI), Y5 // in2_3
	VMOVDQU 64(SI), Y6 // in4_5
	VMOVDQU 96(SI), Y7 // in6_7
	VPMULLW (DX), Y4, Y4
	VPMULLW 32(DX), Y5, Y5
	VPMULLW 64(DX), Y6, Y6
	VPMULLW 96(DX), Y7, Y7
	VPERM2I128 $0x20, Y6, Y4, Y0 // in0_4
	VPERM2I128 $0x31, Y4, Y5, Y1 // in3_1
	VPERM2I128 $0x20, Y7, Y5, Y2 // in2_6
	VPERM2I128 $0x31, Y6, Y7, Y3 // in7_5
	VPBROADCASTD idctRnd1<>(SB), Y15
	DODCT(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y15, 11)
	// Y0 = data0_1, Y1 = data3_2, Y2 = data4_5, Y3 = data7_6
	TRANSPOSE(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7)
	// Y0 = data0_4, Y1 = data1_5, Y2 = data2_6, Y3 = data3_7

columnEnd:
	// ---- Pass 2: rows.
	VPERM2I128 $0x31, Y1, Y3, Y4 // in7_5
	VPERM2I128 $0x20, Y1, Y3, Y1 // in3_1
	VPBROADCASTD idctRnd2<>(SB), Y15
	DODCT(Y0, Y1, Y2, Y4, Y3, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y15, 18)
	TRANSPOSE(Y0, Y1, Y2, Y4, Y3, Y5, Y6, Y7)
	// Y0 = rows 0 | 4, Y1 = rows 1 | 5, Y2 = rows 2 | 6, Y4 = rows 3 | 7

	VPACKSSWB Y1, Y0, Y0 // rows 0 1 | 4 5
	VPACKSSWB Y4, Y2, Y1 // rows 2 3 | 6 7
	VPBROADCASTD idctCenter<>(SB), Y15
	VPADDB    Y15, Y0, Y0
	VPADDB    Y15, Y1, Y1

	VMOVQ   X0, (DI)
	VPEXTRQ $1, X0, (DI)(BX*1)
	LEAQ    (DI)(BX*2), DI
	VMOVQ   X1, (DI)
	VPEXTRQ $1, X1, (DI)(BX*1)
	LEAQ    (DI)(BX*2), DI
	VEXTRACTI128 $1, Y0, X0
	VEXTRACTI128 $1, Y1, X1
	VMOVQ   X0, (DI)
	VPEXTRQ $1, X0, (DI)(BX*1)
	LEAQ    (DI)(BX*2), DI
	VMOVQ   X1, (DI)
	VPEXTRQ $1, X1, (DI)(BX*1)
	VZEROUPPER
	RET

// Constants (jconst_idct_islow_avx2): word pairs for VPMADDWD, low lane
// then high lane.
#define F_0_298 2446
#define F_0_390 3196
#define F_0_541 4433
#define F_0_765 6270
#define F_0_899 7373
#define F_1_175 9633
#define F_1_501 12299
#define F_1_847 15137
#define F_1_961 16069
#define F_2_053 16819
#define F_2_562 20995
#define F_3_072 25172

#define PAIRS(name, off, a, b) \
	DATA name+(off+0)(SB)/2, $(a); \
	DATA name+(off+2)(SB)/2, $(b); \
	DATA name+(off+4)(SB)/2, $(a); \
	DATA name+(off+6)(SB)/2, $(b); \
	DATA name+(off+8)(SB)/2, $(a); \
	DATA name+(off+10)(SB)/2, $(b); \
	DATA name+(off+12)(SB)/2, $(a); \
	DATA name+(off+14)(SB)/2, $(b)

PAIRS(idctF130F054<>, 0, F_0_541+F_0_765, F_0_541)
PAIRS(idctF130F054<>, 16, F_0_541-F_1_847, F_0_541)
GLOBL idctF130F054<>(SB), RODATA|NOPTR, $32
PAIRS(idctMF078F117<>, 0, F_1_175-F_1_961, F_1_175)
PAIRS(idctMF078F117<>, 16, F_1_175-F_0_390, F_1_175)
GLOBL idctMF078F117<>(SB), RODATA|NOPTR, $32
PAIRS(idctMF060MF089<>, 0, F_0_298-F_0_899, -F_0_899)
PAIRS(idctMF060MF089<>, 16, F_2_053-F_2_562, -F_2_562)
GLOBL idctMF060MF089<>(SB), RODATA|NOPTR, $32
PAIRS(idctMF089F060<>, 0, -F_0_899, F_1_501-F_0_899)
PAIRS(idctMF089F060<>, 16, -F_2_562, F_3_072-F_2_562)
GLOBL idctMF089F060<>(SB), RODATA|NOPTR, $32
PAIRS(idctOneNeg<>, 0, 1, 1)
PAIRS(idctOneNeg<>, 16, -1, -1)
GLOBL idctOneNeg<>(SB), RODATA|NOPTR, $32

DATA idctRnd1<>+0(SB)/4, $(1<<10)
GLOBL idctRnd1<>(SB), RODATA|NOPTR, $4
DATA idctRnd2<>+0(SB)/4, $(1<<17)
GLOBL idctRnd2<>(SB), RODATA|NOPTR, $4
DATA idctCenter<>+0(SB)/4, $0x80808080
GLOBL idctCenter<>(SB), RODATA|NOPTR, $4
