"""Summaries of the whole-space synflow rosters (results/rosters/synflow_<dataset>.parquet).

Per roster: rows, disconnected cells (score exactly 0), per-architecture seconds,
and what sharing scores across isomorphism classes (score_job's share_isomorphic)
would have given instead of computing every cell: each cell takes the score of its
class's lowest-index member, compared with its own computed score.

    .venv/bin/python bench/roster_stats.py      # writes results/rosters/stats.json
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from zcnas.io import write_json  # noqa: E402
from zcnas.roster import read_roster  # noqa: E402
from zcnas.score_job import representatives  # noqa: E402
from zcnas.space import NUM_CELLS, all_cells, is_disconnected  # noqa: E402


def main() -> int:
    rep = representatives()
    rep_of = np.array([rep[i] for i in range(NUM_CELLS)])
    member = rep_of != np.arange(NUM_CELLS)
    disconnected = np.array([is_disconnected(c) for c in all_cells()])
    stats = {}
    for path in sorted((ROOT / "results" / "rosters").glob("synflow_*.parquet")):
        roster = read_roster(path)
        rows = roster.rows.set_index("index").sort_index()
        s = rows["score"].to_numpy(dtype=float)
        sec = rows["seconds"].to_numpy(dtype=float)
        shared = s[rep_of]
        rel = np.abs(shared - s)[member] / np.maximum(np.abs(s[member]), 1e-300)
        stats[path.stem] = {
            "rows": int(len(rows)), "computed": int((rows["source"] == "computed").sum()),
            "isomorphism_classes": int(len(set(rep.values()))),
            "disconnected": int(disconnected.sum()), "zero_scores": int((s == 0).sum()),
            "zero_scores_all_disconnected": bool(((s == 0) == disconnected).all()),
            "seconds_sum": float(sec.sum()), "seconds_median": float(np.median(sec)),
            "seconds_mean": float(sec.mean()), "seconds_p90": float(np.quantile(sec, 0.9)),
            "shared_vs_computed": {
                "spearman_all_cells": float(spearmanr(shared, s)[0]),
                "spearman_non_representatives": float(spearmanr(shared[member], s[member])[0]),
                "non_representatives": int(member.sum()),
                "identical_non_representatives": int((shared[member] == s[member]).sum()),
                "median_rel_diff": float(np.median(rel)), "p90_rel_diff": float(np.quantile(rel, 0.9)),
            },
            "meta": {k: roster.meta.get(k) for k in ("metric", "dataset", "seed", "zcnas_version", "torch_version")},
        }
        print(path.name, stats[path.stem])
    write_json(ROOT / "results" / "rosters" / "stats.json", stats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
