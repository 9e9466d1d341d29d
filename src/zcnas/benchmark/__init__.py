"""Benchmark lookup: accuracies of trained NATS-Bench cells, from a table or the official API."""

from __future__ import annotations

import os
from pathlib import Path

from zcnas.benchmark.base import DATASETS, Benchmark, NoBenchmark
from zcnas.benchmark.table import TableBenchmark
from zcnas.errors import ConfigError

KINDS = ("auto", "table", "nats_bench", "none")


def default_nats_dir() -> Path:
    torch_home = os.environ.get("TORCH_HOME", os.path.join(os.path.expanduser("~"), ".torch"))
    return Path(torch_home) / "NATS-tss-v1_0-3ffb9-simple"


def make_benchmark(kind: str, path: str | None = None, table_path: str | None = None) -> Benchmark:
    """``auto`` takes the table at ``table_path`` if present, else the official files, else none."""
    if kind == "table":
        return TableBenchmark(path)
    if kind == "nats_bench":
        from zcnas.benchmark.nats_api import NatsBenchBenchmark

        return NatsBenchBenchmark(path)
    if kind == "none":
        return NoBenchmark()
    if kind == "auto":
        if table_path and Path(table_path).expanduser().is_file():
            return TableBenchmark(table_path)
        nats_dir = Path(path).expanduser() if path else default_nats_dir()
        if nats_dir.is_dir():
            from zcnas.benchmark.nats_api import NatsBenchBenchmark

            return NatsBenchBenchmark(str(nats_dir))
        return NoBenchmark()
    raise ConfigError(f"unknown benchmark kind {kind!r}; valid: {', '.join(KINDS)}")


__all__ = ["DATASETS", "Benchmark", "NoBenchmark", "TableBenchmark", "make_benchmark", "default_nats_dir"]
