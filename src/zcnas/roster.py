"""Rosters: a persistent table of scores, one row per architecture.

Columns: ``index`` (the space's integer index; -1 in a space without one, such as
NAS-Bench-101, where ``arch`` alone names the architecture), ``arch`` (canonical string), ``score`` (float64, may be
non-finite), ``finite`` (False for NaN/inf scores), ``seconds`` (time spent
scoring that row, or the recorded cost for benchmark-backed metrics) and
``source`` (``computed``, ``shared`` when copied from an isomorphic cell,
``imported``).  Which metric, dataset, seed, batch size and code version
produced the scores is stored in the parquet file's metadata (key ``zcnas``),
so a roster is self-describing.  Files are written atomically; never pickle.

The search space is recorded as ``space`` (absent: NATS-Bench TSS, the space of the rosters
that record none); a custom space also records ``space_target``, its
class path, and ``space_options``, the keyword arguments it was built with (JSON, sorted keys;
absent: none).  Rosters of different spaces, or of one class built with different options,
never mix.

Every roster read is checked (``read_roster``): it must carry that metadata
with its metric and dataset, list each architecture once, by an index of its
space whose ``arch`` string matches (or, without an index, by a canonical
``arch`` string of its space), with numeric scores and seconds.  A
damaged or foreign file is refused with one line instead of being used
differently by different readers.

A roster is data and never chooses code: every metadata field is checked against the
registries and types (``check_meta``) before any use, and a roster is read in the space the
job configured (``read_roster(path, space)``) or, for a built-in space, the one the registry
has under the recorded name.  A recorded ``space_target`` is only compared with the job's,
never imported: without the job's space, a user's-space roster is checked as far as it can be
without its class (``Roster.space`` then says how to give it).
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from zcnas.errors import ConfigError, DataError
from zcnas.io import atomic_write_bytes
from zcnas.space import NUM_CELLS, arch_from_index, format_arch
from zcnas.spaces import BUILT_IN, DEFAULT, SearchSpace, make_space

COLUMNS = ("index", "arch", "score", "finite", "seconds", "source")
#: metadata keys that must agree for rosters to be merged or used together
IDENTITY_KEYS = ("space", "space_target", "space_options", "metric", "dataset", "seed", "batch_size", "settings",
                 "data_sha256", "batch_seed")
#: what a roster that records no such key stands for: NATS-Bench TSS, a space built without options
IDENTITY_DEFAULTS = {"space": DEFAULT, "space_options": "{}"}
#: the index column of a space without an integer index
NO_INDEX = -1


def space_meta(space: SearchSpace) -> dict:
    """What a roster records about its space: nothing for NATS-Bench TSS (older rosters stay as they were)."""
    if space.name == DEFAULT:
        return {}
    meta = {"space": space.name}
    if space.__class__.__module__.split(".")[0] != "zcnas":  # a user's space: how to rebuild it
        meta["space_target"] = f"{space.__class__.__module__}.{space.__class__.__qualname__}"
        if space.space_options:  # only when there are some: a space built without options records no such key
            meta["space_options"] = encode_options(space.space_options)
    return meta


def space_identity_meta(space: SearchSpace) -> dict:
    """The space keys a roster scored in ``space`` must carry, the name always included."""
    return {**space_meta(space), "space": space.name}


def space_identity(meta: dict) -> tuple[str, str, str]:
    """What makes two spaces the same: the name and, for a user's class, its path and options
    (``space_meta``); equal identities score the same networks."""
    full = {**IDENTITY_DEFAULTS, **meta}
    return str(full["space"]), str(full.get("space_target", "")), str(full["space_options"])


def describe_space(identity: tuple[str, str, str]) -> str:
    """A space for a message: its name, and the class and options of a user's space."""
    name, target, options = identity
    if not target:
        return name
    return f"{name} ({target}" + (f", options {options})" if options != "{}" else ")")


def encode_options(options: dict) -> str:
    """A custom space's options as rosters record them: JSON with sorted keys (one spelling per value)."""
    try:
        return json.dumps(options, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"space.options must be plain values (numbers, strings, lists, mappings) so that rosters "
                          f"can record them: {exc}") from None


def decode_options(meta: dict) -> dict:
    """The keyword arguments a roster's custom space was built with ({} when it records none)."""
    raw = meta.get("space_options")
    if raw is None:
        return {}
    try:
        options = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        options = None
    if not isinstance(options, dict):
        raise DataError(f"a roster records unreadable space_options {raw!r} (a JSON mapping expected); "
                        "it was not written by zcnas: score it again")
    return options


def registry_space(meta: dict, name: object = "a roster") -> SearchSpace | None:
    """The built-in space a roster names (NATS-Bench TSS when it names none), from the registry;
    None for a user's space, whose class a roster may record but never loads."""
    if meta.get("space_target"):
        return None
    space = meta.get("space", DEFAULT)
    if space not in BUILT_IN:
        raise DataError(f"roster {name} names space {space!r}, which zcnas does not ship (valid: "
                        f"{', '.join(BUILT_IN)}) and records no class of a user's space; it was not written by zcnas")
    return make_space(space)


def space_fix(identity: tuple[str, str, str]) -> str:
    """The overrides that give a job the space of ``identity``."""
    name, target, options = identity
    if not target:
        return "drop space=" if name == DEFAULT else f"add space={name}"
    fix = f"use space=custom space.target={target}"
    return fix + (f" with space.options {options}" if options != "{}" else " without space.options")


def check_space(meta: dict, space: SearchSpace, name: object) -> None:
    """A roster's recorded space (name, class path, options: data) must be the job's ``space``."""
    found, job = space_identity(meta), space_identity(space_identity_meta(space))
    if found != job:
        raise DataError(f"roster {name} is of space {describe_space(found)} but the job's space is "
                        f"{describe_space(job)}; {space_fix(found)}")


@dataclass
class Roster:
    rows: pd.DataFrame
    meta: dict = field(default_factory=dict)
    #: the space the rows were checked in (the job's); None: the built-in one ``meta`` names
    in_space: SearchSpace | None = field(default=None, repr=False, compare=False)

    @classmethod
    def empty(cls, meta: dict, space: SearchSpace | None = None) -> "Roster":
        return cls(make_rows([], space), dict(meta), space)

    def __len__(self) -> int:
        return len(self.rows)

    def read_in(self, space: SearchSpace, name: object) -> "Roster":
        """This roster checked in the job's ``space`` (its recorded space must be it, its rows of it),
        which it is read in from then on."""
        check_space(self.meta, space, name)
        if self.in_space is not space:
            check_rows(self.rows, name, space)
            self.in_space = space
        return self

    @property
    def indices(self) -> set[int]:
        return set(int(i) for i in self.rows["index"])

    @property
    def keys(self) -> set[int | str]:
        """What names a row: the index, or the arch string in a space without an index (index -1)."""
        indexed = self.in_space.indexed if self.in_space is not None else not (self.rows["index"] == NO_INDEX).any()
        return self.indices if indexed else set(self.rows["arch"].astype(str))

    def scores(self) -> dict[int, float]:
        return dict(zip(self.rows["index"].astype(int), self.rows["score"].astype(float)))

    def seconds(self) -> dict[int, float]:
        return dict(zip(self.rows["index"].astype(int), self.rows["seconds"].astype(float)))

    @property
    def space(self) -> SearchSpace:
        if self.in_space is not None:
            return self.in_space
        space = registry_space(self.meta)
        if space is None:  # a user's space: only the job's configuration may load its class
            identity = space_identity(self.meta)
            raise DataError(f"a roster of {self.meta.get('metric')} is of a user's space {describe_space(identity)}, "
                            f"which this job did not configure; {space_fix(identity)}")
        return space

    def score_array(self) -> np.ndarray:
        """Scores by the space's index (NaN where an architecture is missing); spaces with an index only."""
        size = self.space.size
        if size is None:
            raise DataError(f"space {self.space.name} has no index: align scores by architecture (scores_by_arch)")
        out = np.full(size, np.nan)
        out[self.rows["index"].to_numpy(dtype=int)] = self.rows["score"].to_numpy(dtype=float)
        return out

    def scores_by_arch(self) -> dict[str, float]:
        return dict(zip(self.rows["arch"].astype(str), self.rows["score"].astype(float)))

    def scores_for(self, archs: list[str]) -> np.ndarray:
        """Scores aligned with ``archs`` (canonical strings), NaN where missing."""
        by_arch = self.scores_by_arch()
        return np.array([by_arch.get(a, np.nan) for a in archs], dtype=float)


@lru_cache(maxsize=1)
def arch_strings() -> tuple[str, ...]:
    """The architecture string of every index, once (checking a whole roster needs all of them)."""
    return tuple(format_arch(arch_from_index(i)) for i in range(NUM_CELLS))


def make_rows(records: Iterable[tuple[int | str, float, float, str]], space: SearchSpace | None = None) -> pd.DataFrame:
    """Rows from (key, score, seconds, source) records; the key is the space's index, or the canonical
    architecture string in a space without one.  ``space``: NATS-Bench TSS when None."""
    records = list(records)
    if space is None or space.name == DEFAULT:
        archs = arch_strings()
        index = [int(r[0]) for r in records]
        arch = [archs[i] for i in index]
    elif space.indexed:
        index = [int(r[0]) for r in records]
        arch = [space.format(space.from_index(i)) for i in index]
    else:
        index = [NO_INDEX] * len(records)
        arch = [str(r[0]) for r in records]
    return _typed(pd.DataFrame({"index": index, "arch": arch,
                                "score": [float(r[1]) for r in records], "seconds": [float(r[2]) for r in records],
                                "source": [r[3] for r in records]}))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The roster columns with their types; ``finite`` is derived from the score, never trusted."""
    frame = frame.astype({"index": "int64", "arch": "string", "score": "float64", "seconds": "float64",
                          "source": "string"})
    frame["finite"] = np.isfinite(frame["score"].to_numpy())
    return frame[list(COLUMNS)].reset_index(drop=True)


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
    # the file's own pandas metadata is not ours: _typed gives the columns their types
    frame = table.replace_schema_metadata(None).to_pandas()
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"roster {path} lacks columns {missing}; it was not written by zcnas")
    if space is None:
        check_unbound_rows(frame, path)
    else:
        check_rows(frame, path, space)
    return Roster(_typed(frame), meta, space)


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


_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # a name that can be part of a file name
_CLASS_PATH = re.compile(r"[A-Za-z_]\w*([.:][A-Za-z_]\w*)+")


def _metric_names() -> set[str]:
    from zcnas.metrics import SPECS  # imports torch: only once a roster is read

    return set(SPECS)


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
    space = meta.get("space", DEFAULT)
    target = meta.get("space_target")
    if target is not None and (not isinstance(target, str) or not _CLASS_PATH.fullmatch(target)):
        raise bad("space_target", "a class path (module.Class)")
    if not isinstance(space, str) or not (space in BUILT_IN or (target and _PLAIN.fullmatch(space))):
        raise bad("space", f"a space zcnas ships ({', '.join(BUILT_IN)}) or a user's space with its space_target")
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


def check_rows(frame: pd.DataFrame, name, space: SearchSpace | None = None) -> None:
    """Integer indices of the space, each once, ``arch`` matching the index, numeric scores and seconds
    (in a space without an index: index -1 and each canonical ``arch`` once)."""
    _check_columns(frame, name)
    if space is not None and space.name != DEFAULT:
        return _check_space_rows(frame, name, space)
    index = frame["index"].to_numpy()
    outside = np.flatnonzero((index < 0) | (index >= NUM_CELLS))
    if outside.size:
        raise DataError(f"roster {name}, row {outside[0] + 1}: index {index[outside[0]]} is outside 0..{NUM_CELLS - 1}")
    twice = np.flatnonzero(frame["index"].duplicated().to_numpy())
    if twice.size:
        raise DataError(f"roster {name} has more than one row for architecture {index[twice[0]]} (row {twice[0] + 1}); "
                        "it is damaged: merge or score it again")
    archs = arch_strings()
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
    """check_rows for a space other than NATS-Bench TSS (its index and strings come from the space)."""
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


def identity_conflict(a: dict, b: dict) -> str | None:
    """The first identity key that both metadata record with different values (None: they agree).

    A key that one of them does not record (an imported roster has no seed) is not compared;
    metric and dataset are always recorded (``read_roster`` and ``check_compatible`` see to it).
    ``space`` and ``space_options`` are always compared: a roster that records none is of NATS-Bench
    TSS, or of a space built without options (``IDENTITY_DEFAULTS``).
    """
    a, b = {**IDENTITY_DEFAULTS, **a}, {**IDENTITY_DEFAULTS, **b}
    return next((k for k in IDENTITY_KEYS if k in a and k in b and a[k] != b[k]), None)


def check_compatible(rosters: list[tuple[str, Roster]], expected: dict | None = None) -> dict:
    """All rosters (and ``expected``) record a metric and dataset and agree on IDENTITY_KEYS."""
    reference_name, reference = (("the job", expected) if expected else (rosters[0][0], rosters[0][1].meta))
    for name, roster in rosters:
        lacking = [k for k in ("metric", "dataset") if roster.meta.get(k) is None]
        if lacking:
            raise DataError(f"roster {name} does not record its {' and '.join(lacking)}, so it cannot be "
                            "checked against the job's; import its scores with python run.py task=import ...")
        key = identity_conflict(roster.meta, reference)
        if key:
            mine, theirs = {**IDENTITY_DEFAULTS, **roster.meta}, {**IDENTITY_DEFAULTS, **reference}
            raise ConfigError(
                f"roster {name} has {key}={mine[key]!r} but {reference_name} has "
                f"{key}={theirs[key]!r}; rosters of different {key.removesuffix('s')}s cannot be mixed"
            )
    return dict(reference)


def merge_rosters(named: list[tuple[str, Roster]], expected: dict | None = None) -> Roster:
    """One roster from several (shards, resumed chunks); a cell scored twice keeps its first row."""
    if not named:
        raise DataError("no rosters to merge")
    meta = check_compatible(named, expected)
    rows = pd.concat([r.rows for _, r in named], ignore_index=True)
    rows = rows.drop_duplicates("arch", keep="first")  # arch names a row in every space (index may be -1)
    merged_meta = {**named[0][1].meta, **meta}
    devices = sorted({str(r.meta["device"]) for _, r in named if r.meta.get("device")})
    if devices:  # shards or resumed chunks may come from different machines
        merged_meta["device"] = " + ".join(devices)
    counts = sorted({r.meta["torch_threads"] for _, r in named if isinstance(r.meta.get("torch_threads"), int)})
    if len(counts) > 1:  # shards scored with other thread counts: informational, not identity
        merged_meta["torch_threads"] = counts
    space = next((r.in_space for _, r in named if r.in_space is not None), None)  # one space: checked above
    return Roster(rows.sort_values(["index", "arch"]).reset_index(drop=True), merged_meta, space)


def score_conflicts(named: list[tuple[str, Roster]]) -> tuple[int, str | None]:
    """How many architectures two of ``named`` score differently (NaN == NaN), and one of them
    described with the rosters that disagree (None when none do)."""
    if len(named) < 2:
        return 0, None
    frames = [r.rows[["arch", "score"]].assign(source=name) for name, r in named]
    rows = pd.concat(frames, ignore_index=True)
    score = rows["score"].to_numpy(dtype=float)
    rows["value"] = np.where(np.isnan(score), "nan", score.astype(str))
    distinct = rows.drop_duplicates(["arch", "value"])
    counts = distinct["arch"].value_counts()
    conflicting = counts[counts > 1]
    if conflicting.empty:
        return 0, None
    arch = str(conflicting.index[0])
    first = distinct[distinct["arch"] == arch].head(2)
    (a, sa), (b, sb) = zip(first["source"], first["score"])
    return len(conflicting), f"{arch}: {sa!r} in {a}, {sb!r} in {b}"


def overlap(old: Roster, new: Roster) -> tuple[int, int]:
    """How many of ``new``'s cells ``old`` has too, and how many of those with another score (NaN == NaN)."""
    both = old.rows[["arch", "score"]].merge(new.rows[["arch", "score"]], on="arch", suffixes=("_old", "_new"))
    a, b = both["score_old"].to_numpy(), both["score_new"].to_numpy()
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    return len(both), int((~same).sum())


# ---------------------------------------------------------------- CSV import

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_INTEGER = re.compile(r"\+?\d+(\.0*)?")  # 2 and 2.0 name architecture 2; 2.5 names none
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def parse_score(text: str) -> float:
    """A CSV score cell: a decimal number, or nan / inf / -inf (any case) for an explicit non-finite score."""
    value = text.strip()
    if value.lower() in _NON_FINITE:
        return _NON_FINITE[value.lower()]
    return _parse_number(value, "non-finite scores are written nan, inf or -inf")


def _parse_number(value: str, hint: str) -> float:
    if not value:
        raise ValueError(f"the cell is empty ({hint})")
    if not _NUMBER.fullmatch(value):
        raise ValueError(f"{value!r} is not a number ({hint})")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is too large for a 64-bit float")
    return number


def parse_index(text: str, size: int = NUM_CELLS) -> int:
    value = text.strip()
    if not _INTEGER.fullmatch(value) or int(float(value)) >= size:
        raise ValueError(f"an architecture index must be an integer 0..{size - 1}, got {value!r}")
    return int(float(value))


def parse_seconds(text: str) -> float:
    seconds = _parse_number(text.strip(), "seconds must be a number >= 0")
    if seconds < 0:
        raise ValueError(f"seconds must be >= 0, got {text.strip()!r}")
    return seconds


def read_csv_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and, per data row, its line number and cells (all text: nothing is converted here)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if not header:
                raise DataError(f"CSV {path} is empty: it needs a header line and one line per architecture")
            if len(set(header)) != len(header):
                raise DataError(f"CSV {path} has two columns of the same name (header: {', '.join(header)})")
            rows = []
            for cells in reader:
                if not cells:
                    continue  # a blank line
                if len(cells) != len(header):
                    raise DataError(f"CSV {path}, line {reader.line_num}: {len(cells)} fields, but the header has "
                                    f"{len(header)}")
                rows.append((reader.line_num, dict(zip(header, cells))))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"CSV {path} could not be read ({type(exc).__name__}: {exc})") from None
    return header, rows


def import_csv(path: str | Path, score_column: str, metric: str, dataset: str,
               seconds_column: str | None = None, space: SearchSpace | None = None) -> Roster:
    """A roster from a CSV with an ``index`` or ``arch`` column and a score column.

    Every cell must parse exactly (an error names the CSV, the line and the column): nothing is
    rounded, and no unparsable or empty cell silently becomes NaN.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"CSV to import not found: {path} (set source.path)")
    header, rows = read_csv_rows(path)
    columns = ", ".join(header)
    if score_column not in header:
        raise DataError(f"CSV {path} has no score column {score_column!r} (columns: {columns}); "
                        "set source.score_column to one of them")
    if seconds_column and seconds_column not in header:
        raise DataError(f"CSV {path} has no seconds column {seconds_column!r} (columns: {columns}); "
                        "set source.seconds_column to one of them, or to null")
    if "index" not in header and "arch" not in header:
        raise DataError(f"CSV {path} needs an 'index' or 'arch' column to identify architectures (columns: {columns})")
    if not rows:
        raise DataError(f"CSV {path} has a header but no data rows: nothing to import")
    records, seen = [], {}
    space = space or make_space(DEFAULT)
    for line, cells in rows:
        index = _row_index(path, line, cells, space)
        if index in seen:
            raise DataError(f"CSV {path} lists architecture {index} more than once (lines {seen[index]} and {line})")
        seen[index] = line
        score = _cell(path, line, score_column, lambda: parse_score(cells[score_column]))
        seconds = 0.0
        if seconds_column:
            seconds = _cell(path, line, seconds_column, lambda: parse_seconds(cells[seconds_column]))
        records.append((index, score, seconds, "imported"))
    return Roster(make_rows(records, space), {**space_meta(space), "metric": metric, "dataset": dataset,
                                              "imported_from": str(path), "score_column": score_column})


def _row_index(path: Path, line: int, cells: dict[str, str], space: SearchSpace) -> int | str:
    """The row's architecture: its index, its arch string, or both (then they must agree); in a space
    without an index, its canonical arch string."""
    if not space.indexed:
        if "arch" not in cells:
            raise DataError(f"CSV {path}: space {space.name} has no index; name architectures in an 'arch' column")
        return _cell(path, line, "arch", lambda: space.canonical(cells["arch"]))
    index = _cell(path, line, "index", lambda: parse_index(cells["index"], space.size)) if "index" in cells else None
    if "arch" in cells:
        from_arch = _cell(path, line, "arch", lambda: space.index(space.parse(cells["arch"])))
        if index is not None and from_arch != index:
            raise DataError(f"CSV {path}, line {line}, column 'arch': {cells['arch']!r} is architecture "
                            f"{from_arch}, but column 'index' says {index}")
        index = from_arch
    return index


def _cell(path: Path, line: int, column: str, parse):
    """``parse()``, its ValueError (ArchError included) as one line naming the CSV, line and column."""
    try:
        return parse()
    except ValueError as exc:
        raise DataError(f"CSV {path}, line {line}, column {column!r}: {exc}") from None
