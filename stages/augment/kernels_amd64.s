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
	MOVD AX, X7
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
	MOVQ      X0, (DI)(BX*1)
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
	MOVD AX, X7
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
	MOVQ      X0, (DI)(BX*1)
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
	MOVD AX, X7
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
	MOVD AX, X7
	VPBROADCASTD X7, X7
	XORQ BX, BX

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
	MOVL      X0, (DI)(R11*1)
	INCQ      BX
	JMP       h3loop

h3done:
	VZEROUPPER
	RET
