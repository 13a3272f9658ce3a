//go:build amd64 && !purego

package augment

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// useAVX2 selects the AVX2 kernels (kernels_amd64.s). It is read-only
// except in tests, which switch it off to check that the portable paths
// give the same bytes.
var useAVX2 = cpu.X86.HasAVX2

// hasVBMI reports whether the CPU (and OS) runs the AVX-512 VBMI kernels
// (kernels_avx512_amd64.s); useVBMI selects them (tests switch it off).
var (
	hasVBMI = cpu.X86.HasAVX2 && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VBMI
	useVBMI = hasVBMI
)

// vconv8AVX2 computes, for i in [0, n) (n a multiple of 8),
// out[i] = clip8((2^21 + Σ_t rows[t][i]·w[t]) >> 22) with int32 arithmetic
// (PIL's vertical pass). rows holds *uint8 row starts.
//
//go:noescape
func vconv8AVX2(out []uint8, rows []unsafe.Pointer, w []int32, n int)

// vconv16AVX2 is vconv8AVX2 with uint16 rows (the blur's 8.8 rows).
//
//go:noescape
func vconv16AVX2(out []uint8, rows []unsafe.Pointer, w []int32, n int)

// hconv16AVX2 computes, for j in [0, n) (n a multiple of 8),
// out[j] = (32 + Σ_t pad[j+t·stride]·w[t]) >> 6 (the blur's horizontal pass
// with unfolded weights). It reads pad[j + (len(w)−1)·stride + 7] at most.
//
//go:noescape
func hconv16AVX2(out []uint16, pad []uint8, w []int32, stride int, n int)

// hconv3AVX2 resamples n RGB pixels with T fixed taps: pixel xx reads the
// 3T+1 bytes from row[3·start[xx]] and writes 4 bytes at out[3·xx] (the
// fourth is overwritten by the next pixel; the caller keeps the last one in
// bounds).
//
//go:noescape
func hconv3AVX2(out []uint8, row []uint8, start []int32, w []int32, T int, n int)

// sat3AVX2 is PIL's saturation blend (ImageEnhance.Color) for n RGB pixels,
// n a multiple of 8: L = PIL luma, out = clamp(trunc(float32(L) +
// float32(alpha·float32(v−L)))) per channel. dst may be src.
//
//go:noescape
func sat3AVX2(dst, src []uint8, n int, alpha float32)

// hue3AVX2 is hue3 for n RGB pixels, n a multiple of 8, with identity
// pending table: the hue and satp lookups as gathers (tables read up to 3
// bytes past an entry, which stays inside hsvTables), the hsvToRGBFast
// arithmetic on 4 doubles at a time. dst may be src.
//
//go:noescape
func hue3AVX2(dst, src []uint8, n int, shift int, hue *uint8, satp *uint32)

// lumaSumAVX2 returns Σ PIL luma over n RGB pixels, n a multiple of 8 and
// at most 8·2^23.
//
//go:noescape
func lumaSumAVX2(src []uint8, n int) uint64

// lutVBMI writes t[src[i]] to dst[i] for i in [0, n), n a multiple of 64.
// dst may be src.
//
//go:noescape
func lutVBMI(dst, src []uint8, n int, t *lut)

// chwVBMI normalizes blocks×16 RGB pixels from src into the float32 planes
// pr, pg and pb, (float32(v)/255 − mean[c])/std[c] in float32 per channel. It
// reads 16 bytes past the last block's 48.
//
//go:noescape
func chwVBMI(pr, pg, pb *float32, src *uint8, blocks int, mean, std *[3]float32)

// hue3VBMI is hue3AVX2 for blocks×16 RGB pixels with AVX-512 and no table
// lookups (the tables' entries are computed in float32; the tests check
// every one): it reads 16 bytes past the last block's 48 (and writes only
// the blocks' bytes). dst may be src.
//
//go:noescape
func hue3VBMI(dst, src []uint8, blocks int, shift int)

// sat3VBMI is sat3AVX2 for blocks×16 RGB pixels with AVX-512: it reads 16
// bytes past the last block's 48 (and writes only the blocks' bytes). dst
// may be src.
//
//go:noescape
func sat3VBMI(dst, src []uint8, blocks int, alpha float32)

// gray3VBMI writes PIL's luma L of blocks×16 RGB pixels as L, L, L: it
// reads 16 bytes past the last block's 48 (and writes only the blocks'
// bytes). dst may be src.
//
//go:noescape
func gray3VBMI(dst, src []uint8, blocks int)

// flip3VBMI mirrors a row of w RGB pixels from s into d, 16 pixels from
// each end per step while the blocks do not overlap, and returns the number
// of pixels done at each end; the caller mirrors the middle. d may be s.
//
//go:noescape
func flip3VBMI(d, s *uint8, w int) int

// chwFMAVBMI is chwVBMI with each division replaced by a multiply by the
// reciprocal and one FMA correction step; rstd holds float32(1/std[c]).
// Exact only where checked (see Normalizer).
//
//go:noescape
func chwFMAVBMI(pr, pg, pb *float32, src *uint8, blocks int, mean, std, rstd *[3]float32)

// chwFMANTVBMI is chwFMAVBMI with non-temporal stores (VMOVNTPS, then
// SFENCE): pr, pg and pb must be 64-byte aligned. A batch of views is
// larger than the caches, so this saves reading each output line before
// writing it.
//
//go:noescape
func chwFMANTVBMI(pr, pg, pb *float32, src *uint8, blocks int, mean, std, rstd *[3]float32)
