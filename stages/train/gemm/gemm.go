package gemm

import "fmt"

// Sgemm computes C = alpha·op(A)·op(B) + beta·C, where op(X) is X or Xᵀ.
// All matrices are row-major: op(A) is m×k, op(B) is k×n, C is m×n, and
// lda, ldb, ldc are the row strides of A, B and C as stored (A is stored m×k,
// or k×m when transA; B is stored k×n, or n×k when transB).
// With beta == 0, C is overwritten (NaNs in C do not propagate).
//
// It panics if a dimension or stride is negative or too small, or a slice
// is too short for the matrix it holds. C must not overlap A or B. It runs
// on up to Threads() goroutines (callers that already run many products in
// parallel should SetThreads(1)) and allocates nothing once its internal
// pools are warm. Calls are safe for concurrent use when their C regions do
// not overlap. Results
// are bit-identical from run to run and for any thread count; they differ
// from the reference triple loop only by rounding (each element is summed
// in k order in blocks of KC, with FMA on the assembly paths). Kernel reports
// which implementation serves the call.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	p := params{transA, transB, m, n, k, alpha, beta, a, lda, b, ldb, c, ldc}
	check(&p)
	backend(p)
}

// SgemmSerial is Sgemm computed entirely on the calling goroutine with the
// native kernels (it starts no goroutine whatever SetThreads says, and does
// not use OpenBLAS in an openblas build). It is for callers that run many
// independent products in parallel themselves, such as a batch of
// equally-sized products split over a fixed set of goroutines. Its results
// are bit-identical to Sgemm's on the native kernels. It panics as Sgemm
// does, allocates nothing once the packing pool is warm, and is safe for
// concurrent use on non-overlapping C.
func SgemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	p := params{transA, transB, m, n, k, alpha, beta, a, lda, b, ldb, c, ldc}
	check(&p)
	native(best, 1, p)
}

// Kernel names the implementation Sgemm uses: "openblas" in a build with the
// openblas tag, otherwise the micro-kernel chosen for this CPU, such as
// "avx512-12x32", "avx2-6x16" or "go-4x4".
func Kernel() string {
	if name := backendName(); name != "" {
		return name
	}
	return best.name
}

// check panics with a gemm-prefixed message when p cannot describe valid
// matrices; the assembly kernels rely on it to never read or write out of
// bounds.
func check(p *params) {
	if p.m < 0 || p.n < 0 || p.k < 0 {
		panic(fmt.Sprintf("gemm: negative dimension m=%d n=%d k=%d", p.m, p.n, p.k))
	}
	need := func(name string, s []float32, rows, cols, ld int) {
		if ld < max(cols, 1) {
			panic(fmt.Sprintf("gemm: %s stride %d < %d columns", "ld"+name, ld, cols))
		}
		if rows == 0 || cols == 0 {
			return
		}
		if n := (rows-1)*ld + cols; len(s) < n {
			panic(fmt.Sprintf("gemm: len(%s) = %d < %d needed for %d×%d with stride %d", name, len(s), n, rows, cols, ld))
		}
	}
	if p.transA {
		need("a", p.a, p.k, p.m, p.lda)
	} else {
		need("a", p.a, p.m, p.k, p.lda)
	}
	if p.transB {
		need("b", p.b, p.n, p.k, p.ldb)
	} else {
		need("b", p.b, p.k, p.n, p.ldb)
	}
	need("c", p.c, p.m, p.n, p.ldc)
}

// reference is the plain triple loop; the fast kernels are tested against it.
func reference(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}
