"""Benchmark backend over a table with one row per cell (CSV or parquet).

Schema (that of ``nats_tss_benchmark.csv``): ``index``, ``arch`` and, per
dataset ``<ds>``, ``<ds>_test_acc``, ``<ds>_val12_acc``, ``<ds>_val12_time``.

The numbers are whatever the table holds.  A table written by
``task=build_table`` holds exactly what the ``nats_bench`` backend returns
(means over training seeds; val12 time = 12 epochs of training plus one
validation pass).  The shared development table
``../shared/data/nats_tss/nats_tss_benchmark.csv`` (shipped as
``benchmarks/nats_tss/nats_tss_benchmark.parquet``) has the same val12 times,
but its test accuracies are single training runs, not means over seeds (see
its README), so they differ from the official means by run-to-run noise.

Accuracies must be percents (0..100, not fractions) and times finite and >= 0
(``zcnas.benchmark.checks``).  An empty value cell means the source had no record of that architecture
(``task=build_table allow_missing=true``): looking it up is a one-line
``BenchmarkError``, and so is a whole-space lookup of a column with holes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from zcnas.benchmark.base import DATASETS, Benchmark, check_dataset, check_index, existing_file, given_path
from zcnas.benchmark.checks import check_percent, check_seconds
from zcnas.errors import BenchmarkError
from zcnas.spaces.nats_tss.cells import NUM_CELLS, all_cells, format_arch

HOW_TO = "point benchmark.path at a table with the nats_tss_benchmark.csv schema, or use benchmark=nats_bench"
FILL_HOLES = "build the table from the complete NATS-tss-v1_0-3ffb9-simple release (task=build_table)"
VALUE_COLUMNS = [f"{d}_{c}" for d in DATASETS for c in ("test_acc", "val12_acc", "val12_time")]
COLUMNS = ["index", "arch", *VALUE_COLUMNS]


def read_table(path: str | Path) -> pd.DataFrame:
    path = Path(path).expanduser()
    if not path.is_file():
        raise BenchmarkError(f"benchmark table not found: {path} ({HOW_TO})")
    try:
        # only an empty cell is a hole: a literal nan/NaN/NA is refused as not a number
        frame = (pd.read_parquet(path) if path.suffix == ".parquet"
                 else pd.read_csv(path, keep_default_na=False, na_values=[""]))
    except Exception as exc:  # pandas/pyarrow raise many types for a damaged file
        raise BenchmarkError(f"benchmark table {path} could not be read ({type(exc).__name__}: {exc}); {HOW_TO}") from None
    return frame


def numeric_column(frame: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    """The column as floats (empty cells: NaN); a value that is not a number names its row."""
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise BenchmarkError(
            f"benchmark table {path}: column {column} holds {raw.iloc[row]!r} in data row {row + 1} "
            f"(index {frame['index'].iloc[row]}), not a number; {HOW_TO}"
        )
    return values.to_numpy(dtype=float)


class TableBenchmark(Benchmark):
    def __init__(self, path: str | Path, check_arch: bool = True):
        self.path = Path(path).expanduser()
        self.description = f"table {self.path}"
        frame = read_table(self.path)
        missing = [c for c in COLUMNS if c not in frame.columns]
        if missing:
            raise BenchmarkError(f"benchmark table {self.path} lacks columns {missing}; {HOW_TO}")
        if len(frame) != NUM_CELLS or sorted(frame["index"]) != list(range(NUM_CELLS)):
            raise BenchmarkError(
                f"benchmark table {self.path} must have one row per index 0..{NUM_CELLS - 1}, "
                f"got {len(frame)} rows; {HOW_TO}"
            )
        # numbers are checked in file order, so an error's row number is the file's
        columns = {c: numeric_column(frame, c, self.path) for c in VALUE_COLUMNS}
        for c, values in columns.items():
            check = check_seconds if c.endswith("_time") else check_percent
            check(values, f"benchmark table {self.path}", c, frame[c].to_numpy())
        order = np.argsort(frame["index"].to_numpy())
        if check_arch and list(frame["arch"].to_numpy()[order]) != [format_arch(c) for c in all_cells()]:
            raise BenchmarkError(
                f"benchmark table {self.path}: index/arch pairs differ from NATS-Bench's order; {HOW_TO}"
            )
        self._columns = {c: v[order] for c, v in columns.items()}

    def _column(self, dataset: str, what: str) -> np.ndarray:
        return self._columns[f"{check_dataset(dataset)}_{what}"]

    def _value(self, index: int, dataset: str, what: str) -> float:
        index = check_index(index)
        value = float(self._column(dataset, what)[index])
        if np.isnan(value):
            raise BenchmarkError(
                f"benchmark table {self.path} has no {dataset}_{what} for architecture {index} "
                f"(an empty cell: its source had no record of it); {FILL_HOLES}"
            )
        return value

    def _whole(self, dataset: str, what: str) -> np.ndarray:
        values = self._column(dataset, what)
        holes = np.flatnonzero(np.isnan(values))
        if holes.size:
            raise BenchmarkError(
                f"benchmark table {self.path} has no {dataset}_{what} for {holes.size} architectures "
                f"(first: index {holes[0]}); whole-space lookups need all {NUM_CELLS}; {FILL_HOLES}"
            )
        return values.copy()

    def test_accuracy(self, index: int, dataset: str) -> float:
        return self._value(index, dataset, "test_acc")

    def val12(self, index: int, dataset: str) -> tuple[float, float]:
        return self._value(index, dataset, "val12_acc"), self._value(index, dataset, "val12_time")

    def all_test_accuracies(self, dataset: str) -> np.ndarray:
        return self._whole(dataset, "test_acc")

    def all_val12(self, dataset: str) -> tuple[np.ndarray, np.ndarray]:
        return self._whole(dataset, "val12_acc"), self._whole(dataset, "val12_time")


class ConfiguredTable(TableBenchmark):
    """``benchmark=table``: the table at ``path``; without one, the development table at
    ``table_path``, else its copy shipped in the repository at ``shipped_path``."""

    space_table = "require"

    def __init__(self, *, path, table_path, shipped_path):
        source = self.source(path=path, table_path=table_path, shipped_path=shipped_path)
        if source is None:
            raise BenchmarkError("benchmark=table needs benchmark.path=/path/to/nats_tss_benchmark.csv")
        super().__init__(source)

    @classmethod
    def source(cls, *, path, table_path, shipped_path) -> str | None:
        path = given_path(path)
        if path:
            return str(Path(path).expanduser())
        # neither file there: the development table's path, which the error then names
        return existing_file(table_path) or existing_file(shipped_path) or (
            str(Path(table_path).expanduser()) if table_path else None)
