#!/usr/bin/env bash
# Whole-space synflow rosters (15,625 cells each) for the three datasets, one after another, with
# the project's own task=score job, merged into results/rosters/synflow_<dataset>.parquet; appends
# the command, wall time and load to results/roster_notes/synflow_times.log.  bench/score_rosters.sh does the work.
# Usage (from the repository root):  nohup bash bench/synflow_rosters.sh > results/roster_notes/synflow_rosters.out 2>&1 &
set -euo pipefail
OUT=${OUT:-outputs/synflow_rosters} \
  exec bash "$(dirname "$0")/score_rosters.sh" synflow
