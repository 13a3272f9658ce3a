//go:build amd64 && !purego

package simd

import "golang.org/x/sys/cpu"

// Has reports whether the kernels of this package run here (AVX-512 F, BW
// and VBMI).
var Has = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VBMI

// YCC converts blocks×16 pixels of full-resolution Y, Cb and Cr to RGB with
// libjpeg's integer arithmetic (jdcolor.c, the table products computed),
// clamped to 0..255: it reads 16 bytes of each of y, cb and cr per block and
// writes 48 bytes of d. Call it only when Has.
//
//go:noescape
func YCC(d, y, cb, cr *uint8, blocks int)

// HasAVX2 reports whether IDCT runs here.
var HasAVX2 = cpu.X86.HasAVX2

// IDCT is libjpeg-turbo's AVX2 islow IDCT (jsimd_idct_islow_avx2), bit for
// bit: it dequantises the 64 coefficients of coef (natural order) by q with
// 16-bit products and writes the 8×8 samples to dst, rows stride bytes
// apart (dst must have 7*stride+8 bytes). Call it only when HasAVX2.
//
//go:noescape
func IDCT(dst *uint8, stride int, coef, q *int16)
