"""The correlation study (the paper's Tables I and II): rosters and the benchmark in, tidy tables out.

For every dataset: ``val12`` (the benchmark's 12-epoch validation accuracy
over its whole table), every roster group's metric over the architectures it
holds, and ``combined`` computed from the hook_logdet and synflow rosters for
every normalization (``combined_from_rosters``), with the alpha sweep.
Spearman ρ and Kendall τ with the 200-epoch test accuracy, overall and in the
metric's top fraction (``zcnas.studies.rank_correlation``).

combined from rosters: ``alpha * norm(hook_logdet) + (1 - alpha) * norm(synflow)``
exactly as ``metric=combined`` computes it with ``hook_roster``/``synflow_roster``
(``zcnas.studies.normalization``), over the architectures both rosters contain,
with normalization statistics from every row of each roster.  The paper takes
them over the whole space; a roster that covers a sample gives statistics of
that sample.

Rosters and the benchmark are used through their methods only (``rows``,
``indices``, ``score_array``, ``meta``; ``all_test_accuracies``, ``all_val12``),
so this module reads no file and needs no torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from zcnas.benchmark.base import DATASETS
from zcnas.errors import ConfigError, DataError
from zcnas.names import order_key
from zcnas.studies.normalization import NORMALIZATIONS, check_alpha, combined_normalizers, combined_scores
from zcnas.studies.rank_correlation import correlations, subset_label, top_positions, treat_non_finite

#: the paper's alpha sweep for combined
PAPER_ALPHAS = (0.2, 0.4, 0.5, 0.6, 0.8)
#: metrics this study computes itself (a roster of the same name is relabelled ``<metric> (roster)``)
DERIVED = ("val12", "combined")
PAPER_TABLE1 = {
    "cifar10": {"hook_logdet": 0.788637, "synflow": 0.775205, "snip": 0.637092, "combined": 0.789481},
    "cifar100": {"hook_logdet": 0.806000, "synflow": 0.760552, "snip": 0.632603, "combined": 0.806564},
    "ImageNet16-120": {"hook_logdet": 0.784085, "synflow": 0.751185, "snip": 0.575196, "combined": 0.784199},
}
#: |rho| within the top 10% by the metric
PAPER_TABLE2 = {
    "cifar10": {"hook_logdet": 0.261112, "synflow": 0.304743},
    "cifar100": {"hook_logdet": 0.245638, "synflow": 0.267092},
}
COMBINED_TREATMENT = "members: -inf hook_logdet -> 0 before normalizing, other non-finite -> normalized 0"


@dataclass(frozen=True)
class Settings:
    """What the study computes (checked by the task that builds it)."""

    non_finite: str = "lowest"
    top_fraction: float = 0.1
    alpha: float = 0.6
    alphas: tuple[float, ...] = PAPER_ALPHAS
    normalization: str = "minmax"
    normalizations: tuple[str, ...] = NORMALIZATIONS


@dataclass
class Panel:
    """One scatter panel: score rank percentile (x) against test accuracy (y)."""

    label: str
    x: np.ndarray
    y: np.ndarray
    rho: float


def label_of(metric: str) -> str:
    """The column a roster's metric gets: ``<metric> (roster)`` for the metrics the study derives itself."""
    return f"{metric} (roster)" if metric in DERIVED else metric


def benchmark_val12(benchmark, dataset: str) -> np.ndarray:
    """12-epoch validation accuracy of every cell, by index."""
    if hasattr(benchmark, "all_val12"):
        return benchmark.all_val12(dataset)[0]
    return np.array([benchmark.val12(i, dataset)[0] for i in range(15625)])  # backends without a bulk lookup


def check_pair(hook, syn) -> str:
    """The dataset of a (hook_logdet, synflow) roster pair; ConfigError if they do not belong together."""
    for roster, metric in ((hook, "hook_logdet"), (syn, "synflow")):
        if roster.meta.get("metric") != metric:
            raise ConfigError(f"combined needs a {metric} roster, got one of metric {roster.meta.get('metric')!r}")
    if hook.meta.get("dataset") != syn.meta.get("dataset"):
        raise ConfigError(f"combined needs hook_logdet and synflow rosters of one dataset, got "
                          f"{hook.meta.get('dataset')!r} and {syn.meta.get('dataset')!r}")
    return str(hook.meta["dataset"])


def combined_from_rosters(hook, syn, alpha: float = 0.6, normalization: str = "minmax") -> dict:
    """combined scores over the architectures both rosters hold.

    Returns ``index`` (sorted), ``score`` (always finite), ``member_nonfinite``
    (True where the hook_logdet or synflow score is non-finite; the combination
    maps those as metric=combined does: -inf hook_logdet -> 0 before
    normalizing, other non-finite values -> normalized 0) and the
    normalization ``stats``.
    """
    check_pair(hook, syn)
    alpha = check_alpha(alpha, "alpha")
    norms = combined_normalizers(hook.rows["score"].to_numpy(dtype=float), syn.rows["score"].to_numpy(dtype=float),
                                 normalization)
    index = np.array(sorted(hook.indices & syn.indices), dtype=int)
    h = hook.score_array()[index]
    s = syn.score_array()[index]
    return {
        "index": index,
        "score": combined_scores(h, s, alpha, norms),
        "member_nonfinite": ~(np.isfinite(h) & np.isfinite(s)),
        "stats": {m: n.stats() for m, n in norms.items()},
    }


def _records(dataset: str, label: str, res: dict, treatment: str, sources: str, subset: str,
             normalization: str = "", alpha: float = math.nan) -> list[dict]:
    """Tidy rows (all, top fraction) of one correlations() result."""
    base = {"dataset": dataset, "metric": label, "normalization": normalization, "alpha": alpha,
            "non_finite_treatment": treatment, "source_rosters": sources}
    # the paper's combined is minmax with alpha = 0.6; other settings have no paper value to compare with
    comparable = normalization in ("", "minmax") and (math.isnan(alpha) or alpha == 0.6)
    paper1 = PAPER_TABLE1.get(dataset, {}).get(label, math.nan) if comparable else math.nan
    paper2 = PAPER_TABLE2.get(dataset, {}).get(label, math.nan) if comparable else math.nan
    return [
        {**base, "subset": "all", "n": res["n"], "n_nonfinite": res["n_nonfinite"], "n_used": res["n_used"],
         "spearman": res["spearman"], "kendall": res["kendall"], "paper_value": paper1},
        {**base, "subset": subset, "n": res["top_n"], "n_nonfinite": res["top_nonfinite"], "n_used": res["top_n"],
         "spearman": res["top_spearman"], "kendall": res["top_kendall"], "paper_value": paper2},
    ]


def _panel(label: str, scores: np.ndarray, accuracy: np.ndarray, non_finite: str, rho: float) -> Panel:
    kept, treated = treat_non_finite(scores, non_finite)
    pct = 100.0 * stats.rankdata(treated) / max(treated.size, 1)
    return Panel(label, pct, np.asarray(accuracy)[kept], rho)


def study(groups, benchmark, s: Settings,
          benchmark_source: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, list[Panel]]]:
    """(tidy correlations, alpha sweep, scatter panels per dataset).

    ``groups``: one merged roster per (dataset, metric), each with ``dataset``, ``metric``, ``label``,
    ``paths`` (as the report names them) and ``roster``; ``benchmark_source``: the benchmark as the
    report names it (default its description).
    """
    nf, frac = s.non_finite, s.top_fraction
    sub = subset_label(frac)
    rows, sweep, panels = [], [], {}
    for ds in DATASETS:
        test = benchmark.all_test_accuracies(ds)
        check_finite_accuracy(test, ds, benchmark.description, lambda i: f"index {i}")
        val12 = benchmark_val12(benchmark, ds)
        res = correlations(val12, test, frac, nf)
        rows += _records(ds, "val12", res, nf, f"benchmark: {benchmark_source or benchmark.description}", sub)
        panels[ds] = [_panel("val12", val12, test, nf, res["spearman"])]

        mine = sorted((g for g in groups if g.dataset == ds), key=lambda g: order_key(g.label))
        for g in mine:
            index = g.roster.rows["index"].to_numpy(dtype=int)
            scores = g.roster.rows["score"].to_numpy(dtype=float)
            res = correlations(scores, test[index], frac, nf)
            rows += _records(ds, g.label, res, nf, "; ".join(g.paths), sub)
            panels[ds].append(_panel(g.label, scores, test[index], nf, res["spearman"]))

        by_metric = {g.metric: g for g in mine}
        if "hook_logdet" in by_metric and "synflow" in by_metric:
            hook, syn = by_metric["hook_logdet"], by_metric["synflow"]
            sources = "; ".join(hook.paths + syn.paths)
            for norm in s.normalizations:
                for alpha in dict.fromkeys([s.alpha, *s.alphas]):
                    comb = combined_from_rosters(hook.roster, syn.roster, alpha, norm)
                    res = correlations(comb["score"], test[comb["index"]], frac, nf)
                    # combined itself is always finite: count the architectures with a non-finite member
                    bad = comb["member_nonfinite"]
                    res["n_nonfinite"] = int(bad.sum())
                    res["top_nonfinite"] = int(bad[top_positions(comb["score"], frac)].sum())
                    if alpha in s.alphas:
                        sweep.append({"dataset": ds, "normalization": norm, "alpha": alpha, "n": res["n"],
                                      "n_nonfinite_members": res["n_nonfinite"], "spearman": res["spearman"],
                                      "kendall": res["kendall"], "top_spearman": res["top_spearman"],
                                      "top_kendall": res["top_kendall"], "source_rosters": sources})
                    if alpha != s.alpha:
                        continue
                    rows += _records(ds, "combined", res, COMBINED_TREATMENT, sources, sub, norm, alpha)
                    if norm == s.normalization:
                        panels[ds].append(_panel(f"combined ({norm}, α={alpha:g})", comb["score"],
                                                 test[comb["index"]], nf, res["spearman"]))
    return pd.DataFrame(rows), pd.DataFrame(sweep), panels


def check_finite_accuracy(accuracy: np.ndarray, dataset: str, source: str, name_of) -> None:
    """A one-line error naming the first architecture whose accuracy is not a finite number: a
    correlation with it would mean nothing."""
    bad = np.flatnonzero(~np.isfinite(np.asarray(accuracy, dtype=float)))
    if bad.size:
        i = int(bad[0])
        raise DataError(f"{source}: the {dataset} accuracy of {name_of(i)} is {accuracy[i]} ({bad.size} non-finite "
                        "in all); every accuracy must be a finite number: fix the ground truth table")


def space_study(groups, accuracy_of, s: Settings,
                source: str = "the ground truth") -> tuple[pd.DataFrame, dict[str, list[Panel]]]:
    """The study in a space other than NATS-Bench TSS: each roster's correlation with the space's
    ground truth over the roster's architectures that the ground truth holds.

    ``accuracy_of(dataset, arch string)``: the accuracy, or None where the ground truth lacks it (a
    table of a sample).  No val12 or combined rows: those are NATS-Bench records and the paper's
    NATS-Bench normalization.
    """
    nf, frac = s.non_finite, s.top_fraction
    sub = subset_label(frac)
    rows, panels = [], {}
    for g in sorted(groups, key=lambda g: (g.dataset, order_key(g.label))):
        pairs = [(arch, score, accuracy_of(g.dataset, arch)) for arch, score in g.roster.scores_by_arch().items()]
        pairs = [p for p in pairs if p[2] is not None]
        scores = np.array([p[1] for p in pairs], dtype=float)
        accuracy = np.array([p[2] for p in pairs], dtype=float)
        check_finite_accuracy(accuracy, g.dataset, source, lambda i: pairs[i][0])
        res = correlations(scores, accuracy, frac, nf)
        # the paper's values are NATS-Bench's: none to compare with here
        rows += [{**r, "paper_value": math.nan}
                 for r in _records(g.dataset, g.label, res, nf, "; ".join(g.paths), sub)]
        panels.setdefault(g.dataset, []).append(_panel(g.label, scores, accuracy, nf, res["spearman"]))
    return pd.DataFrame(rows), panels


def main_rows(tidy: pd.DataFrame, normalization: str) -> pd.DataFrame:
    """One normalization for combined (Table I/II's column); every other metric as is."""
    return tidy[(tidy["normalization"] == "") | (tidy["normalization"] == normalization)]


def spearman_tables(tidy: pd.DataFrame, s: Settings) -> dict[str, list[dict]]:
    """Table I (all) and Table II (top fraction): per dataset, {metric: Spearman rho}."""
    main = main_rows(tidy, s.normalization)
    tables = {}
    for key, subset in (("table1", "all"), ("table2", subset_label(s.top_fraction))):
        rows = main[main["subset"] == subset]
        tables[key] = [{"dataset": ds, **dict(zip(g["metric"], g["spearman"]))}
                       for ds, g in rows.groupby("dataset", sort=False)]
    return tables
