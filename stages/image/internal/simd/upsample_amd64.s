//go:build amd64 && !purego

#include "textflag.h"

// func FancyH2V2(d, a, b *uint8, blocks int)
// libjpeg's h2v2 fancy upsampling (jdsample.c h2v2_fancy_upsample) of one
// output row from the nearer chroma row a and the farther row b, for
// blocks×16 chroma columns c (AVX2): with cs = 3a + b,
// d[2c] = (3cs[c] + cs[c-1] + 8) >> 4, d[2c+1] = (3cs[c] + cs[c+1] + 7) >> 4.
// a and b point at column c-1 of the first column (18 + 16(blocks-1)
// bytes are read), d at output 2c.
TEXT ·FancyH2V2(SB), NOSPLIT, $0-32
	MOVQ d+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ blocks+24(FP), CX
	VPBROADCASTW upW8<>(SB), Y14
	VPBROADCASTW upW7<>(SB), Y15

h2v2loop:
	VPMOVZXBW (SI), Y0  // a[c-1]
	VPMOVZXBW 1(SI), Y1 // a[c]
	VPMOVZXBW 2(SI), Y2 // a[c+1]
	VPMOVZXBW (DX), Y3
	VPMOVZXBW 1(DX), Y4
	VPMOVZXBW 2(DX), Y5
	VPSLLW    $1, Y0, Y6
	VPADDW    Y6, Y0, Y0
	VPADDW    Y3, Y0, Y0 // cs[c-1]
	VPSLLW    $1, Y1, Y6
	VPADDW    Y6, Y1, Y1
	VPADDW    Y4, Y1, Y1 // cs[c]
	VPSLLW    $1, Y2, Y6
	VPADDW    Y6, Y2, Y2
	VPADDW    Y5, Y2, Y2 // cs[c+1]
	VPSLLW    $1, Y1, Y6
	VPADDW    Y6, Y1, Y6 // 3cs[c]
	VPADDW    Y0, Y6, Y0
	VPADDW    Y14, Y0, Y0
	VPSRLW    $4, Y0, Y0 // even outputs
	VPADDW    Y2, Y6, Y2
	VPADDW    Y15, Y2, Y2
	VPSRLW    $4, Y2, Y2 // odd outputs
	VPSLLW    $8, Y2, Y2
	VPOR      Y2, Y0, Y0 // interleaved
	VMOVDQU   Y0, (DI)
	ADDQ      $16, SI
	ADDQ      $16, DX
	ADDQ      $32, DI
	DECQ      CX
	JNZ       h2v2loop
	VZEROUPPER
	RET

// func FancyH2V1(d, s *uint8, blocks int)
// libjpeg's h2v1 fancy upsampling (jdsample.c h2v1_fancy_upsample) for
// blocks×16 columns c (AVX2): d[2c] = (3s[c] + s[c-1] + 1) >> 2,
// d[2c+1] = (3s[c] + s[c+1] + 2) >> 2. s points at column c-1 of the first
// column, d at output 2c.
TEXT ·FancyH2V1(SB), NOSPLIT, $0-24
	MOVQ d+0(FP), DI
	MOVQ s+8(FP), SI
	MOVQ blocks+16(FP), CX
	VPBROADCASTW upW1<>(SB), Y14
	VPBROADCASTW upW2<>(SB), Y15

h2v1loop:
	VPMOVZXBW (SI), Y0  // s[c-1]
	VPMOVZXBW 1(SI), Y1 // s[c]
	VPMOVZXBW 2(SI), Y2 // s[c+1]
	VPSLLW    $1, Y1, Y6
	VPADDW    Y6, Y1, Y6 // 3s[c]
	VPADDW    Y0, Y6, Y0
	VPADDW    Y14, Y0, Y0
	VPSRLW    $2, Y0, Y0
	VPADDW    Y2, Y6, Y2
	VPADDW    Y15, Y2, Y2
	VPSRLW    $2, Y2, Y2
	VPSLLW    $8, Y2, Y2
	VPOR      Y2, Y0, Y0
	VMOVDQU   Y0, (DI)
	ADDQ      $16, SI
	ADDQ      $32, DI
	DECQ      CX
	JNZ       h2v1loop
	VZEROUPPER
	RET

DATA upW1<>+0(SB)/2, $1
GLOBL upW1<>(SB), RODATA|NOPTR, $2
DATA upW2<>+0(SB)/2, $2
GLOBL upW2<>(SB), RODATA|NOPTR, $2
DATA upW7<>+0(SB)/2, $7
GLOBL upW7<>(SB), RODATA|NOPTR, $2
DATA upW8<>+0(SB)/2, $8
GLOBL upW8<>(SB), RODATA|NOPTR, $2
