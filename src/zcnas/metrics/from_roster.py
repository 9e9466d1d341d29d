"""Scores read from a roster instead of computed (as the paper's own searches did).

Each architecture is charged the seconds recorded in the roster.  The roster
must have been produced for the job's metric and dataset; its seed, batch
size and settings are carried into the job's result (``describe``).  The
search's own seed is free to differ: the paper scored the space once and ran
its 30 repeated searches on those scores.  A cell missing from the roster is
an error that says how to complete it.

A row copied from an isomorphic cell (``source=shared``, written with
``share_isomorphic=true``) recorded 0 seconds; it is charged the seconds of
its class's computed member in the roster instead, what scoring it would
have cost, so that search times keep the paper's accounting.

A roster without a single finite score is refused: a search on it could only
return an arbitrary architecture with a NaN "best" score.
"""

from __future__ import annotations

from zcnas.errors import DataError
from zcnas.metrics.base import Metric, ScoringContext
from zcnas.roster import Roster, check_compatible, read_roster, read_roster_meta, registry_space
from zcnas.spaces import SearchSpace


def _keys(roster, space: SearchSpace) -> list:
    """Each row's key: the index, or the canonical string in a space without one (``SearchSpace.key``)."""
    column = "index" if space.indexed else "arch"
    return [int(k) if space.indexed else str(k) for k in roster.rows[column]]


def charge_shared_rows(roster, space: SearchSpace | None = None) -> dict:
    """Key -> seconds, a shared row taking the seconds of its class's computed row (if present).

    ``space``: the space the rows are read in; by default the built-in space the roster names.
    """
    space = space or registry_space(roster.meta)
    if space is None:  # a user's space is never loaded from a roster's metadata
        raise ValueError("charge_shared_rows: give the space of a roster of a user's space")
    keys = _keys(roster, space)
    seconds = dict(zip(keys, roster.rows["seconds"].astype(float)))
    shared = roster.rows["source"].to_numpy() == "shared"
    if not shared.any():
        return seconds
    class_of = space.identity_classes()
    by_class: dict = {}
    for key, is_shared in zip(keys, shared):
        if not is_shared:
            by_class.setdefault(class_of(key), seconds[key])
    for key, is_shared in zip(keys, shared):
        if is_shared and class_of(key) in by_class:
            seconds[key] = by_class[class_of(key)]
    return seconds


class RosterScores(Metric):
    """A metric's scores read from ``path``; the metric itself is never built (it may be costly)."""

    def __init__(self, metric: type[Metric], context: ScoringContext, path: str, expected: dict):
        super().__init__(context)
        self.name = metric.name
        self.needs_benchmark = metric.needs_benchmark
        self.path = str(path)
        self.space = context.space  # the job's: its rows are read in it
        # the metadata first, as data: a roster of another metric, dataset or space is refused by name
        meta = read_roster_meta(path)
        check_compatible([(self.path, Roster.empty(meta))], {k: v for k, v in expected.items() if v is not None})
        roster = read_roster(path, self.space)  # its rows read in the job's own space, never the file's
        if not roster.rows["finite"].any():
            raise DataError(f"roster {self.path} has no finite score (none of its {len(roster)} rows: all NaN or "
                            "infinite, or no rows), so it cannot rank architectures; score them again "
                            "(python run.py task=score ...)")
        self.roster_meta = roster.meta
        keys = _keys(roster, self.space)
        self.scores = dict(zip(keys, roster.rows["score"].astype(float)))  # key -> score
        self._seconds = charge_shared_rows(roster, self.space)

    def score_cell(self, arch) -> float:
        try:
            return self.scores[self.space.key(arch)]
        except KeyError:
            key = self.space.key(arch)
            named = f"{key} ({self.space.format(arch)})" if self.space.indexed else str(key)
            raise DataError(
                f"roster {self.path} has no score for architecture {named}; score the whole "
                "space (python run.py task=score ...) or drop metric.roster to compute scores live"
            ) from None

    def recorded_cost(self, arch) -> float:
        self.score_cell(arch)
        return self._seconds[self.space.key(arch)]

    def describe(self) -> dict:
        meta = self.roster_meta
        return {"name": self.name, "roster": self.path,
                **{f"roster_{k}": meta.get(k) for k in ("seed", "batch_size", "settings", "share_isomorphic") if k in meta}}
