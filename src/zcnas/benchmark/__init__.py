"""Benchmark lookup: accuracies of trained NATS-Bench cells, from a table or the official API.

A job's backend is the ``_target_`` of its ``benchmark`` option (``conf/benchmark/<name>.yaml``,
``zcnas.plugins``), built with the option's other keys: ``auto`` (``choose_benchmark``), ``table``
(``ConfiguredTable``), ``nats_bench`` (``NatsBenchBenchmark``), ``none`` (``NoBenchmark``).  Only the
job's own config chooses the class imported (``backend``); nothing read from a file does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from zcnas import plugins
from zcnas.benchmark.base import DATASETS, Benchmark, NoBenchmark, existing_file, given_path
from zcnas.benchmark.table import ConfiguredTable, TableBenchmark
from zcnas.errors import BenchmarkError, ConfigError

GROUP = "benchmark"


def default_nats_dir() -> Path:
    """``$TORCH_HOME/NATS-tss-v1_0-3ffb9-simple`` (``~/.torch`` without TORCH_HOME)."""
    from zcnas.benchmark.nats_api import default_path

    return Path(default_path())


def chosen_source(*, path, table_path, shipped_path) -> str | None:
    """What ``choose_benchmark`` reads (None: nothing): the user's ``path``; else the table at
    ``table_path``, the official files under $TORCH_HOME, the shipped copy at ``shipped_path``."""
    path = given_path(path)
    if path:
        return str(Path(path).expanduser())
    if existing_file(table_path):
        return existing_file(table_path)
    if default_nats_dir().is_dir():
        return str(default_nats_dir())
    return existing_file(shipped_path)


def choose_benchmark(*, path, table_path, shipped_path) -> Benchmark:
    """``benchmark=auto``: an explicit ``path`` wins (a file: a table, a directory: the official
    files); without one, the table at ``table_path`` if present, else the official files under
    $TORCH_HOME, else the shipped copy at ``shipped_path``, else none."""
    from zcnas.benchmark.nats_api import NatsBenchBenchmark

    source = chosen_source(path=path, table_path=table_path, shipped_path=shipped_path)
    if source is None:
        return NoBenchmark()
    given = Path(source)
    if given.is_file():
        return TableBenchmark(given)
    if given.is_dir():
        return NatsBenchBenchmark(str(given))
    raise BenchmarkError(
        f"benchmark.path {given} does not exist; give a benchmark table (CSV or parquet) "
        "or an official NATS-tss-v1_0-3ffb9-simple directory"
    )


# a factory answers what a backend class answers (zcnas.benchmark.base.Benchmark)
choose_benchmark.source = chosen_source  # type: ignore[attr-defined]
choose_benchmark.space_table = "read"  # type: ignore[attr-defined]


def backend(node: Mapping) -> object:
    """The class (or factory) the job's ``benchmark`` option names by ``_target_``, imported: the
    user's own config chose it."""
    target = node.get("_target_") if isinstance(node, Mapping) else None
    if not target:
        raise ConfigError(f"the job's benchmark names no backend (benchmark._target_); choose one with "
                          f"benchmark=<{'|'.join(plugins.names(GROUP))}>")
    return plugins.import_target(str(target), "benchmark._target_")


def configured_benchmark(node: Mapping) -> Benchmark:
    """The backend of the job's ``benchmark`` option (resolved), built with the option's other keys."""
    settings = {str(k): v for k, v in node.items() if k not in plugins.HYDRA_KEYS}
    return plugins.build(backend(node), settings, f"benchmark._target_ {node.get('_target_')}")


__all__ = ["DATASETS", "Benchmark", "ConfiguredTable", "NoBenchmark", "TableBenchmark", "backend",
           "choose_benchmark", "chosen_source", "configured_benchmark", "default_nats_dir"]
