"""What a search returns: the visited cells in order and the best one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from zcnas.search.evaluator import rank_value
from collections.abc import Hashable

#: Called after each visited model with (visit number from 1, cell, score).
OnVisit = Callable[[int, Hashable, float], None]


@dataclass
class SearchResult:
    best_cell: Hashable | None = None
    best_score: float = float("nan")
    visited: list[tuple[Hashable, float]] = field(default_factory=list)

    def visit(self, cell: Hashable, score: float, on_visit: OnVisit | None = None) -> None:
        """Record a visited model; the best is replaced only by a strictly higher score (first seen wins)."""
        self.visited.append((cell, score))
        if self.best_cell is None or rank_value(score) > rank_value(self.best_score):
            self.best_cell, self.best_score = cell, score
        if on_visit is not None:
            on_visit(len(self.visited), cell, score)
