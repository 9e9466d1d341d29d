"""The ensemble study (``task=ensembles``, ``make table-ensembles``): the computation.

Question: does a fixed combination of zero-cost proxies rank architectures
better than any single proxy?  Inputs are rosters of the same seeded sample
of architectures per dataset (``results/rosters/sample1000``) and the
benchmark's 200-epoch test accuracy.

Any search space (``space=``, ``zcnas.spaces``): rows are aligned with each other and with the
space's ground truth by architecture (the roster key: the index, or the canonical string in a
space without one), over the cells every roster of a dataset and the ground truth hold
(``sample_data``); accuracies come from the benchmark's interface (``table``, ``accuracy_of``), so
nothing here knows a space.  Where the ground truth has one dataset only (NAS-Bench-Macro,
NAS-Bench-101: CIFAR-10) nothing is held out and every pick is in-sample.  Every ensemble of 2..``max_size``
members of the pool, under every rule of ``zcnas.studies.normalization``, is
scored with **equal weights** (nothing is fitted).  Choosing the best of
several thousand candidates is itself a fit, so the choice is made on one
dataset (``select_on``) and reported on the others, which played no part in
it; the best candidate of each dataset is shown too, labelled as an
oracle, to show how much the choice is worth out of sample.

Normalization statistics come from the sample itself (each member's rank or
min-max within the sample), i.e. ``ensemble_scores`` with
``reference=None``.  Non-finite member scores follow ``ensemble_scores``;
single proxies rank non-finite scores lowest, as ``task=correlate`` does.

Search-relevant measures (``zcnas.studies.ensembles.search_measures``): global ρ does not decide what a
search finds, the top of the ranking does.  Every candidate on every dataset also gets the mean
test accuracy of its top-1/top-10/top-100 cells and the accuracy that simulated random search
(N=500, within the sample) finds; aging evolution with warmup needs the whole space and is NaN on
a sample (where the common cells are a whole indexed space, it runs there too).
``chosen_for_search`` is chosen on ``select_on`` only, by ``SAMPLE_SEARCH_RULE``.

The whole-space mode (``space_study``) forms candidates from whole-space rosters
(``results/rosters/*.parquet``): per dataset, of the members that have such a roster there, so a
candidate with e.g. snip exists on CIFAR-10 only.  There every measure is exact, and aging
evolution with warmup runs as ``task=search`` would from the rosters (same searches, same seeds);
the candidate is chosen on ``select_on`` by ``SPACE_SEARCH_RULE``.  The mode needs a space with an
index whose ground truth holds every cell (``whole_space_available``).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from zcnas.benchmark.base import DATASETS
from zcnas.errors import ConfigError, DataError
from zcnas.studies.ensembles.search_measures import (AGING_WARMUP, RANDOM_N, TOP_K, check_whole_space, covers_space,
                                                     measures, random_draws, top_k_means)
from zcnas.studies.normalization import RULES, check_rule, ensemble_scores
from zcnas.studies.rank_correlation import rho_tau, spearman_many

#: metrics a study never combines: the trained reference and the fixed combinations
EXCLUDED = ("val12", "combined", "ensemble")

#: accuracies are compared at the benchmark's precision when choosing (a 0.001 lead is a tie)
ACC_DECIMALS = 2
#: how ``study`` chooses for search on the sample (aging evolution is not available there)
SAMPLE_SEARCH_RULE = ("the highest mean test accuracy of the top-10 cells; ties by the higher random-search mean, "
                      "then the higher ρ, then the earlier candidate (singles first); accuracies are compared "
                      "rounded to 2 decimals, the benchmark's precision")
#: how ``space_study`` chooses for search on the whole space
SPACE_SEARCH_RULE = ("the highest mean test accuracy found by aging evolution with warmup; ties by the higher "
                     "top-10 mean, then the higher random-search mean, then the higher ρ, then the earlier "
                     "candidate (singles first); accuracies are compared rounded to 2 decimals, the "
                     "benchmark's precision")


@dataclass
class SearchSettings:
    """The search measures' settings: top-k sizes, repeats, random search's N, aging's parameters."""

    ks: tuple[int, ...] = TOP_K
    repeats: int = 30
    random_n: int = RANDOM_N
    aging: dict = field(default_factory=lambda: dict(AGING_WARMUP))

    def columns(self) -> list[str]:
        return [*(f"top{k}_acc" for k in self.ks), "random_acc", "random_acc_std", "aging_warmup_acc",
                "aging_warmup_acc_std"]

    def row(self, m: dict) -> dict:
        """``search_measures.measures``'s dict as table columns (rounded: means of 2-decimal accuracies)."""
        values = [*(m[f"top{k}"] for k in self.ks), m["random_mean"], m["random_std"], m["aging_mean"],
                  m["aging_std"]]
        return {c: round(v, 6) if math.isfinite(v) else math.nan for c, v in zip(self.columns(), values)}


@dataclass(frozen=True)
class Candidate:
    members: tuple[str, ...]
    rule: str  # "single" for one proxy

    @property
    def label(self) -> str:
        return "+".join(self.members) + ("" if self.rule in ("single", "reference") else f" [{self.rule}]")


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
    """The candidate's scores: a single proxy's (``reference``: a fixed combination's roster, e.g. the
    paper's combined) with non-finite lowest, or ``ensemble_scores`` of the members (metric=ensemble)."""
    if c.rule in ("single", "reference"):
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
          select_on: str, max_size: int = 4, rules=RULES, members=None, searchable=(),
          search: SearchSettings | None = None, *, space, cells: dict[str, np.ndarray] | None = None) -> dict:
    """Evaluate every candidate on every dataset; choose on ``select_on``; see the module docstring.

    Returns ``table`` (one row per candidate and dataset: rho; tau where
    reported; the search measures of ``search``, default ``SearchSettings()``),
    ``pool``, and the chosen candidates: ``chosen`` (best rho on
    ``select_on``), ``chosen_searchable`` (best whose members are all in
    ``searchable``, if any), ``best_single`` (best single proxy on
    ``select_on``), ``oracle`` ({dataset: best candidate there}),
    ``chosen_for_search`` and ``best_single_for_search`` (by
    ``SAMPLE_SEARCH_RULE`` on ``select_on``) and ``oracle_for_search``
    ({dataset: the best there by that rule}); ``search_note``: why aging is NaN; ``whole_space``:
    {dataset: whether its cells are the whole space}.

    ``space``: the search space of the rosters; ``cells``: per dataset, the space's indices of
    the rows (``sample_data``'s ``keys``).  Where a dataset's cells are the whole indexed space, its
    searches run on the space itself (aging evolution included); elsewhere within the cells.
    """
    search = search or SearchSettings()
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
    rows, note, whole_by_ds = [], "", {}
    for ds, s in scores_by_dataset.items():
        acc = accuracy_by_dataset[ds]
        draws = random_draws(len(acc), search.random_n, search.repeats)  # common to every candidate
        whole = (cells or {}).get(ds)
        whole = whole if whole is not None and covers_space(whole, space) else None
        whole_by_ds[ds] = whole is not None
        for i, c in enumerate(cands):
            values = candidate_scores(c, s)
            tau = rho_tau(values, acc)[1] if c in shown else math.nan
            m = measures(values, acc, whole, ks=search.ks, repeats=search.repeats, random_n=search.random_n,
                         aging=search.aging, draws=draws, space=space)
            note = m["note"]
            rows.append({"dataset": ds, "candidate": c.label, "members": "+".join(c.members), "rule": c.rule,
                         "size": len(c.members), "spearman": rho[ds][i], "kendall": tau,
                         "n": int(len(acc)), **search.row(m)})
    table = pd.DataFrame(rows)
    keys = [_top_key(search), "random_acc", "spearman"]
    by_rule = {ds: rank_by(table[table.dataset == ds], keys) for ds in scores_by_dataset}
    sel_order = by_rule[select_on]
    picks["chosen_for_search"] = cands[sel_order[0]]
    picks["best_single_for_search"] = next(cands[i] for i in sel_order if cands[i].rule == "single")
    picks["oracle_for_search"] = {ds: cands[o[0]] for ds, o in by_rule.items()}
    return {"table": table, "pool": pool, "candidates": len(cands), "search_keys": keys, "search_note": note,
            "search": search, "whole_space": whole_by_ds, **picks}


def _top_key(search: SearchSettings) -> str:
    """The top-k column of the rules: top-10 (the first k of ``search.ks`` when 10 is not among them)."""
    return "top10_acc" if 10 in search.ks else f"top{search.ks[0]}_acc"


def rank_by(rows: pd.DataFrame, keys: list[str]) -> list[int]:
    """Positions of ``rows`` (one dataset's table, in candidate order), best first: ``keys`` compared in
    turn, higher is better, NaN lowest; accuracies (``*_acc``) compared at ``ACC_DECIMALS`` decimals,
    the benchmark's precision; full ties keep candidate order."""
    def column(k: str) -> np.ndarray:
        v = rows[k].to_numpy(dtype=float)
        return -np.nan_to_num(np.round(v, ACC_DECIMALS) if k.endswith("_acc") else v, nan=-np.inf)

    # np.lexsort sorts by its last key first: the position (least significant), then keys reversed
    cols = [column(k) for k in reversed(keys)]
    return [int(i) for i in np.lexsort([np.arange(len(rows)), *cols])]


def groups_space(groups):
    """The space of the groups' rosters (they are of one space: ``zcnas.tasks.inputs.job_space``);
    NATS-Bench TSS when there are none."""
    from zcnas.roster import describe_space, space_identity
    from zcnas.spaces import default_name, make_space

    spaces = sorted({space_identity(g.roster.meta) for g in groups})
    if len(spaces) > 1:
        raise DataError(f"the rosters are of spaces {', '.join(map(describe_space, spaces))}; a study takes one "
                        "space (rosters=[...] of one space)")
    return next(iter(groups)).roster.space if groups else make_space(default_name())


def ground_truth(benchmark, dataset: str, space) -> Callable[[str], float | None]:
    """arch string -> the ground truth's accuracy on ``dataset`` (None where it lacks the architecture):
    the benchmark's ``table`` by string, else ``accuracy_of`` (the space's identity key finds another
    spelling of the same network)."""
    archs, acc = benchmark.table(dataset)
    exact = dict(zip(archs, np.asarray(acc, dtype=float).tolist()))

    def of(arch: str) -> float | None:
        value = exact.get(arch)
        return value if value is not None else benchmark.accuracy_of(space.parse(arch), dataset)

    return of


def whole_space_available(space, benchmark, datasets=()) -> str | None:
    """None when the whole-space mode can run in ``space`` on ``datasets``: the space has an integer
    index and its ground truth holds every cell (by string or identity key) there; else why not."""
    if not space.indexed:
        return (f"space {space.name} has no index: it cannot be enumerated, so no roster covers it and aging "
                "evolution over the whole space is not available")
    archs = [space.format(space.from_index(i)) for i in range(space.size)]
    for ds in datasets:
        of = ground_truth(benchmark, ds, space)
        missing = sum(of(a) is None for a in archs)
        if missing:
            return (f"the ground truth ({benchmark.description}) lacks {missing:,} of the {space.size:,} cells of "
                    f"space {space.name} on {ds}, so what a whole-space search finds cannot be looked up")
    return None


def space_scores(groups, benchmark, datasets=None, space=None) -> tuple[dict, dict]:
    """Per dataset: whole-space scores by cell index ({metric: array}) and all test accuracies.

    ``groups``: merged rosters (``zcnas.tasks.inputs.load_groups``) of one space with an index
    (``space``, default: the rosters'); every one must cover the whole space (a DataError names one
    that does not), and the ground truth must hold every cell.  val12 is skipped; combined is kept
    (a reference, never a member).
    """
    groups = [g for g in groups if g.metric not in ("val12", "ensemble")]
    space = space or groups_space(groups)
    if datasets is not None:
        groups = [g for g in groups if g.dataset in datasets]
    scores: dict[str, dict] = {}
    archs: dict[str, list[str]] = {}
    for g in sorted(groups, key=lambda g: (DATASETS.index(g.dataset), g.metric)):
        idx = np.array(sorted(g.roster.indices), dtype=int)
        try:
            check_whole_space(idx, space)
        except DataError:
            raise DataError(f"roster {', '.join(g.paths)} ({g.metric}, {g.dataset}) covers {len(idx):,} of "
                            f"{space.size or 0:,} cells; whole_space_rosters takes whole-space rosters only "
                            "(samples go in rosters=)") from None
        scores.setdefault(g.dataset, {})[g.metric] = g.roster.score_array()
        if g.dataset not in archs:
            rows = g.roster.rows.sort_values("index")
            archs[g.dataset] = rows["arch"].astype(str).tolist()
    accuracy = {}
    for ds in scores:
        of = ground_truth(benchmark, ds, space)
        values = [of(a) for a in archs[ds]]
        missing = sum(v is None for v in values)
        if missing:
            raise DataError(f"the ground truth ({benchmark.description}) lacks {missing:,} of the {space.size:,} "
                            f"cells of space {space.name} on {ds}; the whole-space mode needs all of them")
        accuracy[ds] = np.array(values, dtype=float)
    return scores, accuracy


def space_study(scores_by_dataset: dict[str, dict[str, np.ndarray]], accuracy_by_dataset: dict[str, np.ndarray],
                select_on: str, max_size: int = 4, rules=RULES, members=None,
                search: SearchSettings | None = None, reference=("combined",),
                progress: Callable[[str], None] | None = None, *, space) -> dict:
    """The whole-space mode: candidates of each dataset's whole-space rosters, every search measure exact.

    Per dataset the pool is every metric with a whole-space roster there (minus EXCLUDED; within
    ``members`` when given); the metrics of ``reference`` (e.g. the paper's combined) are added as
    reference rows, never chosen.  Returns ``table`` (one row per dataset and candidate: ρ and the
    search measures), ``pools`` ({dataset: pool}), ``chosen`` (on ``select_on`` by
    ``SPACE_SEARCH_RULE``; None where ``select_on`` has no whole-space roster),
    ``chosen_everywhere`` (the same among candidates whose members have whole-space rosters on
    every dataset, so that the held-out datasets can run it too), ``best_single``, ``oracle``
    ({dataset: best there by the rule}) and ``keys`` (the rule's columns).  ``space``: the search space
    the arrays are indexed by; the searches run there.
    """
    search = search or SearchSettings()
    rows, pools, cands_of = [], {}, {}
    for ds, s in scores_by_dataset.items():
        acc = accuracy_by_dataset[ds]
        pool = sorted(m for m in s if m not in EXCLUDED and (members is None or m in members))
        pools[ds] = pool
        cands = candidates(pool, max_size, rules) + [Candidate((m,), "reference") for m in reference if m in s]
        cands_of[ds] = cands
        indices = np.arange(len(acc))
        values = [candidate_scores(c, s) for c in cands]
        rho = spearman_many(values, acc)
        for i, (c, v) in enumerate(zip(cands, values)):
            m = measures(v, acc, indices, ks=search.ks, repeats=search.repeats, random_n=search.random_n,
                         aging=search.aging, space=space)
            rows.append({"dataset": ds, "candidate": c.label, "members": "+".join(c.members), "rule": c.rule,
                         "size": len(c.members), "spearman": rho[i], "n": int(len(acc)), **search.row(m)})
        if progress:
            progress(f"whole space {ds}: {len(cands)} candidates of {', '.join(pool)}")
    table = pd.DataFrame(rows, columns=["dataset", "candidate", "members", "rule", "size", "spearman", "n",
                                        *search.columns()])
    keys = ["aging_warmup_acc", _top_key(search), "random_acc", "spearman"]
    everywhere = set.intersection(*(set(p) for p in pools.values())) if pools else set()
    out = {"table": table, "pools": pools, "keys": keys, "chosen": None, "chosen_everywhere": None,
           "size": space.size or len(next(iter(accuracy_by_dataset.values()), ())),
           "best_single": None, "oracle": {},
           # the top-k means of a perfect score (the accuracy itself), for scale
           "best_possible": {ds: top_k_means(a, a, search.ks) for ds, a in accuracy_by_dataset.items()
                             if ds in pools}}
    for ds, cands in cands_of.items():
        sub = table[table.dataset == ds]
        order = [i for i in rank_by(sub, keys) if cands[i].rule != "reference"]
        if not order:
            continue
        out["oracle"][ds] = cands[order[0]]
        if ds == select_on:
            out["chosen"] = cands[order[0]]
            out["best_single"] = next((cands[i] for i in order if cands[i].rule == "single"), None)
            out["chosen_everywhere"] = next((cands[i] for i in order if set(cands[i].members) <= everywhere), None)
    return out


def lookup(table: pd.DataFrame, ds: str, c: Candidate) -> dict:
    """A candidate's row of ``study``'s table on one dataset."""
    row = table[(table.dataset == ds) & (table.candidate == c.label)].iloc[0]
    return {"candidate": c.label, "spearman": float(row.spearman), "kendall": float(row.kendall)}


def sample_data(groups, benchmark, datasets=None, space=None) -> dict:
    """The sample study's inputs, per dataset, over the cells every roster of the dataset and the
    ground truth hold, in the order of their keys (the space's index, or the canonical string in a
    space without one): ``scores`` ({metric: array}), ``accuracy``, ``cost`` (each metric's median
    recorded seconds per cell), ``n``, ``devices`` (the device each roster was scored on; cpu for
    a roster that records none), ``keys`` (the cells' keys), ``archs`` (their strings)
    and ``dropped`` (cells all rosters hold but the ground truth lacks).

    ``groups``: one merged roster per (dataset, metric), each with ``dataset``, ``metric`` and
    ``roster``, all of one space (``space``, default: the rosters'); ``benchmark``: that space's
    ground truth (``table``, ``accuracy_of``, ``covers``).
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
    space = space or groups_space(groups)
    key = "index" if space.indexed else "arch"
    by_ds: dict[str, dict] = {}
    for g in groups:
        by_ds.setdefault(g.dataset, {})[g.metric] = g.roster
    out: dict[str, dict] = {k: {} for k in ("scores", "accuracy", "cost", "n", "devices", "keys", "archs", "dropped")}
    for ds, rosters in sorted(by_ds.items(), key=lambda kv: DATASETS.index(kv[0])):
        if not benchmark.covers(ds):
            raise ConfigError(f"the ground truth ({benchmark.description}) has no {ds} accuracies"
                              + (f"; it has {', '.join(benchmark.datasets)}" if hasattr(benchmark, "datasets") else "")
                              + f": drop the {ds} rosters or set datasets=")
        rows = {m: r.rows.set_index(r.rows[key].to_numpy()) for m, r in rosters.items()}
        common = sorted(set.intersection(*(set(r.index) for r in rows.values())))
        first = next(iter(rows.values()))
        archs = first.loc[common, "arch"].astype(str).tolist() if common else []
        of = ground_truth(benchmark, ds, space)
        acc = [of(a) for a in archs]
        held = [i for i, a in enumerate(acc) if a is not None]
        keys = [common[i] for i in held]
        if len(keys) < 10:
            lacking = (f" that the ground truth holds ({len(common) - len(keys)} it lacks)"
                       if len(held) < len(common) else "")
            raise DataError(f"the {ds} rosters share only {len(keys)} architectures{lacking}; score the same sample "
                            "(same sample= and seed=) for every metric")
        out["keys"][ds] = keys
        out["archs"][ds] = [archs[i] for i in held]
        out["dropped"][ds] = len(common) - len(keys)
        out["scores"][ds] = {m: r.loc[keys, "score"].to_numpy(dtype=float) for m, r in rows.items()}
        out["accuracy"][ds] = np.array([acc[i] for i in held], dtype=float)
        out["cost"][ds] = {m: float(np.median(r.loc[keys, "seconds"].to_numpy(dtype=float))) for m, r in rows.items()}
        out["n"][ds] = len(keys)
        out["devices"][ds] = {m: str(r.meta.get("device") or "cpu") for m, r in rosters.items()}
    return out


def sample_scores(groups, benchmark, datasets=None, space=None) -> tuple[dict, dict, dict, dict, dict]:
    """``sample_data``'s scores, accuracies, costs, n and devices per dataset."""
    d = sample_data(groups, benchmark, datasets, space)
    return d["scores"], d["accuracy"], d["cost"], d["n"], d["devices"]
