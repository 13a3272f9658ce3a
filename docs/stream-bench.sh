#!/bin/bash
# Side-by-side runs behind docs/benchmarks.md's "stream and the PyTorch
# loader" section: (1) the transport — `contrastream stream` read by a reader
# that only touches the bytes (python/examples/bench_loader.py --mode bytes)
# against `contrastream bench --uint8` at 96 px; (2) pairs/s delivered into
# a PyTorch loop — the ViewLoader iterated, views converted to normalized
# float32 on the host — against shared/bench/aug_bench.py (torchvision's
# DataLoader, same recipe, same number of workers) at 32, 96 and 224 px.
# ROUNDS alternating rounds; every side runs alone on the machine (heavy
# --quiet, when present) under `chrt -r 5` (root).
#
#   bash docs/stream-bench.sh        # SHARED=../shared WORK=/tmp/stream-bench ROUNDS=3 WORKERS=2
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
WORK=${WORK:-/tmp/stream-bench}
ROUNDS=${ROUNDS:-3}
WORKERS=${WORKERS:-2}
# 250 divides every set (2,000 and 500 images): no epoch remainder is made
# and then dropped (the stream sends full batches only).
BATCH=${BATCH:-250}
B=$(realpath "$SHARED/bench")
mkdir -p "$WORK"
export BENCH_DATA=${BENCH_DATA:-$WORK/data}
RT="chrt -r 5"
[ "$(id -u)" = 0 ] || RT=""
command -v heavy >/dev/null && RT="heavy --quiet $RT"
PY=/usr/bin/python3

go build -o "$WORK/cs-go" ./cmd/contrastream
go build -tags turbojpeg -o "$WORK/cs-turbo" ./cmd/contrastream
[ -d "$BENCH_DATA/jpg500" ] || $PY "$B/make_data.py"
for s in png32 jpg96 jpg500; do
	[ -d "$WORK/shards/$s" ] || "$WORK/cs-go" import images --dir "$BENCH_DATA/$s" --out "$WORK/shards/$s" >/dev/null
done
set_of() { case $1 in 32) echo png32 ;; 96) echo jpg96 ;; 224) echo jpg500 ;; esac; }

peer() { # size [extra]
	printf '%-12s' "peer $1"
	$RT $PY "$B/aug_bench.py" --size "$1" --workers "$WORKERS" "${@:2}" 2>&1 | grep RESULT
}
loader() { # build size [--normalize]
	printf '%-12s' "$1 $2"
	$RT $PY python/examples/bench_loader.py --mode torch "${@:3}" --binary "$WORK/cs-$1" --batch "$BATCH" \
		--data "$WORK/shards/$(set_of "$2")" --size "$2" --workers "$WORKERS" --seconds 10 | grep RESULT
}
for r in $(seq "$ROUNDS"); do
	echo "== transport at 96 px, round $r, $(date +%T), load $(cut -d' ' -f1 /proc/loadavg)"
	for build in turbo go; do
		printf '%-12s' "bench $build"
		$RT "$WORK/cs-$build" bench --uint8 --batch "$BATCH" --data "$WORK/shards/jpg96" --size 96 --workers "$WORKERS" --seconds 10 2>/dev/null | grep 'pairs/s' | head -1
		printf '%-12s' "stream $build"
		$RT $PY python/examples/bench_loader.py --mode bytes --binary "$WORK/cs-$build" --batch "$BATCH" \
			--data "$WORK/shards/jpg96" --size 96 --workers "$WORKERS" --seconds 10 | grep RESULT
	done
	echo "== PyTorch loop vs DataLoader, round $r, $(date +%T), load $(cut -d' ' -f1 /proc/loadavg)"
	for s in 32 96 224; do
		if [ "$s" = 224 ]; then peer 224 --batches 3; else peer "$s"; fi
		loader turbo "$s"
		loader turbo "$s" --normalize
	done
done
