"""Random search (paper Algorithm 1): score N uniformly sampled cells, keep the best.

Cells are drawn with replacement, as in the paper's experiments.  Where the
pseudocode starts from ``best_score = 0`` we start from the first cell seen,
so metrics with negative scores still return an architecture.
"""

from __future__ import annotations

import random
from collections.abc import Hashable
from typing import Callable

from zcnas.errors import ConfigError
from zcnas.search.result import OnVisit, SearchResult
from zcnas.search.space_view import SpaceView


def random_search(
    evaluate: Callable[[Hashable], float], n: int, rng: random.Random, on_visit: OnVisit | None = None,
    *, space: SpaceView,
) -> SearchResult:
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ConfigError(f"search.n must be a positive integer (number of architectures to sample), got {n!r}")
    result = SearchResult()
    for _ in range(n):
        cell = space.sample(rng)
        result.visit(cell, evaluate(cell), on_visit)
    return result


class RandomSearch:
    """The ``_target_`` of ``search=random``: ``n`` visits, so at most ``n`` distinct cells scored
    (repeats are free), which gives its progress bar an ETA."""

    def __init__(self, *, n: int):
        self.n = self.visits = self.cells = n

    def run(self, evaluate: Callable[[Hashable], float], rng: random.Random, on_visit: OnVisit | None = None,
            *, space: SpaceView) -> SearchResult:
        return random_search(evaluate, self.n, rng, on_visit, space=space)
