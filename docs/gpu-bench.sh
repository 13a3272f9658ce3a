#!/bin/bash
# The GPU side of docs/benchmarks.md's "stream and the PyTorch loader"
# section, for a machine with a CUDA GPU and 16 cores: how long the GPU waits
# for its views with contrastream's ViewLoader vs torchvision's DataLoader
# (15 worker processes), on a ResNet-50 SimCLR step at 224 px and a CIFAR
# ResNet-18 step at 32 px (python/examples/gpu_wait.py). One run, about
# 5 minutes; prints the RESULT lines and a summary table.
#
#   bash docs/gpu-bench.sh            # PY=python3 SHARED=../shared WORK=/tmp/gpu-bench WORKERS=15 STEPS=40
#
# Needs Go (builds the CLI, -tags turbojpeg when libturbojpeg is installed),
# a Python with torch + torchvision + PIL, and the shared bench images
# ($SHARED/bench/make_data.py; made here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
SHARED=${SHARED:-../shared}
WORK=${WORK:-/tmp/gpu-bench}
WORKERS=${WORKERS:-15}
STEPS=${STEPS:-40}
mkdir -p "$WORK"
export BENCH_DATA=${BENCH_DATA:-$WORK/data}
tags=""
if [ -e /usr/include/turbojpeg.h ]; then tags="-tags turbojpeg"; fi
go build $tags -o "$WORK/contrastream" ./cmd/contrastream
export CONTRASTREAM_BIN=$WORK/contrastream
[ -d "$BENCH_DATA/jpg500" ] || $PY "$SHARED/bench/make_data.py"
for s in png32 jpg500; do
	[ -d "$WORK/shards/$s" ] || "$CONTRASTREAM_BIN" import images --dir "$BENCH_DATA/$s" --out "$WORK/shards/$s" >/dev/null
done
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
echo "cores: $(nproc)  $($PY -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__)')"
run() { # model size set batch
	for loader in ours torchvision; do
		if [ $loader = ours ]; then src=(--data "$WORK/shards/$3"); else src=(--images "$BENCH_DATA/$3"); fi
		$PY python/examples/gpu_wait.py --loader $loader "${src[@]}" --model "$1" --size "$2" --batch "$4" \
			--workers "$WORKERS" --steps "$STEPS" | grep RESULT | tee -a "$WORK/results.txt"
	done
}
: >"$WORK/results.txt"
run resnet50 224 jpg500 256
run resnet18 32 png32 512
echo
echo "| loader | model | size | pairs/s into GPU memory | GPU waits | step ms |"
echo "|---|---|---|---|---|---|"
sed -E 's/.*loader=([^ ]+) model=([^ ]+) size=([^ ]+).* pairs\/s=([^ ]+) wait=([^ ]+) step_ms=([^ ]+)/| \1 | \2 | \3 | \4 | \5 | \6 |/' "$WORK/results.txt"
