#!/bin/sh
# compare.sh [reps] [benchtime] — BenchmarkSgemm of the native kernels and of
# OpenBLAS (openblas tag, OPENBLAS_CORETYPE=SkylakeX) at 1 and 2 threads,
# run back to back, alternating which goes first, reps times (default 3).
# Writes raw lines to $OUT (default /tmp/gemm-compare.txt) and prints medians.
# Run from the repository root. Needs libopenblas-dev and /usr/bin/python3.
set -eu
reps=${1:-3}
bt=${2:-0.5s}
out=${OUT:-/tmp/gemm-compare.txt}
dir=$(mktemp -d)
go test -c -o "$dir/native.test" ./stages/train/gemm/
go test -c -tags openblas -o "$dir/openblas.test" ./stages/train/gemm/
: >"$out"
run() { # impl threads
	if [ "$1" = openblas ]; then env OPENBLAS_CORETYPE=SkylakeX "$dir/openblas.test" -test.run '^$' -test.bench 'BenchmarkSgemm' -test.benchtime "$bt" -test.cpu "$2"
	else "$dir/native.test" -test.run '^$' -test.bench 'BenchmarkSgemm' -test.benchtime "$bt" -test.cpu "$2"; fi |
		awk -v impl="$1" -v t="$2" '/GFLOP/ { for (i = 1; i <= NF; i++) { if ($(i) == "GFLOP/s") w = $(i-1); if ($(i) == "GFLOP/cpu-s") c = $(i-1) }; sub(/-[0-9]+$/, "", $1); sub(/BenchmarkSgemm\//, "", $1); print impl, t, $1, w, c }' >>"$out"
}
r=1
while [ "$r" -le "$reps" ]; do
	for t in 1 2; do
		if [ $((r % 2)) -eq 1 ]; then run native "$t"; run openblas "$t"; else run openblas "$t"; run native "$t"; fi
	done
	r=$((r + 1))
done
rm -rf "$dir"
/usr/bin/python3 - "$out" <<'PY'
import sys, statistics as st, collections
d = collections.defaultdict(list)
order = []
for line in open(sys.argv[1]):
    impl, t, shape, w, c = line.split()
    if shape not in order: order.append(shape)
    d[(impl, t, shape)].append((float(w), float(c)))
print("| shape | threads | ours GFLOP/s | OpenBLAS GFLOP/s | ratio | ours GFLOP/cpu-s | OpenBLAS GFLOP/cpu-s |")
print("|---|---|---|---|---|---|---|")
for t in ("1", "2"):
    for s in order:
        o, b = d[("native", t, s)], d[("openblas", t, s)]
        if not o or not b: continue
        ow, bw = st.median(x[0] for x in o), st.median(x[0] for x in b)
        oc, bc = st.median(x[1] for x in o), st.median(x[1] for x in b)
        print(f"| {s} | {t} | {ow:.1f} | {bw:.1f} | {ow/bw:.2f} | {oc:.1f} | {bc:.1f} |")
PY
