"""Tables III-V as markdown (``tables.md``): the statistics of ``zcnas.studies.search_tables.statistics``,
laid out as the paper does (rows = metrics, columns = searches), ours beside the paper's values, then
the val12 check against the protocol, where the scores came from, and the failures; and the paper's
Figure 2 (``figure2.png``, matplotlib imported only when it is drawn)."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd

from zcnas.benchmark.base import DATASETS
from zcnas.names import DATASET_NAMES, SEARCH_TITLES, SEARCHES, ordered
from zcnas.studies.search_tables.statistics import (GOAL_COST_LIMIT, PAPER_REPEATS, PAPER_VISITS, cell_summary,
                                                    mean_trace, off_protocol, paper_cell)

PAPER_TABLE = {"cifar10": "III", "cifar100": "IV", "ImageNet16-120": "V"}
#: marks a cell whose budget or repeat count differs from the paper's (not comparable to its value)
OFF_PROTOCOL = "‡"


def render_markdown(frame: pd.DataFrame, source: str = "", beyond: pd.DataFrame | None = None) -> str:
    """Tables III-V shaped as in the paper, ours beside the paper's, then (``beyond``: rows of
    ``statistics.beyond_rows``) other sweeps' searches against the paper's best
    zero-cost rows, the val12 check and failures."""
    cells = cell_summary(frame)
    ok, failed = (frame["status"] == "ok").sum(), (frame["status"] != "ok").sum()
    # outside NATS-Bench TSS there is no paper value to set beside ours
    space = str(frame["space"].iloc[0]) if "space" in frame.columns and len(frame) else None
    lines = [f"# Searches in {space}" if space else "# Searches: the paper's Tables III-V", ""]
    if source:
        lines.append(f"Sweep `{source}`: {len(frame)} jobs, {ok} ok, {failed} failed.")
    lines += [
        "Test accuracy (%) of the architecture found: mean ± std (population, ddof=0) over the repeats;",
        ("Time:" if space else "the paper's value in brackets. Time:") + " mean seconds per search in the paper's accounting (recorded",
        "scoring seconds charged on every request, no reuse); † marks wall-clock seconds (no recorded cost).",
        "",
    ]
    datasets = cells.groupby("dataset", sort=False) if len(cells) else []  # no ok job: no columns
    for dataset, group in datasets:
        table = f" (paper Table {PAPER_TABLE[dataset]})" if dataset in PAPER_TABLE and not space else ""
        lines += [f"## {DATASET_NAMES.get(dataset, dataset)}{table}", ""]
        metrics = ordered(group["metric"].unique())
        searches = ordered(group["search"].unique(), SEARCHES)
        header = [f"{SEARCH_TITLES.get(s, s)} {column}" for s in searches for column in ("test", "time (s)")]
        lines += _md_table(["metric", *header],
                           [[m] + [v for s in searches for v in _main_cells(cells, dataset, m, s, not space)]
                            for m in metrics])
        if space:  # the ground truth may hold only a sample of the space: say what was found
            lines += ["", "Score of the architecture found (mean ± std) / repeats whose find has ground truth:", ""]
            lines += _md_table(["metric"] + [SEARCH_TITLES.get(s, s) for s in searches],
                               [[m] + [_found_cell(frame, dataset, m, s) for s in searches] for m in metrics])
        lines += ["", "Distinct architectures scored / evaluations requested / repeats:", ""]
        lines += _md_table(["metric"] + [SEARCH_TITLES.get(s, s) for s in searches],
                           [[m] + [_detail_cell(cells, dataset, m, s) for s in searches] for m in metrics])
        lines.append("")
    if not space and len(cells) and cells.apply(off_protocol, axis=1).any():
        lines += [f"{OFF_PROTOCOL} ran with another budget or repeat count than the paper's {PAPER_VISITS} visited "
                  f"models and {PAPER_REPEATS} repeats (see the table above): not comparable to the value in brackets.", ""]
    lines += _beyond_section(beyond)
    lines += _protocol_section(cells) + _sources_section(frame) + _failures_section(frame)
    return "\n".join(lines).rstrip() + "\n"


def _cell(cells: pd.DataFrame, dataset: str, metric: str, search: str) -> pd.Series | None:
    match = cells[(cells["dataset"] == dataset) & (cells["metric"] == metric) & (cells["search"] == search)]
    return match.iloc[0] if len(match) else None


def _main_cells(cells, dataset, metric, search, with_paper: bool = True) -> list[str]:
    c = _cell(cells, dataset, metric, search)
    paper = paper_cell(dataset, metric, search) if with_paper else None
    marked = with_paper and c is not None and off_protocol(c)  # only the paper's grid has a protocol
    test = "—" if c is None else _pm(c["test_mean"], c["test_std"]) + (OFF_PROTOCOL if marked else "")
    time = "—"
    if c is not None:
        time = _seconds(c["search_seconds"]) + ("" if c["time_source"] == "recorded/request" else "†")
    if paper:
        test += f" [{_pm(paper[0], paper[1])}]"
        time += f" [{_seconds(paper[2])}]"
    return [test, time]


def _found_cell(frame: pd.DataFrame, dataset: str, metric: str, search: str) -> str:
    jobs = frame[(frame["status"] == "ok") & (frame["dataset"] == dataset) & (frame["metric"] == metric)
                 & (frame["search"] == search)]
    if jobs.empty:
        return "—"
    score = jobs["best_score"].astype(float)
    return f"{score.mean():.4g} ± {score.std(ddof=0):.2g} / {int(jobs['test_accuracy'].notna().sum())} of {len(jobs)}"


def _detail_cell(cells, dataset, metric, search) -> str:
    c = _cell(cells, dataset, metric, search)
    return "—" if c is None else f"{c['distinct_scored']:.0f} / {c['evaluations']:.0f} / {c['n']}"


def _beyond_section(beyond: pd.DataFrame | None) -> list[str]:
    if beyond is None or beyond.empty:
        return []
    lines = ["## Beyond the paper", "",
             "Training-free searches of other sweeps (their reports under `results/search/`), set against the",
             "best zero-cost row of the paper's table for the dataset (mean test accuracy; val12 is trained and",
             "not counted). Cost per architecture: mean seconds charged per requested architecture in the",
             "paper's accounting, relative to hook_logdet's in the same search of this grid. Goal: beats it",
             f"at no more than {GOAL_COST_LIMIT:g}× hook_logdet's cost per architecture.", ""]
    rows = []
    for _, b in beyond.iterrows():
        cost = "n/a" if math.isnan(b["cost_vs_hook_logdet"]) else f"{b['cost_vs_hook_logdet']:.2f}×"
        time = _seconds(b["search_seconds"]) + ("" if b["time_source"] == "recorded/request" else "†")
        rows.append([DATASET_NAMES.get(b["dataset"], b["dataset"]), b["label"],
                     SEARCH_TITLES.get(b["search"], b["search"]), f"{_pm(b['test_mean'], b['test_std'])} (n={b['n']})",
                     time, cost, f"{b['paper_best']:.2f} ({b['paper_best_rows']})",
                     "yes" if b["beats_paper"] else "**no**", "yes" if b["meets_goal"] else "**no**"])
    lines += _md_table(["dataset", "search with", "search", "test", "time (s)", "cost per architecture vs hook_logdet",
                        "paper's best zero-cost row", "beats it", "goal"], rows)
    return lines + [""]


def _protocol_section(cells: pd.DataFrame) -> list[str]:
    if cells.empty or cells["protocol_test_mean"].isna().all():
        return []
    lines = ["## val12 against the protocol (docs/paper-protocol.md)", "",
             "Cells run at the paper's budget (500 visited models) only. Tolerance: max(0.3, 2·std/√n),",
             "std the protocol's, n our repeats.", ""]
    rows = []
    for _, c in cells[cells["protocol_test_mean"].notna()].iterrows():
        rows.append([c["dataset"], c["search"], _pm(c["test_mean"], c["test_std"]),
                     _pm(c["protocol_test_mean"], c["protocol_test_std"]), f"{c['paper_test_mean']:.2f}",
                     f"{c['test_mean'] - c['protocol_test_mean']:+.2f}", f"{c['protocol_tolerance']:.2f}",
                     "yes" if c["protocol_ok"] else "**no**"])
    lines += _md_table(["dataset", "search", "ours", "protocol", "paper", "ours − protocol", "tolerance",
                        "within"], rows)
    return lines + [""]


def _sources_section(frame: pd.DataFrame) -> list[str]:
    ok = frame[frame["status"] == "ok"]
    if ok.empty or "scores_from" not in ok:
        return []
    pairs = ok.groupby(["metric", "dataset"], sort=False)["scores_from"].agg(lambda v: "; ".join(sorted(set(v))))
    rows = [[m, DATASET_NAMES.get(d, d), src] for (m, d), src in pairs.items()]
    return ["## Where the scores came from", ""] + _md_table(["metric", "dataset", "scores"], rows) + [""]


def _failures_section(frame: pd.DataFrame) -> list[str]:
    failed = frame[frame["status"] != "ok"]
    if failed.empty:
        return []
    lines = [f"## Failures ({len(failed)} jobs; relaunch the sweep to rerun them)", ""]
    for _, job in failed.iterrows():
        error = str(job["error"] or "no error recorded").strip().splitlines()[0]
        lines.append(f"- {job['dataset']} / {job['metric']} / {job['search']} / seed {job['seed']}: {error}")
    return lines + [""]


def _md_table(header: list[str], rows: list[list]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(str(v) for v in row) + " |" for row in rows]


def _pm(mean: float, std: float) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "n/a"
    # the paper prints zero spreads as e.g. 4e-14; two decimals say the same
    return f"{mean:.2f} ± {std:.2f}"


def _seconds(value: float) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:,.0f}" if value >= 1000 else f"{value:.2f}"


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
