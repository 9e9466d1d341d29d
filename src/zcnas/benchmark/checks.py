"""Checks every ground-truth table passes before its numbers are believed.

An accuracy is a percentage: finite, within [0, 100], and a column whose values all lie within
[0, 1] holds fractions where percents are meant.  A duration is finite and not negative.  Each
failure is one line naming the file, the data row (1 = the first row under the header) and the
column.  Empty cells (NaN) are holes, which the readers treat on their own terms.
"""

from __future__ import annotations

import numpy as np

from zcnas.errors import BenchmarkError


def check_percent(values: np.ndarray, where: str, column: str, raw=None) -> None:
    """Refuse inf, values outside [0, 100] and a column of fractions (``raw``: the cells as read)."""
    values = np.asarray(values, dtype=float)
    bad = np.flatnonzero(np.isinf(values) | (values < 0) | (values > 100))
    if bad.size:
        row = int(bad[0])
        shown = raw[row] if raw is not None else values[row]
        raise BenchmarkError(f"{where}: data row {row + 1}, column {column} holds {shown!r}, not an accuracy "
                             "in percent (0..100); fix or regenerate the table")
    known = values[~np.isnan(values)]
    if known.size and known.max() <= 1:
        raise BenchmarkError(f"{where}: column {column} holds fractions (every value within 0..1, "
                             f"max {known.max():g}) where accuracies in percent are meant; multiply it by 100")


def check_seconds(values: np.ndarray, where: str, column: str, raw=None) -> None:
    """Refuse inf and negative durations."""
    values = np.asarray(values, dtype=float)
    bad = np.flatnonzero(np.isinf(values) | (values < 0))
    if bad.size:
        row = int(bad[0])
        shown = raw[row] if raw is not None else values[row]
        raise BenchmarkError(f"{where}: data row {row + 1}, column {column} holds {shown!r}, not a duration "
                             "in seconds (finite, >= 0); fix or regenerate the table")
