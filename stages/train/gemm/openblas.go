//go:build openblas && cgo

package gemm

import (
	"math"
	"os"
	"sync"
	"sync/atomic"

	"github.com/contrastream/contrastream/stages/train/gemm/internal/openblas"
	"golang.org/x/sys/cpu"
)

// openBLAS is the state of the OpenBLAS backend, loaded once.
var openBLAS struct {
	once    sync.Once
	err     error  // why loading failed; the native kernels then serve calls
	core    string // OpenBLAS's name for the kernels it picked
	mu      sync.Mutex
	threads atomic.Int64 // thread count last passed to OpenBLAS
}

// openBLASCoreType is the value given to OPENBLAS_CORETYPE when the
// environment does not set it: OpenBLAS 0.3.21 does not recognise some
// current AVX-512 Xeons and falls back to its SSE3 kernels, 4× slower.
func openBLASCoreType() string {
	if cpu.X86.HasAVX512F {
		return "SkylakeX"
	}
	return ""
}

func loadOpenBLAS() {
	openBLAS.once.Do(func() {
		if openBLAS.err = openblas.Load(openBLASCoreType()); openBLAS.err == nil {
			openBLAS.core = openblas.Core()
		}
	})
}

func backendName() string {
	loadOpenBLAS()
	if openBLAS.err != nil {
		return best.name + " (" + openBLAS.err.Error() + ")"
	}
	return "openblas-" + openBLAS.core + " (OPENBLAS_CORETYPE=" + os.Getenv("OPENBLAS_CORETYPE") + ")"
}

// backend runs the call through cblas_sgemm with Threads() OpenBLAS threads.
// Empty products, k == 0 and dimensions beyond a C int go to the native path.
func backend(p params) {
	loadOpenBLAS()
	if openBLAS.err != nil || p.k == 0 || p.m == 0 || p.n == 0 ||
		max(p.m, p.n, p.k, p.lda, p.ldb, p.ldc) > math.MaxInt32 {
		native(best, Threads(), p)
		return
	}
	if nt := int64(Threads()); openBLAS.threads.Load() != nt {
		openBLAS.mu.Lock()
		if openBLAS.threads.Load() != nt {
			openblas.SetThreads(int(nt))
			openBLAS.threads.Store(nt)
		}
		openBLAS.mu.Unlock()
	}
	openblas.Sgemm(p.transA, p.transB, p.m, p.n, p.k, p.alpha, addr(p.a), p.lda,
		addr(p.b), p.ldb, p.beta, addr(p.c), p.ldc)
}
