//go:build amd64 && !purego

#include "textflag.h"

// Polynomial coefficients of e^r (Cephes expf), as 8-lane vectors for FMA memory operands.
DATA expp0<>+0(SB)/4, $0x39506967
DATA expp0<>+4(SB)/4, $0x39506967
DATA expp0<>+8(SB)/4, $0x39506967
DATA expp0<>+12(SB)/4, $0x39506967
DATA expp0<>+16(SB)/4, $0x39506967
DATA expp0<>+20(SB)/4, $0x39506967
DATA expp0<>+24(SB)/4, $0x39506967
DATA expp0<>+28(SB)/4, $0x39506967
GLOBL expp0<>(SB), RODATA|NOPTR, $32
DATA expp1<>+0(SB)/4, $0x3ab743ce
DATA expp1<>+4(SB)/4, $0x3ab743ce
DATA expp1<>+8(SB)/4, $0x3ab743ce
DATA expp1<>+12(SB)/4, $0x3ab743ce
DATA expp1<>+16(SB)/4, $0x3ab743ce
DATA expp1<>+20(SB)/4, $0x3ab743ce
DATA expp1<>+24(SB)/4, $0x3ab743ce
DATA expp1<>+28(SB)/4, $0x3ab743ce
GLOBL expp1<>(SB), RODATA|NOPTR, $32
DATA expp2<>+0(SB)/4, $0x3c088908
DATA expp2<>+4(SB)/4, $0x3c088908
DATA expp2<>+8(SB)/4, $0x3c088908
DATA expp2<>+12(SB)/4, $0x3c088908
DATA expp2<>+16(SB)/4, $0x3c088908
DATA expp2<>+20(SB)/4, $0x3c088908
DATA expp2<>+24(SB)/4, $0x3c088908
DATA expp2<>+28(SB)/4, $0x3c088908
GLOBL expp2<>(SB), RODATA|NOPTR, $32
DATA expp3<>+0(SB)/4, $0x3d2aa9c1
DATA expp3<>+4(SB)/4, $0x3d2aa9c1
DATA expp3<>+8(SB)/4, $0x3d2aa9c1
DATA expp3<>+12(SB)/4, $0x3d2aa9c1
DATA expp3<>+16(SB)/4, $0x3d2aa9c1
DATA expp3<>+20(SB)/4, $0x3d2aa9c1
DATA expp3<>+24(SB)/4, $0x3d2aa9c1
DATA expp3<>+28(SB)/4, $0x3d2aa9c1
GLOBL expp3<>(SB), RODATA|NOPTR, $32
DATA expp4<>+0(SB)/4, $0x3e2aaaaa
DATA expp4<>+4(SB)/4, $0x3e2aaaaa
DATA expp4<>+8(SB)/4, $0x3e2aaaaa
DATA expp4<>+12(SB)/4, $0x3e2aaaaa
DATA expp4<>+16(SB)/4, $0x3e2aaaaa
DATA expp4<>+20(SB)/4, $0x3e2aaaaa
DATA expp4<>+24(SB)/4, $0x3e2aaaaa
DATA expp4<>+28(SB)/4, $0x3e2aaaaa
GLOBL expp4<>(SB), RODATA|NOPTR, $32
DATA expp5<>+0(SB)/4, $0x3f000000
DATA expp5<>+4(SB)/4, $0x3f000000
DATA expp5<>+8(SB)/4, $0x3f000000
DATA expp5<>+12(SB)/4, $0x3f000000
DATA expp5<>+16(SB)/4, $0x3f000000
DATA expp5<>+20(SB)/4, $0x3f000000
DATA expp5<>+24(SB)/4, $0x3f000000
DATA expp5<>+28(SB)/4, $0x3f000000
GLOBL expp5<>(SB), RODATA|NOPTR, $32
DATA exp127<>+0(SB)/4, $0x0000007f
DATA exp127<>+4(SB)/4, $0x0000007f
DATA exp127<>+8(SB)/4, $0x0000007f
DATA exp127<>+12(SB)/4, $0x0000007f
DATA exp127<>+16(SB)/4, $0x0000007f
DATA exp127<>+20(SB)/4, $0x0000007f
DATA exp127<>+24(SB)/4, $0x0000007f
DATA exp127<>+28(SB)/4, $0x0000007f
GLOBL exp127<>(SB), RODATA|NOPTR, $32

// Scalars broadcast into registers: log2(e), ln2 = c1 + c2 (Cody-Waite), 1, and the
// lowest argument with a normal float32 result.
DATA explog2e<>+0(SB)/4, $0x3fb8aa3b
GLOBL explog2e<>(SB), RODATA|NOPTR, $4
DATA expc1<>+0(SB)/4, $0x3f318000
GLOBL expc1<>(SB), RODATA|NOPTR, $4
DATA expc2<>+0(SB)/4, $0xb95e8083
GLOBL expc2<>(SB), RODATA|NOPTR, $4
DATA expone<>+0(SB)/4, $0x3f800000
GLOBL expone<>(SB), RODATA|NOPTR, $4
DATA explo<>+0(SB)/4, $0xc2aeac4f
GLOBL explo<>(SB), RODATA|NOPTR, $4

// func expShiftSumAVX2(x []float32, shift float32) float64
//
// For len(x) rounded down to a multiple of 8: x[i] = e^(x[i]-shift), and
// returns the sum of those values accumulated in float64 (two 4-lane
// accumulators). Lanes whose argument is below -87.33654, -Inf or NaN give 0.
// Requires AVX2 and FMA.
TEXT ·expShiftSumAVX2(SB), NOSPLIT, $0-40
	MOVQ         x_base+0(FP), AX
	MOVQ         x_len+8(FP), CX
	VBROADCASTSS shift+24(FP), Y8
	VBROADCASTSS explog2e<>(SB), Y9
	VBROADCASTSS expc1<>(SB), Y10
	VBROADCASTSS expc2<>(SB), Y11
	VBROADCASTSS expone<>(SB), Y12
	VBROADCASTSS explo<>(SB), Y13
	VXORPD       Y6, Y6, Y6
	VXORPD       Y7, Y7, Y7
	SHRQ         $3, CX
	JZ           done

loop:
	VMOVUPS      (AX), Y0
	VSUBPS       Y8, Y0, Y0            // v = x - shift
	VCMPPS       $0x1d, Y13, Y0, Y5    // mask = v >= lo (false for NaN)
	VMULPS       Y9, Y0, Y1
	VROUNDPS     $0, Y1, Y1            // n = round(v*log2e)
	VFNMADD231PS Y10, Y1, Y0           // r = v - n*c1
	VFNMADD231PS Y11, Y1, Y0           // r = r - n*c2
	VMULPS       Y0, Y0, Y2            // z = r*r
	VMOVUPS      expp0<>(SB), Y3
	VFMADD213PS  expp1<>(SB), Y0, Y3   // p = p*r + p1
	VFMADD213PS  expp2<>(SB), Y0, Y3
	VFMADD213PS  expp3<>(SB), Y0, Y3
	VFMADD213PS  expp4<>(SB), Y0, Y3
	VFMADD213PS  expp5<>(SB), Y0, Y3
	VFMADD213PS  Y0, Y2, Y3            // y = p*z + r
	VADDPS       Y12, Y3, Y3           // y = y + 1
	VCVTPS2DQ    Y1, Y4
	VPADDD       exp127<>(SB), Y4, Y4
	VPSLLD       $23, Y4, Y4           // 2^n
	VMULPS       Y4, Y3, Y3
	VANDPS       Y5, Y3, Y3
	VMOVUPS      Y3, (AX)
	VCVTPS2PD    X3, Y4
	VEXTRACTF128 $1, Y3, X5
	VCVTPS2PD    X5, Y5
	VADDPD       Y4, Y6, Y6
	VADDPD       Y5, Y7, Y7
	ADDQ         $32, AX
	DECQ         CX
	JNZ          loop

done:
	VADDPD       Y7, Y6, Y6
	VEXTRACTF128 $1, Y6, X7
	VADDPD       X7, X6, X6
	VPERMILPD    $1, X6, X7
	VADDSD       X7, X6, X6
	VMOVSD       X6, ret+32(FP)
	VZEROUPPER
	RET
