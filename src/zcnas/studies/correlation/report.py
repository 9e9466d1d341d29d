"""The correlation study as markdown (``table1.md``): Tables I and II beside the paper's values,
Kendall τ, combined under every normalization, the α sweep and the sources; and its scatter plots
(``scatter_<dataset>.png``, matplotlib imported only when one is drawn)."""

from __future__ import annotations

import math

import pandas as pd

from zcnas.benchmark.base import DATASETS
from zcnas.names import DATASET_NAMES, ordered
from zcnas.studies.correlation.statistics import COMBINED_TREATMENT, Panel, Settings, main_rows
from zcnas.studies.figures import panel_grid, png_bytes
from zcnas.studies.rank_correlation import subset_label

TREATMENT_TEXT = {
    "lowest": "non-finite scores are ranked below every finite score (tied among themselves, average ranks)",
    "drop": "non-finite scores are left out of the correlations",
}


def fmt(value: float, digits: int = 4) -> str:
    """A statistic with ``digits`` decimals; — where it is undefined."""
    return "—" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _cells(rows: pd.DataFrame, subset: str) -> dict[tuple[str, str], dict]:
    """(dataset, metric) -> that row of the subset."""
    return {(r.dataset, r.metric): r._asdict() for r in rows[rows["subset"] == subset].itertuples(index=False)}


def render_markdown(tidy: pd.DataFrame, sweep: pd.DataFrame, s: Settings, benchmark_desc: str) -> str:
    sub = subset_label(s.top_fraction)
    main = main_rows(tidy, s.normalization)
    metrics = ordered(main["metric"].unique())
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
                line.append(f"{fmt(rho)}{paper}; n={c['n']}, {c['n_nonfinite']} non-finite")
            out += f"| {DATASET_NAMES[ds]} | " + " | ".join(line) + " |\n"
        return out

    kendall = head + "".join(
        f"| {DATASET_NAMES[ds]} | " + " | ".join(fmt(cells_all[(ds, m)]["kendall"]) if (ds, m) in cells_all else "—"
                                               for m in metrics) + " |\n" for ds in DATASETS)
    pct = f"{100 * s.top_fraction:g}%"
    parts = [
        "# Correlation of training-free metrics with test accuracy (paper Tables I and II)\n",
        f"Test accuracy: the benchmark's 200-epoch test accuracy ({benchmark_desc}). "
        "val12 is the benchmark's 12-epoch validation accuracy over all 15,625 architectures; every other "
        "metric is taken over the architectures its rosters contain (n).\n",
        f"Non-finite scores: **{s.non_finite}** — {TREATMENT_TEXT[s.non_finite]}. "
        "Cells give n (architectures) and how many of them had non-finite scores; for combined, the number "
        f"with a non-finite member score ({COMBINED_TREATMENT}).\n",
        "## Table I — Spearman ρ with test accuracy, all architectures\n",
        f"Ours (the paper's value); combined uses α = {s.alpha:g} with {s.normalization} normalization.\n",
        table(cells_all, absolute=False),
        f"## Table II — |Spearman ρ| within the top {pct} by the metric\n",
        f"Absolute values, as the paper prints them (signed values are in correlations.csv). The subset is the "
        f"⌊{s.top_fraction:g}·n⌋ architectures the metric itself scores highest (ties by index), not the "
        "most accurate ones; the paper reports hook_logdet and synflow on CIFAR-10 and CIFAR-100 only.\n",
        table(cells_top, absolute=True),
        "## Kendall τ with test accuracy, all architectures\n",
        kendall,
    ]
    comb = tidy[tidy["metric"] == "combined"]
    if len(comb):
        norms = s.normalizations
        parts += [
            f"## combined: normalizations (α = {s.alpha:g})\n",
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
                          + " | ".join(f"{fmt(get.get((m, 'all'), math.nan))} | {fmt(abs(get.get((m, sub), math.nan)))}"
                                       for m in norms) + " |\n")
    if len(sweep):
        alphas = s.alphas
        text = ("## combined: α sweep (Spearman ρ, all architectures)\n\n"
                "The paper chose α = 0.6 from this sweep by Spearman ρ.\n\n"
                "| Dataset | normalization | " + " | ".join(f"α={a:g}" for a in alphas) + " | best α |\n|---|---|"
                + "---|" * (len(alphas) + 1) + "\n")
        for (ds, norm), g in sweep.groupby(["dataset", "normalization"], sort=False):
            rho = dict(zip(g["alpha"], g["spearman"]))
            finite = {a: r for a, r in rho.items() if math.isfinite(r)}
            best = f"{max(finite, key=finite.get):g}" if finite else "—"
            text += (f"| {DATASET_NAMES[ds]} | {norm} | " + " | ".join(fmt(rho.get(a, math.nan)) for a in alphas)
                     + f" | {best} |\n")
        parts.append(text)
    sources = tidy[(tidy["subset"] == "all") & (tidy["normalization"].isin(["", s.normalization]))]
    parts.append("## Sources\n\n" + "".join(f"- {DATASET_NAMES[r.dataset]} / {r.metric}: {r.source_rosters}\n"
                                            for r in sources.itertuples(index=False)))
    return "\n".join(parts)


def render_space_markdown(tidy: pd.DataFrame, s: Settings, space: str, accuracy_label: str, source: str) -> str:
    """The study in a space other than NATS-Bench TSS: one row per (dataset, metric), best first.
    ``source``: where the ground truth comes from."""
    sub = subset_label(s.top_fraction)
    lines = [f"# Zero-cost proxies in {space}: rank correlation with the ground truth", "",
             f"Ground truth: {accuracy_label} ({source}). Spearman ρ and Kendall τ over "
             f"the architectures each roster and the table both hold; {sub}: within the fraction "
             f"{s.top_fraction:g} ranked highest by the metric. {TREATMENT_TEXT[s.non_finite].capitalize()}.", "",
             f"| Dataset | Metric | n | ρ | τ | ρ {sub} | τ {sub} | non-finite |", "|---|---|---|---|---|---|---|---|"]
    all_rows = tidy[tidy["subset"] == "all"]
    top = {(r.dataset, r.metric): r for r in tidy[tidy["subset"] == sub].itertuples(index=False)}
    for r in all_rows.sort_values(["dataset", "spearman"], ascending=[True, False]).itertuples(index=False):
        t = top[(r.dataset, r.metric)]
        lines.append(f"| {DATASET_NAMES.get(r.dataset, r.dataset)} | {r.metric} | {r.n} | {fmt(r.spearman, 3)} | "
                     f"{fmt(r.kendall, 3)} | {fmt(t.spearman, 3)} | {fmt(t.kendall, 3)} | {r.n_nonfinite} |")
    lines += ["", "Sources: " + "; ".join(sorted(set(all_rows["source_rosters"]))), ""]
    return "\n".join(lines)


def scatter_png(dataset: str, panels: list[Panel]) -> bytes:
    """One panel per metric: score rank percentile (x) against test accuracy (y)."""
    fig, axes = panel_grid(len(panels), 4.2, 3.5)
    for ax, p in zip(axes, panels):
        size = 2 if p.x.size > 2000 else 6  # small rosters would vanish at the whole-space point size
        ax.scatter(p.x, p.y, s=size, alpha=0.3, linewidths=0, rasterized=True)
        ax.set_title(f"{p.label}: ρ = {fmt(p.rho, 3)} (n = {p.x.size})", fontsize=9)
        ax.set_xlabel("score rank (percentile within roster)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_xlim(0, 100)
    fig.suptitle(f"{DATASET_NAMES[dataset]}: metric rank vs test accuracy")
    return png_bytes(fig)
