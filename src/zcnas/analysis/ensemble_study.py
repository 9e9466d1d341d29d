"""The ensemble study (``task=ensembles``, ``make table-ensembles``): the computation.

Question: does a fixed combination of zero-cost proxies rank architectures
better than any single proxy?  Inputs are rosters of the same seeded sample
of architectures per dataset (``results/rosters/sample1000``) and the
benchmark's 200-epoch test accuracy.  Every ensemble of 2..``max_size``
members of the pool, under every rule of ``zcnas.analysis.normalization``, is
scored with **equal weights** (nothing is fitted).  Choosing the best of
several thousand candidates is itself a fit, so the choice is made on one
dataset (``select_on``) and reported on the others, which played no part in
it; the best candidate of each dataset is shown too, labelled as an
oracle, to show how much the choice is worth out of sample.

Normalization statistics come from the sample itself (each member's rank or
min-max within the sample), i.e. ``ensemble_scores`` with
``reference=None``.  Non-finite member scores follow ``ensemble_scores``;
single proxies rank non-finite scores lowest, as ``task=correlate`` does.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from zcnas.analysis.correlation import rho_tau, spearman_many
from zcnas.analysis.normalization import RULES, check_rule, ensemble_scores
from zcnas.benchmark.base import DATASETS
from zcnas.errors import ConfigError, DataError

#: metrics a study never combines: the trained reference and the fixed combinations
EXCLUDED = ("val12", "combined", "ensemble")


@dataclass(frozen=True)
class Candidate:
    members: tuple[str, ...]
    rule: str  # "single" for one proxy

    @property
    def label(self) -> str:
        return "+".join(self.members) + ("" if self.rule == "single" else f" [{self.rule}]")


def candidates(pool: list[str], max_size: int, rules=RULES) -> list[Candidate]:
    """Every single proxy, then every combination of 2..max_size members under every rule."""
    if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 2:
        raise ConfigError(f"max_size must be an integer >= 2, got {max_size!r}")
    out = [Candidate((m,), "single") for m in pool]
    for k in range(2, min(max_size, len(pool)) + 1):
        for combo in itertools.combinations(pool, k):
            out += [Candidate(combo, check_rule(r)) for r in rules]
    return out


def candidate_scores(c: Candidate, scores: dict[str, np.ndarray]) -> np.ndarray:
    if c.rule == "single":
        return np.where(np.isfinite(scores[c.members[0]]), scores[c.members[0]], -np.inf)
    return ensemble_scores({m: scores[m] for m in c.members}, c.rule, None)


def evaluate(cands: list[Candidate], scores: dict[str, np.ndarray], accuracy: np.ndarray) -> np.ndarray:
    """Spearman rho of each candidate with accuracy (NaN where undefined, e.g. a constant score).

    Rho only: Kendall's tau is computed later for the candidates the report shows.
    """
    return spearman_many((candidate_scores(c, scores) for c in cands), accuracy)


def common_pool(scores_by_dataset: dict[str, dict[str, np.ndarray]], members=None) -> list[str]:
    """The metrics every dataset has (in ``members`` order when given, else sorted), minus EXCLUDED."""
    have = set.intersection(*(set(s) for s in scores_by_dataset.values()))
    if members is not None:
        missing = [m for m in members if m not in have]
        if missing:
            raise DataError(f"members {missing} lack a roster on some dataset; score them or drop them from members")
        return [m for m in members if m not in EXCLUDED]
    return sorted(m for m in have if m not in EXCLUDED)


def study(scores_by_dataset: dict[str, dict[str, np.ndarray]], accuracy_by_dataset: dict[str, np.ndarray],
          select_on: str, max_size: int = 4, rules=RULES, members=None, searchable=()) -> dict:
    """Evaluate every candidate on every dataset; choose on ``select_on``; see the module docstring.

    Returns ``table`` (one row per candidate and dataset: rho; tau where
    reported), ``pool``, and the chosen candidates: ``chosen`` (best rho on
    ``select_on``), ``chosen_searchable`` (best whose members are all in
    ``searchable``, if any), ``best_single`` (best single proxy on
    ``select_on``) and ``oracle`` ({dataset: best candidate there}).
    """
    if select_on not in scores_by_dataset:
        raise ConfigError(f"select_on={select_on!r} has no rosters; datasets with rosters: "
                          f"{', '.join(sorted(scores_by_dataset))}")
    pool = common_pool(scores_by_dataset, members)
    if len(pool) < 2:
        raise DataError(f"an ensemble study needs at least 2 metrics with rosters on every dataset, got {pool}")
    cands = candidates(pool, max_size, rules)
    rho = {ds: evaluate(cands, s, accuracy_by_dataset[ds]) for ds, s in scores_by_dataset.items()}

    sel = rho[select_on]
    order = np.argsort(-np.nan_to_num(sel, nan=-2.0), kind="stable")
    chosen = cands[order[0]]
    singles = [i for i in order if cands[i].rule == "single"]
    free = [i for i in order if set(cands[i].members) <= set(searchable)]
    picks = {"chosen": chosen, "best_single": cands[singles[0]],
             "chosen_searchable": cands[free[0]] if free else None,
             "oracle": {ds: cands[int(np.nanargmax(r))] for ds, r in rho.items()}}

    # Kendall tau (slower) for what the report shows: singles, the picks, the top 10 on select_on
    shown = {c for c in cands if c.rule == "single"} | {cands[i] for i in order[:10]}
    shown |= {c for c in (picks["chosen"], picks["best_single"], picks["chosen_searchable"]) if c}
    shown |= set(picks["oracle"].values())
    rows = []
    for ds, s in scores_by_dataset.items():
        acc = accuracy_by_dataset[ds]
        for i, c in enumerate(cands):
            tau = rho_tau(candidate_scores(c, s), acc)[1] if c in shown else math.nan
            rows.append({"dataset": ds, "candidate": c.label, "members": "+".join(c.members), "rule": c.rule,
                         "size": len(c.members), "spearman": rho[ds][i], "kendall": tau,
                         "n": int(len(acc))})
    return {"table": pd.DataFrame(rows), "pool": pool, "candidates": len(cands), **picks}


def lookup(table: pd.DataFrame, ds: str, c: Candidate) -> dict:
    """A candidate's row of ``study``'s table on one dataset."""
    row = table[(table.dataset == ds) & (table.candidate == c.label)].iloc[0]
    return {"candidate": c.label, "spearman": float(row.spearman), "kendall": float(row.kendall)}


def sample_scores(groups, benchmark, datasets=None) -> tuple[dict, dict, dict, dict, dict]:
    """Per dataset: scores on the architectures every roster of that dataset holds, accuracies, costs, n,
    and the device each roster was scored on (rosters from before devices were recorded: cpu).

    ``groups``: one merged roster per (dataset, metric), each with ``dataset``, ``metric`` and ``roster``.
    """
    groups = [g for g in groups if g.metric not in EXCLUDED]
    if datasets is not None:
        unknown = [d for d in datasets if d not in DATASETS]
        if unknown:
            raise ConfigError(f"unknown dataset(s) {unknown} in datasets; valid: {', '.join(DATASETS)}")
        groups = [g for g in groups if g.dataset in datasets]
        lacking = [d for d in datasets if d not in {g.dataset for g in groups}]
        if lacking:
            raise DataError(f"no rosters of dataset(s) {lacking} among rosters=; score them or drop them from datasets")
    by_ds: dict[str, dict] = {}
    for g in groups:
        by_ds.setdefault(g.dataset, {})[g.metric] = g.roster
    scores, accuracy, cost, devices = {}, {}, {}, {}
    for ds, rosters in sorted(by_ds.items(), key=lambda kv: DATASETS.index(kv[0])):
        idx = sorted(set.intersection(*(set(r.indices) for r in rosters.values())))
        if len(idx) < 10:
            raise DataError(f"the {ds} rosters share only {len(idx)} architectures; score the same sample "
                            "(same sample= and seed=) for every metric")
        scores[ds] = {m: r.score_array()[idx] for m, r in rosters.items()}
        accuracy[ds] = benchmark.all_test_accuracies(ds)[idx]
        secs = {}
        for m, r in rosters.items():
            per = r.seconds()
            secs[m] = np.array([per[i] for i in idx])
        cost[ds] = {m: float(np.median(v)) for m, v in secs.items()}
        devices[ds] = {m: str(r.meta.get("device") or "cpu") for m, r in rosters.items()}
    return scores, accuracy, cost, {ds: len(a) for ds, a in accuracy.items()}, devices
