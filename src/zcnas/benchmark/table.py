"""Benchmark backend over a table with one row per cell (CSV or parquet).

Schema (that of ``nats_tss_benchmark.csv``): ``index``, ``arch`` and, per
dataset ``<ds>``, ``<ds>_test_acc``, ``<ds>_val12_acc``, ``<ds>_val12_time``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from zcnas.benchmark.base import DATASETS, Benchmark, check_dataset
from zcnas.errors import BenchmarkError
from zcnas.space import NUM_CELLS, all_cells, format_arch

HOW_TO = "point benchmark.path at a table with the nats_tss_benchmark.csv schema, or use benchmark=nats_bench"


def read_table(path: str | Path) -> pd.DataFrame:
    path = Path(path).expanduser()
    if not path.is_file():
        raise BenchmarkError(f"benchmark table not found: {path} ({HOW_TO})")
    try:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # pandas/pyarrow raise many types for a damaged file
        raise BenchmarkError(f"benchmark table {path} could not be read ({type(exc).__name__}: {exc}); {HOW_TO}") from None
    return frame


class TableBenchmark(Benchmark):
    def __init__(self, path: str | Path, check_arch: bool = True):
        self.path = Path(path).expanduser()
        self.description = f"table {self.path}"
        frame = read_table(self.path)
        needed = ["index", "arch"] + [f"{d}_{c}" for d in DATASETS for c in ("test_acc", "val12_acc", "val12_time")]
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise BenchmarkError(f"benchmark table {self.path} lacks columns {missing}; {HOW_TO}")
        if len(frame) != NUM_CELLS or sorted(frame["index"]) != list(range(NUM_CELLS)):
            raise BenchmarkError(
                f"benchmark table {self.path} must have one row per index 0..{NUM_CELLS - 1}, "
                f"got {len(frame)} rows; {HOW_TO}"
            )
        frame = frame.sort_values("index").reset_index(drop=True)
        if check_arch and list(frame["arch"]) != [format_arch(c) for c in all_cells()]:
            raise BenchmarkError(
                f"benchmark table {self.path}: index/arch pairs differ from NATS-Bench's order; {HOW_TO}"
            )
        values = frame[needed[2:]]
        if values.isna().any().any():
            raise BenchmarkError(f"benchmark table {self.path} has empty cells; {HOW_TO}")
        self._columns = {c: values[c].to_numpy(dtype=float) for c in needed[2:]}

    def _column(self, dataset: str, what: str) -> np.ndarray:
        return self._columns[f"{check_dataset(dataset)}_{what}"]

    def test_accuracy(self, index: int, dataset: str) -> float:
        return float(self._column(dataset, "test_acc")[index])

    def val12(self, index: int, dataset: str) -> tuple[float, float]:
        return float(self._column(dataset, "val12_acc")[index]), float(self._column(dataset, "val12_time")[index])

    def all_test_accuracies(self, dataset: str) -> np.ndarray:
        return self._column(dataset, "test_acc").copy()

    def all_val12(self, dataset: str) -> tuple[np.ndarray, np.ndarray]:
        return self._column(dataset, "val12_acc").copy(), self._column(dataset, "val12_time").copy()
