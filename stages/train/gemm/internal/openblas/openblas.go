//go:build cgo

// Package openblas binds cblas_sgemm from OpenBLAS for package gemm's
// openblas build. The library is opened with dlopen at Load, not linked, so
// that OPENBLAS_CORETYPE can still be set first: OpenBLAS reads it in its
// load-time constructor, which for a linked library runs before any Go code
// (os.Setenv in main or in an init function is too late then).
package openblas

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

// The few OpenBLAS entry points we use, resolved with dlopen at first use
// (after OPENBLAS_CORETYPE is set; see the package documentation).
typedef void (*sgemm_fn)(int order, int transA, int transB, int m, int n, int k,
	float alpha, const float *a, int lda, const float *b, int ldb,
	float beta, float *c, int ldc);
typedef void (*set_threads_fn)(int);
typedef char *(*corename_fn)(void);

static sgemm_fn ob_sgemm;
static set_threads_fn ob_set_threads;
static corename_fn ob_corename;

// ob_load opens OpenBLAS and finds its entry points. It returns NULL or an
// error text.
static const char *ob_load(void) {
	void *h = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		h = dlopen("libopenblas.so", RTLD_NOW | RTLD_LOCAL);
	}
	if (h == NULL) {
		return dlerror();
	}
	ob_sgemm = (sgemm_fn)dlsym(h, "cblas_sgemm");
	ob_set_threads = (set_threads_fn)dlsym(h, "openblas_set_num_threads");
	ob_corename = (corename_fn)dlsym(h, "openblas_get_corename");
	if (ob_sgemm == NULL || ob_set_threads == NULL) {
		return "cblas_sgemm or openblas_set_num_threads not found";
	}
	return NULL;
}

static const char *ob_core(void) { return ob_corename ? ob_corename() : "unknown"; }

// 101 = CblasRowMajor, 111 = CblasNoTrans, 112 = CblasTrans.
static void ob_call(int transA, int transB, int m, int n, int k, float alpha,
	const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
	ob_sgemm(101, transA ? 112 : 111, transB ? 112 : 111, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static void ob_threads(int n) { ob_set_threads(n); }
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
)

// Load sets OPENBLAS_CORETYPE to coreType unless the environment already
// sets it or coreType is empty, then opens libopenblas.so.0. It must be called
// once, before any other function here; it is not safe for concurrent use.
func Load(coreType string) error {
	if _, set := os.LookupEnv("OPENBLAS_CORETYPE"); !set && coreType != "" {
		// With cgo, os.Setenv also sets the C environment OpenBLAS reads.
		if err := os.Setenv("OPENBLAS_CORETYPE", coreType); err != nil {
			return fmt.Errorf("openblas: %w", err)
		}
	}
	if e := C.ob_load(); e != nil {
		return errors.New("openblas: cannot load libopenblas: " + C.GoString(e))
	}
	return nil
}

// Core returns OpenBLAS's name for the kernels it chose (after Load).
func Core() string { return C.GoString(C.ob_core()) }

// SetThreads sets OpenBLAS's thread count (after Load). It must not run
// concurrently with Sgemm.
func SetThreads(n int) { C.ob_threads(C.int(n)) }

// Sgemm calls cblas_sgemm in row-major order (after Load). Pointers must be
// valid for the shapes given; dimensions must fit in a C int. Safe for
// concurrent use where the C regions do not overlap.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a *float32, lda int,
	b *float32, ldb int, beta float32, c *float32, ldc int) {
	C.ob_call(cbool(transA), cbool(transB), C.int(m), C.int(n), C.int(k), C.float(alpha),
		(*C.float)(a), C.int(lda), (*C.float)(b), C.int(ldb), C.float(beta), (*C.float)(c), C.int(ldc))
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
