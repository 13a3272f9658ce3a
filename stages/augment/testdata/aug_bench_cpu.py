#!/usr/bin/python3
"""Run ../shared/bench/aug_bench.py with time.perf_counter replaced by
time.process_time, so that --breakdown reports CPU time per call instead of
wall time. On a shared machine whose run queue is several times longer than
its core count, wall time per call inflates with the load; CPU time much
less. The Go benchmarks report the same quantity as cpu-ns/op.

    BENCH_DATA=/tmp/bench-data /usr/bin/python3 aug_bench_cpu.py --size 224 --breakdown

Arguments are passed through unchanged. The peer script itself is not
modified.
"""
import os
import runpy
import sys
import time

PEER = os.environ.get("AUG_BENCH", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                "..", "..", "..", "..", "shared", "bench", "aug_bench.py"))
if not os.path.exists(PEER):
    PEER = "/work/shared/bench/aug_bench.py"
time.perf_counter = time.process_time
sys.argv = [PEER] + sys.argv[1:]
runpy.run_path(PEER, run_name="__main__")
