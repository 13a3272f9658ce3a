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

// IDCT is package image's islow IDCT (idctGo) in int32 lanes, bit for bit
// on every input: it dequantises the 64 coefficients of coef (natural
// order) by q in int32 and writes the 8×8 samples to dst, rows stride bytes
// apart (dst must have 7*stride+8 bytes). Call it only when HasAVX2.
//
//go:noescape
func IDCT(dst *uint8, stride int, coef, q *int16)

// FancyH2V2 is libjpeg's h2v2 fancy upsampling of one output row for
// blocks×16 interior chroma columns (see upsample_amd64.s); a and b point at
// the column before the first, d at the first column's first output. Call
// it only when HasAVX2, with blocks >= 1.
//
//go:noescape
func FancyH2V2(d, a, b *uint8, blocks int)

// FancyH2V1 is libjpeg's h2v1 fancy upsampling for blocks×16 interior
// columns, laid out as FancyH2V2. Call it only when HasAVX2, blocks >= 1.
//
//go:noescape
func FancyH2V1(d, s *uint8, blocks int)

// YCC32 is YCC for blocks×32 pixels in 16-bit lanes (faster; the same
// bytes): it reads 32 bytes of each of y, cb and cr per block and writes 96
// bytes of d. Call it only when Has, with blocks >= 1.
//
//go:noescape
func YCC32(d, y, cb, cr *uint8, blocks int)
