"""The ensemble study (``task=ensembles``, ``make table-ensembles``).

Question: does a fixed combination of zero-cost proxies rank architectures
better than any single proxy?  Inputs are rosters of the same seeded sample
of architectures per dataset (``results/rosters/sample1000``) and the
benchmark's 200-epoch test accuracy.  Every ensemble of 2..``max_size``
members of the pool, under every rule of ``zcnas.metrics.ensemble``, is
scored with **equal weights** (nothing is fitted).  Choosing the best of
several thousand candidates is itself a fit, so the choice is made on one
dataset (``select_on``) and reported on the others, which played no part in
it; the best candidate of each dataset is shown too, labelled as an
oracle, to show how much the choice is worth out of sample.

Normalization statistics come from the sample itself (each member's rank or
min-max within the sample), i.e. ``ensemble_scores`` with
``reference=None``.  Non-finite member scores follow ``ensemble_scores``;
single proxies rank non-finite scores lowest, as ``task=correlate`` does.

Pure numpy/scipy/pandas below ``run_ensembles_job``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig, ListConfig

from zcnas.benchmark import DATASETS
from zcnas.correlation import _rho_tau
from zcnas.errors import BenchmarkError, ConfigError, DataError
from zcnas.metrics.ensemble import RULES, check_rule, ensemble_scores

#: metrics a study never combines: the trained reference and the paper's fixed combination
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

    Rho only (Kendall's tau is computed later for the candidates the report shows): the Pearson
    correlation of the ranks, ties averaged, as scipy computes it; accuracy is ranked once.
    """
    from scipy import stats

    acc_ranks = stats.rankdata(accuracy)
    rho = np.full(len(cands), math.nan)
    for i, c in enumerate(cands):
        s = candidate_scores(c, scores)
        if not np.all(s == s[0]):
            rho[i] = np.corrcoef(stats.rankdata(s), acc_ranks)[0, 1]
    return rho


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
            tau = _rho_tau(candidate_scores(c, s), acc)[1] if c in shown else math.nan
            rows.append({"dataset": ds, "candidate": c.label, "members": "+".join(c.members), "rule": c.rule,
                         "size": len(c.members), "spearman": rho[ds][i], "kendall": tau,
                         "n": int(len(acc))})
    return {"table": pd.DataFrame(rows), "pool": pool, "candidates": len(cands), **picks}


# ---------------------------------------------------------------- the job

def load_sample_scores(paths: list[str], benchmark, datasets=None) -> tuple[dict, dict, dict, dict, dict]:
    """Per dataset: scores on the architectures every roster of that dataset holds, accuracies, costs, n,
    and the device each roster was scored on (rosters from before devices were recorded: cpu)."""
    from zcnas.correlate_job import load_groups

    groups = [g for g in load_groups(paths) if g.metric not in EXCLUDED]
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


def run_ensembles_job(cfg: DictConfig, output_dir: Path) -> dict:
    from zcnas.build import build_benchmark
    from zcnas.correlate_job import expand_rosters
    from zcnas.io import atomic_write_bytes, write_table

    rules = list(cfg.get("rules") or RULES)
    members = cfg.get("members")
    members = list(members) if isinstance(members, (list, ListConfig)) else None
    datasets = cfg.get("datasets")
    datasets = [str(d) for d in datasets] if isinstance(datasets, (list, ListConfig)) else None
    benchmark = build_benchmark(cfg)
    if not getattr(benchmark, "available", False):
        raise BenchmarkError("task=ensembles needs test accuracies and no benchmark is available: use "
                             "benchmark=table benchmark.path=/path/to/nats_tss_benchmark.csv")
    scores, accuracy, cost, n, devices = load_sample_scores(expand_rosters(cfg.get("rosters")), benchmark, datasets)
    res = study(scores, accuracy, str(cfg.select_on), int(cfg.max_size), rules, members,
                tuple(cfg.get("searchable") or ()))
    report_dir = Path(str(cfg.report_dir))
    report_dir.mkdir(parents=True, exist_ok=True)
    write_table(report_dir / "ensembles.csv", res["table"])
    text = report(res, scores, accuracy, cost, str(cfg.select_on), devices)
    atomic_write_bytes(report_dir / "ensembles.md", text.encode())
    pick = lambda c: None if c is None else {"members": list(c.members), "rule": c.rule}  # noqa: E731
    summary = {ds: {c: _lookup(res["table"], ds, res[c]) for c in ("chosen", "best_single", "chosen_searchable")
                    if res[c] is not None} for ds in scores}
    return {"report_dir": str(report_dir), "select_on": str(cfg.select_on), "pool": res["pool"],
            "candidates": res["candidates"], "architectures": n, "chosen": pick(res["chosen"]),
            "chosen_searchable": pick(res["chosen_searchable"]), "best_single": pick(res["best_single"]),
            "summary": summary}


def _lookup(table: pd.DataFrame, ds: str, c: Candidate) -> dict:
    row = table[(table.dataset == ds) & (table.candidate == c.label)].iloc[0]
    return {"candidate": c.label, "spearman": float(row.spearman), "kendall": float(row.kendall)}


def summarize_ensembles(result: dict) -> str:
    lines = [f"ensemble study: {result['candidates']} candidates from {len(result['pool'])} proxies, "
             f"chosen on {result['select_on']}; report in {result['report_dir']}"]
    for ds, picks in result["summary"].items():
        cells = [f"{k}: {v['candidate']} rho {v['spearman']:.3f} tau {v['kendall']:.3f}" for k, v in picks.items()]
        lines.append(f"  {ds}: " + "; ".join(cells))
    return "\n".join(lines)


def report(res: dict, scores: dict, accuracy: dict, cost: dict, select_on: str, devices: dict | None = None) -> str:
    t = res["table"]
    datasets = list(scores)
    # seconds from a GPU are not comparable with CPU seconds: such costs are marked
    on_gpu = {m: d for m, d in ((devices or {}).get(select_on) or {}).items() if d != "cpu"}

    def row(c: Candidate) -> str:
        cells = []
        for ds in datasets:
            r = t[(t.dataset == ds) & (t.candidate == c.label)].iloc[0]
            cells.append(f"{r.spearman:.3f} / {r.kendall:.3f}" if not math.isnan(r.kendall) else f"{r.spearman:.3f} / –")
        secs = sum(cost[select_on][m] for m in c.members)
        mark = " †" if on_gpu.keys() & set(c.members) else ""
        return f"| {c.label} | " + " | ".join(cells) + f" | {secs:.2f}{mark} |"

    head = "| candidate | " + " | ".join(f"{ds} ρ / τ" for ds in datasets) + f" | s/arch ({select_on}) |"
    sep = "|---" * (len(datasets) + 2) + "|"
    n = {ds: len(a) for ds, a in accuracy.items()}
    out = ["# Ensembles of zero-cost proxies", "",
           f"Architectures per dataset: {', '.join(f'{ds} {k}' for ds, k in n.items())} (the rosters' common "
           f"sample). Spearman ρ / Kendall τ with 200-epoch test accuracy. Pool: {', '.join(res['pool'])}; "
           f"{res['candidates']} candidates (single proxies, and every combination of up to "
           f"{max(len(c.split('+')) for c in t.members)} members under each rule, equal weights). "
           f"Chosen on **{select_on}** only; the other datasets are held out. Cost: the members' median "
           "seconds per architecture recorded in the rosters (as measured, load-dependent), summed.", ""]
    if on_gpu:
        out += ["† " + ", ".join(f"{m} ({d})" for m, d in sorted(on_gpu.items())) + f": scored on a GPU on {select_on}, "
                "so its seconds are GPU seconds (with other processes sharing the GPU), not comparable with "
                "the CPU seconds of the other proxies.", ""]
    out += ["## Chosen on " + select_on, "", head, sep]
    for key, label in (("chosen", "best ensemble"), ("chosen_searchable", "best searchable ensemble"),
                       ("best_single", "best single proxy")):
        if res[key] is not None:
            out.append(row(res[key]).replace("| ", f"| {label}: ", 1))
    out += ["", "## Single proxies", "", head, sep]
    singles = sorted((c for c in t[t.rule == "single"].candidate.unique()),
                     key=lambda lab: -t[(t.dataset == select_on) & (t.candidate == lab)].spearman.iloc[0])
    for lab in singles:
        out.append(row(Candidate((lab,), "single")))
    out += ["", f"## Top 10 on {select_on}", "", head, sep]
    sel = t[t.dataset == select_on].sort_values("spearman", ascending=False, kind="stable").head(10)
    for _, r in sel.iterrows():
        out.append(row(Candidate(tuple(r.members.split("+")), r.rule)))
    out += ["", "## Oracle: the best candidate of each dataset, chosen on that dataset (optimistic)", "",
            head, sep]
    for ds, c in res["oracle"].items():
        out.append(row(c).replace("| ", f"| {ds}: ", 1))
    out += ["", "## Best per rule on " + select_on, "", head, sep]
    for rule in t[t.rule != "single"].rule.unique():
        sub = t[(t.dataset == select_on) & (t.rule == rule)].sort_values("spearman", ascending=False, kind="stable")
        r = sub.iloc[0]
        out.append(row(Candidate(tuple(r.members.split("+")), r.rule)))  # τ only where computed above
    return "\n".join(out) + "\n"
