#!/usr/bin/env bash
# Whole-space rosters of one metric, dataset after dataset, with the project's own task=score job:
# SHARDS shards side by side (one per core, 1 torch thread each), then merged with task=merge into
# $ROSTERS/<metric>_<dataset>.parquet.  Appends each dataset's command, wall time and load to
# $NOTES/<metric>_times.log (beside the rosters: a rosters folder holds rosters only).  bench/hook_rosters.sh and bench/synflow_rosters.sh run it.
# Usage (from the repository root):  bash bench/score_rosters.sh METRIC [task=score override ...]
#   PY (.venv/bin/python)  OUT (outputs/<metric>_rosters)  SHARDS (1)
#   DATASETS (cifar10 cifar100 ImageNet16-120)  ROSTERS (results/rosters)  NOTES (roster_notes beside ROSTERS)
set -euo pipefail
cd "$(dirname "$0")/.."
METRIC=${1:?usage: bash bench/score_rosters.sh METRIC [task=score override ...]}
shift
PY=${PY:-.venv/bin/python}
DATASETS=${DATASETS:-cifar10 cifar100 ImageNet16-120}
# METRIC and each dataset name files (the log, the rosters): a metric and datasets of conf/, checked
# before anything is written
plain() { [[ $1 =~ ^[A-Za-z0-9_][A-Za-z0-9._-]*$ ]]; }
if ! plain "$METRIC" || [[ ! -f conf/metric/$METRIC.yaml ]]; then
  echo "error: unknown metric '$METRIC'; valid: $(cd conf/metric && ls -- *.yaml | sed 's/\.yaml$//' | tr '\n' ' ')" >&2
  exit 2
fi
for ds in $DATASETS; do
  if ! plain "$ds" || [[ ! -f conf/dataset/$ds.yaml ]]; then
    echo "error: unknown dataset '$ds' in DATASETS; valid: $(cd conf/dataset && ls -- *.yaml | sed 's/\.yaml$//' | tr '\n' ' ')" >&2
    exit 2
  fi
done
OUT=${OUT:-outputs/${METRIC}_rosters}
SHARDS=${SHARDS:-1}
# a number before any arithmetic: bash evaluates the text of a variable inside (( )) as an expression
if [[ ! $SHARDS =~ ^[1-9][0-9]*$ ]]; then
  echo "error: SHARDS must be a whole number >= 1, got '$SHARDS'" >&2
  exit 2
fi
ROSTERS=${ROSTERS:-results/rosters}
# beside the rosters folder (results/rosters -> results/roster_notes): a run elsewhere never logs into results/
NOTES=${NOTES:-$(dirname "$ROSTERS")/roster_notes}
LOG=$NOTES/${METRIC}_times.log
mkdir -p "$ROSTERS" "$NOTES"

# the folder run.py wrote a job with these overrides to (zcnas.jobs.folder_name owns the rule; a
# value that restates its default, such as shard=0, is left out of the name)
folder() {
  local name
  name=$("$PY" -c 'import sys; from zcnas.jobs import folder_name; print(folder_name(sys.argv[1:]))' "$@")
  if [[ ! -d $OUT/score/$name && " $* " == *" shard=0 "* ]]; then
    local args=() a
    for a in "$@"; do [[ $a == shard=0 ]] || args+=("$a"); done
    name=$("$PY" -c 'import sys; from zcnas.jobs import folder_name; print(folder_name(sys.argv[1:]))' "${args[@]}")
  fi
  echo "$name"
}
load() { cut -d' ' -f1-3 /proc/loadavg; }

for ds in $DATASETS; do
  job=(task=score "metric=$METRIC" "dataset=$ds" "$@")
  # one shard is the plain job: no shard overrides, so its folder name is the plain job's
  ((SHARDS > 1)) && job+=("num_shards=$SHARDS")
  cmd=("$PY" run.py "${job[@]}" hardware.threads=1 progress=false "paths.output_dir=$OUT")
  shards=""
  ((SHARDS > 1)) && shards=" shard=<0..$((SHARDS - 1))> (in parallel)"
  echo "$(date -Is) start $ds: ${cmd[*]}$shards | load: $(load)" | tee -a "$LOG"
  start=$(date +%s.%N)
  if ((SHARDS > 1)); then
    pids=()
    for ((s = 0; s < SHARDS; s++)); do "${cmd[@]}" "shard=$s" & pids+=($!); done
    for p in "${pids[@]}"; do wait "$p"; done
    inputs=()
    for ((s = 0; s < SHARDS; s++)); do inputs+=("'$OUT/score/$(folder "${job[@]}" "shard=$s")/roster.parquet'"); done
  else
    "${cmd[@]}"
    inputs=("'$OUT/score/$(folder "${job[@]}")/roster.parquet'")
  fi
  end=$(date +%s.%N)
  # a list of quoted paths (the folder names hold '=' and ','), one per shard
  "$PY" run.py task=merge "merge.inputs=[$(IFS=,; echo "${inputs[*]}")]" "merge.output_dir=$ROSTERS" \
    progress=false "paths.output_dir=$OUT"
  echo "$(date -Is) done $ds: wall $(echo "$end - $start" | bc) s | load: $(load) | roster $ROSTERS/${METRIC}_$ds.parquet" | tee -a "$LOG"
done
