"""Roster files: parquet, the metadata under the key ``zcnas``, written atomically, read checked.

Which metric, dataset, seed, batch size and code version produced the scores is stored in the
parquet file's metadata, so a roster is self-describing; never pickle.  A roster is read in the
space the job configured (``read_roster(path, space)``) or, for a built-in space, the one the
registry has under the recorded name; without the job's space, a user's-space roster is checked
as far as it can be without its class (``Roster.space`` then says how to give it).
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from zcnas.errors import DataError
from zcnas.io import atomic_write_bytes
from zcnas.roster.identity import check_space, registry_space
from zcnas.roster.rows import Roster, typed_rows
from zcnas.roster.validate import COLUMNS, check_meta, check_rows, check_unbound_rows
from zcnas.spaces import SearchSpace


def write_roster(path: str | Path, roster: Roster) -> None:
    path = Path(path)
    if path.is_dir():  # the atomic write's temporary name would be all the error said
        raise DataError(f"cannot write the roster {path}: a folder of that name is in the way; move it away "
                        "or write the roster elsewhere")
    rows = roster.rows.sort_values(["index", "arch"]).reset_index(drop=True)
    table = pa.Table.from_pandas(rows, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"zcnas": json.dumps(roster.meta).encode()})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


def read_roster(path: str | Path, space: SearchSpace | None = None) -> Roster:
    """A roster file, checked: its metadata and rows must be what zcnas writes (see the module doc).

    ``space``: the job's space, which the roster must record (as data) and whose architectures its
    rows must be.  None: the built-in space the roster names; a user's-space roster is then checked
    without its class (column types, each architecture once, seconds) and ``Roster.space`` refuses.
    """
    path = Path(path).expanduser()
    table, meta = _read_table(path)
    if space is not None:
        check_space(meta, space, path)
    else:
        space = registry_space(meta, path)
    # the file's own pandas metadata is not ours: typed_rows gives the columns their types
    frame = table.replace_schema_metadata(None).to_pandas()
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"roster {path} lacks columns {missing}; it was not written by zcnas")
    if space is None:
        check_unbound_rows(frame, path)
    else:
        check_rows(frame, path, space)
    return Roster(typed_rows(frame), meta, space)


def read_roster_meta(path: str | Path) -> dict:
    """A roster file's metadata, checked (``check_meta``), without reading its rows in a space."""
    return _read_table(Path(path).expanduser(), rows=False)[1]


def _read_table(path: Path, rows: bool = True) -> tuple[pa.Table | None, dict]:
    if not path.is_file():
        what = "is a folder, not a roster file" if path.is_dir() else "not found"
        raise DataError(f"roster {what}: {path} (create one with `python run.py task=score ...` or import a CSV)")
    try:
        table = pq.read_table(path) if rows else None
        schema = table.schema if rows else pq.read_schema(path)
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise DataError(f"roster {path} is not a readable parquet file ({type(exc).__name__}); delete it and rescore") from None
    return table, _read_meta(schema, path)


def _read_meta(schema: pa.Schema, path: Path) -> dict:
    raw = (schema.metadata or {}).get(b"zcnas")
    if raw is None:
        raise DataError(f"roster {path} has no zcnas metadata (not written by zcnas); import its scores from a CSV "
                        "with python run.py task=import source.path=<file.csv> source.score_column=<column> "
                        "metric=<metric> dataset=<dataset>")
    try:
        meta = json.loads(raw)
    except ValueError:
        meta = None
    if not isinstance(meta, dict):
        raise DataError(f"roster {path} has unreadable zcnas metadata; rescore it or import its scores from a CSV "
                        "(python run.py task=import ...)")
    lacking = [k for k in ("metric", "dataset") if not meta.get(k)]
    if lacking:
        raise DataError(f"roster {path} does not record its {' and '.join(lacking)}; import its scores from a CSV "
                        "with python run.py task=import ... metric=<metric> dataset=<dataset>")
    check_meta(meta, path)
    return meta
