#!/usr/bin/env bash
# Whole-space synflow rosters (15,625 cells each) for the three datasets, one after another,
# with the project's own task=score job; copies each roster to results/rosters/synflow_<dataset>.parquet
# and appends the command, wall time and load to results/rosters/synflow_times.log.
# Usage (from the repository root):  nohup bash bench/synflow_rosters.sh > results/rosters/synflow_rosters.out 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-outputs/synflow_rosters}
LOG=results/rosters/synflow_times.log
mkdir -p results/rosters
for ds in ${DATASETS:-cifar10 cifar100 ImageNet16-120}; do
  cmd="$PY run.py task=score metric=synflow dataset=$ds hardware.threads=1 progress=false paths.output_dir=$OUT"
  echo "$(date -Is) start $ds: $cmd | load: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$LOG"
  start=$(date +%s.%N)
  $cmd
  end=$(date +%s.%N)
  src="$OUT/score/dataset=$ds,metric=synflow,task=score/roster.parquet"
  cp "$src" "results/rosters/synflow_$ds.parquet.tmp" && mv "results/rosters/synflow_$ds.parquet.tmp" "results/rosters/synflow_$ds.parquet"
  echo "$(date -Is) done $ds: wall $(echo "$end - $start" | bc) s | load: $(cut -d' ' -f1-3 /proc/loadavg) | roster $src" | tee -a "$LOG"
done
