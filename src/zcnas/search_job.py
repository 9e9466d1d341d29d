"""The ``task=search`` job: run one search and describe what it found."""

from __future__ import annotations

import random
import time

import numpy as np
from omegaconf import DictConfig

from zcnas.benchmark import Benchmark, NoBenchmark
from zcnas.build import as_dict, build_benchmark, build_context, build_metric, configure_hardware
from zcnas.progress import progress_bar
from zcnas.search import Evaluator, planned_visits, rank_value, run_search
from zcnas.space import Cell


def accuracy_lookup(benchmark: Benchmark, dataset: str):
    """Memoized cell -> test accuracy, or None when the benchmark has no accuracies."""
    if not benchmark.available:
        return None
    cache: dict[Cell, float] = {}

    def lookup(cell: Cell) -> float:
        if cell not in cache:
            cache[cell] = benchmark.test_accuracy(cell.index, dataset)
        return cache[cell]

    return lookup


def run_search_job(cfg: DictConfig, output_dir=None) -> dict:
    start = time.perf_counter()
    device = configure_hardware(cfg)
    benchmark = build_benchmark(cfg)
    context = build_context(cfg, benchmark, device)
    metric = build_metric(cfg, context)
    dataset = context.dataset
    accuracy = accuracy_lookup(benchmark, dataset)
    if accuracy is None:
        print(f"[zcnas] note: {NoBenchmark.HOW_TO}")

    params = as_dict(cfg.search)
    name = params.pop("name")
    evaluator = Evaluator(metric.score_cell, metric.recorded_cost)
    trace: dict[str, list] = {k: [] for k in (
        "index", "score", "best_index", "best_score", "best_test_accuracy",
        "evaluations", "distinct", "wall_seconds", "recorded_seconds", "recorded_seconds_per_request")}
    best: list = [None, float("nan")]

    with progress_bar(planned_visits(name, **params), f"{name} {metric.name} {dataset}", cfg.get("progress", True)) as bar:

        def on_visit(n: int, cell: Cell, score: float) -> None:
            if best[0] is None or rank_value(score) > rank_value(best[1]):
                best[0], best[1] = cell, score
            cost = evaluator.snapshot()
            trace["index"].append(cell.index)
            trace["score"].append(score)
            trace["best_index"].append(best[0].index)
            trace["best_score"].append(best[1])
            trace["best_test_accuracy"].append(accuracy(best[0]) if accuracy else None)
            trace["evaluations"].append(cost.requests)
            trace["distinct"].append(cost.distinct)
            trace["wall_seconds"].append(round(cost.wall_seconds, 6))
            trace["recorded_seconds"].append(cost.recorded_seconds)
            trace["recorded_seconds_per_request"].append(cost.recorded_seconds_per_request)
            bar.update(1)
            bar.set_postfix_str(f"best {best[1]:.4g}", refresh=False)

        result = run_search(name, evaluator, random.Random(int(cfg.seed)), on_visit, **params)

    cell = result.best_cell
    cost = evaluator.snapshot()
    found = {"arch": str(cell), "index": cell.index, "score": result.best_score}
    if accuracy:
        acc = accuracy(cell)
        found["test_accuracy"] = acc
        try:
            all_acc = benchmark.all_test_accuracies(dataset)
            found["rank"] = int(1 + np.sum(all_acc > acc))
            found["best_in_space"] = float(all_acc.max())
        except NotImplementedError:
            pass
    return {
        "task": "search",
        "dataset": dataset,
        "metric": metric.name,
        "search": name,
        "seed": int(cfg.seed),
        "best": found,
        "visited": len(result.visited),
        "evaluations": cost.requests,
        "distinct_scored": cost.distinct,
        "scoring_wall_seconds": cost.wall_seconds,
        "recorded_seconds": cost.recorded_seconds,
        "recorded_seconds_per_request": cost.recorded_seconds_per_request,
        "wall_seconds": time.perf_counter() - start,
        "benchmark": benchmark.description,
        "metric_settings": metric.describe(),
        "trace": trace,
    }


def summarize_search(result: dict) -> str:
    best = result["best"]
    lines = [
        f"{result['search']} search, metric {result['metric']}, dataset {result['dataset']}, seed {result['seed']}",
        f"  best architecture: {best['arch']}",
        f"  index {best['index']}, score {best['score']:.6g}",
    ]
    if "test_accuracy" in best:
        rank = f", rank {best['rank']} of 15625 (best in space {best['best_in_space']:.2f})" if "rank" in best else ""
        lines.append(f"  test accuracy (200 epochs): {best['test_accuracy']:.2f}%{rank}")
    else:
        lines.append("  test accuracy: unavailable (no benchmark; see benchmark= options)")
    lines.append(
        f"  visited {result['visited']} models, {result['evaluations']} evaluations, "
        f"{result['distinct_scored']} distinct architectures scored"
    )
    timing = f"  wall time {result['wall_seconds']:.1f} s (scoring {result['scoring_wall_seconds']:.1f} s)"
    if result.get("recorded_seconds") is not None:
        timing += (f"; recorded cost {result['recorded_seconds']:.1f} s distinct, "
                   f"{result['recorded_seconds_per_request']:.1f} s per request (paper's accounting)")
    lines.append(timing)
    return "\n".join(lines)
