#!/bin/bash
# 5 alternating rounds on Fashion-MNIST train (60,000 images):
# contrastream import idx (--workers 1 and default 2) vs the PIL peer. Wall and CPU (user+sys).
F=/usr/share/datasets/fashion-mnist
CS=${CS:-contrastream}   # path of the contrastream binary
OUT=${OUT:-/tmp/contrastream-bench-import}
for r in 1 2 3 4 5; do
  for v in go-w1 pil go-w2; do
    rm -rf $OUT
    case $v in
      go-w1) /usr/bin/time -f "$v r$r wall=%e cpu=%U+%S maxrss_kb=%M" $CS import idx --images $F/train-images-idx3-ubyte.gz --labels $F/train-labels-idx1-ubyte.gz --out $OUT --workers 1 --json 2>&1 >$OUT.json | grep wall= ; python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("   rows", d["rows"], "shard bytes", d["bytes"])' "$OUT.json";;
      go-w2) /usr/bin/time -f "$v r$r wall=%e cpu=%U+%S maxrss_kb=%M" $CS import idx --images $F/train-images-idx3-ubyte.gz --labels $F/train-labels-idx1-ubyte.gz --out $OUT --json 2>&1 >$OUT.json | grep wall= ;;
      pil) /usr/bin/time -f "$v r$r wall=%e cpu=%U+%S maxrss_kb=%M" /usr/bin/python3 $(dirname "$0")/peer_import_idx.py $F/train-images-idx3-ubyte.gz $F/train-labels-idx1-ubyte.gz 1 2>&1 | tr '\n' ' '; echo;;
    esac
  done
done
