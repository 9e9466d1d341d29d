"""The ``task=search`` job: run one search and describe what it found."""

from __future__ import annotations

import random
import time

from omegaconf import DictConfig

from zcnas.benchmark import Benchmark, NoBenchmark
from zcnas.benchmark.base import ranked_accuracy
from zcnas.build import as_dict, build_benchmark, build_context, build_metric, build_space, configure_hardware
from zcnas.data.dataset import load_dataset
from zcnas.errors import ConfigError
from zcnas.progress import number, progress_bar
from zcnas.search import Evaluator, SearchResult, make_search, run
from zcnas.spaces.base import SearchSpace
from zcnas.tasks import Task


OWN_DATA = ("your own data: benchmark accuracies are for cifar10, cifar100 and ImageNet16-120 only; "
            "task=train measures one")


def accuracy_lookup(benchmark: Benchmark, dataset: str):
    """Memoized arch -> accuracy (None for one the benchmark lacks), or None when it has no accuracies."""
    if not benchmark.available or not benchmark.covers(dataset):
        return None
    cache: dict = {}

    def lookup(arch) -> float | None:
        if arch not in cache:
            cache[arch] = benchmark.accuracy_of(arch, dataset)
        return cache[arch]

    return lookup


def budget(cfg: DictConfig, space: SearchSpace, dataset: str, max_cost: dict):
    """(feasible predicate, cost lookup) for ``search.max_cost`` ({cost: limit}), or (None, None).

    Costs are the space's measured ones (``SearchSpace.hardware_costs``: HW-NAS-Bench's of NATS-Bench
    cells), read from ``hw_costs``; an architecture meets the budget when every named cost is measured
    and at most its limit.
    """
    if not max_cost:
        return None, None
    costs = space.hardware_costs(str(cfg.hw_costs), dataset)
    if costs is None:
        raise ConfigError(f"search.max_cost uses HW-NAS-Bench costs of NATS-Bench cells; space {space.name} has none")
    limits = {}
    for name, limit in max_cost.items():
        costs.check_cost_name(name)
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not limit > 0:
            raise ConfigError(f"search.max_cost.{name} must be a number > 0 (the budget), got {limit!r}")
        limits[name] = float(limit)

    def feasible(cell) -> bool:
        # NaN (not measured) compares False: such a cell is never feasible
        return all(costs.cost(name, space.index(cell)) <= limit for name, limit in limits.items())

    def cost_of(cell) -> dict:
        return {name: costs.cost(name, space.index(cell)) for name in limits}

    return feasible, cost_of


def run_search_job(cfg: DictConfig, output_dir=None) -> dict:
    start = time.perf_counter()
    device = configure_hardware(cfg)
    space = build_space(cfg)
    benchmark = build_benchmark(cfg, space)
    context = build_context(cfg, benchmark, device, space)
    metric = build_metric(cfg, context)
    dataset = context.dataset
    data = load_dataset(cfg.dataset)
    # a benchmark's accuracies are for its own data only, never for the user's
    accuracy = accuracy_lookup(benchmark, dataset) if data.benchmark is not None else None
    if accuracy is None:
        if data.benchmark is None:
            why = OWN_DATA
        elif not space.benchmark_group:
            why = (f"space {space.name} has no ground truth configured (space.table, or benchmark.path=<table>)"
                   if not benchmark.available else f"{benchmark.description} has no {dataset} accuracies")
        else:
            why = NoBenchmark.HOW_TO
        print(f"[zcnas] note: {why}")

    params = as_dict(cfg.search)
    name = params.pop("name")
    max_cost = {k: v for k, v in (params.pop("max_cost", None) or {}).items() if v is not None}
    feasible, cost_of = budget(cfg, space, dataset, max_cost)
    trace: dict[str, list] = {k: [] for k in (
        *(("index", "score", "best_index") if space.indexed else ("arch", "score", "best_arch")),
        "best_score", "best_test_accuracy", "evaluations", "distinct", "wall_seconds", "recorded_seconds", "recorded_seconds_per_request")}
    # the bar counts distinct cells scored, what costs time; its total (and so its ETA) only
    # where that count is known ahead (random search; aging's zero-cost moves revisit cells)
    strategy = make_search(name, **params)  # the class its _target_ names, with its parameters
    visits = strategy.visits
    with progress_bar(strategy.cells, f"{name} {metric.name} {dataset}",
                      cfg.progress) as bar:
        evaluator = Evaluator(metric.score_cell, metric.recorded_cost, on_scored=lambda cell: bar.update(1))
        # the best so far, by the search's own rule (SearchResult.visit), for the trace
        so_far = SearchResult()

        def on_visit(n: int, cell, score: float) -> None:
            so_far.visit(cell, score)
            best = so_far.best_cell
            cost = evaluator.snapshot()
            if space.indexed:
                trace["index"].append(space.index(cell))
                trace["score"].append(score)
                trace["best_index"].append(space.index(best))
            else:
                trace["arch"].append(space.format(cell))
                trace["score"].append(score)
                trace["best_arch"].append(space.format(best))
            trace["best_score"].append(so_far.best_score)
            trace["best_test_accuracy"].append(accuracy(best) if accuracy else None)
            trace["evaluations"].append(cost.requests)
            trace["distinct"].append(cost.distinct)
            trace["wall_seconds"].append(round(cost.wall_seconds, 6))
            trace["recorded_seconds"].append(cost.recorded_seconds)
            trace["recorded_seconds_per_request"].append(cost.recorded_seconds_per_request)
            bar.set_postfix_str(f"visit {n}/{visits}, best {number(so_far.best_score, '.4g')}", refresh=False)

        result = run(strategy, evaluator, random.Random(int(cfg.seed)), on_visit, space=space, feasible=feasible)

    cell = result.best_cell
    cost = evaluator.snapshot()
    found = {"arch": space.format(cell), "index": space.index(cell), "score": result.best_score}
    acc = accuracy(cell) if accuracy else None
    if acc is not None:
        found.update(ranked_accuracy(benchmark, space, dataset, acc))
    elif accuracy:
        found["test_accuracy"] = None  # not in the benchmark's table (a sample of the space)
    if max_cost:
        found["costs"] = cost_of(cell)
    extra = {"space": space.name} if space.records_name else {}
    if data.benchmark is None:
        extra["data"] = data.facts()  # what the user's data is: no benchmark, its classes, size, mean/std
    if max_cost:
        extra["max_cost"] = {k: float(v) for k, v in max_cost.items()}
    return {
        "task": "search",
        **extra,
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
    space = f", space {result['space']}" if "space" in result else ""
    lines = [
        f"{result['search']} search, metric {result['metric']}, dataset {result['dataset']}{space}, seed {result['seed']}",
        f"  best architecture: {best['arch']}",
        (f"  index {best['index']}, " if best.get("index") is not None else "  ") + f"score {number(best['score'], '.6g')}",
    ]
    if best.get("test_accuracy") is not None:
        among = best.get("ranked_among", 15625)
        rank = (f", rank {best['rank']} of {among} (best {number(best['best_in_space'], '.2f')})"
                if "rank" in best else "")
        label = best.get("accuracy_label", "test accuracy (200 epochs)")
        lines.append(f"  {label}: {number(best['test_accuracy'], '.2f')}%{rank}")
    elif "test_accuracy" in best:
        lines.append("  accuracy: not in the benchmark's table (it holds a sample of the space)")
    elif "data" in result:
        lines.append(f"  test accuracy: none ({OWN_DATA})")
    else:
        lines.append("  test accuracy: unavailable (no benchmark; see benchmark= options)")
    if best.get("costs"):
        budget = ", ".join(f"{k} {number(v, '.3g')} (budget {number(result['max_cost'][k], '.3g')})"
                           for k, v in best["costs"].items())
        lines.append(f"  cost: {budget}")
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


class SearchTask(Task):
    """``task=search``: one search, and what it found (``run_search_job``)."""

    resumable = True

    def run(self, cfg: DictConfig, output_dir) -> dict:
        return run_search_job(cfg, output_dir)

    def summarize(self, result: dict) -> str:
        return summarize_search(result)
