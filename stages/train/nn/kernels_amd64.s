//go:build amd64 && !purego

#include "textflag.h"

// AVX2+FMA element-wise kernels; n is a positive multiple of 8 (the Go
// wrappers in kernels_amd64.go handle the tail).

// func addToAVX(dst, src *float32, n int)
TEXT ·addToAVX(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
loop:
	VMOVUPS (DI), Y0
	VADDPS  (SI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	DECQ    CX
	JNZ     loop
	VZEROUPPER
	RET

// func sumAVX(v *float32, n int) float32
TEXT ·sumAVX(SB), NOSPLIT, $0-20
	MOVQ   v+0(FP), SI
	MOVQ   n+8(FP), CX
	SHRQ   $3, CX
	VXORPS Y0, Y0, Y0
loop:
	VADDPS (SI), Y0, Y0
	ADDQ   $32, SI
	DECQ   CX
	JNZ    loop
	VEXTRACTF128 $1, Y0, X1
	VADDPS  X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	VMOVSS   X0, ret+16(FP)
	RET

// func sqdevAVX(v *float32, n int, m float32) float32
TEXT ·sqdevAVX(SB), NOSPLIT, $0-28
	MOVQ   v+0(FP), SI
	MOVQ   n+8(FP), CX
	SHRQ   $3, CX
	VBROADCASTSS m+16(FP), Y2
	VXORPS Y0, Y0, Y0
loop:
	VMOVUPS (SI), Y1
	VSUBPS  Y2, Y1, Y1
	VFMADD231PS Y1, Y1, Y0
	ADDQ    $32, SI
	DECQ    CX
	JNZ     loop
	VEXTRACTF128 $1, Y0, X1
	VADDPS  X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	VMOVSS   X0, ret+24(FP)
	RET

// func scaleShiftAVX(dst, src *float32, n int, s, t float32)
TEXT ·scaleShiftAVX(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	VBROADCASTSS s+24(FP), Y2
	VBROADCASTSS t+28(FP), Y3
loop:
	VMOVUPS (SI), Y0
	VFMADD213PS Y3, Y2, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	DECQ    CX
	JNZ     loop
	VZEROUPPER
	RET

// func scaleShiftReLUAVX(dst, src *float32, n int, s, t float32)
// max(v, 0) keeps a NaN v.
TEXT ·scaleShiftReLUAVX(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	VBROADCASTSS s+24(FP), Y2
	VBROADCASTSS t+28(FP), Y3
	VXORPS Y4, Y4, Y4
loop:
	VMOVUPS (SI), Y0
	VFMADD213PS Y3, Y2, Y0
	VMAXPS  Y0, Y4, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	DECQ    CX
	JNZ     loop
	VZEROUPPER
	RET

// func bnSumsAVX(dy, x *float32, n int, m float32) (sdy, sdyx float32)
TEXT ·bnSumsAVX(SB), NOSPLIT, $0-40
	MOVQ dy+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	VBROADCASTSS m+24(FP), Y2
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
loop:
	VMOVUPS (SI), Y3
	VMOVUPS (DI), Y4
	VSUBPS  Y2, Y4, Y4
	VADDPS  Y3, Y0, Y0
	VFMADD231PS Y3, Y4, Y1
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     loop
	VEXTRACTF128 $1, Y0, X5
	VADDPS  X5, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VEXTRACTF128 $1, Y1, X5
	VADDPS  X5, X1, X1
	VHADDPS X1, X1, X1
	VHADDPS X1, X1, X1
	VZEROUPPER
	VMOVSS   X0, sdy+32(FP)
	VMOVSS   X1, sdyx+36(FP)
	RET

// func bnSumsMaskAVX(dm, dy, x, y *float32, n int, m float32) (sdy, sdyx float32)
TEXT ·bnSumsMaskAVX(SB), NOSPLIT, $0-56
	MOVQ dm+0(FP), DX
	MOVQ dy+8(FP), SI
	MOVQ x+16(FP), DI
	MOVQ y+24(FP), R8
	MOVQ n+32(FP), CX
	SHRQ $3, CX
	VBROADCASTSS m+40(FP), Y2
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y5, Y5, Y5
loop:
	VMOVUPS (SI), Y3
	VMOVUPS (R8), Y6
	VCMPPS  $0x0e, Y5, Y6, Y7
	VANDPS  Y7, Y3, Y3
	VMOVUPS Y3, (DX)
	VMOVUPS (DI), Y4
	VSUBPS  Y2, Y4, Y4
	VADDPS  Y3, Y0, Y0
	VFMADD231PS Y3, Y4, Y1
	ADDQ    $32, SI
	ADDQ    $32, DI
	ADDQ    $32, DX
	ADDQ    $32, R8
	DECQ    CX
	JNZ     loop
	VEXTRACTF128 $1, Y0, X5
	VADDPS  X5, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VEXTRACTF128 $1, Y1, X5
	VADDPS  X5, X1, X1
	VHADDPS X1, X1, X1
	VHADDPS X1, X1, X1
	VZEROUPPER
	VMOVSS   X0, sdy+48(FP)
	VMOVSS   X1, sdyx+52(FP)
	RET

// func bnApplyAVX(dx, dm, x *float32, n int, k, b, c float32)
TEXT ·bnApplyAVX(SB), NOSPLIT, $0-44
	MOVQ dx+0(FP), DX
	MOVQ dm+8(FP), SI
	MOVQ x+16(FP), DI
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	VBROADCASTSS k+32(FP), Y0
	VBROADCASTSS b+36(FP), Y1
	VBROADCASTSS c+40(FP), Y2
loop:
	VMOVUPS (DI), Y3
	VFMADD213PS Y2, Y1, Y3
	VFMADD231PS (SI), Y0, Y3
	VMOVUPS Y3, (DX)
	ADDQ    $32, SI
	ADDQ    $32, DI
	ADDQ    $32, DX
	DECQ    CX
	JNZ     loop
	VZEROUPPER
	RET

// func reluBackAVX(dx, dy, y *float32, n int)
TEXT ·reluBackAVX(SB), NOSPLIT, $0-32
	MOVQ dx+0(FP), DX
	MOVQ dy+8(FP), SI
	MOVQ y+16(FP), DI
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	VXORPS Y5, Y5, Y5
loop:
	VMOVUPS (DI), Y6
	VCMPPS  $0x0e, Y5, Y6, Y7
	VANDPS  (SI), Y7, Y3
	VMOVUPS Y3, (DX)
	ADDQ    $32, SI
	ADDQ    $32, DI
	ADDQ    $32, DX
	DECQ    CX
	JNZ     loop
	VZEROUPPER
	RET

// func addReluAVX(y, a, b *float32, n int)
TEXT ·addReluAVX(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), DX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	VXORPS Y4, Y4, Y4
loop:
	VMOVUPS (SI), Y0
	VADDPS  (DI), Y0, Y0
	VMAXPS  Y0, Y4, Y0
	VMOVUPS Y0, (DX)
	ADDQ    $32, SI
	ADDQ    $32, DI
	ADDQ    $32, DX
	DECQ    CX
	JNZ     loop
	VZEROUPPER
	RET

// func add3AVX(d, a, b *float32, n int)
TEXT ·add3AVX(SB), NOSPLIT, $0-32
	MOVQ d+0(FP), DX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ n+24(FP), CX
	SHRQ $3, CX
loop:
	VMOVUPS (SI), Y0
	VADDPS  (DI), Y0, Y0
	VMOVUPS Y0, (DX)
	ADDQ    $32, SI
	ADDQ    $32, DI
	ADDQ    $32, DX
	DECQ    CX
	JNZ     loop
	VZEROUPPER
	RET

DATA evenIdx<>+0(SB)/4, $0
DATA evenIdx<>+4(SB)/4, $2
DATA evenIdx<>+8(SB)/4, $4
DATA evenIdx<>+12(SB)/4, $6
DATA evenIdx<>+16(SB)/4, $8
DATA evenIdx<>+20(SB)/4, $10
DATA evenIdx<>+24(SB)/4, $12
DATA evenIdx<>+28(SB)/4, $14
GLOBL evenIdx<>(SB), RODATA|NOPTR, $32

// func poolRowAVX(r0, r1, y *float32, idx *int32, xs *float32, n int, s, t float32, base, w int32)
// For n (multiple of 8) 2×2 windows over rows r0 and r1: post = max(v·s+t, 0);
// y = window max, idx = base + flat index of the first maximum in scan
// order (w = row stride), xs = the raw input there.
TEXT ·poolRowAVX(SB), NOSPLIT, $0-64
	MOVQ r0+0(FP), SI
	MOVQ r1+8(FP), DI
	MOVQ y+16(FP), DX
	MOVQ idx+24(FP), R8
	MOVQ xs+32(FP), R9
	MOVQ n+40(FP), CX
	SHRQ $3, CX
	VBROADCASTSS s+48(FP), Y14
	VBROADCASTSS t+52(FP), Y15
	MOVL    base+56(FP), AX
	VMOVD   AX, X13
	VPBROADCASTD X13, Y13
	MOVL    w+60(FP), AX
	VMOVD   AX, X12
	VPBROADCASTD X12, Y12
	VMOVDQU evenIdx<>(SB), Y11
	VPADDD  Y11, Y13, Y13
	MOVL    $16, AX
	VMOVD   AX, X10
	VPBROADCASTD X10, Y10
	VXORPS  Y11, Y11, Y11
loop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS (DI), Y2
	VMOVUPS 32(DI), Y3
	VSHUFPS $0x88, Y1, Y0, Y4
	VSHUFPS $0xDD, Y1, Y0, Y5
	VSHUFPS $0x88, Y3, Y2, Y6
	VSHUFPS $0xDD, Y3, Y2, Y7
	VPERMPD $0xD8, Y4, Y4
	VPERMPD $0xD8, Y5, Y5
	VPERMPD $0xD8, Y6, Y6
	VPERMPD $0xD8, Y7, Y7
	VMOVAPS Y4, Y0
	VFMADD213PS Y15, Y14, Y0
	VMAXPS  Y0, Y11, Y0
	VMOVAPS Y5, Y1
	VFMADD213PS Y15, Y14, Y1
	VMAXPS  Y1, Y11, Y1
	VMOVAPS Y6, Y2
	VFMADD213PS Y15, Y14, Y2
	VMAXPS  Y2, Y11, Y2
	VMOVAPS Y7, Y3
	VFMADD213PS Y15, Y14, Y3
	VMAXPS  Y3, Y11, Y3
	VCMPPS  $0x0e, Y0, Y1, Y8
	VBLENDVPS Y8, Y1, Y0, Y0
	VBLENDVPS Y8, Y5, Y4, Y4
	VCMPPS  $0x0e, Y2, Y3, Y9
	VBLENDVPS Y9, Y3, Y2, Y2
	VBLENDVPS Y9, Y7, Y6, Y6
	VCMPPS  $0x0e, Y0, Y2, Y1
	VBLENDVPS Y1, Y2, Y0, Y0
	VBLENDVPS Y1, Y6, Y4, Y4
	VBLENDVPS Y1, Y9, Y8, Y8
	VANDPS  Y12, Y1, Y1
	VPADDD  Y1, Y13, Y3
	VPSUBD  Y8, Y3, Y3
	VMOVUPS Y0, (DX)
	VMOVUPS Y4, (R9)
	VMOVDQU Y3, (R8)
	VPADDD  Y10, Y13, Y13
	ADDQ    $64, SI
	ADDQ    $64, DI
	ADDQ    $32, DX
	ADDQ    $32, R8
	ADDQ    $32, R9
	DECQ    CX
	JNZ     loop
	VZEROUPPER
	RET
