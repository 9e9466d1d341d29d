"""``task=hw_study`` (``make hw-study``): hardware-aware zero-cost search on NATS-Bench.

Latencies are HW-NAS-Bench's (Li et al., ICLR 2021; ``zcnas.spaces.nats_tss.hw_costs``), accuracies the
benchmark's test accuracies.  Per dataset and device: the accuracy-latency Pareto front of the whole
space, and per latency budget (a quantile of the device's measured latencies) the best accuracy
under it against what the searches find when they score with a roster metric and may only visit
cells within the budget (``run_search(..., feasible=...)``), over ``repeats`` seeds.

Writes to ``report_dir`` (unset: the job's own folder): ``hw_study.csv`` (one row per search run),
``hw_study.md`` (per dataset a table of mean ± std) and ``pareto_<dataset>.png``
(``zcnas.studies.hardware.report``).  A report already there that holds search runs this study lacks (more
datasets, devices, budgets, searches or repeats) is kept (``overwrite=true`` replaces it;
``zcnas.studies.kept``).
"""

from __future__ import annotations

import math
import os
import random
import time
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig, ListConfig, OmegaConf

from zcnas.benchmark import DATASETS
from zcnas.errors import ConfigError, DataError
from zcnas.io import atomic_write_bytes, write_table
from zcnas.names import DATASET_NAMES, SEARCH_TITLES
from zcnas.roster import read_roster
from zcnas.spaces.nats_tss.hw_costs import DEVICES
from zcnas.studies.hardware.report import DevicePanel, pareto_png
from zcnas.studies.hardware.statistics import best_under, front_gap, pareto_front
from zcnas.studies.kept import check_overwrite, check_report_kept, report_folder
from zcnas.studies.portable import PathNames
from zcnas.tasks import Task
from zcnas.tasks.inputs import benchmark_with_accuracies


def _names(value, key: str, valid: tuple[str, ...]) -> list[str]:
    if not isinstance(value, (list, ListConfig)) or not value or any(str(v) not in valid for v in value):
        raise ConfigError(f"{key} must be a non-empty list of {', '.join(valid)}; got {value!r}")
    return list(dict.fromkeys(str(v) for v in value))


def settings(cfg: DictConfig) -> dict:
    """The study's keys, checked (one-line ConfigError naming the key)."""
    budgets = cfg.budgets
    if (not isinstance(budgets, (list, ListConfig)) or not budgets
            or any(isinstance(b, bool) or not isinstance(b, (int, float)) or not 0 < b <= 1 for b in budgets)):
        raise ConfigError(f"budgets must be a non-empty list of quantiles in (0, 1] (0.5: the median latency), "
                          f"got {budgets!r}")
    repeats = cfg.repeats
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ConfigError(f"repeats must be an integer >= 1, got {repeats!r}")
    searches = OmegaConf.to_container(cfg.searches, resolve=True) if isinstance(cfg.get("searches"), DictConfig) else None
    if not searches or any(not isinstance(p, dict) or "name" not in p for p in searches.values()):
        raise ConfigError("searches must map labels to search settings with a name (see conf/task/hw_study.yaml)")
    for label, params in searches.items():  # the study sets the budget itself (conf/search/*.yaml may carry one)
        if any(v is not None for v in (params.pop("max_cost", None) or {}).values()):
            raise ConfigError(f"searches.{label}.max_cost: task=hw_study sets the latency budget itself (budgets=); "
                              "leave max_cost unset")
    return {"datasets": _names(cfg.datasets, "datasets", DATASETS), "devices": _names(cfg.devices, "devices", DEVICES),
            "budgets": [float(b) for b in budgets], "repeats": repeats, "searches": searches}


def roster_scores(cfg: DictConfig, dataset: str) -> tuple[str, np.ndarray]:
    """The roster's path and its scores by index (NaN where it has none: such cells rank lowest)."""
    explicit = cfg.get("rosters") or {}
    metric = str(cfg.hw_metric)
    path = Path(os.path.expanduser(str(explicit[dataset] if dataset in explicit
                                       else Path(str(cfg.roster_dir)) / f"{metric}_{dataset}.parquet")))
    roster = read_roster(path)
    if roster.meta.get("dataset") != dataset:
        raise DataError(f"roster {path} is for dataset {roster.meta.get('dataset')!r}, not {dataset!r}; "
                        f"set rosters.{dataset}=<a roster of {dataset}>")
    found = roster.meta.get("metric")
    if found != metric:  # the report says which metric the searches scored with
        raise DataError(f"roster {path} holds {found!r} scores, not hw_metric={metric}'s; "
                        f"set hw_metric={found} or rosters.{dataset}=<a {metric} roster of {dataset}>")
    return str(path), roster.score_array()


#: a row of hw_study.csv: one search run
RUN_KEY = ["dataset", "device", "budget_quantile", "search", "repeat"]


class HwStudyTask(Task):
    """``task=hw_study``: hardware-aware search under latency budgets, against the Pareto front."""

    def run(self, cfg: DictConfig, output_dir: Path) -> dict:
        from zcnas.build import build_space
        from zcnas.search import run_search

        space = build_space(cfg)
        s = settings(cfg)
        out = report_folder(cfg.get("report_dir"), output_dir)
        # hw_study.csv has one row per search run: this study's are known before it starts
        planned = pd.DataFrame([{"dataset": ds, "device": dev, "budget_quantile": q, "search": label, "repeat": r}
                                for ds in s["datasets"] for dev in s["devices"] for q in s["budgets"]
                                for label in s["searches"] for r in range(s["repeats"])])
        check_report_kept(out, "hw_study.csv", planned, RUN_KEY, what="search runs",
                          overwrite=check_overwrite(cfg.get("overwrite", False)))
        benchmark = benchmark_with_accuracies(cfg, "hw_study")
        loaded = {ds: roster_scores(cfg, ds) for ds in s["datasets"]}  # every roster checked before any file is written
        rows, rosters, files = [], {}, []
        started = time.time()
        for ds in s["datasets"]:
            hw = space.hardware_costs(os.path.expanduser(str(cfg.hw_data)), ds, key="hw_data")
            if hw is None:
                raise ConfigError(f"task=hw_study needs HW-NAS-Bench costs of the space's architectures; space {space.name} "
                                  "has none (the study is of NATS-Bench TSS: drop space=)")
            accuracy = benchmark.all_test_accuracies(ds)
            rosters[ds], score_array = loaded[ds]
            scores = score_array.tolist()  # plain floats: the searches look them up thousands of times
            evaluate = lambda cell: scores[cell.index]  # noqa: E731
            panels = []
            for device in s["devices"]:
                cost = hw.array(f"{device}_latency")
                limits = np.quantile(cost[~np.isnan(cost)], s["budgets"])
                panel = DevicePanel(device, cost, accuracy, pareto_front(cost, accuracy), limits.tolist())
                for q, limit in zip(s["budgets"], limits):
                    best_index, best_acc = best_under(cost, accuracy, limit)
                    feasible = hw.feasible(f"{device}_latency", limit)
                    within = np.nan_to_num(cost, nan=math.inf) <= limit
                    # what a perfect search with this metric would return: the top-scoring cell within the budget
                    top = int(np.argmax(np.where(within & np.isfinite(score_array), score_array, -np.inf)))
                    base = {"dataset": ds, "device": device, "budget_quantile": q, "budget_ms": float(limit),
                            "feasible_fraction": float(within.mean()), "front_best_index": best_index,
                            "front_best_acc": best_acc, "metric_best_index": top, "metric_best_acc": float(accuracy[top])}
                    for label, params in s["searches"].items():
                        params = dict(params)
                        name = params.pop("name")
                        for r in range(s["repeats"]):
                            found = run_search(name, evaluate, random.Random(r), space=space, feasible=feasible, **params).best_cell
                            i = found.index
                            if not feasible(i):  # the search promised never to return one; a bug, not a result
                                raise RuntimeError(f"search {label} returned architecture {i} over the {limit} ms budget")
                            rows.append({**base, "search": label, "repeat": r, "index": i, "arch": str(found),
                                         "latency_ms": float(cost[i]), "test_acc": float(accuracy[i]),
                                         # rounded: differences of 2-decimal accuracies, without float noise
                                         "regret": round(best_acc - float(accuracy[i]), 6),
                                         "front_gap": round(front_gap(cost, accuracy, i), 6)})
                            panel.found.setdefault(label, []).append((float(cost[i]), float(accuracy[i])))
                panels.append(panel)
                if cfg.progress:
                    print(f"[zcnas] hw_study {ds} {device}: done ({time.time() - started:.0f} s)", flush=True)
            files.append(out / f"pareto_{ds}.png")
            atomic_write_bytes(files[-1], pareto_png(ds, panels))

        runs = pd.DataFrame(rows)
        summary = summarize_runs(runs, list(s["searches"]))
        files[:0] = [out / "hw_study.csv", out / "hw_study.md"]
        write_table(files[0], runs)
        names = PathNames.of(cfg.paths)  # sources named relative to the project: the same report from any clone
        atomic_write_bytes(files[1], render_markdown(summary, s, {ds: names.name(p) for ds, p in rosters.items()},
                                                     str(cfg.hw_metric), names.describe(benchmark)).encode())
        return {"task": "hw_study", "report_dir": str(out), "files": [str(f) for f in files],
                "hw_data": str(cfg.hw_data), "rosters": rosters, "study_seconds": time.time() - started,
                **{k: s[k] for k in ("datasets", "devices", "budgets", "repeats", "searches")},
                "summary": summary.to_dict("records")}

    def summarize(self, result: dict) -> str:
        lines = [f"hw_study: {', '.join(result['searches'])} under latency budgets (quantiles "
                 f"{', '.join(f'{b:g}' for b in result['budgets'])}), {result['repeats']} repeats, "
                 f"{result['study_seconds']:.0f} s; report in {result['report_dir']}"]
        for r in result["summary"]:
            found = ", ".join(f"{label} {r[f'{label}_mean']:.2f}±{r[f'{label}_std']:.2f}" for label in result["searches"])
            lines.append(f"  {r['dataset']} {r['device']} <= {r['budget_ms']:.3f} ms (q {r['budget_quantile']:g}): "
                         f"front {r['front_best_acc']:.2f}, metric's top {r['metric_best_acc']:.2f}; {found}")
        return "\n".join(lines)


def summarize_runs(runs: pd.DataFrame, searches: list[str]) -> pd.DataFrame:
    """One row per (dataset, device, budget): the front's best and each search's mean and std."""
    keys = ["dataset", "device", "budget_quantile", "budget_ms", "feasible_fraction", "front_best_acc", "metric_best_acc"]
    stats = runs.groupby(keys + ["search"], sort=False)["test_acc"].agg(["mean", "std"]).unstack("search")
    stats.columns = [f"{search}_{stat}" for stat, search in stats.columns]
    return stats[[f"{s}_{stat}" for s in searches for stat in ("mean", "std")]].reset_index()


def render_markdown(summary: pd.DataFrame, s: dict, rosters: dict, metric: str, benchmark: str) -> str:
    titles = [SEARCH_TITLES.get(label, label) for label in s["searches"]]
    lines = ["# Hardware-aware zero-cost search on NATS-Bench", "",
             "Latencies: HW-NAS-Bench (Li et al., ICLR 2021). Test accuracies (%): " + benchmark + ".",
             f"Searches score with `{metric}` (rosters: {', '.join(f'`{p}`' for p in rosters.values())}) and visit only "
             f"cells within the budget; mean ± std over {s['repeats']} seeds. Budgets are quantiles of the device's "
             "measured latencies; *front* is the best accuracy of any cell within the budget; *feasible* is the "
             "fraction of the 15,625 cells within it (cells without a measurement count as infeasible); *metric's top* is "
             "the accuracy of the cell within the budget that the metric scores highest (a perfect search's find).", ""]
    for ds, table in summary.groupby("dataset", sort=False):
        lines += [f"## {DATASET_NAMES.get(ds, ds)}", "",
                  "| device | budget (quantile) | budget (ms) | feasible | front | metric's top | " + " | ".join(titles) + " |",
                  "|---|---|---|---|---|---|" + "---|" * len(titles)]
        for _, r in table.iterrows():
            found = [f"{r[f'{label}_mean']:.2f} ± {r[f'{label}_std']:.2f}" for label in s["searches"]]
            lines.append(f"| {r['device']} | {r['budget_quantile']:g} | {r['budget_ms']:.3f} | "
                         f"{r['feasible_fraction']:.1%} | {r['front_best_acc']:.2f} | {r['metric_best_acc']:.2f} | "
                         + " | ".join(found) + " |")
        lines.append("")
    return "\n".join(lines)
