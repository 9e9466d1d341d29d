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
from zcnas.roster import check_compatible, read_roster
from zcnas.space import Cell, representatives


def charge_shared_rows(roster) -> dict[int, float]:
    """Index -> seconds, a shared row taking the seconds of its class's computed row (if present)."""
    seconds = roster.seconds()
    rows = roster.rows
    shared = rows["source"] == "shared"
    if not shared.any():
        return seconds
    rep = representatives()
    computed = rows.loc[~shared, ["index", "seconds"]].itertuples(index=False)
    by_class: dict[int, float] = {}
    for index, sec in computed:
        by_class.setdefault(rep[int(index)], float(sec))
    for index in rows.loc[shared, "index"]:
        cls = rep[int(index)]
        if cls in by_class:
            seconds[int(index)] = by_class[cls]
    return seconds


class RosterScores(Metric):
    """A metric's scores read from ``path``; the metric itself is never built (it may be costly)."""

    def __init__(self, metric: type[Metric], context: ScoringContext, path: str, expected: dict):
        super().__init__(context)
        self.name = metric.name
        self.needs_benchmark = metric.needs_benchmark
        self.path = str(path)
        roster = read_roster(path)
        check_compatible([(self.path, roster)], {k: v for k, v in expected.items() if v is not None})
        if not roster.rows["finite"].any():
            raise DataError(f"roster {self.path} has no finite score (none of its {len(roster)} rows: all NaN or "
                            "infinite, or no rows), so it cannot rank architectures; score them again "
                            "(python run.py task=score ...)")
        self.roster_meta = roster.meta
        self._scores = roster.scores()
        self._seconds = charge_shared_rows(roster)

    def score_cell(self, cell: Cell) -> float:
        try:
            return self._scores[cell.index]
        except KeyError:
            raise DataError(
                f"roster {self.path} has no score for architecture {cell.index} ({cell}); score the whole "
                "space (python run.py task=score ...) or drop metric.roster to compute scores live"
            ) from None

    def recorded_cost(self, cell: Cell) -> float:
        self.score_cell(cell)
        return self._seconds[cell.index]

    def describe(self) -> dict:
        meta = self.roster_meta
        return {"name": self.name, "roster": self.path,
                **{f"roster_{k}": meta.get(k) for k in ("seed", "batch_size", "settings", "share_isomorphic") if k in meta}}
