#!/usr/bin/env bash
# Whole-space hook_logdet rosters, one isomorphism class scored once (share_isomorphic=true:
# 6,466 computed, 9,159 shared), as 2 class-aligned shards run side by side (one per core, 1 torch
# thread each), then merged into results/rosters/hook_logdet_<dataset>.parquet.  Appends the commands,
# wall time and load to results/rosters/hook_logdet_times.log.
# Usage (from the repository root):  nohup bash bench/hook_rosters.sh > results/rosters/hook_logdet_rosters.out 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-outputs/hook_rosters}
SHARDS=${SHARDS:-2}
LOG=results/rosters/hook_logdet_times.log
mkdir -p results/rosters
for ds in ${DATASETS:-cifar10 cifar100 ImageNet16-120}; do
  cmd="$PY run.py task=score metric=hook_logdet dataset=$ds share_isomorphic=true num_shards=$SHARDS hardware.threads=1 progress=false paths.output_dir=$OUT"
  echo "$(date -Is) start $ds: $cmd shard=<0..$((SHARDS - 1))> (in parallel) | load: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$LOG"
  start=$(date +%s.%N)
  pids=()
  for ((s = 0; s < SHARDS; s++)); do $cmd shard=$s & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p"; done
  end=$(date +%s.%N)
  inputs="$OUT/score/dataset=$ds,metric=hook_logdet,num_shards=$SHARDS,shard=*,share_isomorphic=true,task=score/roster.parquet"
  $PY run.py task=merge "merge.inputs=['$inputs']" merge.output_dir=results/rosters
  echo "$(date -Is) done $ds: wall $(echo "$end - $start" | bc) s | load: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$LOG"
done
