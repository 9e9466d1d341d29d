#!/usr/bin/env bash
# One GPU session's work, as a single script: check the GPU path, time the paper's metrics on the
# GPU (make bench --device cuda), then score rosters with a few 1-thread processes sharing the GPU
# until a deadline.  Every job is `run.py task=score ... hardware=gpu`; jobs stopped at the deadline
# keep their checkpoint chunks and resume from them (on any machine) when relaunched.
#
#   JOBS     file of job lines, each the task=score overrides of one job, separated by spaces; lines
#            with quotes or shell syntax are rejected (default bench/gpu_jobs.txt)
#   WORKERS  processes at once (default 3: processes take turns on one GPU; on an H200, 3 scored fisher
#            at ~27 architectures/s together, 15 at ~9/s)
#   DEADLINE seconds for the scoring phase (default 420)
#   OUT      where the results go: log.txt and scores.tar.gz (job folders, job logs, bench files, GPU use)
#
# Example (from the repository root, on a machine with a CUDA build of torch):
#   OUT=/tmp/gpu DEADLINE=3600 bash bench/gpu_rosters.sh
# then unpack $OUT/scores.tar.gz at the repository root and merge the rosters as usual.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
JOBS=${JOBS:-bench/gpu_jobs.txt}
WORKERS=${WORKERS:-3}
DEADLINE=${DEADLINE:-420}
OUT=${OUT:?set OUT to a folder for the results}
SCORES=${SCORES:-outputs_gpu}
# for a trial run without a GPU: HW=local DEVICE=cpu BENCH=0 (DRY_RUN=1 only prints the job commands)
HW=${HW:-gpu}
export DEVICE=${DEVICE:-cuda}
export PYTHONUNBUFFERED=1
mkdir -p "$OUT" "$SCORES"
log() { echo "$(date -Is) $*" | tee -a "$OUT/log.txt"; }

# The job lines.  Each is a list of overrides, split at whitespace and handed to run.py as its
# arguments: no shell ever reads a line.  A line with any character a plain override does not need
# (quotes, ;, &, |, $, `, <, >, ( ), *, ?, \, ...) is rejected, not guessed at.
not_plain='[^]A-Za-z0-9_=.,:/@%+~[:space:][{}-]'
jobs=()
n=0
while IFS= read -r line || [[ -n $line ]]; do
  n=$((n + 1))
  [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
  if [[ $line =~ $not_plain ]]; then
    log "rejected $JOBS line $n (only plain overrides, no shell syntax or quotes): $line"
    continue
  fi
  jobs+=("$line")
done <"$JOBS"
# DRY_RUN=1: log the command of each job and stop (no GPU, no Python needed)
if [ "${DRY_RUN:-0}" = 1 ]; then
  for line in "${jobs[@]}"; do
    read -r -a args <<<"$line"
    log "dry run: $(printf '%q ' "$PY" run.py task=score "${args[@]}" hardware="$HW" hardware.threads=1 progress=false checkpoint_every=20 paths.output_dir="$SCORES")"
  done
  exit 0
fi

log "host $(hostname), $(nproc) CPUs, workers $WORKERS, deadline $DEADLINE s"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >>"$OUT/log.txt" 2>&1
if ! "$PY" - >>"$OUT/log.txt" 2>&1 <<'EOF'
import torch, hydra, omegaconf, pandas, pyarrow, numpy, scipy
import os; DEVICE = os.environ["DEVICE"]
print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")
print("hydra", hydra.__version__, "omegaconf", omegaconf.__version__, "pandas", pandas.__version__, "numpy", numpy.__version__)
import zcnas
x = torch.randn(8, 3, 32, 32, device=DEVICE); y = torch.randint(0, 10, (8,), device=DEVICE)
net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8 * 30 * 30, 10)).to(x.device)
print("zcnas.score smoke:", zcnas.score(net, (x, y), metric="hook_logdet"))
EOF
then log "environment check failed"; exit 1; fi

# 1. the paper's metrics on the GPU, engine against the straightforward implementation
if [ "${BENCH:-1}" = 1 ]; then
  log "bench start"
  mkdir -p "$SCORES/bench"
  timeout 75 "$PY" bench/bench.py --device cuda --threads 1 --sample ${BENCH_SAMPLE:-10} \
    --metrics synflow,hook_logdet,snip --searches none --out "$SCORES/bench" --tag bench_cuda >"$SCORES/bench/bench.log" 2>&1
  log "bench rc=$?"
fi

# 2. the scoring jobs, WORKERS at a time, all stopped at the deadline
run_line() {  # one job line -> one run.py process; xargs passes the line as $1, as data
  local -a args
  read -r -a args <<<"$1"
  "$PY" run.py task=score "${args[@]}" hardware="$HW" hardware.threads=1 progress=false checkpoint_every=20 \
    paths.output_dir="$SCORES" >>"$SCORES/jobs.log" 2>&1
  echo "$(date -Is) finished rc=$? $1" >>"$OUT/log.txt"
}
export -f run_line
export PY HW SCORES OUT
nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 10 >"$SCORES/gpu_use.csv" 2>&1 &
smi=$!
log "jobs start: ${#jobs[@]} jobs"
((${#jobs[@]})) && printf '%s\n' "${jobs[@]}" | timeout -s TERM -k 15 "$DEADLINE" xargs -r -d '\n' -n 1 -P "$WORKERS" bash -c 'run_line "$1"' run_line
log "jobs end rc=$? ($(grep -c ' finished rc=' "$OUT/log.txt") finished)"
kill $smi 2>/dev/null
tar czf "$OUT/scores.tar.gz" "$SCORES"
log "packed $(du -h "$OUT/scores.tar.gz" | cut -f1)"
