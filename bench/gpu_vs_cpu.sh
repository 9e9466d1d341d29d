#!/usr/bin/env bash
# Scores twelve cells of the 1,000-cell sample on this machine's CPU (1 thread) for each sample roster
# scored on a GPU, and compares them with the roster's values -> results/rosters/gpu_vs_cpu.md.
# Usage (from the repository root):  bash bench/gpu_vs_cpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
# every 40th cell of the first 480 of the sample (sample=1000 seed=0), all scored on the GPU
IDX="4,660,1277,1941,2650,3348,4123,4685,5296,5975,6578,7346"
pairs=()
for job in "grasp cifar10" "grasp cifar100" "grasp ImageNet16-120" "fisher cifar10" "fisher cifar100" \
           "zico cifar100" "epe_nas cifar100" "jacov cifar100"; do
  set -- $job
  $PY run.py task=score metric=$1 dataset=$2 "indices=[$IDX]" hardware.threads=1 progress=false paths.output_dir=outputs/parity >/dev/null
  pairs+=("outputs/parity/score/dataset=$2,indices=[$IDX],metric=$1,task=score/roster.parquet" "results/rosters/sample1000/$1_$2.parquet")
done
$PY bench/compare_rosters.py "${pairs[@]}" --out results/rosters/gpu_vs_cpu.md
