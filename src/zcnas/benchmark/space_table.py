"""Ground truth of any search space from a table: one row per architecture, in the shape of the
NATS table (an architecture string, accuracies per dataset, optional other columns).

The space's config (``conf/space/<name>.yaml``, key ``table``) says how to read it: ``arch``, a
template over the row's columns that gives the architecture string (``"{arch}"``, or
``"{matrix}:{ops}"`` for NAS-Bench-101's CSV), and ``accuracy``, which column holds each
dataset's accuracy.  Every string is parsed by the space and stored in canonical form, so a
row is found under any spelling of the same network: rows are keyed by the space's identity key
(NAS-Bench-101's graph hash, so a cell written with its vertices in another order is found; in
NAS-Bench-Macro the identity layers that commute).

A table covers the whole space unless the config declares it a sample (``space.table.sample``,
true for the NAS-Bench-101 500-cell sample): a table of the whole space (NAS-Bench-Macro) that
lacks an architecture is refused, never taken for a sample.  A lookup in a sample of an
architecture it lacks returns None, never an error.  Rows of one network must agree on its
accuracy, unless the config declares them repeated training runs (``space.table.repeated_runs``:
the NAS-Bench-101 sample draws small cells repeatedly, each row one run); their mean is then the
accuracy and ``note`` says so.  Accuracies are checked by ``zcnas.benchmark.checks``.
"""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np
import pandas as pd

from zcnas.benchmark.base import Benchmark
from zcnas.benchmark.checks import check_percent
from zcnas.errors import ArchError, BenchmarkError, ConfigError
from zcnas.spaces.base import SearchSpace


class SpaceTableBenchmark(Benchmark):
    def __init__(self, space: SearchSpace, path: str | Path, arch: str, accuracy: dict[str, str],
                 accuracy_label: str = "accuracy", sample: bool = False, repeated_runs: bool = False):
        self.space = space
        self.path = Path(path).expanduser()
        self.description = f"table {self.path}"
        self.accuracy_label = accuracy_label
        if not self.path.is_file():
            raise BenchmarkError(f"ground-truth table of space {space.name} not found: {self.path}; set "
                                 "benchmark.path (or space.table.path) to it, or benchmark=none to search without")
        try:  # every column as text: an 8-digit architecture like 00120120 must stay a string
            frame = (pd.read_parquet(self.path).astype(str) if self.path.suffix == ".parquet"
                     else pd.read_csv(self.path, dtype=str, keep_default_na=False))
        except Exception as exc:  # pandas/pyarrow raise many types for a damaged file
            raise BenchmarkError(f"table {self.path} could not be read ({type(exc).__name__}: {exc})") from None
        fields = [f for _, f, _, _ in string.Formatter().parse(arch) if f]
        needed = list(dict.fromkeys([*fields, *accuracy.values()]))
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise BenchmarkError(f"table {self.path} lacks columns {missing} (has {', '.join(frame.columns)}); "
                                 "fix space.table.arch / space.table.accuracy")
        keys, first = [], {}
        for row, cells in enumerate(frame[fields].itertuples(index=False)):
            text = arch.format(**dict(zip(fields, cells)))
            try:
                parsed = space.parse(text)
            except ArchError as exc:
                raise BenchmarkError(f"table {self.path}, data row {row + 1}: {exc}") from None
            keys.append(space.identity_key(parsed))
            first.setdefault(keys[-1], space.format(parsed))
        #: one canonical string per distinct network, in first-seen order
        self.archs = list(first.values())
        self._rows = {key: i for i, key in enumerate(first)}
        self.repeated_rows = len(keys) - len(self.archs)
        self._accuracy = {}
        where = f"table {self.path}"
        for dataset, column in accuracy.items():
            values = pd.to_numeric(frame[column], errors="coerce")
            bad = np.flatnonzero(values.isna().to_numpy())
            if bad.size:
                raise BenchmarkError(f"{where}: column {column} holds {frame[column].iloc[bad[0]]!r} in "
                                     f"data row {bad[0] + 1}, not a number")
            values = values.to_numpy(dtype=float)
            check_percent(values, where, column, frame[column].to_numpy())
            groups = pd.Series(values).groupby(keys, sort=False)
            if not repeated_runs:
                self._check_agreement(groups, keys, values, column)
            # the mean over an architecture's rows (one value where they agree), in first-seen order
            self._accuracy[dataset] = groups.mean().reindex(list(first)).to_numpy()
        self.note = (f"{self.repeated_rows} of the table's {len(keys)} rows repeat an architecture: repeated "
                     "training runs, whose accuracies are averaged" if repeated_runs and self.repeated_rows else None)
        self.sample = bool(sample)
        self.complete = self._check_whole(space, sample)

    def _check_agreement(self, groups, keys: list, values: np.ndarray, column: str) -> None:
        """Rows of one network hold one accuracy: a conflict names both rows."""
        spread = (groups.max() - groups.min()).to_numpy()
        conflicts = np.flatnonzero(spread > 1e-9 * np.maximum(1, groups.max().abs().to_numpy()))
        if not conflicts.size:
            return
        key = groups.max().index[conflicts[0]]
        rows = [i for i, k in enumerate(keys) if k == key][:2]
        raise BenchmarkError(
            f"table {self.path}: data rows {rows[0] + 1} and {rows[1] + 1} are the same architecture of space "
            f"{self.space.name} with different {column} ({values[rows[0]]:g} and {values[rows[1]]:g}); keep one "
            "row per architecture, or set space.table.repeated_runs=true if they are repeated training runs")

    def _check_whole(self, space: SearchSpace, sample: bool) -> bool:
        """Whether the table holds every architecture of the space; a table not declared a sample must."""
        if space.size is None:  # an unbounded or uncounted space: no table can claim all of it
            return False
        lacking = (arch for arch in space.all_archs() if space.identity_key(arch) not in self._rows)
        first_lacking = next(lacking, None)
        if first_lacking is None:
            return True
        if not sample:
            count = 1 + sum(1 for _ in lacking)
            raise BenchmarkError(
                f"table {self.path} lacks {count} of the {space.size:,} architectures of space {space.name} "
                f"(first: {space.format(first_lacking)}); a table of the whole space must hold every one: "
                "use the complete table, or set space.table.sample=true if it is a sample")
        return False

    @property
    def datasets(self) -> tuple[str, ...]:
        return tuple(self._accuracy)

    def covers(self, dataset: str) -> bool:
        return dataset in self._accuracy

    def accuracy_of(self, arch, dataset: str) -> float | None:
        row = self._rows.get(self.space.identity_key(arch))
        if row is None or dataset not in self._accuracy:
            return None
        return float(self._accuracy[dataset][row])

    def table(self, dataset: str) -> tuple[list[str], np.ndarray]:
        if dataset not in self._accuracy:
            raise BenchmarkError(f"table {self.path} has accuracies for {', '.join(self._accuracy)} only, "
                                 f"not {dataset}")
        return list(self.archs), self._accuracy[dataset].copy()

    # the index-based interface of NATS-Bench backends
    def test_accuracy(self, index: int, dataset: str) -> float:
        value = self.accuracy_of(self.space.from_index(index), dataset)
        if value is None:
            raise BenchmarkError(f"table {self.path} has no {dataset} accuracy for architecture {index}")
        return value

    def val12(self, index: int, dataset: str) -> tuple[float, float]:
        raise BenchmarkError(f"val12 (12-epoch validation accuracy) is a NATS-Bench record; space "
                             f"{self.space.name} has none")


def table_settings(node) -> tuple[str, dict[str, str], str]:
    """(arch template, dataset -> accuracy column, label) from a ``space.table`` config node."""
    try:
        arch = str(node["arch"])
        accuracy = {str(k): str(v) for k, v in dict(node["accuracy"]).items()}
    except (KeyError, TypeError, ValueError):
        raise ConfigError("space.table needs path, arch (a template such as '{arch}') and accuracy "
                          "(dataset -> column)") from None
    return arch, accuracy, str(node.get("accuracy_label") or "accuracy")


def table_flags(node) -> dict[str, bool]:
    """``sample`` and ``repeated_runs`` of a ``space.table`` config node (both false unless declared)."""
    flags = {}
    for key in ("sample", "repeated_runs"):
        value = node.get(key, False)
        if value is None:
            value = False
        if not isinstance(value, bool):
            raise ConfigError(f"space.table.{key} must be true or false, got {value!r}")
        flags[key] = value
    return flags
