"""Summaries of the whole-space rosters in results/rosters/.

synflow_<dataset>.parquet (every cell computed): rows, disconnected cells (score
exactly 0), per-architecture seconds, and what sharing scores across isomorphism
classes (task=score's share_isomorphic) would have given instead of computing every
cell: each cell takes the score of its class's lowest-index member, compared with
its own computed score.

Every roster written with share_isomorphic=true (hook_logdet, snip, jacov, zen: one
computed cell per class): the same counts and seconds, and the shared scores against the cells' own scores
computed in the 1,000-cell sample roster (results/rosters/sample1000/), with the
Spearman rho of each with the 200-epoch test accuracy on those cells.

    .venv/bin/python bench/roster_stats.py      # writes results/roster_notes/stats.json
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
from zcnas.spaces.nats_tss.cells import NUM_CELLS, all_cells, is_disconnected, representatives  # noqa: E402


TABLE = "nats_tss/nats_tss_benchmark.csv"  # ../shared/data, as conf/benchmark/auto.yaml


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
    for path in sorted((ROOT / "results" / "rosters").glob("*_*.parquet")):
        if read_roster(path).meta.get("share_isomorphic"):  # hook_logdet, snip, jacov, zen
            stats[path.stem] = shared_roster_stats(path, rep_of, member)
            print(path.name, stats[path.stem])
    write_json(ROOT / "results" / "roster_notes" / "stats.json", stats)
    return 0


def shared_roster_stats(path: Path, rep_of: np.ndarray, member: np.ndarray) -> dict:
    """A share_isomorphic roster against the same cells' own scores in the sample roster."""
    from zcnas.benchmark import TableBenchmark
    from zcnas.studies.rank_correlation import correlations

    roster = read_roster(path)
    rows = roster.rows.set_index("index").sort_index()
    s = rows["score"].to_numpy(dtype=float)
    sec = rows["seconds"].to_numpy(dtype=float)
    computed = (rows["source"] == "computed").to_numpy()
    out = {
        "rows": int(len(rows)), "computed": int(computed.sum()), "shared": int((~computed).sum()),
        "computed_are_representatives": bool((rep_of[computed] == np.arange(NUM_CELLS)[computed]).all()),
        "non_finite": int((~np.isfinite(s)).sum()),
        "seconds_sum": float(sec.sum()), "seconds_median_computed": float(np.median(sec[computed])),
        "seconds_p90_computed": float(np.quantile(sec[computed], 0.9)),
        "meta": {k: roster.meta.get(k) for k in ("metric", "dataset", "seed", "batch_size", "share_isomorphic",
                                                   "zcnas_version", "torch_version")},
    }
    sample_path = ROOT / "results" / "rosters" / "sample1000" / path.name
    if sample_path.exists():
        sample = read_roster(sample_path).rows.set_index("index").sort_index()
        idx = sample.index.to_numpy(dtype=int)
        own, shared = sample["score"].to_numpy(dtype=float), s[idx]
        fin = np.isfinite(own) & np.isfinite(shared)
        nonrep = member[idx]
        acc = TableBenchmark(str(ROOT.parent / "shared" / "data" / TABLE)).all_test_accuracies(roster.meta["dataset"])[idx]
        out["against_sample_roster"] = {
            "cells": int(len(idx)), "non_representatives": int(nonrep.sum()),
            "representatives_identical": int((own[~nonrep] == shared[~nonrep]).sum()),
            "non_representatives_identical": int((own[nonrep] == shared[nonrep]).sum()),
            "spearman_shared_vs_own": float(spearmanr(shared[fin], own[fin])[0]),
            "spearman_shared_vs_own_non_representatives": float(spearmanr(shared[fin & nonrep], own[fin & nonrep])[0]),
            "median_abs_diff_non_representatives": float(np.median(np.abs(shared[fin & nonrep] - own[fin & nonrep]))),
            # non-finite scores ranked lowest, as in the correlation study
            "rho_test_accuracy_own": correlations(own, acc)["spearman"],
            "rho_test_accuracy_shared": correlations(shared, acc)["spearman"],
        }
    return out


if __name__ == "__main__":
    sys.exit(main())
