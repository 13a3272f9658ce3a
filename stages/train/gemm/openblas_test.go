//go:build openblas && cgo

package gemm

import (
	"os"
	"strings"
	"testing"
)

// TestOpenBLASCoreType checks that the openblas build serves Sgemm from
// OpenBLAS and that OpenBLAS runs the kernels OPENBLAS_CORETYPE names. The
// variable must reach OpenBLAS before it loads: set in the environment of
// the test process, or by this package (SkylakeX on AVX-512 CPUs) right
// before its dlopen; os.Setenv in an init function is too late for a linked
// libopenblas, whose constructor runs before any Go code.
func TestOpenBLASCoreType(t *testing.T) {
	name := Kernel()
	t.Logf("kernel: %s", name)
	if !strings.HasPrefix(name, "openblas-") {
		t.Fatalf("openblas build serves Sgemm from %q", name)
	}
	want := os.Getenv("OPENBLAS_CORETYPE")
	if want == "" {
		t.Skip("OPENBLAS_CORETYPE unset (no AVX-512): OpenBLAS chose its kernels itself")
	}
	if !strings.EqualFold(openBLAS.core, want) {
		t.Errorf("OpenBLAS runs %q kernels, OPENBLAS_CORETYPE=%s", openBLAS.core, want)
	}
}
