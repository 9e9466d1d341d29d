"""Scoring inside a search: memoized, with honest cost accounting.

Within one search a cell is scored once; later requests reuse the score.  We
count both the evaluations the algorithm asked for and the distinct cells
actually scored, and keep three clocks:

* ``wall_seconds``: time really spent scoring (distinct cells only);
* ``recorded_seconds``: recorded cost (benchmark training time or a roster's
  scoring time) of each distinct cell, charged once;
* ``recorded_seconds_per_request``: the same charged on every request, with
  no reuse -- how the paper reports search time.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

from collections.abc import Hashable


def rank_value(score: float) -> float:
    """Value used to compare scores: non-finite scores (NaN, +-inf) rank lowest."""
    return score if math.isfinite(score) else -math.inf


@dataclass
class CostSnapshot:
    requests: int
    distinct: int
    wall_seconds: float
    recorded_seconds: float | None
    recorded_seconds_per_request: float | None


@dataclass
class Evaluator:
    """Wraps ``score(cell)`` (and optionally ``recorded_cost(cell)``) with a memo and clocks.

    ``on_scored`` is called after each distinct cell is scored (progress bars count these).
    """

    score: Callable[[Hashable], float]
    recorded_cost: Callable[[Hashable], float | None] | None = None
    on_scored: Callable[[Hashable], None] | None = None
    memo: dict[Hashable, tuple[float, float | None]] = field(default_factory=dict)
    requests: int = 0
    wall_seconds: float = 0.0
    recorded_seconds: float = 0.0
    recorded_seconds_per_request: float = 0.0
    has_recorded_cost: bool = False

    def __call__(self, cell: Hashable) -> float:
        self.requests += 1
        if cell not in self.memo:
            start = time.perf_counter()
            value = float(self.score(cell))
            self.wall_seconds += time.perf_counter() - start
            cost = self.recorded_cost(cell) if self.recorded_cost else None
            if cost is not None:
                self.has_recorded_cost = True
                self.recorded_seconds += cost
            self.memo[cell] = (value, cost)
            if self.on_scored is not None:
                self.on_scored(cell)
        value, cost = self.memo[cell]
        if cost is not None:
            self.recorded_seconds_per_request += cost
        return value

    @property
    def distinct(self) -> int:
        return len(self.memo)

    def snapshot(self) -> CostSnapshot:
        rec = self.has_recorded_cost
        return CostSnapshot(
            requests=self.requests,
            distinct=self.distinct,
            wall_seconds=self.wall_seconds,
            recorded_seconds=self.recorded_seconds if rec else None,
            recorded_seconds_per_request=self.recorded_seconds_per_request if rec else None,
        )
