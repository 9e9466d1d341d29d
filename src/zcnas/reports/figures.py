"""The PNG figures: correlation scatter plots (``scatter_<dataset>.png``) and the paper's Figure 2.

matplotlib is imported here only, and only when a figure is drawn.  Each function returns the PNG's
bytes; the tasks write them.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd

from zcnas.analysis.correlation_study import Panel
from zcnas.analysis.search_tables import mean_trace
from zcnas.benchmark.base import DATASETS
from zcnas.names import DATASET_NAMES, SEARCH_TITLES, SEARCHES, ordered
from zcnas.reports.correlation import fmt


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
        ax.set_title(f"{p.label}: ρ = {fmt(p.rho, 3)} (n = {p.x.size})", fontsize=9)
        ax.set_xlabel("score rank (percentile within roster)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_xlim(0, 100)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    fig.suptitle(f"{DATASET_NAMES[dataset]}: metric rank vs test accuracy")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def figure2_png(frame: pd.DataFrame) -> bytes:
    """Figure 2: one panel per (dataset, search), one line per metric: mean ± std band over the repeats.

    ``frame`` is ``collect(sweep_dir, traces=True)``: its ``trace`` column holds each job's
    best-so-far test accuracy after every visited model.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    jobs = frame[(frame["status"] == "ok") & frame["trace"].map(lambda t: isinstance(t, list) and len(t) > 0)]
    datasets = ordered(jobs["dataset"].unique(), DATASETS) or ["(no results)"]
    searches = ordered(jobs["search"].unique(), SEARCHES) or [""]
    metrics = ordered(jobs["metric"].unique())
    colours = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(metrics)}

    fig, axes = plt.subplots(len(datasets), len(searches), squeeze=False,
                             figsize=(4.2 * len(searches), 3.2 * len(datasets)))
    for r, dataset in enumerate(datasets):
        for c, search in enumerate(searches):
            ax = axes[r][c]
            ax.set_title(f"{DATASET_NAMES.get(dataset, dataset)} — {SEARCH_TITLES.get(search, search)}", fontsize=9)
            for metric in metrics:
                traces = jobs[(jobs["dataset"] == dataset) & (jobs["search"] == search) & (jobs["metric"] == metric)]
                if traces.empty:
                    continue
                mean, std = mean_trace(list(traces["trace"]))
                x = np.arange(1, len(mean) + 1)
                ax.plot(x, mean, color=colours[metric], lw=1.2, label=f"{metric} (n={len(traces)})")
                ax.fill_between(x, mean - std, mean + std, color=colours[metric], alpha=0.2, lw=0)
            if r == len(datasets) - 1:
                ax.set_xlabel("visited models")
            if c == 0:
                ax.set_ylabel("test accuracy (%)")
            if ax.lines:
                ax.legend(fontsize=7, loc="lower right")
            else:
                ax.text(0.5, 0.5, "no traces", ha="center", va="center", transform=ax.transAxes)
            ax.grid(alpha=0.3)
    fig.suptitle("Test accuracy of the best-so-far architecture (mean ± std over repeats)", fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    return buffer.getvalue()
