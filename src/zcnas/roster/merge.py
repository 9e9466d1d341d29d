"""Rosters used together: their identities checked, shards and chunks merged, scores compared."""

from __future__ import annotations

import numpy as np
import pandas as pd

from zcnas.errors import ConfigError, DataError
from zcnas.roster.identity import IDENTITY_DEFAULTS, identity_conflict
from zcnas.roster.rows import Roster


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
