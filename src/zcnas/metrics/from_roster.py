"""Scores read from a roster instead of computed (as the paper's own searches did).

Each architecture is charged the seconds recorded in the roster.  The roster
must have been produced for the job's metric and dataset (and, for metrics
that depend on them, its seed and batch size); a cell missing from the roster
is an error that says how to complete it.
"""

from __future__ import annotations

from zcnas.errors import DataError
from zcnas.metrics.base import Metric
from zcnas.roster import check_compatible, read_roster
from zcnas.space import Cell


class RosterScores(Metric):
    """Wraps a live metric: same name and identity, scores from ``path``."""

    def __init__(self, live: Metric, path: str, expected: dict):
        super().__init__(live.context)
        self.live = live
        self.name = live.name
        self.needs_data = False
        self.path = str(path)
        roster = read_roster(path)
        check_compatible([(self.path, roster)], {k: v for k, v in expected.items() if v is not None})
        self._scores = roster.scores()
        self._seconds = roster.seconds()

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
        return {**self.live.describe(), "roster": self.path}
