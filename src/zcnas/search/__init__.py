"""Search strategies: plain-Python loops over a score function.

A strategy is an option of the ``search`` config group, ``conf/search/<name>.yaml``, whose
``_target_`` names its class (``zcnas.plugins``); the option's other keys, less ``name`` and
``max_cost`` (the job's budget, ``zcnas.tasks.search``), are the keyword arguments it is built
with, their defaults stated there only.  A built strategy has:

* ``visits``: how many models it will visit;
* ``cells``: at most how many distinct cells it will score, or None when that is not known in
  advance.  Progress bars count scored cells (what costs time), so only a known ``cells`` gives
  them an ETA;
* ``run(evaluate, rng, on_visit=None, *, space)``: the search, in ``space`` (a ``SpaceView``),
  returning a ``SearchResult``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Callable

from zcnas import plugins
from zcnas.search.evaluator import Evaluator, rank_value
from zcnas.search.result import OnVisit, SearchResult
from zcnas.search.space_view import SpaceView
from zcnas.spaces.base import SearchSpace

#: keys of a search option that are not its strategy's parameters
NOT_PARAMETERS = ("name", "max_cost")


def parameters(node: Mapping) -> dict:
    """A search option's keys less those that are not its strategy's parameters (``name``, the job's
    ``max_cost``, Hydra's ``defaults``); its ``_target_`` stays, naming the class to build."""
    return {k: v for k, v in node.items() if k not in NOT_PARAMETERS and k != "defaults"}


def make_search(name: str, **params):
    """Strategy ``name`` (an option of ``conf/search/``) with that option's defaults, ``params``
    overriding them.  Where ``params`` hold a ``_target_`` (a composed option: the job's ``search``,
    a study's ``searches.<label>``), the class it names is built with ``params`` alone: the user's
    own config chose it, and Hydra has filled in its defaults."""
    target = params.pop("_target_", None)
    if target:
        cls = plugins.import_target(target, "search._target_")
    else:
        cls = plugins.load("search", name)
        params = {**parameters(plugins.option("search", name)), **params}
    return plugins.build(cls, params, f"search {name!r}")


def run(strategy, evaluate: Callable, rng: random.Random, on_visit: OnVisit | None = None, *,
        space: SearchSpace, feasible: Callable | None = None) -> SearchResult:
    """Run a built strategy in ``space``; with ``feasible`` (arch -> bool, e.g. a latency budget) it
    samples, mutates and returns only feasible architectures (``SpaceView``)."""
    return strategy.run(evaluate, rng, on_visit, space=SpaceView(space, feasible))


def run_search(
    name: str, evaluate: Callable, rng: random.Random, on_visit: OnVisit | None = None, *,
    space: SearchSpace, feasible: Callable | None = None, **params
) -> SearchResult:
    """Run search ``name`` (its config's defaults, ``params`` overriding them) in ``space``."""
    return run(make_search(name, **params), evaluate, rng, on_visit, space=space, feasible=feasible)


def planned_visits(name: str, **params) -> int:
    return make_search(name, **params).visits


def planned_cells(name: str, **params) -> int | None:
    """At most how many distinct cells the search scores, or None when unknown."""
    return make_search(name, **params).cells


__all__ = ["Evaluator", "SearchResult", "SpaceView", "make_search", "planned_cells",
           "planned_visits", "rank_value", "run", "run_search"]
