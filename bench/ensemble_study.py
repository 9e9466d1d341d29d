"""Spearman rho of ensembles over the 1000-cell sample rosters (issue 7, first measurement).

Reads results/rosters/sample1000/<metric>_<dataset>.parquet and the shared benchmark table;
prints rho of each single proxy and of equal-weight ensembles under every rule.
Usage: .venv/bin/python bench/ensemble_study.py
"""

import itertools
import sys
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from zcnas.benchmark import TableBenchmark
from zcnas.metrics.ensemble import ensemble_scores
from zcnas.roster import read_roster

ROOT = Path(__file__).resolve().parents[1]
MEMBERS = ["hook_logdet", "synflow", "params", "l2_norm"]
RULES = ["minmax", "log", "rank", "mean_rank", "geometric_rank"]


def main() -> None:
    bench = TableBenchmark(ROOT.parent / "shared" / "data" / "nats_tss" / "nats_tss_benchmark.csv")
    for ds in ("cifar10", "cifar100", "ImageNet16-120"):
        paths = {m: ROOT / "results" / "rosters" / "sample1000" / f"{m}_{ds}.parquet" for m in MEMBERS}
        rosters = {m: read_roster(p) for m, p in paths.items() if p.exists()}
        idx = sorted(set.intersection(*(r.indices for r in rosters.values())))
        scores = {m: r.score_array()[idx] for m, r in rosters.items()}
        acc = bench.all_test_accuracies(ds)[idx]
        for m, s in scores.items():
            print(f"{ds:15s} {m:40s} {'single':15s} {spearmanr(np.nan_to_num(s, neginf=-1e300), acc)[0]:.3f}")
        for k in range(2, len(scores) + 1):
            for combo in itertools.combinations(scores, k):
                for rule in RULES:
                    weights = None if rule == "mean_rank" else [1 / k] * k
                    e = ensemble_scores({m: scores[m] for m in combo}, rule, weights)
                    print(f"{ds:15s} {'+'.join(combo):40s} {rule:15s} {spearmanr(e, acc)[0]:.3f}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
