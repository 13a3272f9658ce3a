//go:build amd64 && !purego

#include "textflag.h"

// func adamwAVX2(w, g, m, v []float32, k *adamConsts)
//
// One AdamW step over len(w) (a multiple of 8) elements, 8 at a time:
//   x = w*decay; m = m*b1 + c1*g; v = v*b2 + (c2*g)*g
//   w = x + negStep*(m / (sqrt(v)/bc2s + eps))
// Separate multiplies and adds (no FMA), the same float32 roundings as the
// Go loop in adamw.go. k holds decay, b1, c1, b2, c2, bc2s, eps, negStep.
TEXT ·adamwAVX2(SB), NOSPLIT, $0-104
	MOVQ         w_base+0(FP), DI
	MOVQ         w_len+8(FP), CX
	MOVQ         g_base+24(FP), SI
	MOVQ         m_base+48(FP), R8
	MOVQ         v_base+72(FP), R9
	MOVQ         k+96(FP), AX
	VBROADCASTSS 0(AX), Y8   // decay
	VBROADCASTSS 4(AX), Y9   // b1
	VBROADCASTSS 8(AX), Y10  // c1
	VBROADCASTSS 12(AX), Y11 // b2
	VBROADCASTSS 16(AX), Y12 // c2
	VBROADCASTSS 20(AX), Y13 // bc2s
	VBROADCASTSS 24(AX), Y14 // eps
	VBROADCASTSS 28(AX), Y15 // negStep
	SHRQ         $3, CX
	JZ           done

loop:
	VMOVUPS (DI), Y0
	VMULPS  Y8, Y0, Y0   // x = w*decay
	VMOVUPS (SI), Y1     // g
	VMULPS  (R8), Y9, Y2 // m*b1
	VMULPS  Y10, Y1, Y3  // c1*g
	VADDPS  Y3, Y2, Y2   // m
	VMULPS  Y12, Y1, Y4  // c2*g
	VMULPS  Y1, Y4, Y4   // (c2*g)*g
	VMULPS  (R9), Y11, Y5 // v*b2
	VADDPS  Y4, Y5, Y5   // v
	VMOVUPS Y2, (R8)
	VMOVUPS Y5, (R9)
	VSQRTPS Y5, Y6
	VDIVPS  Y13, Y6, Y6  // sqrt(v)/bc2s
	VADDPS  Y14, Y6, Y6  // + eps
	VDIVPS  Y6, Y2, Y7   // m/den
	VMULPS  Y15, Y7, Y7  // negStep*(m/den)
	VADDPS  Y7, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	ADDQ    $32, R8
	ADDQ    $32, R9
	DECQ    CX
	JNZ     loop

done:
	VZEROUPPER
	RET
