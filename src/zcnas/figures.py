"""The paper's Figure 2: test accuracy of the best-so-far architecture during the searches."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from zcnas.aggregate import DATASET_NAMES, METRICS, SEARCH_TITLES, SEARCHES, _ordered
from zcnas.benchmark.base import DATASETS
from zcnas.io import atomic_write_bytes


def mean_trace(traces: list[list[float]]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population std per visit over repeats; a shorter trace counts only where it exists."""
    stacked = np.full((len(traces), max(len(t) for t in traces)), np.nan)
    for i, trace in enumerate(traces):
        stacked[i, : len(trace)] = trace
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # visits without accuracies stay NaN
        return np.nanmean(stacked, axis=0), np.nanstd(stacked, axis=0)


def figure2(frame: pd.DataFrame, path: str | Path) -> None:
    """One panel per (dataset, search), one line per metric: mean ± std band over the repeats.

    ``frame`` is ``collect(sweep_dir, traces=True)``: its ``trace`` column holds each job's
    best-so-far test accuracy after every visited model.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    jobs = frame[(frame["status"] == "ok") & frame["trace"].map(lambda t: isinstance(t, list) and len(t) > 0)]
    datasets = _ordered(jobs["dataset"].unique(), DATASETS) or ["(no results)"]
    searches = _ordered(jobs["search"].unique(), SEARCHES) or [""]
    metrics = _ordered(jobs["metric"].unique(), METRICS)
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
    atomic_write_bytes(path, buffer.getvalue())
