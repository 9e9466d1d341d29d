"""A sweep's result.json files read back into one tidy table, and the statistics of Tables III-V.

``collect`` makes one row per search job (failed jobs included, with their
error); ``cell_summary`` reduces the repeats of each (dataset, metric,
search) cell, beside the paper's values and, for val12, the protocol's
(docs/paper-protocol.md); ``mean_trace`` averages the best-so-far traces of
Figure 2.  ``zcnas.studies.search_tables.report`` lays them out as markdown and PNG.

Statistics follow the paper's protocol: test accuracy is the mean and the
population standard deviation (ddof=0) over repeats; search time is the mean
of the paper's accounting -- recorded seconds charged on every request, no
reuse -- where the job has recorded costs, else its wall-clock seconds.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from zcnas.benchmark.base import DATASETS
from zcnas.errors import ConfigError
from zcnas.io import parse_float, read_json
from zcnas.jobs import RESULT_FILE, job_folders
from zcnas.names import PAPER_METRICS, SEARCHES, order_key
from zcnas.spaces import UNNAMED, shown_space

# The paper's Tables III-V: (test mean, test std, mean time in s) for random, aging, aging_warmup.
PAPER = {
    "cifar10": {
        "val12": ((93.92, 0.24, 73788.41), (94.31, 0.20, 1612104.53), (94.51, 0.20, 1631786.75)),
        "hook_logdet": ((92.63, 1.23, 45.54), (92.68, 0.34, 1316.89), (92.92, 0.21, 1314.18)),
        "synflow": ((93.34, 0.57, 59.82), (93.75, 0.18, 1921.64), (93.74, 4e-14, 1929.51)),
        "snip": ((91.41, 0.57, 57.74), (86.43, 2.97, 1079.19), (85.54, 3.74, 1089.26)),
        "combined": ((93.30, 0.64, 109.43), (93.76, 0.16, 3211.57), (93.74, 4e-14, 3231.32)),
    },
    "cifar100": {
        "val12": ((72.11, 0.83, 113433.39), (72.41, 0.38, 2455668.47), (72.44, 0.44, 2454234.67)),
        "hook_logdet": ((69.47, 2.06, 57.43), (69.94, 0.79, 1614.24), (69.19, 0.78, 1608.10)),
        "synflow": ((70.28, 1.86, 46.19), (71.06, 0.81, 1185.94), (72.00, 1e-14, 1191.12)),
        "snip": ((65.22, 2.49, 56.40), (49.37, 2.14, 1080.72), (47.62, 1e-14, 1086.55)),
        "combined": ((70.25, 1.97, 107.81), (70.99, 0.81, 2864.30), (72.00, 1e-14, 2875.36)),
    },
    "ImageNet16-120": {
        "val12": ((45.71, 1.023, 334931.77), (46.06, 0.62, 7325113.47), (46.40, 0.67, 7339394.07)),
        "hook_logdet": ((43.50, 3.14, 50.84), (45.51, 0.41, 1362.46), (45.07, 7e-15, 1366.32)),
        "synflow": ((42.59, 3.39, 43.49), (41.49, 0.65, 1136.90), (42.37, 1e-14, 1142.67)),
        "snip": ((32.65, 6.58, 49.77), (0.83, 3e-10, 912.65), (0.83, 3e-16, 919.41)),
        "combined": ((43.01, 3.44, 98.54), (42.10, 1.66, 2517.49), (42.55, 0.67, 2533.19)),
    },
}

#: models visited by every search of the paper (N = M = 500), and its repeats per cell
PAPER_VISITS = 500
PAPER_REPEATS = 30

# What the paper's protocol gives for val12 on the shared table (docs/paper-protocol.md): (mean, std) for
# random, aging, aging_warmup.  Where the paper's cell disagrees, this is the value to match.
PROTOCOL_VAL12 = {
    "cifar10": ((94.02, 0.26), (94.52, 0.19), (94.51, 0.20)),
    "cifar100": ((72.15, 0.80), (73.18, 0.69), (73.06, 0.73)),
    "ImageNet16-120": ((45.42, 1.15), (46.40, 0.69), (46.41, 0.64)),
}

JOB_COLUMNS = ["dataset", "metric", "search", "seed", "status", "best_index", "best_arch", "best_score",
               "test_accuracy", "rank", "visited", "evaluations", "distinct_scored", "wall_seconds",
               "scoring_wall_seconds", "recorded_seconds", "recorded_seconds_per_request", "search_seconds",
               "time_source", "scores_from", "error", "job"]


def paper_cell(dataset: str, metric: str, search: str) -> tuple[float, float, float] | None:
    """The paper's (test mean, test std, time s) for a cell, or None where it has none."""
    row = PAPER.get(dataset, {}).get(metric)
    return row[SEARCHES.index(search)] if row and search in SEARCHES else None


def protocol_cell(dataset: str, metric: str, search: str) -> tuple[float, float] | None:
    """The protocol's val12 (mean, std) for a cell, or None (other metrics have no reference)."""
    row = PROTOCOL_VAL12.get(dataset) if metric == "val12" else None
    return row[SEARCHES.index(search)] if row and search in SEARCHES else None


# --- reading a sweep ---------------------------------------------------------------------------------

def collect(sweep_dir: str | Path, traces: bool = False) -> pd.DataFrame:
    """One row per search job under ``sweep_dir`` (any depth); ``traces`` adds a ``trace`` column
    holding each job's best-so-far test accuracy per visited model (Figure 2)."""
    sweep_dir = Path(sweep_dir)
    rows = []
    for path in sorted(folder / RESULT_FILE for folder in job_folders(sweep_dir)
                       if (folder / RESULT_FILE).is_file()):
        try:
            record = read_json(path)
        except (OSError, ValueError) as exc:
            record = {"status": "failed", "error": f"unreadable {RESULT_FILE} ({type(exc).__name__})"}
        if not isinstance(record, dict):
            record = {"status": "failed", "error": f"invalid {RESULT_FILE}: a JSON {type(record).__name__}, "
                                                   "not a job's result (an object)"}
        problem = invalid_ok_result(record)
        if problem:  # never counted as an ok job: listed with the failures, saying why
            record = {**record, "status": "failed", "error": f"invalid {RESULT_FILE}: {problem}", "best": {}}
        row = _job_row(record, path.parent, sweep_dir)
        if row is None:
            continue
        row["space"] = record.get("space", UNNAMED)  # a result naming no space is of UNNAMED (NATS-Bench TSS)
        if traces:
            trace = (record.get("trace") or {}).get("best_test_accuracy") or []
            row["trace"] = [parse_float(v) for v in trace]
        rows.append(row)
    spaces = sorted({r["space"] for r in rows})
    if len(spaces) > 1:
        raise ConfigError(f"the sweep {sweep_dir} holds searches of spaces {', '.join(spaces)}; aggregate one space "
                          "at a time (give each its own sweep_name)")
    # a column only outside NATS-Bench TSS, so the committed paper grid's jobs.csv regenerates byte for byte
    columns = JOB_COLUMNS + (["space"] if any(shown_space(s) for s in spaces) else []) + (["trace"] if traces else [])
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values(["dataset", "metric", "search", "seed"], key=_order_key,
                             na_position="last").reset_index(drop=True)


def invalid_ok_result(record: dict) -> str | None:
    """Why a result that says ``ok`` cannot be a search job's result as the runner writes it, or None."""
    if record.get("status") != "ok":
        return None
    config = record.get("config")
    if not isinstance(config, dict) or not config:
        return "status ok but no config: not written by a zcnas job (which records its configuration)"
    if str(record.get("task") or config.get("task") or "search") != "search":
        return None  # another task's result: left out of the tables anyway
    best = record.get("best")
    if not isinstance(best, dict):
        return "status ok but no best architecture"
    for key in ("test_accuracy", "score"):
        value = best.get(key)
        if value is None:
            continue  # a best cell outside the benchmark's sample has no accuracy
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"status ok but best.{key} is {value!r}, not a number"
        if key == "test_accuracy" and not math.isfinite(value):
            return f"status ok but best.test_accuracy is {value}, not a finite number"
    return None


def _job_row(record: dict, folder: Path, sweep_dir: Path) -> dict | None:
    """The tidy row of one job, or None when the folder holds another task's result."""
    config = record.get("config") or {}
    if str(record.get("task") or config.get("task") or "search") != "search":
        return None
    ident = _identity(record, config, _job_overrides(folder))
    best = record.get("best") or {}
    per_request = record.get("recorded_seconds_per_request")
    row = {
        **ident,
        "status": record.get("status", "failed"),
        "best_index": best.get("index"), "best_arch": best.get("arch"),
        "best_score": parse_float(best["score"]) if "score" in best else math.nan,
        "test_accuracy": parse_float(best.get("test_accuracy")), "rank": best.get("rank"),
        **{k: record.get(k) for k in ("visited", "evaluations", "distinct_scored", "wall_seconds",
                                      "scoring_wall_seconds", "recorded_seconds", "recorded_seconds_per_request")},
        # the paper's accounting where the job has recorded costs, else its wall clock
        "search_seconds": per_request if per_request is not None else record.get("wall_seconds"),
        "time_source": "recorded/request" if per_request is not None else "wall",
        "scores_from": scores_from(record.get("metric_settings") or {}),
        "error": record.get("error"),
        "job": str(folder.relative_to(sweep_dir)),
    }
    if row["status"] != "ok":
        row["time_source"] = None
    return row


def scores_from(settings: dict) -> str:
    """Where a job's scores came from: its roster file (and the rosters that one was made from)."""
    def one(ms: dict) -> str:
        if not ms.get("roster"):
            read = ms.get("member_rosters") or {}  # an ensemble or combined whose members come from rosters
            if read:
                live = [f"{name} live" for name in ms.get("members") or () if name not in read]
                return "members from " + " + ".join([one(m) for m in read.values()] + live)
            return "live" if ms.get("name") != "val12" else "benchmark"
        text = Path(str(ms["roster"])).name
        if ms.get("roster_share_isomorphic"):
            text += " (one score per isomorphism class)"
        members = (ms.get("roster_settings") or {}).get("member_rosters") or {}
        if members:
            text += " from " + " + ".join(one(m) for m in members.values())
        return text

    return one(settings)


def _identity(record: dict, config: dict, overrides: dict) -> dict:
    """dataset, metric, search, seed: from the result, else the job's overrides, else its config
    (a failed job's config is unresolved, so an interpolated name is not trusted)."""
    out = {}
    for key in ("dataset", "metric", "search"):
        node = config.get(key)
        from_config = node.get("name") if isinstance(node, dict) else None
        if from_config is not None and "${" in str(from_config):
            from_config = None
        out[key] = record.get(key) or overrides.get(key) or from_config
    seed = record.get("seed", overrides.get("seed", config.get("seed")))
    out["seed"] = int(seed) if isinstance(seed, (int, str)) and str(seed).isdigit() else None
    return out


def _job_overrides(folder: Path) -> dict:
    """``key=value`` overrides Hydra recorded for the job (``.hydra/overrides.yaml``), as a dict."""
    path = folder / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.removeprefix("- ").partition("=")
        if sep:
            out[key.strip().lstrip("+~")] = value.strip().strip("'\"")
    return out


def _order_key(column: pd.Series) -> pd.Series:
    """Sort datasets, metrics and searches in the paper's order, unknown names after."""
    order = {"dataset": DATASETS, "metric": PAPER_METRICS, "search": SEARCHES}.get(column.name)
    if order is None:
        return column
    return column.map(lambda v: order_key(v, order))


# --- statistics ----------------------------------------------------------------------------------

def cell_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, metric, search) over its ok repeats, with the paper's and protocol's values."""
    ok = frame[frame["status"] == "ok"]
    rows = []
    nats = "space" not in frame.columns  # the paper's and protocol's values are NATS-Bench TSS's
    for (dataset, metric, search), group in ok.groupby(["dataset", "metric", "search"], sort=False):
        paper, protocol = paper_cell(dataset, metric, search), protocol_cell(dataset, metric, search)
        if not nats:
            paper = protocol = None
        if not (group["visited"] == PAPER_VISITS).all():
            protocol = None  # the protocol's values hold for the paper's budget only
        sources = set(group["time_source"])
        rows.append({
            "dataset": dataset, "metric": metric, "search": search, "n": len(group),
            "test_mean": group["test_accuracy"].mean(),
            "test_std": group["test_accuracy"].std(ddof=0),  # population std, as the paper
            "search_seconds": group["search_seconds"].astype(float).mean(),
            "time_source": sources.pop() if len(sources) == 1 else "mixed",
            "recorded_seconds_per_request": group["recorded_seconds_per_request"].astype(float).mean(),
            "recorded_seconds_distinct": group["recorded_seconds"].astype(float).mean(),
            "wall_seconds": group["wall_seconds"].astype(float).mean(),
            "visited": group["visited"].astype(float).mean(),
            "distinct_scored": group["distinct_scored"].astype(float).mean(),
            "evaluations": group["evaluations"].astype(float).mean(),
            "paper_test_mean": paper[0] if paper else math.nan,
            "paper_test_std": paper[1] if paper else math.nan,
            "paper_seconds": paper[2] if paper else math.nan,
            "protocol_test_mean": protocol[0] if protocol else math.nan,
            "protocol_test_std": protocol[1] if protocol else math.nan,
        })
    cells = pd.DataFrame(rows)
    if cells.empty:
        return cells
    cells["protocol_tolerance"] = [tolerance(s, n) for s, n in zip(cells["protocol_test_std"], cells["n"])]
    diff = (cells["test_mean"] - cells["protocol_test_mean"]).abs()
    cells["protocol_ok"] = (diff <= cells["protocol_tolerance"]).where(cells["protocol_test_mean"].notna())
    return cells.sort_values(["dataset", "metric", "search"], key=_order_key).reset_index(drop=True)


def tolerance(std: float, n: int) -> float:
    """How far a mean of ``n`` repeats may sit from a reference: two standard errors, at least 0.3."""
    return max(0.3, 2 * std / math.sqrt(n)) if n else math.nan


def off_protocol(c: pd.Series) -> bool:
    """Whether a cell ran with another budget or repeat count than the paper's."""
    return c["n"] != PAPER_REPEATS or c["visited"] != PAPER_VISITS


def mean_trace(traces: list[list[float]]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population std per visit over repeats; a shorter trace counts only where it exists."""
    stacked = np.full((len(traces), max(len(t) for t in traces)), np.nan)
    for i, trace in enumerate(traces):
        stacked[i, : len(trace)] = trace
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # visits without accuracies stay NaN
        return np.nanmean(stacked, axis=0), np.nanstd(stacked, axis=0)


# --- beyond the paper ----------------------------------------------------------------------------

#: metrics whose rows of Tables III-V count as the paper's zero-cost searches (val12 is trained)
ZERO_COST = ("hook_logdet", "synflow", "snip", "combined")


def paper_best_zero_cost(dataset: str) -> tuple[float, list[str]] | None:
    """The highest mean test accuracy of the paper's zero-cost rows on ``dataset`` and the rows that have it."""
    cells = [(row[i][0], f"{metric} / {search}") for metric, row in PAPER.get(dataset, {}).items()
             if metric in ZERO_COST for i, search in enumerate(SEARCHES)]
    if not cells:
        return None
    best = max(value for value, _ in cells)
    return best, [name for value, name in cells if value == best]


def per_architecture_cost(jobs: pd.DataFrame) -> float:
    """Mean seconds charged per requested architecture in the paper's accounting (ok jobs with recorded costs)."""
    ok = jobs[(jobs["status"] == "ok") & (jobs["time_source"] == "recorded/request")]
    evaluations = ok["evaluations"].astype(float)
    if ok.empty or not (evaluations > 0).all():
        return math.nan
    return float((ok["search_seconds"].astype(float) / evaluations).mean())


#: the cost a search beyond the paper may spend per architecture, relative to hook_logdet's
GOAL_COST_LIMIT = 3.0


def beyond_rows(grid: pd.DataFrame, others: list[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """Searches of other sweeps (``others``: label and jobs, as ``collect`` gives them) against the
    paper's best zero-cost row on each dataset, with their cost per architecture relative to
    hook_logdet's in the same search of ``grid`` (the paper grid's jobs); ``meets_goal``: beats it
    at no more than ``GOAL_COST_LIMIT`` times hook_logdet's cost."""
    rows = []
    for label, jobs in others:
        ok = jobs[jobs["status"] == "ok"]
        for (dataset, metric, search), group in ok.groupby(["dataset", "metric", "search"], sort=False):
            best = paper_best_zero_cost(dataset)
            hook = grid[(grid["dataset"] == dataset) & (grid["metric"] == "hook_logdet") & (grid["search"] == search)]
            cost, hook_cost = per_architecture_cost(group), per_architecture_cost(hook)
            mean = float(group["test_accuracy"].mean())
            rows.append({
                "dataset": dataset, "label": label, "metric": metric, "search": search, "n": len(group),
                "test_mean": mean, "test_std": float(group["test_accuracy"].std(ddof=0)),
                "search_seconds": float(group["search_seconds"].astype(float).mean()),
                "time_source": "recorded/request" if set(group["time_source"]) == {"recorded/request"} else "wall",
                "cost_vs_hook_logdet": cost / hook_cost if hook_cost and not math.isnan(hook_cost) else math.nan,
                "paper_best": best[0] if best else math.nan,
                "paper_best_rows": ", ".join(best[1]) if best else "",
                "beats_paper": bool(best) and round(mean, 2) > best[0],
            })
            row = rows[-1]
            row["meets_goal"] = bool(row["beats_paper"] and row["cost_vs_hook_logdet"] <= GOAL_COST_LIMIT)  # NaN: no
    frame = pd.DataFrame(rows)
    return frame.sort_values(["dataset", "label"], key=_order_key).reset_index(drop=True) if len(frame) else frame
