"""The ``task=search`` job: run one search and describe what it found."""

from __future__ import annotations

import random
import time

import numpy as np
from omegaconf import DictConfig

from zcnas.benchmark import Benchmark, NoBenchmark
from zcnas.build import as_dict, build_benchmark, build_context, build_metric, configure_hardware
from zcnas.progress import number, progress_bar
from zcnas.search import Evaluator, SearchResult, planned_cells, planned_visits, run_search
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
    trace: dict[str, list] = {k: [] for k in (
        "index", "score", "best_index", "best_score", "best_test_accuracy",
        "evaluations", "distinct", "wall_seconds", "recorded_seconds", "recorded_seconds_per_request")}
    # the bar counts distinct cells scored, what costs time; its total (and so its ETA) only
    # where that count is known ahead (random search; aging's zero-cost moves revisit cells)
    visits = planned_visits(name, **params)
    with progress_bar(planned_cells(name, **params), f"{name} {metric.name} {dataset}",
                      cfg.progress) as bar:
        evaluator = Evaluator(metric.score_cell, metric.recorded_cost, on_scored=lambda cell: bar.update(1))
        # the best so far, by the search's own rule (SearchResult.visit), for the trace
        so_far = SearchResult()

        def on_visit(n: int, cell: Cell, score: float) -> None:
            so_far.visit(cell, score)
            best = so_far.best_cell
            cost = evaluator.snapshot()
            trace["index"].append(cell.index)
            trace["score"].append(score)
            trace["best_index"].append(best.index)
            trace["best_score"].append(so_far.best_score)
            trace["best_test_accuracy"].append(accuracy(best) if accuracy else None)
            trace["evaluations"].append(cost.requests)
            trace["distinct"].append(cost.distinct)
            trace["wall_seconds"].append(round(cost.wall_seconds, 6))
            trace["recorded_seconds"].append(cost.recorded_seconds)
            trace["recorded_seconds_per_request"].append(cost.recorded_seconds_per_request)
            bar.set_postfix_str(f"visit {n}/{visits}, best {number(so_far.best_score, '.4g')}", refresh=False)

        result = run_search(name, evaluator, random.Random(int(cfg.seed)), on_visit, **params)

    cell = result.best_cell
    cost = evaluator.snapshot()
    found = {"arch": str(cell), "index": cell.index, "score": result.best_score}
    if accuracy:
        acc = accuracy(cell)
        all_acc = benchmark.all_test_accuracies(dataset)
        found["test_accuracy"] = acc
        found["rank"] = int(1 + np.sum(all_acc > acc))
        found["best_in_space"] = float(all_acc.max())
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
        f"  index {best['index']}, score {number(best['score'], '.6g')}",
    ]
    if "test_accuracy" in best:
        rank = (f", rank {best['rank']} of 15625 (best in space {number(best['best_in_space'], '.2f')})"
                if "rank" in best else "")
        lines.append(f"  test accuracy (200 epochs): {number(best['test_accuracy'], '.2f')}%{rank}")
    else:
        lines.append("  test accuracy: unavailable (no benchmark; see benchmark= options)")
    lines.append(
        f"  visited {result['visited']} models, {result['evaluations']} evaluations, "
        f"{result['distinct_scored']} distinct architectures scored"
    )
    timing = (f"  wall time {number(result['wall_seconds'], '.1f')} s "
              f"(scoring {number(result['scoring_wall_seconds'], '.1f')} s)")
    if result.get("recorded_seconds") is not None:
        timing += (f"; recorded cost {number(result['recorded_seconds'], '.1f')} s distinct, "
                   f"{number(result['recorded_seconds_per_request'], '.1f')} s per request (paper's accounting)")
    lines.append(timing)
    return "\n".join(lines)
