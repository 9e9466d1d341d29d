"""Benchmark lookup: accuracies of trained NATS-Bench cells, from a table or the official API."""

from __future__ import annotations

from pathlib import Path

from zcnas.benchmark.base import DATASETS, Benchmark, NoBenchmark
from zcnas.benchmark.table import TableBenchmark
from zcnas.errors import BenchmarkError, ConfigError

KINDS = ("auto", "table", "nats_bench", "none")


def default_nats_dir() -> Path:
    """``$TORCH_HOME/NATS-tss-v1_0-3ffb9-simple`` (``~/.torch`` without TORCH_HOME)."""
    from zcnas.benchmark.nats_api import default_path

    return Path(default_path())


def make_benchmark(kind: str, path: str | None = None, table_path: str | None = None,
                   shipped_path: str | None = None) -> Benchmark:
    """Build the backend ``kind`` (see conf/benchmark/*.yaml).

    ``path`` is the user's; ``table_path`` the development table (``../shared/data``) and
    ``shipped_path`` its copy in the repository (``benchmarks/``), read where the former is absent.
    """
    path = _text(path)
    if kind == "table":
        source = source_path(kind, path, table_path, shipped_path)
        if source is None:
            raise BenchmarkError("benchmark=table needs benchmark.path=/path/to/nats_tss_benchmark.csv")
        return TableBenchmark(source)
    if kind == "nats_bench":
        from zcnas.benchmark.nats_api import NatsBenchBenchmark

        return NatsBenchBenchmark(path)
    if kind == "none":
        return NoBenchmark()
    if kind == "auto":
        return _auto(path, table_path, shipped_path)
    raise ConfigError(f"unknown benchmark kind {kind!r}; valid: {', '.join(KINDS)}")


def _file(path: str | None) -> str | None:
    return str(Path(path).expanduser()) if path and Path(path).expanduser().is_file() else None


def _text(path) -> str | None:
    """A path as the command line gave it: ``benchmark.path=5`` reaches us as the number 5."""
    return None if path is None else str(path)


def source_path(kind: str, path: str | None, table_path: str | None, shipped_path: str | None = None) -> str | None:
    """The file or official folder that ``make_benchmark(kind, path, table_path, shipped_path)`` reads
    (None: none).  In order: the user's ``path``; the table at ``table_path``; for ``auto``, the
    official files under $TORCH_HOME; the shipped copy."""
    path = _text(path)
    if path:
        return str(Path(path).expanduser()) if kind in ("table", "auto", "nats_bench") else None
    if kind == "table":
        found = _file(table_path) or _file(shipped_path)
        return found or (str(Path(table_path).expanduser()) if table_path else None)
    if kind == "nats_bench":
        return str(default_nats_dir())
    if kind != "auto":
        return None
    if _file(table_path):
        return _file(table_path)
    if default_nats_dir().is_dir():
        return str(default_nats_dir())
    return _file(shipped_path)


def _auto(path: str | None, table_path: str | None, shipped_path: str | None = None) -> Benchmark:
    """An explicit ``path`` wins (a file: a table, a directory: the official files); without one,
    the table at ``table_path`` if present, else the official files under $TORCH_HOME, else the
    shipped copy at ``shipped_path``, else none."""
    from zcnas.benchmark.nats_api import NatsBenchBenchmark

    source = source_path("auto", path, table_path, shipped_path)
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


__all__ = ["DATASETS", "Benchmark", "NoBenchmark", "TableBenchmark", "make_benchmark", "default_nats_dir", "source_path"]
