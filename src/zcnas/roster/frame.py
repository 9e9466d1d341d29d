"""Rosters as one tidy DataFrame: ``zcnas.load_rosters``.

A roster file's rows name no metric or dataset: those are in its metadata (``zcnas.roster``).
``load_rosters`` reads any number of rosters, each checked by ``read_roster``, and puts what
identifies their scores beside the rows: ``metric``, ``dataset``, ``space`` and ``seed`` from the
metadata, then the roster columns, then ``file``, the roster the row came from (the same cell
can be in several rosters, e.g. a whole-space roster and a sample's).

A folder stands for every ``*.parquet`` file under it, sub-folders included, as for
``pandas.read_parquet(folder)`` (pyarrow's dataset discovery), which reads the same rows without
the metadata columns; names starting with "." or "_" (unfinished atomic writes) are skipped.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import pandas as pd

from zcnas.errors import DataError
from zcnas.roster.identity import IDENTITY_DEFAULTS
from zcnas.roster.io import read_roster
from zcnas.roster.validate import COLUMNS

#: the metadata keys that become columns, in order, before the roster's own columns
META_COLUMNS = ("metric", "dataset", "space", "seed")


def roster_files(paths) -> list[Path]:
    """Roster files from files, folders and glob patterns, in order, each once."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    found: list[Path] = []
    for item in paths:
        text = os.path.expanduser(str(item))
        if any(c in text for c in "*?["):
            matches = [Path(m) for m in sorted(glob.glob(text, recursive=True))]
            if not matches:
                raise DataError(f"no roster files match {text}")
            for match in matches:
                found += _folder_files(match) if match.is_dir() else [match]
        elif Path(text).is_dir():
            files = _folder_files(Path(text))
            if not files:
                raise DataError(f"no roster files (*.parquet) in the folder {text}")
            found += files
        elif Path(text).is_file():
            found.append(Path(text))
        else:
            raise DataError(f"roster not found: {text} (give roster files, folders of them or glob patterns)")
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


def _folder_files(folder: Path) -> list[Path]:
    """The parquet files pyarrow's discovery reads from ``folder``: recursive, hidden and "_" names skipped."""
    return sorted(p for p in folder.rglob("*.parquet")
                  if p.is_file() and not any(part.startswith((".", "_")) for part in p.relative_to(folder).parts))


def load_rosters(paths) -> pd.DataFrame:
    """Every row of the rosters at ``paths`` (a file, a folder or a glob pattern, or a list of them),
    one row per (roster, architecture), with ``metric``, ``dataset``, ``space`` and ``seed`` from each
    roster's metadata and ``file``, the roster the row came from.  Each file is checked as every
    reader of zcnas checks it (``zcnas.roster.read_roster``)::

        import zcnas
        frame = zcnas.load_rosters("results/rosters/sample1000")
        frame.pivot_table(index="arch", columns=["dataset", "metric"], values="score")
    """
    frames = []
    for path in roster_files(paths):
        roster = read_roster(path)
        meta = {**IDENTITY_DEFAULTS, **roster.meta}
        rows = roster.rows.copy()
        for position, key in enumerate(META_COLUMNS):
            rows.insert(position, key, meta.get(key))
        rows["file"] = str(path)
        frames.append(rows)
    columns = [*META_COLUMNS, *COLUMNS, "file"]
    if not frames:
        raise DataError("no rosters given: name roster files, folders of them or glob patterns")
    frame = pd.concat(frames, ignore_index=True)[columns]
    return frame.astype({"metric": "string", "dataset": "string", "space": "string", "seed": "Int64",
                         "file": "string"})
