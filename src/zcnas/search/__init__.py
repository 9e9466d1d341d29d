"""Search strategies: plain-Python loops over a score function.

``SEARCHES`` maps a ``search.name`` to ``(function, visits, cells)``: the
function runs the search given ``evaluate``, a ``random.Random`` and its
parameters; ``visits`` says how many models it will visit; ``cells`` at most
how many distinct cells it will score, or None when that is not known in
advance.  Progress bars count scored cells (what costs time), so only a known
``cells`` gives them an ETA.
"""

from __future__ import annotations

import random
from typing import Callable

from zcnas.errors import ConfigError
from zcnas.search.aging import aging_evolution
from zcnas.search.evaluator import Evaluator, rank_value
from zcnas.search.random_search import random_search
from zcnas.search.result import OnVisit, SearchResult
from zcnas.search.space_view import SpaceView
from zcnas.spaces.base import SearchSpace

SEARCHES: dict[str, tuple[Callable[..., SearchResult], Callable[..., int], Callable[..., int | None]]] = {
    # one request per visit: at most n distinct cells (repeats are free)
    "random": (random_search, lambda n, **_: n, lambda n, **_: n),
    # paper Algorithm 2; the warmup variant differs only in its config (w > p).  A zero-cost move
    # scores up to 24 neighbours, many of them seen before: the number of cells is not known ahead
    "aging": (aging_evolution, lambda m=500, **_: m, lambda **_: None),
    "aging_warmup": (aging_evolution, lambda m=500, **_: m, lambda **_: None),
}


def run_search(
    name: str, evaluate: Callable, rng: random.Random, on_visit: OnVisit | None = None,
    space: SearchSpace | None = None, feasible: Callable | None = None, **params
) -> SearchResult:
    """Run search ``name`` in ``space`` (default NATS-Bench TSS); with ``feasible`` (arch -> bool, e.g. a
    latency budget) it samples, mutates and returns only feasible architectures (``SpaceView``)."""
    function = _lookup(name)[0]
    view = SpaceView(space, feasible)
    try:
        return function(evaluate, rng=rng, on_visit=on_visit, space=view, **params)
    except TypeError as exc:  # an unknown or missing search.* key
        raise ConfigError(f"bad parameters for search {name!r}: {exc}") from None


def planned_visits(name: str, **params) -> int:
    return _lookup(name)[1](**params)


def planned_cells(name: str, **params) -> int | None:
    """At most how many distinct cells the search scores, or None when unknown."""
    return _lookup(name)[2](**params)


def _lookup(name: str):
    if name not in SEARCHES:
        raise ConfigError(f"unknown search {name!r}; valid: {', '.join(sorted(SEARCHES))}")
    return SEARCHES[name]


__all__ = ["Evaluator", "SEARCHES", "SearchResult", "SpaceView", "planned_cells", "planned_visits", "rank_value", "run_search"]
