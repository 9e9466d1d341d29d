"""Rosters: a persistent table of scores, one row per architecture.

Columns: ``index`` (NATS-Bench index), ``arch``, ``score`` (float64, may be
non-finite), ``finite`` (False for NaN/inf scores), ``seconds`` (time spent
scoring that row, or the recorded cost for benchmark-backed metrics) and
``source`` (``computed``, ``shared`` when copied from an isomorphic cell,
``imported``).  Which metric, dataset, seed, batch size and code version
produced the scores is stored in the parquet file's metadata (key ``zcnas``),
so a roster is self-describing.  Files are written atomically; never pickle.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from zcnas.errors import ConfigError, DataError
from zcnas.io import atomic_write_bytes
from zcnas.space import NUM_CELLS, arch_from_index, format_arch, parse_arch

COLUMNS = ("index", "arch", "score", "finite", "seconds", "source")
#: metadata keys that must agree for rosters to be merged or used together
IDENTITY_KEYS = ("metric", "dataset", "seed", "batch_size", "settings")


@dataclass
class Roster:
    rows: pd.DataFrame
    meta: dict = field(default_factory=dict)

    @classmethod
    def empty(cls, meta: dict) -> "Roster":
        return cls(_frame([]), dict(meta))

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def indices(self) -> set[int]:
        return set(int(i) for i in self.rows["index"])

    def scores(self) -> dict[int, float]:
        return dict(zip(self.rows["index"].astype(int), self.rows["score"].astype(float)))

    def seconds(self) -> dict[int, float]:
        return dict(zip(self.rows["index"].astype(int), self.rows["seconds"].astype(float)))

    def score_array(self) -> np.ndarray:
        """Scores by NATS-Bench index (NaN where a cell is missing)."""
        out = np.full(NUM_CELLS, np.nan)
        out[self.rows["index"].to_numpy(dtype=int)] = self.rows["score"].to_numpy(dtype=float)
        return out


def make_rows(records: Iterable[tuple[int, float, float, str]]) -> pd.DataFrame:
    """Rows from (index, score, seconds, source) records."""
    return _frame([
        {"index": i, "arch": format_arch(arch_from_index(int(i))), "score": float(s),
         "finite": math.isfinite(float(s)), "seconds": float(sec), "source": src}
        for i, s, sec, src in records
    ])


def _frame(records: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    return frame.astype({"index": "int64", "arch": "string", "score": "float64", "finite": "bool",
                         "seconds": "float64", "source": "string"})


def write_roster(path: str | Path, roster: Roster) -> None:
    rows = roster.rows.sort_values("index").reset_index(drop=True)
    table = pa.Table.from_pandas(rows, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"zcnas": json.dumps(roster.meta).encode()})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


def read_roster(path: str | Path) -> Roster:
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"roster not found: {path} (create one with `python run.py task=score ...` or import a CSV)")
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise DataError(f"roster {path} is not a readable parquet file ({type(exc).__name__}); delete it and rescore") from None
    meta = json.loads((table.schema.metadata or {}).get(b"zcnas", b"{}"))
    frame = table.to_pandas()
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"roster {path} lacks columns {missing}; it was not written by zcnas")
    return Roster(_frame(frame[list(COLUMNS)].to_dict("records")), meta)


def check_compatible(rosters: list[tuple[str, Roster]], expected: dict | None = None) -> dict:
    """All rosters (and ``expected``) agree on metric, dataset, seed, batch size, settings."""
    reference_name, reference = (("the job", expected) if expected else (rosters[0][0], rosters[0][1].meta))
    for name, roster in rosters:
        for key in IDENTITY_KEYS:
            if key in reference and key in roster.meta and roster.meta[key] != reference[key]:
                raise ConfigError(
                    f"roster {name} has {key}={roster.meta[key]!r} but {reference_name} has "
                    f"{key}={reference[key]!r}; rosters of different {key}s cannot be mixed"
                )
    return dict(reference)


def merge_rosters(named: list[tuple[str, Roster]], expected: dict | None = None) -> Roster:
    """One roster from several (shards, resumed chunks); a cell scored twice keeps its first row."""
    if not named:
        raise DataError("no rosters to merge")
    meta = check_compatible(named, expected)
    rows = pd.concat([r.rows for _, r in named], ignore_index=True)
    rows = rows.drop_duplicates("index", keep="first")
    merged_meta = {**named[0][1].meta, **meta}
    devices = sorted({str(r.meta["device"]) for _, r in named if r.meta.get("device")})
    if devices:  # shards or resumed chunks may come from different machines
        merged_meta["device"] = " + ".join(devices)
    return Roster(rows.sort_values("index").reset_index(drop=True), merged_meta)


def import_csv(path: str | Path, score_column: str, metric: str, dataset: str,
               seconds_column: str | None = None) -> Roster:
    """A roster from a CSV with an ``index`` or ``arch`` column and a score column."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"CSV to import not found: {path}")
    try:
        frame = pd.read_csv(path)
    except Exception as exc:
        raise DataError(f"CSV {path} could not be read ({type(exc).__name__}: {exc})") from None
    if score_column not in frame.columns:
        raise DataError(f"CSV {path} has no score column {score_column!r} (columns: {', '.join(map(str, frame.columns))}); "
                        "set import.score_column")
    if "index" in frame.columns:
        indices = pd.to_numeric(frame["index"], errors="coerce")
        if indices.isna().any() or not indices.between(0, NUM_CELLS - 1).all():
            raise DataError(f"CSV {path}: column 'index' must hold integers 0..{NUM_CELLS - 1}")
        indices = indices.astype(int).tolist()
    elif "arch" in frame.columns:
        indices = [parse_arch(a).index for a in frame["arch"]]
    else:
        raise DataError(f"CSV {path} needs an 'index' or 'arch' column to identify architectures")
    if seconds_column and seconds_column not in frame.columns:
        raise DataError(f"CSV {path} has no seconds column {seconds_column!r}")
    scores = pd.to_numeric(frame[score_column], errors="coerce").astype(float)
    seconds = frame[seconds_column].astype(float) if seconds_column else [0.0] * len(frame)
    rows = make_rows(zip(indices, scores, seconds, ["imported"] * len(frame)))
    if rows["index"].duplicated().any():
        raise DataError(f"CSV {path} lists some architectures more than once")
    return Roster(rows, {"metric": metric, "dataset": dataset, "imported_from": str(path),
                         "score_column": score_column})
