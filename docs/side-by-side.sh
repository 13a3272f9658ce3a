#!/bin/bash
# Side-by-side runs behind docs/benchmarks.md sections 1 and 4 and the issue 13
# end-to-end table: the view pipeline (`contrastream bench` of the default
# pure-Go build, of the same build with --crop-decode=false at 224 px, and of
# the -tags turbojpeg build) against shared/bench/aug_bench.py at 32, 96 and
# 224 px, ROUNDS alternating rounds (the order of the sides flips every round),
# 2 workers each; then the training step (BenchmarkSimCLRStep/small) against
# train_step.py. Every side runs under $RT (default `heavy --quiet chrt -r 5`
# where `heavy` exists: both CPU slots and real-time priority, so each side
# gets the cores in turn). At the end it prints the medians per side, per core
# (pairs/s ÷ 2 workers on both sides) and the ratios.
#
#   bash docs/side-by-side.sh
#   SHARED=/work/shared DATA=/tmp/stream-bench/data SHARDS=/tmp/stream-bench/shards TRAIN=0 bash docs/side-by-side.sh
#
# SHARED    the shared folder with bench/ (default ../shared, else /work/shared)
# WORK      binaries and the raw log (default /tmp/side-by-side)
# DATA      make_data.py's images (default $WORK/data; made if missing)
# SHARDS    `contrastream import images` of them (default $WORK/shards; made if missing)
# ROUNDS    rounds per size (default 3)   SIZES   (default "32 96 224")
# BENCH_SECONDS measured seconds of each `bench` run (default 10)
# FLUSH=1   also run the tuned peer (--flush-denormal) at 224
# TURBO=0   skip the -tags turbojpeg build   TRAIN=0   skip the training step
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
[ -d "$SHARED/bench" ] || SHARED=/work/shared
WORK=${WORK:-/tmp/side-by-side}
ROUNDS=${ROUNDS:-3}
SIZES=${SIZES:-32 96 224}
SECS=${BENCH_SECONDS:-10}
TURBO=${TURBO:-1}
TRAIN=${TRAIN:-1}
FLUSH=${FLUSH:-0}
B=$(realpath "$SHARED/bench")
mkdir -p "$WORK"
export BENCH_DATA=${DATA:-$WORK/data}
SHARDS=${SHARDS:-$WORK/shards}
if [ -z "${RT+x}" ]; then
	RT=""
	[ "$(id -u)" = 0 ] && RT="chrt -r 5"
	command -v heavy >/dev/null && RT="heavy --quiet $RT"
fi
BUILD=""
command -v heavy >/dev/null && BUILD="heavy"
LOG=$WORK/side-by-side.log
: >"$LOG"

$BUILD go build -o "$WORK/cs-go" ./cmd/contrastream
[ "$TURBO" = 0 ] || $BUILD go build -tags turbojpeg -o "$WORK/cs-turbo" ./cmd/contrastream
[ "$TRAIN" = 0 ] || $BUILD go test -c -o "$WORK/nnbench.test" ./stages/train/nn/nnbench/
[ -d "$BENCH_DATA/jpg500" ] || $BUILD /usr/bin/python3 "$B/make_data.py"
for s in png32 jpg96 jpg500; do
	[ -d "$SHARDS/$s" ] || $BUILD "$WORK/cs-go" import images --dir "$BENCH_DATA/$s" --out "$SHARDS/$s"
done
echo "$(date -u +%FT%TZ) $(git rev-parse --short HEAD) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) data=$BENCH_DATA shards=$SHARDS" | tee -a "$LOG"

set_of() { case $1 in 32) echo png32 ;; 96) echo jpg96 ;; 224) echo jpg500 ;; esac; }
# record SIZE SIDE PAIRS_PER_S
record() { echo "$1 $2 $3" >>"$LOG.tsv"; printf '  %-12s %10s pairs/s\n' "$2" "$3"; }
peer() { # size side [extra aug_bench flags]
	local s=$1 side=$2 extra=() out
	shift 2
	[ "$s" = 224 ] && extra=(--batches 3)
	out=$($RT /usr/bin/python3 "$B/aug_bench.py" --size "$s" --workers 2 "${extra[@]}" "$@" 2>&1)
	echo "$out" >>"$LOG"
	out=$(echo "$out" | grep RESULT)
	record "$s" "$side" "$(echo "$out" | sed -E 's/.* ([0-9.]+) pairs\/s steady.*/\1/')"
}
ours() { # size side binary [extra bench flags]
	local s=$1 side=$2 bin=$3 out
	shift 3
	# the whole output first: grep -m1 in the pipe could end bench by SIGPIPE
	out=$($RT "$WORK/$bin" bench --data "$SHARDS/$(set_of "$s")" --size "$s" --workers 2 --seconds "$SECS" "$@" 2>/dev/null)
	echo "$side: $out" >>"$LOG"
	out=$(echo "$out" | grep 'pairs/s' | head -1)
	record "$s" "$side" "$(echo "$out" | awk '{print $1}')"
}
: >"$LOG.tsv"
for r in $(seq "$ROUNDS"); do
	for s in $SIZES; do
		echo "== $s px, round $r, $(date -u +%T), load $(cut -d' ' -f1 /proc/loadavg)" | tee -a "$LOG"
		sides=(peer go)
		[ "$s" = 224 ] && sides+=(go-nocrop)
		[ "$TURBO" = 0 ] || sides+=(turbo)
		[ "$s" = 224 ] && [ "$FLUSH" = 1 ] && sides+=(peer-flush)
		if [ $((r % 2)) = 0 ]; then # reverse the order every other round
			rev=()
			for ((i = ${#sides[@]} - 1; i >= 0; i--)); do rev+=("${sides[i]}"); done
			sides=("${rev[@]}")
		fi
		for side in "${sides[@]}"; do
			case $side in
			peer) peer "$s" peer ;;
			peer-flush) peer "$s" peer-flush --flush-denormal ;;
			go) ours "$s" go cs-go ;;
			go-nocrop) ours "$s" go-nocrop cs-go --crop-decode=false ;;
			turbo) ours "$s" turbo cs-turbo ;;
			esac
		done
	done
done

echo
echo "medians of $ROUNDS rounds, pairs/s (per core: ÷ 2 workers on both sides); ratio = ours per core / peer per core"
awk '
function median(a, n,   i, j, t) {
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ k = $1 SUBSEP $2; n[k]++; v[k, n[k]] = $3; sizes[$1] = 1; sides[$2] = 1 }
END {
	split("peer peer-flush go go-nocrop turbo", order, " ")
	for (s in sizes) {
		for (o = 1; o <= 5; o++) {
			side = order[o]; k = s SUBSEP side
			if (!(k in n)) continue
			delete a
			list = ""
			for (i = 1; i <= n[k]; i++) { a[i] = v[k, i]; list = list (i > 1 ? ", " : "") v[k, i] }
			m[side] = median(a, n[k])
			line = sprintf("%4s px  %-10s median %9.1f  per core %8.1f", s, side, m[side], m[side] / 2)
			if (side != "peer" && side != "peer-flush" && ("peer" in m)) line = line sprintf("  %5.1fx", m[side] / m["peer"])
			print line "   (" list ")"
		}
		if (("go" in m) && ("go-nocrop" in m)) printf("%4s px  crop-aware decode gain: %+.1f%% pairs/s\n", s, (m["go"] / m["go-nocrop"] - 1) * 100)
		delete m
	}
}' "$LOG.tsv" | sort -n -s -k1,1 | tee -a "$LOG"

[ "$TRAIN" = 0 ] && exit 0
for r in $(seq "$ROUNDS"); do
	echo "== training step, small, round $r, $(date -u +%T), load $(cut -d' ' -f1 /proc/loadavg)"
	$RT /usr/bin/python3 "$B/train_step.py" --model small --threads 2 --malloc-tuned 2>&1 | grep RESULT
	$RT "$WORK/nnbench.test" -test.run '^$' -test.bench 'SimCLRStep/small' -test.benchtime 10x | grep Benchmark
done
