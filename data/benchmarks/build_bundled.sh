#!/usr/bin/env bash
# Builds (or resumes) every bundled benchmark of the package, in order of priority.
# Each step is resumable: kill it at any point and run this script again.
# Usage: bash data/benchmarks/build_bundled.sh [WORKERS]   (run from the repository root)
set -euo pipefail
workers="${1:-2}"
root="data/benchmarks"
proto="H0:epochs=12,batch_size=256,flip_prob=0,crop_padding=1,name=digits12,hp=12"

# 1. tss: one representative per isomorphism class (6,466), the rest answer through it
natsbench build --space tss --dataset digits --protocol "$proto" --seeds 777 \
  --store "$root/tss-digits" --archs unique --workers "$workers" --model C=8,N=1 --image-size 8 --no-compact
natsbench compact "$root/tss-digits"

# 2. ExtCell random samples (Na 2022, 4.2.2): 100 DARTS cells and 100 k-ExtCells per k
natsbench build --space darts --dataset digits --protocol "$proto" --seeds 777 \
  --store "$root/extcell/darts" --archs sample:100 --workers "$workers" --model C=8,layers=3 --image-size 8
for k in 10 12 14 16; do
  natsbench build --space extcell --extcell-k "$k" --dataset digits --protocol "$proto" --seeds 777 \
    --store "$root/extcell/k$k" --archs sample:100 --workers "$workers" --model C=8,layers=3 --image-size 8
done
natsbench extcell-edf "$root/extcell/darts" "$root/extcell/k10" "$root/extcell/k12" "$root/extcell/k14" \
  "$root/extcell/k16" --out data/extcell/edf.csv

# 3. sss: a stratified sample of 2,048 channel configurations; a surrogate answers the rest
natsbench build --space sss --dataset digits --protocol "$proto" --seeds 777 \
  --store "$root/sss-digits" --archs stratified:2048 --workers "$workers" --image-size 8 --no-compact
natsbench compact "$root/sss-digits"
natsbench surrogate fit "$root/sss-digits" --dataset digits --hp 12 --holdout 0.2 \
  --metric x-valid_acc1,x-test_acc1,ori-test_acc1,train_time,params,flops,latency
