#!/bin/bash
# Side-by-side runs behind docs/benchmarks.md sections 1 and 4: the view
# pipeline (`contrastream bench`, pure Go and -tags turbojpeg) against
# shared/bench/aug_bench.py at 96 px (ROUNDS alternating rounds), 32 and 224 px,
# then the training step (BenchmarkSimCLRStep/small) against train_step.py.
# Every side runs under `chrt -r 5` (root), so each gets the cores in turn.
#
#   bash docs/side-by-side.sh            # SHARED=../shared WORK=/tmp/side-by-side ROUNDS=3
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
WORK=${WORK:-/tmp/side-by-side}
ROUNDS=${ROUNDS:-3}
B=$(realpath "$SHARED/bench")
mkdir -p "$WORK"
export BENCH_DATA=$WORK/data
RT="chrt -r 5"
[ "$(id -u)" = 0 ] || RT=""

go build -o "$WORK/cs-go" ./cmd/contrastream
go build -tags turbojpeg -o "$WORK/cs-turbo" ./cmd/contrastream
go test -c -o "$WORK/nnbench.test" ./stages/train/nn/nnbench/
[ -d "$BENCH_DATA/jpg500" ] || /usr/bin/python3 "$B/make_data.py"
for s in png32 jpg96 jpg500; do
	[ -d "$WORK/shards/$s" ] || "$WORK/cs-go" import images --dir "$BENCH_DATA/$s" --out "$WORK/shards/$s"
done

peer() { $RT /usr/bin/python3 "$B/aug_bench.py" "$@" 2>&1 | grep RESULT; }
ours() { # build size set
	printf '%-6s' "$1"
	$RT "$WORK/cs-$1" bench --data "$WORK/shards/$3" --size "$2" --workers 2 --seconds 10 2>/dev/null | grep 'pairs/s' | head -1
}
for r in $(seq "$ROUNDS"); do
	echo "== 96 px, round $r, $(date +%T), load $(cut -d' ' -f1 /proc/loadavg)"
	peer --size 96 --workers 2
	ours go 96 jpg96
	ours turbo 96 jpg96
done
echo "== 32 px, $(date +%T)"
peer --size 32 --workers 2
ours go 32 png32
ours turbo 32 png32
echo "== 224 px with blur, $(date +%T)"
peer --size 224 --workers 2 --batches 3
peer --size 224 --workers 2 --batches 3 --flush-denormal
ours go 224 jpg500
ours turbo 224 jpg500
for r in $(seq "$ROUNDS"); do
	echo "== training step, small, round $r, $(date +%T), load $(cut -d' ' -f1 /proc/loadavg)"
	$RT /usr/bin/python3 "$B/train_step.py" --model small --threads 2 --malloc-tuned 2>&1 | grep RESULT
	$RT "$WORK/nnbench.test" -test.run '^$' -test.bench 'SimCLRStep/small' -test.benchtime 10x | grep Benchmark
done
