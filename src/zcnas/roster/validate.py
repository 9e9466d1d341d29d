"""Roster metadata and rows checked before any use: a roster is data and never chooses code.

Every metadata field is checked against the registries and types (``check_meta``); rows must list
each architecture once, by an index of its space whose ``arch`` string matches (or, without an
index, by a canonical ``arch`` string of its space), with numeric scores and seconds.  A damaged
or foreign file is refused with one line instead of being used differently by different readers.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from zcnas.errors import DataError
from zcnas.roster.identity import decode_options
from zcnas.spaces import UNNAMED, SearchSpace, shipped

#: the columns of every roster, in order (``zcnas.roster.rows`` says what they hold)
COLUMNS = ("index", "arch", "score", "finite", "seconds", "source")
#: the index column of a space without an integer index
NO_INDEX = -1
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # a name that can be part of a file name
_CLASS_PATH = re.compile(r"[A-Za-z_]\w*([.:][A-Za-z_]\w*)+")


def _metric_names() -> set[str]:
    from zcnas import plugins  # a name read from a file is checked, never imported

    return set(plugins.names("metric"))


def check_meta(meta: dict, name: object) -> None:
    """Every field zcnas reads from a roster's metadata, checked against the registries and types
    before any use (names become parts of file names; the space is compared, never loaded)."""
    def bad(key: str, want: str) -> DataError:
        return DataError(f"roster {name} records {key}={meta.get(key)!r}, which is not {want}; the file was not "
                         "written by zcnas: rescore it or import its scores (python run.py task=import ...)")

    metric, dataset = meta.get("metric"), meta.get("dataset")
    if not isinstance(metric, str) or metric not in _metric_names():
        raise bad("metric", "a metric zcnas knows (python run.py --help lists them; conf/metric/)")
    if not isinstance(dataset, str) or not _PLAIN.fullmatch(dataset):
        raise bad("dataset", "a dataset name (letters, digits, '._-')")
    space = meta.get("space", UNNAMED)
    target = meta.get("space_target")
    if target is not None and (not isinstance(target, str) or not _CLASS_PATH.fullmatch(target)):
        raise bad("space_target", "a class path (module.Class)")
    if not isinstance(space, str) or not (space in shipped() or (target and _PLAIN.fullmatch(space))):
        raise bad("space", f"a space zcnas ships ({', '.join(shipped())}) or a user's space with its space_target")
    if "space_options" in meta:
        decode_options(meta)
    for key, least in (("seed", 0), ("batch_size", 1), ("batch_seed", 0)):
        value = meta.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < least):
            raise bad(key, f"an integer >= {least} (or null)")
    settings = meta.get("settings")
    if settings is not None and not isinstance(settings, dict):
        raise bad("settings", "a mapping of the metric's settings")
    if isinstance(settings, dict) and settings.get("name", metric) != metric:
        raise DataError(f"roster {name} records metric={metric!r} but its settings are of metric "
                        f"{settings.get('name')!r}; the file was not written by zcnas: rescore it")
    for key in ("share_isomorphic",):
        if key in meta and not isinstance(meta[key], bool):
            raise bad(key, "true or false")
    for key in ("data_sha256", "device", "imported_from", "score_column"):
        if meta.get(key) is not None and not isinstance(meta[key], str):
            raise bad(key, "a string")


def check_rows(frame: pd.DataFrame, name, space: SearchSpace) -> None:
    """Integer indices of the space, each once, ``arch`` matching the index, numeric scores and seconds
    (in a space without an index: index -1 and each canonical ``arch`` once)."""
    _check_columns(frame, name)
    if not space.rows_by_index:
        return _check_space_rows(frame, name, space)
    index = frame["index"].to_numpy()
    outside = np.flatnonzero((index < 0) | (index >= space.size))
    if outside.size:
        raise DataError(f"roster {name}, row {outside[0] + 1}: index {index[outside[0]]} is outside 0..{space.size - 1}")
    twice = np.flatnonzero(frame["index"].duplicated().to_numpy())
    if twice.size:
        raise DataError(f"roster {name} has more than one row for architecture {index[twice[0]]} (row {twice[0] + 1}); "
                        "it is damaged: merge or score it again")
    archs = space.index_strings()
    for row, (i, arch) in enumerate(zip(index, frame["arch"])):
        if not isinstance(arch, str) or arch != archs[i]:  # a missing arch reads as None or NaN
            shown = repr(arch) if isinstance(arch, str) else "(empty)"
            raise DataError(f"roster {name}, row {row + 1}: arch {shown} is not architecture {i} "
                            f"({archs[i]}); the file is damaged: score it again")


def _check_columns(frame: pd.DataFrame, name) -> None:
    """Numeric columns of the right kinds, and seconds >= 0 as an import requires."""
    expected = (("index", "iu", "integers"), ("score", "fiu", "numbers"), ("seconds", "fiu", "numbers"))
    for column, kinds, what in expected:  # numpy dtype kinds: signed, unsigned integer, float
        if frame[column].dtype.kind not in kinds:
            raise DataError(f"roster {name}: column {column!r} holds {frame[column].dtype} values, not {what}; "
                            "it was not written by zcnas")
    seconds = frame["seconds"].to_numpy(dtype=float)
    bad = np.flatnonzero(~(np.isfinite(seconds) & (seconds >= 0)))
    if bad.size:
        raise DataError(f"roster {name}, row {bad[0] + 1}: seconds {seconds[bad[0]]!r} is not a number >= 0; "
                        "the file is damaged: score it again")
    if "finite" in frame:  # the flag says what the score is; a file where they disagree was edited
        lie = np.flatnonzero(frame["finite"].to_numpy(dtype=bool) != np.isfinite(frame["score"].to_numpy(dtype=float)))
        if lie.size:
            row = lie[0]
            raise DataError(f"roster {name}, row {row + 1}: finite is {bool(frame['finite'].iloc[row])} but the score "
                            f"is {frame['score'].iloc[row]!r}; the file is damaged: score it again")


def check_unbound_rows(frame: pd.DataFrame, name) -> None:
    """What can be checked of a user's-space roster without loading its class: the columns, an index
    >= 0 or -1 (no index), and each ``arch`` a non-empty string, once."""
    _check_columns(frame, name)
    index = frame["index"].to_numpy()
    below = np.flatnonzero(index < NO_INDEX)
    if below.size:
        raise DataError(f"roster {name}, row {below[0] + 1}: index {index[below[0]]} is negative; the file is damaged")
    seen: dict[str, int] = {}
    for row, arch in enumerate(frame["arch"]):
        if not isinstance(arch, str) or not arch:
            raise DataError(f"roster {name}, row {row + 1}: arch is empty; the file is damaged: score it again")
        if arch in seen:
            raise DataError(f"roster {name} has more than one row for architecture {arch} (rows {seen[arch] + 1} "
                            f"and {row + 1}); it is damaged: merge or score it again")
        seen[arch] = row


def _check_space_rows(frame: pd.DataFrame, name, space: SearchSpace) -> None:
    """check_rows by string (``SearchSpace.rows_by_index`` false): each arch parsed and written back."""
    seen: dict[str, int] = {}
    for row, (i, arch) in enumerate(zip(frame["index"].to_numpy(), frame["arch"])):
        where = f"roster {name} (space {space.name}), row {row + 1}"
        if not isinstance(arch, str):
            raise DataError(f"{where}: arch is empty; the file is damaged: score it again")
        try:
            canonical = space.format(space.parse(arch))
        except ValueError as exc:
            raise DataError(f"{where}: {exc}") from None
        if canonical != arch:
            raise DataError(f"{where}: arch {arch!r} is not written canonically ({canonical}); the file was not "
                            "written by zcnas")
        expected = space.index(space.parse(arch)) if space.indexed else NO_INDEX
        if int(i) != expected:
            raise DataError(f"{where}: index {i} is not that of {arch} ({expected}); the file is damaged")
        if arch in seen:
            raise DataError(f"roster {name} has more than one row for architecture {arch} (rows {seen[arch] + 1} "
                            f"and {row + 1}); it is damaged: merge or score it again")
        seen[arch] = row
