#!/usr/bin/env bash
# Whole-space hook_logdet rosters, one isomorphism class scored once (share_isomorphic=true:
# 6,466 computed, 9,159 shared), as 2 class-aligned shards run side by side (one per core, 1 torch
# thread each), then merged into results/rosters/hook_logdet_<dataset>.parquet.  Appends the commands,
# wall time and load to results/roster_notes/hook_logdet_times.log.  bench/score_rosters.sh does the work.
# Usage (from the repository root):  nohup bash bench/hook_rosters.sh > results/roster_notes/hook_logdet_rosters.out 2>&1 &
set -euo pipefail
OUT=${OUT:-outputs/hook_rosters} SHARDS=${SHARDS:-2} \
  exec bash "$(dirname "$0")/score_rosters.sh" hook_logdet share_isomorphic=true
