"""The ``task=correlate`` job: the paper's Tables I and II from rosters and the benchmark.

Reads every roster named by ``rosters`` (paths or glob patterns), groups them
by the (dataset, metric) their metadata state, merges each group (an error if
their seed, batch size or settings differ), and correlates the scores with
the benchmark's 200-epoch test accuracy.  Besides the rosters' metrics:

* ``val12``: the benchmark's 12-epoch validation accuracy over its whole table;
* ``combined``: computed from the hook_logdet and synflow rosters of a dataset
  (see ``zcnas.correlation.combined_from_rosters``) for every normalization,
  plus the paper's alpha sweep.

A roster whose metric is ``val12`` or ``combined`` is shown as
``<metric> (roster)`` so it does not collide with these.

Writes to ``report_dir``: ``table1.md`` (Tables I and II beside the paper's
values, the combined comparisons), ``correlations.csv`` (tidy, signed
values), ``alpha_sweep.csv`` and ``scatter_<dataset>.png``.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig, ListConfig
from scipy import stats

from zcnas.benchmark import DATASETS
from zcnas.correlation import (benchmark_val12, check_non_finite, check_top_fraction, combined_from_rosters,
                               correlations, subset_label, top_positions, treat_non_finite)
from zcnas.errors import BenchmarkError, ConfigError, DataError
from zcnas.io import atomic_write_bytes, write_table
from zcnas.roster import Roster, merge_rosters, read_roster

DATASET_NAMES = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "ImageNet16-120": "ImageNet16-120"}
#: Table I column order; other metrics follow alphabetically
METRIC_ORDER = ("val12", "hook_logdet", "synflow", "snip", "combined")
#: metrics this job computes itself (a roster of the same name is relabelled)
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
TREATMENT_TEXT = {
    "lowest": "non-finite scores are ranked below every finite score (tied among themselves, average ranks)",
    "drop": "non-finite scores are left out of the correlations",
}
COMBINED_TREATMENT = "members: -inf hook_logdet -> 0 before normalizing, other non-finite -> normalized 0"


@dataclass
class Group:
    """The merged roster of one (dataset, metric) and the files it came from."""

    dataset: str
    metric: str
    label: str
    paths: list[str]
    roster: Roster


@dataclass
class Panel:
    label: str
    x: np.ndarray
    y: np.ndarray
    rho: float


# ----------------------------------------------------------------------------- inputs

def expand_rosters(patterns) -> list[str]:
    """Roster files from paths and glob patterns, in order, each once; missing plain paths are errors."""
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, (list, tuple, ListConfig)) or not patterns:
        raise ConfigError(f"rosters must be a non-empty list of roster paths or glob patterns, got {patterns!r}")
    import glob

    found: list[str] = []
    for pattern in patterns:
        pattern = os.path.expanduser(str(pattern))
        if any(c in pattern for c in "*?["):
            matches = sorted(glob.glob(pattern, recursive=True))
        elif Path(pattern).is_file():
            matches = [pattern]
        else:
            raise DataError(f"roster not found: {pattern}")
        found += [str(Path(m).resolve()) for m in matches]
    found = list(dict.fromkeys(found))
    if not found:
        raise DataError(f"no rosters match rosters={list(patterns)}; score some (python run.py task=score ...) "
                        "or list roster files: rosters=[a.parquet,b.parquet]")
    return found


def merge_group(named: list[tuple[str, Roster]]) -> Roster:
    """One roster from several of the same (dataset, metric); ConfigError if their metadata conflict."""
    return merge_rosters(named)


def load_groups(paths: list[str]) -> list[Group]:
    """Read, group by the (dataset, metric) of their metadata, and merge."""
    named: dict[tuple[str, str], list[tuple[str, Roster]]] = {}
    for path in paths:
        roster = read_roster(path)
        dataset, metric = roster.meta.get("dataset"), roster.meta.get("metric")
        if not dataset or not metric:
            raise DataError(f"roster {path} does not record its metric and dataset; re-import it with task=import")
        if dataset not in DATASETS:
            raise DataError(f"roster {path} is for dataset {dataset!r}, which the benchmark lacks "
                            f"(valid: {', '.join(DATASETS)})")
        named.setdefault((dataset, metric), []).append((path, roster))
    return [Group(ds, metric, f"{metric} (roster)" if metric in DERIVED else metric,
                  [p for p, _ in members], merge_group(members))
            for (ds, metric), members in named.items()]


def _settings(cfg: DictConfig) -> dict:
    from zcnas.metrics.combined import NORMALIZATIONS, check_alpha

    alphas = cfg.get("alphas", [0.2, 0.4, 0.5, 0.6, 0.8])
    if not isinstance(alphas, (list, tuple, ListConfig)) or not alphas:
        raise ConfigError(f"alphas must be a non-empty list of numbers in [0, 1], got {alphas!r}")
    normalization = str(cfg.get("combined_normalization", "minmax"))
    if normalization not in NORMALIZATIONS:
        raise ConfigError(f"combined_normalization must be one of {', '.join(NORMALIZATIONS)}, got {normalization!r}")
    return {
        "non_finite": check_non_finite(str(cfg.get("non_finite", "lowest"))),
        "top_fraction": check_top_fraction(cfg.get("top_fraction", 0.1)),
        "alpha": check_alpha(cfg.get("alpha", 0.6), "alpha"),
        "alphas": [check_alpha(a, "alphas") for a in alphas],
        "normalization": normalization,
        "normalizations": list(NORMALIZATIONS),
        "report_dir": Path(os.path.expanduser(str(cfg.get("report_dir", "results/correlation")))),
    }


# ----------------------------------------------------------------------------- the study

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


def _order(label: str) -> tuple:
    return (METRIC_ORDER.index(label) if label in METRIC_ORDER else len(METRIC_ORDER), label)


def study(groups: list[Group], benchmark, s: dict) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, list[Panel]]]:
    """(tidy correlations, alpha sweep, scatter panels per dataset)."""
    nf, frac = s["non_finite"], s["top_fraction"]
    sub = subset_label(frac)
    rows, sweep, panels = [], [], {}
    for ds in DATASETS:
        test = benchmark.all_test_accuracies(ds)
        val12 = benchmark_val12(benchmark, ds)
        res = correlations(val12, test, frac, nf)
        rows += _records(ds, "val12", res, nf, f"benchmark: {benchmark.description}", sub)
        panels[ds] = [_panel("val12", val12, test, nf, res["spearman"])]

        mine = sorted((g for g in groups if g.dataset == ds), key=lambda g: _order(g.label))
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
            for norm in s["normalizations"]:
                for alpha in dict.fromkeys([s["alpha"], *s["alphas"]]):
                    comb = combined_from_rosters(hook.roster, syn.roster, alpha, norm)
                    res = correlations(comb["score"], test[comb["index"]], frac, nf)
                    # combined itself is always finite: count the architectures with a non-finite member
                    bad = comb["member_nonfinite"]
                    res["n_nonfinite"] = int(bad.sum())
                    res["top_nonfinite"] = int(bad[top_positions(comb["score"], frac)].sum())
                    if alpha in s["alphas"]:
                        sweep.append({"dataset": ds, "normalization": norm, "alpha": alpha, "n": res["n"],
                                      "n_nonfinite_members": res["n_nonfinite"], "spearman": res["spearman"],
                                      "kendall": res["kendall"], "top_spearman": res["top_spearman"],
                                      "top_kendall": res["top_kendall"], "source_rosters": sources})
                    if alpha != s["alpha"]:
                        continue
                    rows += _records(ds, "combined", res, COMBINED_TREATMENT, sources, sub, norm, alpha)
                    if norm == s["normalization"]:
                        panels[ds].append(_panel(f"combined ({norm}, α={alpha:g})", comb["score"],
                                                 test[comb["index"]], nf, res["spearman"]))
    return pd.DataFrame(rows), pd.DataFrame(sweep), panels


# ----------------------------------------------------------------------------- outputs

def _f(value: float, digits: int = 4) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _main_rows(tidy: pd.DataFrame, normalization: str) -> pd.DataFrame:
    """One normalization for combined (Table I/II's column); every other metric as is."""
    return tidy[(tidy["normalization"] == "") | (tidy["normalization"] == normalization)]


def _cells(rows: pd.DataFrame, subset: str) -> dict[tuple[str, str], dict]:
    """(dataset, metric) -> that row of the subset."""
    return {(r.dataset, r.metric): r._asdict() for r in rows[rows["subset"] == subset].itertuples(index=False)}


def render_markdown(tidy: pd.DataFrame, sweep: pd.DataFrame, s: dict, benchmark_desc: str) -> str:
    sub = subset_label(s["top_fraction"])
    main = _main_rows(tidy, s["normalization"])
    metrics = sorted(main["metric"].unique(), key=_order)
    cells_all, cells_top = _cells(main, "all"), _cells(main, sub)
    head = "| Dataset | " + " | ".join(metrics) + " |\n|---|" + "---|" * len(metrics) + "\n"

    def table(cells: dict, absolute: bool) -> str:
        out = head
        for ds in DATASETS:
            line = []
            for m in metrics:
                c = cells.get((ds, m))
                if c is None:
                    line.append("—")
                    continue
                rho = abs(c["spearman"]) if absolute else c["spearman"]
                paper = f" (paper {c['paper_value']:.4f})" if math.isfinite(c["paper_value"]) else ""
                line.append(f"{_f(rho)}{paper}; n={c['n']}, {c['n_nonfinite']} non-finite")
            out += f"| {DATASET_NAMES[ds]} | " + " | ".join(line) + " |\n"
        return out

    kendall = head + "".join(
        f"| {DATASET_NAMES[ds]} | " + " | ".join(_f(cells_all[(ds, m)]["kendall"]) if (ds, m) in cells_all else "—"
                                               for m in metrics) + " |\n" for ds in DATASETS)
    pct = f"{100 * s['top_fraction']:g}%"
    parts = [
        "# Correlation of training-free metrics with test accuracy (paper Tables I and II)\n",
        f"Test accuracy: the benchmark's 200-epoch test accuracy ({benchmark_desc}). "
        "val12 is the benchmark's 12-epoch validation accuracy over all 15,625 architectures; every other "
        "metric is taken over the architectures its rosters contain (n).\n",
        f"Non-finite scores: **{s['non_finite']}** — {TREATMENT_TEXT[s['non_finite']]}. "
        "Cells give n (architectures) and how many of them had non-finite scores; for combined, the number "
        f"with a non-finite member score ({COMBINED_TREATMENT}).\n",
        "## Table I — Spearman ρ with test accuracy, all architectures\n",
        f"Ours (the paper's value); combined uses α = {s['alpha']:g} with {s['normalization']} normalization.\n",
        table(cells_all, absolute=False),
        f"## Table II — |Spearman ρ| within the top {pct} by the metric\n",
        f"Absolute values, as the paper prints them (signed values are in correlations.csv). The subset is the "
        f"⌊{s['top_fraction']:g}·n⌋ architectures the metric itself scores highest (ties by index), not the "
        "most accurate ones; the paper reports hook_logdet and synflow on CIFAR-10 and CIFAR-100 only.\n",
        table(cells_top, absolute=True),
        "## Kendall τ with test accuracy, all architectures\n",
        kendall,
    ]
    comb = tidy[tidy["metric"] == "combined"]
    if len(comb):
        norms = s["normalizations"]
        parts += [
            f"## combined: normalizations (α = {s['alpha']:g})\n",
            "Normalization statistics come from every row of the hook_logdet and synflow rosters; the paper "
            "takes them over the whole space, so with sampled rosters they are the sample's statistics. "
            "minmax is the paper's; log_minmax takes min-max of log10 synflow; rank uses empirical quantiles.\n",
            "| Dataset | n | " + " | ".join(f"{n} ρ | {n} top \\|ρ\\|" for n in norms) + " |\n|---|---|"
            + "---|---|" * len(norms) + "\n",
        ]
        for ds in DATASETS:
            c = comb[comb["dataset"] == ds]
            if not len(c):
                continue
            get = {(r.normalization, r.subset): r.spearman for r in c.itertuples(index=False)}
            n = int(c[c["subset"] == "all"]["n"].iloc[0])
            parts[-1] += (f"| {DATASET_NAMES[ds]} | {n} | "
                          + " | ".join(f"{_f(get.get((m, 'all'), math.nan))} | {_f(abs(get.get((m, sub), math.nan)))}"
                                       for m in norms) + " |\n")
    if len(sweep):
        alphas = s["alphas"]
        text = ("## combined: α sweep (Spearman ρ, all architectures)\n\n"
                "The paper chose α = 0.6 from this sweep by Spearman ρ.\n\n"
                "| Dataset | normalization | " + " | ".join(f"α={a:g}" for a in alphas) + " | best α |\n|---|---|"
                + "---|" * (len(alphas) + 1) + "\n")
        for (ds, norm), g in sweep.groupby(["dataset", "normalization"], sort=False):
            rho = dict(zip(g["alpha"], g["spearman"]))
            finite = {a: r for a, r in rho.items() if math.isfinite(r)}
            best = f"{max(finite, key=finite.get):g}" if finite else "—"
            text += (f"| {DATASET_NAMES[ds]} | {norm} | " + " | ".join(_f(rho.get(a, math.nan)) for a in alphas)
                     + f" | {best} |\n")
        parts.append(text)
    sources = tidy[(tidy["subset"] == "all") & (tidy["normalization"].isin(["", s["normalization"]]))]
    parts.append("## Sources\n\n" + "".join(f"- {DATASET_NAMES[r.dataset]} / {r.metric}: {r.source_rosters}\n"
                                            for r in sources.itertuples(index=False)))
    return "\n".join(parts)


def scatter_png(dataset: str, panels: list[Panel]) -> bytes:
    """One panel per metric: score rank percentile (x) against test accuracy (y)."""
    # The Agg canvas directly, not pyplot: no global backend state, safe in any process.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ncols = min(3, max(len(panels), 1))
    nrows = max(1, math.ceil(len(panels) / ncols))
    fig = Figure(figsize=(4.2 * ncols, 3.5 * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, p in zip(axes, panels):
        size = 2 if p.x.size > 2000 else 6  # small rosters would vanish at the whole-space point size
        ax.scatter(p.x, p.y, s=size, alpha=0.3, linewidths=0, rasterized=True)
        ax.set_title(f"{p.label}: ρ = {_f(p.rho, 3)} (n = {p.x.size})", fontsize=9)
        ax.set_xlabel("score rank (percentile within roster)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_xlim(0, 100)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    fig.suptitle(f"{DATASET_NAMES[dataset]}: metric rank vs test accuracy")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


# ----------------------------------------------------------------------------- the job

def run_correlate_job(cfg: DictConfig, output_dir: Path) -> dict:
    from zcnas.build import build_benchmark

    s = _settings(cfg)
    paths = expand_rosters(cfg.get("rosters"))
    groups = load_groups(paths)
    benchmark = build_benchmark(cfg)
    if not getattr(benchmark, "available", False):
        raise BenchmarkError("task=correlate needs test accuracies and no benchmark is available: use "
                             "benchmark=table benchmark.path=/path/to/nats_tss_benchmark.csv or benchmark=nats_bench")
    tidy, sweep, panels = study(groups, benchmark, s)

    out = s["report_dir"]
    files = [out / "table1.md", out / "correlations.csv", out / "alpha_sweep.csv"]
    atomic_write_bytes(files[0], render_markdown(tidy, sweep, s, benchmark.description).encode())
    write_table(files[1], tidy)
    write_table(files[2], sweep)
    for ds, ps in panels.items():
        files.append(out / f"scatter_{ds}.png")
        atomic_write_bytes(files[-1], scatter_png(ds, ps))

    main = _main_rows(tidy, s["normalization"])
    tables = {}
    for key, subset in (("table1", "all"), ("table2", subset_label(s["top_fraction"]))):
        rows = main[main["subset"] == subset]
        tables[key] = [{"dataset": ds, **dict(zip(g["metric"], g["spearman"]))}
                       for ds, g in rows.groupby("dataset", sort=False)]
    return {
        "task": "correlate",
        "rosters": paths,
        "groups": [{"dataset": g.dataset, "metric": g.label, "rows": len(g.roster),
                    "non_finite": int((~g.roster.rows["finite"]).sum()), "rosters": g.paths} for g in groups],
        "non_finite": s["non_finite"], "top_fraction": s["top_fraction"], "alpha": s["alpha"],
        "combined_normalization": s["normalization"],
        **tables,
        "rows": tidy.to_dict("records"),
        "report_dir": str(out),
        "files": [str(f) for f in files],
    }


def summarize_correlate(result: dict) -> str:
    lines = [f"correlation study: {len(result['rosters'])} rosters in {len(result['groups'])} (dataset, metric) "
             f"groups; non-finite scores: {result['non_finite']}",
             "  Table I, Spearman ρ with test accuracy (paper's value in brackets):"]
    for row in result["table1"]:
        ds = row["dataset"]
        cells = []
        for metric, rho in row.items():
            if metric == "dataset":
                continue
            rho = float(rho) if not isinstance(rho, str) else math.nan  # result.json writes NaN as "nan"
            paper = PAPER_TABLE1.get(ds, {}).get(metric)
            cells.append(f"{metric} {_f(rho, 3)}" + (f" [{paper:.3f}]" if paper else ""))
        lines.append(f"    {DATASET_NAMES.get(ds, ds)}: " + ", ".join(cells))
    lines.append(f"  report: {Path(result['report_dir']) / 'table1.md'} (+ correlations.csv, alpha_sweep.csv, "
                 "scatter_<dataset>.png)")
    return "\n".join(lines)
