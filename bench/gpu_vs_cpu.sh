#!/usr/bin/env bash
# Scores twelve cells of the 1,000-cell sample on this machine's CPU (1 thread) for each sample roster
# that records a GPU among its devices, and compares them with the roster's values
# -> results/roster_notes/gpu_vs_cpu.md.
# Usage (from the repository root):  bash bench/gpu_vs_cpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
# every 40th cell of the first 480 of the sample (sample=1000 seed=0), all scored on the GPU
IDX="4,660,1277,1941,2650,3348,4123,4685,5296,5975,6578,7346"
# "metric dataset" of each roster scored (partly) on a GPU, from the rosters' own metadata
jobs=$($PY - <<'PY'
import glob, sys
sys.path.insert(0, "src")
from zcnas.roster import read_roster
for path in sorted(glob.glob("results/rosters/sample1000/*.parquet")):
    meta = read_roster(path).meta
    if "cuda" in str(meta.get("device", "")):
        print(meta["metric"], meta["dataset"])
PY
)
pairs=()
while read -r metric dataset; do
  $PY run.py task=score metric=$metric dataset=$dataset "indices=[$IDX]" hardware.threads=1 progress=false paths.output_dir=outputs/parity >/dev/null
  pairs+=("outputs/parity/score/dataset=$dataset,indices=[$IDX],metric=$metric,task=score/roster.parquet" "results/rosters/sample1000/${metric}_$dataset.parquet")
done <<<"$jobs"
$PY bench/compare_rosters.py "${pairs[@]}" --out results/roster_notes/gpu_vs_cpu.md
