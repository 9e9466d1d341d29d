"""Ground truth of any search space from a table: one row per architecture, in the shape of the
NATS table (an architecture string, accuracies per dataset, optional other columns).

The space's config (``conf/space/<name>.yaml``, key ``table``) says how to read it: ``arch``, a
template over the row's columns that gives the architecture string (``"{arch}"``, or
``"{matrix}:{ops}"`` for NAS-Bench-101's CSV), and ``accuracy``, which column holds each
dataset's accuracy.  Every string is parsed by the space and stored in canonical form, so a
row is found under any spelling of the same network: rows are keyed by the space's identity key
(NAS-Bench-101's graph hash, so a cell written with its vertices in another order is found; in
NAS-Bench-Macro the identity layers that commute).  A table may cover the whole space
(NAS-Bench-Macro) or a sample (the NAS-Bench-101 sample): a lookup of an architecture it lacks
returns None, never an error.  An architecture listed on several rows (the NAS-Bench-101 sample
draws small cells repeatedly, each row one training run) gets the mean of its rows' accuracies.
"""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np
import pandas as pd

from zcnas.benchmark.base import Benchmark
from zcnas.errors import ArchError, BenchmarkError, ConfigError
from zcnas.spaces.base import SearchSpace


class SpaceTableBenchmark(Benchmark):
    def __init__(self, space: SearchSpace, path: str | Path, arch: str, accuracy: dict[str, str],
                 accuracy_label: str = "accuracy"):
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
        for dataset, column in accuracy.items():
            values = pd.to_numeric(frame[column], errors="coerce")
            bad = np.flatnonzero(values.isna().to_numpy())
            if bad.size:
                raise BenchmarkError(f"table {self.path}: column {column} holds {frame[column].iloc[bad[0]]!r} in "
                                     f"data row {bad[0] + 1}, not a number")
            # the mean over an architecture's rows, in first-seen order
            self._accuracy[dataset] = pd.Series(values.to_numpy(dtype=float)).groupby(keys, sort=False).mean() \
                .reindex(list(first)).to_numpy()
        self.complete = space.size is not None and len(self.archs) == space.size

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
