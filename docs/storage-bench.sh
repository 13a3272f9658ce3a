#!/bin/bash
# Reproduces "Shards on object storage (issue 10)" in docs/benchmarks.md:
# pairs/s of `contrastream bench` from local shards and from the same shards
# served by internal/cmd/fakes3 (gofakes3 + s3mem on a loopback port) with 0
# and 20 ms added to every request, alternated, ROUNDS rounds; peak RSS of
# each run; the fake server's CPU; then bytes and requests per rank for
# world 1, 2 and 4.
#
#   docs/storage-bench.sh [ROUNDS]          (default 3)
#
# Environment: SHARDS (folder of jpg96/ jpg500/ png32/ shard folders, default
# /tmp/stream-bench/shards), BENCH_DATA (images, for the 8-shard set of the
# per-rank table, default /tmp/stream-bench/data), OUT (binaries and logs,
# default /tmp/storage-bench), T (timed seconds per run, default 10), SETS
# (default "jpg96:96 jpg500:224 png32:32"), LAT (default "0ms 20ms").
#
# Both sides run under `heavy --quiet chrt -r 5` (both CPU slots, real-time
# round robin). The fake server runs at the same real-time priority (chrt -r
# 5) but outside heavy: at a normal priority the benchmark's real-time
# threads would starve it on 2 cores. Its CPU is taken from the same 2 cores
# the pipeline uses, so the bucket figures pay for the server too (reported
# as fakes3 CPU, % of the run's wall time, one core = 100%).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
SHARDS=${SHARDS:-/tmp/stream-bench/shards}
BENCH_DATA=${BENCH_DATA:-/tmp/stream-bench/data}
OUT=${OUT:-/tmp/storage-bench}
T=${T:-10}
SETS=${SETS:-"jpg96:96 jpg500:224 png32:32"}
LAT=${LAT:-"0ms 20ms"}
export AWS_EC2_METADATA_DISABLED=true AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
mkdir -p "$OUT"
: >"$OUT/fakes3.log"
heavy go build -o "$OUT/cs" ./cmd/contrastream
heavy go build -o "$OUT/fakes3" ./internal/cmd/fakes3

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# start_fake DIR LATENCY: serves DIR, sets URL and FPID.
start_fake() {
	local f="$OUT/url.$RANDOM"
	chrt -r 5 "$OUT/fakes3" --dir "$1" --addr 127.0.0.1:0 --latency "$2" >"$f" 2>>"$OUT/fakes3.log" &
	FPID=$!
	PIDS+=("$FPID")
	for _ in $(seq 100); do [ -s "$f" ] && break; sleep 0.1; done
	URL=$(head -1 "$f")
	rm -f "$f"
	[ -n "$URL" ] || { echo "fakes3 did not start" >&2; exit 1; }
}
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

# bench SET SIDE ROUND DATA SIZE [FAKEPID]: one timed run, one result line.
bench() {
	local b=0 a=0
	[ -n "${6:-}" ] && b=$(ticks "$6")
	heavy --quiet chrt -r 5 /usr/bin/time -v "$OUT/cs" bench --data "$4" --size "$5" --workers 2 --seconds "$T" --json \
		>"$OUT/run.json" 2>"$OUT/run.time"
	[ -n "${6:-}" ] && a=$(ticks "$6")
	/usr/bin/python3 - "$1" "$2" "$3" $((a - b)) "$(getconf CLK_TCK)" "$OUT/run.json" "$OUT/run.time" <<'EOF' | tee -a "$OUT/results.txt"
import json, sys
st, side, rnd, dt, hz, js, tm = sys.argv[1:]
rep = [json.loads(l) for l in open(js) if l.startswith("{")][-1]
t = {}
for l in open(tm):
    k, _, v = l.strip().rpartition(": ")
    t[k] = v
w = t["Elapsed (wall clock) time (h:mm:ss or m:ss)"].split(":")
wall = sum(float(x) * 60 ** i for i, x in enumerate(reversed(w)))
cpu = float(t["User time (seconds)"]) + float(t["System time (seconds)"])
s = rep.get("storage") or {}
print(f"{st} {side} {rnd} pairs/s {rep['pairs_per_s']:.1f} rss_MiB {int(t['Maximum resident set size (kbytes)'])/1024:.1f}"
      f" bench_cpu% {100*cpu/wall:.0f} fakes3_cpu% {100*int(dt)/float(hz)/wall:.1f} wall_s {wall:.1f}"
      f" requests {s.get('requests', 0)} MB {s.get('bytes', 0)/1e6:.1f} retries {s.get('retries', 0)}")
EOF
}

: >"$OUT/results.txt"
for set in $SETS; do
	name=${set%%:*} size=${set##*:}
	declare -A url=() pid=()
	for l in $LAT; do
		start_fake "$SHARDS/$name" "$l"
		url[$l]=$URL pid[$l]=$FPID
	done
	sides=(local $LAT)
	for r in $(seq "$ROUNDS"); do
		# Rotate the order each round so that no side always runs first.
		for i in "${!sides[@]}"; do
			side=${sides[$(((i + r - 1) % ${#sides[@]}))]}
			if [ "$side" = local ]; then
				bench "$name" local "$r" "$SHARDS/$name" "$size"
			else
				bench "$name" "s3-$side" "$r" "${url[$side]}" "$size" "${pid[$side]}"
			fi
		done
	done
	for l in $LAT; do kill "${pid[$l]}"; done
	unset url pid
done

echo "== medians (ratio to local)"
/usr/bin/python3 - "$OUT/results.txt" <<'EOF'
import statistics, sys, collections
runs = collections.defaultdict(list)
for l in open(sys.argv[1]):
    f = l.split()
    kv = dict(zip(f[3::2], f[4::2]))
    runs[(f[0], f[1])].append(kv)
for (st, side), rs in runs.items():
    med = lambda k: statistics.median(float(r[k]) for r in rs)
    loc = statistics.median(float(r["pairs/s"]) for r in runs[(st, "local")])
    print(f"{st:7} {side:9} pairs/s {med('pairs/s'):8.1f} ({100*med('pairs/s')/loc:5.1f}% of local)"
          f"  rss {med('rss_MiB'):6.1f} MiB  bench cpu {med('bench_cpu%'):4.0f}%  fakes3 cpu {med('fakes3_cpu%'):4.1f}%"
          f"  runs {' '.join(r['pairs/s'] for r in rs)}")
EOF

# Bytes and requests per rank: jpg96 imported as 8 shards of 250 rows (one
# row group each), one epoch per rank; "open" is listing the bucket and
# opening every shard (HEAD, the 64 KiB tail holding the footer, the magic
# bytes), which every rank does; "data" the column chunks it read.
X8="$OUT/jpg96x8"
[ -d "$X8" ] || heavy "$OUT/cs" import images --dir "$BENCH_DATA/jpg96" --out "$X8" --shards 8 >/dev/null
start_fake "$X8" 0ms
echo "== bytes per rank (jpg96, 8 shards, $(du -b "$X8"/*.parquet | awk '{s+=$1} END {printf "%.2f MB", s/1e6}'))"
for w in 1 2 4; do
	for r in $(seq 0 $((w - 1))); do
		heavy "$OUT/cs" bench --data "$URL" --size 96 --workers 2 --world "$w" --rank "$r" --epochs 1 --seconds 120 --warmup -1 --json |
			/usr/bin/python3 -c "
import json, sys
rep = [json.loads(l) for l in sys.stdin if l.startswith('{')][-1]
s, o = rep['storage'], rep['storage_open']
print(f'world $w rank $r: {rep[\"samples\"]} samples; open {o[\"requests\"]} requests {o[\"bytes\"]/1e6:.2f} MB;'
      f' data {s[\"requests\"]-o[\"requests\"]} requests {(s[\"bytes\"]-o[\"bytes\"])/1e6:.2f} MB')" | tee -a "$OUT/results.txt"
	done
done
kill "$FPID"

# Memory: peak RSS with small uint8 batches (16 pairs), so that the batches
# in flight (4 × 16 × 2 × 224² × 3 B = 19 MiB) do not hide the read-ahead:
# jpg500 (one 26 MB row group per epoch, larger than a unit's read-ahead
# budget) from disk and from the bucket at 20 ms.
echo "== peak RSS, jpg500, --uint8 --batch 16"
start_fake "$SHARDS/jpg500" 20ms
for r in $(seq "$ROUNDS"); do
	for side in local s3-20ms; do
		data="$SHARDS/jpg500"
		[ "$side" = local ] || data=$URL
		heavy --quiet chrt -r 5 /usr/bin/time -v "$OUT/cs" bench --data "$data" --size 224 --workers 2 --uint8 --batch 16 --seconds "$T" --json \
			>"$OUT/run.json" 2>"$OUT/run.time"
		echo "jpg500-b16 $side $r pairs/s $(/usr/bin/python3 -c "
import json
print(round([json.loads(l) for l in open('$OUT/run.json') if l.startswith('{')][-1]['pairs_per_s'], 1))") rss_MiB $(awk -F': ' '/Maximum resident/ {printf "%.1f", $2/1024}' "$OUT/run.time")" |
			tee -a "$OUT/results.txt"
	done
done
kill "$FPID"
wait
echo "== fakes3 (each server: what it served, faults, most requests in flight at once)"
grep -v "superfluous response.WriteHeader" "$OUT/fakes3.log" # (gofakes3 logs a line per request cut off at the end of a run)
