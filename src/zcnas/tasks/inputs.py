"""The rosters a study reads: ``rosters=`` (paths and glob patterns) -> one merged roster per
(dataset, metric), for ``task=correlate`` and ``task=ensembles``."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from omegaconf import ListConfig

from zcnas.analysis.correlation_study import label_of
from zcnas.benchmark import DATASETS
from zcnas.errors import BenchmarkError, ConfigError, DataError
from zcnas.roster import Roster, merge_rosters, read_roster


@dataclass
class Group:
    """The merged roster of one (dataset, metric) and the files it came from."""

    dataset: str
    metric: str
    label: str
    paths: list[str]
    roster: Roster


def expand_rosters(patterns) -> list[str]:
    """Roster files from paths and glob patterns, in order, each once; missing plain paths are errors."""
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, (list, tuple, ListConfig)) or not patterns:
        raise ConfigError(f"rosters must be a non-empty list of roster paths or glob patterns, got {patterns!r}")
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


def load_groups(paths: list[str]) -> list[Group]:
    """Read, group by the (dataset, metric) of their metadata, and merge (ConfigError if they conflict)."""
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
    return [Group(ds, metric, label_of(metric), [p for p, _ in members], merge_rosters(members))
            for (ds, metric), members in named.items()]


def benchmark_with_accuracies(cfg, task: str):
    """The job's benchmark; BenchmarkError when it has no test accuracies (a study needs them)."""
    from zcnas.build import build_benchmark

    benchmark = build_benchmark(cfg)
    if not getattr(benchmark, "available", False):
        raise BenchmarkError(f"task={task} needs test accuracies and no benchmark is available: use "
                             "benchmark=table benchmark.path=/path/to/nats_tss_benchmark.csv or benchmark=nats_bench")
    return benchmark
