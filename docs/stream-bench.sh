#!/bin/bash
# Side-by-side runs behind docs/benchmarks.md's "stream and the PyTorch
# loader" section: (1) the transport — `contrastream stream` read by a reader
# that only touches the bytes (python/examples/bench_loader.py --mode bytes),
# through the pipe and through the shared-memory ring (--transport shm),
# against `contrastream bench --uint8` at TRANSPORT_SIZES (32 96 224), with
# the medians over the rounds printed at the end; (2) pairs/s delivered into
# a PyTorch loop — the ViewLoader iterated: raw uint8, normalized float32
# by default (the child writes it into the shm ring) and normalized on the
# host (--child-normalize off) — against shared/bench/aug_bench.py (torchvision's
# DataLoader, same recipe, same number of workers) at 32, 96 and 224 px.
# ROUNDS alternating rounds; every side runs alone on the machine (heavy
# --quiet, when present) under `chrt -r 5` (root).
#
#   bash docs/stream-bench.sh        # SHARED=../shared WORK=/tmp/stream-bench ROUNDS=3 WORKERS=2
#   PARTS=transport bash docs/stream-bench.sh   # only (1); PARTS=loader: only (2)
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
WORK=${WORK:-/tmp/stream-bench}
ROUNDS=${ROUNDS:-3}
WORKERS=${WORKERS:-2}
# 250 divides every set (2,000 and 500 images): no epoch remainder is made
# and then dropped (the stream sends full batches only).
BATCH=${BATCH:-250}
PARTS=${PARTS:-"transport loader"}
TRANSPORT_SIZES=${TRANSPORT_SIZES:-"32 96 224"}
TRANSPORT_BUILDS=${TRANSPORT_BUILDS:-turbo}
LOADER_BUILD=${LOADER_BUILD:-go}
LOADER_SIZES=${LOADER_SIZES:-"32 96 224"}
B=$(realpath "$SHARED/bench")
mkdir -p "$WORK"
export BENCH_DATA=${BENCH_DATA:-$WORK/data}
RT="chrt -r 5"
[ "$(id -u)" = 0 ] || RT=""
command -v heavy >/dev/null && RT="heavy --quiet $RT"
PY=/usr/bin/python3

H=""
command -v heavy >/dev/null && H=heavy
$H go build -o "$WORK/cs-go" ./cmd/contrastream
$H go build -tags turbojpeg -o "$WORK/cs-turbo" ./cmd/contrastream
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
has() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
TLOG=$WORK/transport.log
has transport && : >"$TLOG"
for r in $(seq "$ROUNDS"); do
	for s in $TRANSPORT_SIZES; do
		has transport || break
		echo "== transport at $s px, round $r, $(date +%T), load $(cut -d' ' -f1 /proc/loadavg)"
		for build in $TRANSPORT_BUILDS; do
			line=$($RT "$WORK/cs-$build" bench --uint8 --batch "$BATCH" --data "$WORK/shards/$(set_of "$s")" --size "$s" \
				--workers "$WORKERS" --seconds 10 2>/dev/null | grep 'pairs/s' | head -1)
			printf '%-18s%s\n' "bench $build $s" "$line" | tee -a "$TLOG"
			for t in pipe shm; do
				line=$($RT $PY python/examples/bench_loader.py --mode bytes --transport $t --binary "$WORK/cs-$build" \
					--batch "$BATCH" --data "$WORK/shards/$(set_of "$s")" --size "$s" --workers "$WORKERS" --seconds 10 | grep RESULT)
				printf '%-18s%s\n' "$t $build $s" "$line" | tee -a "$TLOG"
			done
		done
	done
	has loader || continue
	echo "== PyTorch loop vs DataLoader, round $r, $(date +%T), load $(cut -d' ' -f1 /proc/loadavg)"
	for s in $LOADER_SIZES; do
		if [ "$s" = 224 ]; then peer 224 --batches 3; else peer "$s"; fi
		loader "$LOADER_BUILD" "$s"
		loader "$LOADER_BUILD" "$s" --normalize
		loader "$LOADER_BUILD" "$s" --normalize --child-normalize off
	done
done
if has transport; then
	echo "== transport: medians of $ROUNDS rounds (pairs/s; cost = 1 - stream/bench)"
	$PY - "$TLOG" <<'PY'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    kind, build, size = line.split()[:3]
    m = re.search(r"pairs/s=([0-9.]+)", line) or re.search(r"([0-9.]+) pairs/s", line)
    cpu = re.search(r"reader-cpu=([0-9.]+)%", line)
    runs.setdefault((build, int(size), kind), []).append((float(m.group(1)), float(cpu.group(1)) if cpu else None))
for build, size in sorted({(b, s) for b, s, _ in runs}):
    med = lambda k, i=0: statistics.median(v[i] for v in runs[(build, size, k)])
    b = med("bench")
    out = ["%s %3d px: bench --uint8 %8.1f" % (build, size, b)]
    for t in ("pipe", "shm"):
        out.append("%s %8.1f (cost %4.1f%%, reader %4.1f%% of a core)" % (t, med(t), 100 * (1 - med(t) / b), med(t, 1)))
    print("  ".join(out) + "  [%d rounds]" % len(runs[(build, size, "bench")]))
PY
fi
