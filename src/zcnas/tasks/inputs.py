"""The rosters a study reads: ``rosters=`` (paths and glob patterns) -> one merged roster per
(dataset, metric), for ``task=correlate`` and ``task=ensembles``; ``job_space``: the one search
space they are of, which must be the job's (``space=``: name, and a user's class and options)."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from omegaconf import ListConfig

from zcnas.benchmark import DATASETS
from zcnas.errors import BenchmarkError, ConfigError, DataError
from zcnas.roster import (Roster, describe_space, merge_rosters, read_roster, space_identity,  # noqa: F401 (re-export)
                          space_fix, space_identity_meta)
from zcnas.spaces import SearchSpace
from zcnas.studies.correlation.statistics import label_of


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


def read_rosters(paths: list[str]) -> list[tuple[str, Roster]]:
    """(path, roster) of every file, read and checked against its space, not yet grouped."""
    return [(path, read_roster(path)) for path in paths]


def group_rosters(named: list[tuple[str, Roster]]) -> list[Group]:
    """Group by the (dataset, metric) of their metadata and merge (ConfigError if they conflict)."""
    by_key: dict[tuple[str, str], list[tuple[str, Roster]]] = {}
    for path, roster in named:
        dataset, metric = roster.meta.get("dataset"), roster.meta.get("metric")
        if not dataset or not metric:
            raise DataError(f"roster {path} does not record its metric and dataset; re-import it with task=import")
        if dataset not in DATASETS:
            raise DataError(f"roster {path} is for dataset {dataset!r}, which the benchmark lacks "
                            f"(valid: {', '.join(DATASETS)})")
        by_key.setdefault((dataset, metric), []).append((path, roster))
    return [Group(ds, metric, label_of(metric), [p for p, _ in members], merge_rosters(members))
            for (ds, metric), members in by_key.items()]


def load_groups(paths: list[str]) -> list[Group]:
    """Read, group by the (dataset, metric) of their metadata, and merge (ConfigError if they conflict)."""
    return group_rosters(read_rosters(paths))


def job_space_identity(space: SearchSpace) -> tuple[str, str, str]:
    """The identity a roster scored in ``space`` records."""
    return space_identity(space_identity_meta(space))


def job_space(cfg, named: list[tuple[str, Roster]], what: str = "study") -> SearchSpace:
    """The job's space (``space=``), which every roster of ``named`` must be of, class and options
    included: a one-line ConfigError for rosters of several spaces, or of another space than the
    job's (``space=`` forgotten, or a user's space built with other options)."""
    from zcnas.build import build_space

    job = build_space(cfg)
    found = sorted({space_identity(r.meta) for _, r in named})
    if len(found) > 1:
        raise ConfigError(f"the rosters are of spaces {', '.join(map(describe_space, found))}; {what} one space "
                          "at a time (rosters=[...] of one space, with space=<it>)")
    if found and found[0] != job_space_identity(job):
        raise ConfigError(f"the rosters are of space {describe_space(found[0])} but the job's space is "
                          f"{describe_space(job_space_identity(job))}; {space_fix(found[0])}")
    for path, roster in named:  # rows of a user's space are checked in the job's (never the file's) class
        roster.read_in(job, path)
    return job


def benchmark_with_accuracies(cfg, task: str):
    """The job's benchmark; BenchmarkError when it has no test accuracies (a study needs them)."""
    from zcnas.build import build_benchmark, build_space

    benchmark = build_benchmark(cfg)
    if not getattr(benchmark, "available", False):
        space = build_space(cfg)
        if not space.benchmark_group:  # its ground truth is its own table (conf/space/<name>.yaml)
            raise BenchmarkError(f"task={task} needs accuracies and space {space.name} has no ground truth: set "
                                 "space.table (path, arch, accuracy) or benchmark.path=<its table>")
        raise BenchmarkError(f"task={task} needs test accuracies and no benchmark is available: use "
                             "benchmark=table benchmark.path=/path/to/nats_tss_benchmark.csv or benchmark=nats_bench")
    return benchmark
