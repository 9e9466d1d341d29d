"""Aging evolutionary search with zero-cost moves (paper Algorithm 2, section III-B).

Regularized ("aging") evolution whose mutations use the score: a population
of P cells; each step a tournament of T distinct members picks the best as
parent, its child replaces the oldest member.  Two options from the paper:

* warmup: when W > P, score W uniformly drawn cells (with replacement) and
  seed the population with the best P of them;
* zero-cost move: score all one-edit neighbours of the parent (24 in NATS-Bench TSS) and take the
  best; when a uniform draw u is > 1 - random_move_prob (> 0.75 in the paper)
  take a random neighbour instead.  With ``zero_cost_move=False`` every child
  is a random neighbour (plain regularized evolution).

Choices the pseudocode leaves open, resolved as the authors' experiments did
(docs/paper-protocol.md, "Searches"):

* Budget: M counts the P initial members plus the children, so exactly ``m``
  models are visited (the pseudocode's ``visited > M`` check would visit M+1).
  Warmup draws that do not enter the population cost evaluations but are not
  visited models.
* Parent: the text's "highest score" (the pseudocode's ascending sort and
  element 0 would take the worst).
* Ties: choosing a parent or a neighbour takes the last of the tied maxima
  after a stable ascending sort by score, i.e. the latest in tournament or
  neighbour (edge-major) order.  The warmup ranking uses the same rule: a
  stable ascending sort of the pool in draw order, whose last P seed the
  population best first, so among tied cells the later draw ranks higher.
  The best-so-far is replaced only by a strictly higher score (SearchResult).
* Non-finite scores (NaN, +-inf) rank lowest everywhere (``rank_value``).
* Scoring calls follow the pseudocode: inserted warmup members and each child
  are scored again (the Evaluator's memo makes that free, but the
  per-request clock charges it, as the paper's search times do).

Random numbers are drawn in a fixed order, so a seed fixes the run: the
initial cells (each the space's ``sample``), then per step the tournament
(``rng.sample``), then -- only with zero-cost moves -- u = ``rng.random()``,
then -- only for a random move -- the neighbour (``rng.choice``).
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Hashable
from numbers import Real
from typing import Callable

from zcnas.errors import ConfigError
from zcnas.search.evaluator import rank_value
from zcnas.search.result import OnVisit, SearchResult
from zcnas.search.space_view import SpaceView


def aging_evolution(
    evaluate: Callable[[Hashable], float],
    rng: random.Random,
    on_visit: OnVisit | None = None,
    *,
    space: SpaceView,
    p: int,
    t: int,
    m: int,
    w: int,
    zero_cost_move: bool,
    random_move_prob: float,
) -> SearchResult:
    """Run Algorithm 2 and return the visited cells (``m`` of them) and the best.  The parameters'
    defaults are the config's (``conf/search/aging.yaml``, ``aging_warmup.yaml``)."""
    _validate(p, t, m, w, zero_cost_move, random_move_prob)
    result = SearchResult()
    population: deque[tuple[Hashable, float]] = deque()

    for cell in _initial_cells(space, evaluate, rng, p, w):
        score = evaluate(cell)  # pseudocode line 15 scores every inserted member
        population.append((cell, score))
        result.visit(cell, score, on_visit)

    while len(result.visited) < m:
        tournament = rng.sample(population, t)  # t distinct members (positions)
        parent = _last_best(tournament)[0]
        if not zero_cost_move:
            child = space.random_neighbour(parent, rng)
        else:
            u = rng.random()
            # random_move_prob == 1 also covers u == 0.0, so "always random" is exact
            if u > 1 - random_move_prob or random_move_prob == 1:
                child = space.random_neighbour(parent, rng)
            else:
                # under a constraint every neighbour may be infeasible: then a fresh feasible draw
                options = space.neighbours(parent)
                child = _last_best([(n, evaluate(n)) for n in options])[0] if options else space.sample(rng)
        score = evaluate(child)
        population.append((child, score))
        population.popleft()  # the oldest member dies, whatever its score
        result.visit(child, score, on_visit)
    return result


class AgingEvolution:
    """The ``_target_`` of ``search=aging`` and ``search=aging_warmup`` (their options differ only in
    ``w``): built with the option's parameters, it visits exactly ``m`` models.  A zero-cost move
    scores up to 24 neighbours, many of them seen before, so how many distinct cells it scores is
    not known ahead (``cells`` None)."""

    cells = None

    def __init__(self, *, p: int, t: int, m: int, w: int, zero_cost_move: bool, random_move_prob: float):
        self.params = dict(p=p, t=t, m=m, w=w, zero_cost_move=zero_cost_move, random_move_prob=random_move_prob)
        self.visits = m

    def run(self, evaluate: Callable[[Hashable], float], rng: random.Random, on_visit: OnVisit | None = None,
            *, space: SpaceView) -> SearchResult:
        return aging_evolution(evaluate, rng, on_visit, space=space, **self.params)


def _initial_cells(space: SpaceView, evaluate: Callable[[Hashable], float], rng: random.Random,
                   p: int, w: int) -> list[Hashable]:
    """The P cells that seed the population, in insertion (age) order."""
    if w <= p:  # the paper warms up only when W > P
        return [space.sample(rng) for _ in range(p)]
    pool = [space.sample(rng) for _ in range(w)]
    scored = [(cell, evaluate(cell)) for cell in pool]  # cost evaluations, not visits
    ranked = sorted(scored, key=lambda cs: rank_value(cs[1]))  # stable ascending
    return [cell for cell, _ in reversed(ranked[-p:])]  # best first


def _last_best(candidates: list[tuple[Hashable, float]]) -> tuple[Hashable, float]:
    """The last of the tied maxima after a stable ascending sort by score (docs/paper-protocol.md)."""
    return sorted(candidates, key=lambda cs: rank_value(cs[1]))[-1]


def _validate(p, t, m, w, zero_cost_move, random_move_prob) -> None:
    for key, value in (("p", p), ("t", t), ("m", m), ("w", w)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"search.{key} must be an integer, got {value!r}")
    if p < 1:
        raise ConfigError(f"search.p (population size) must be >= 1, got {p}")
    if t < 1:
        raise ConfigError(f"search.t (tournament size) must be >= 1, got {t}")
    if t > p:
        raise ConfigError(f"search.t (tournament size) must be <= search.p, got t={t} > p={p}")
    if m < p:
        raise ConfigError(
            f"search.m must be >= search.p: the initial population counts as visited models, got m={m} < p={p}"
        )
    if w < 0:
        raise ConfigError(f"search.w (warmup pool size) must be >= 0 (0 disables warmup), got {w}")
    if not isinstance(zero_cost_move, bool):
        raise ConfigError(f"search.zero_cost_move must be true or false, got {zero_cost_move!r}")
    if (
        isinstance(random_move_prob, bool)
        or not isinstance(random_move_prob, Real)
        or not (math.isfinite(random_move_prob) and 0 <= random_move_prob <= 1)
    ):
        raise ConfigError(f"search.random_move_prob must be a number in [0, 1], got {random_move_prob!r}")
