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
