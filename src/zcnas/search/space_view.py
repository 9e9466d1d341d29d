"""The searches' view of a space: sampling and mutation, restricted to feasible architectures.

A constraint (``feasible``: arch -> bool, e.g. a latency budget from HW-NAS-Bench) is applied
here, once, so that every search respects it the same way:

* ``sample`` redraws until it draws a feasible architecture (rejection sampling: uniform over
  the feasible set); a budget no draw meets in ``MAX_DRAWS`` tries is a one-line error;
* ``neighbours`` keeps the feasible ones (the aging search's zero-cost move picks among them);
* ``random_neighbour`` draws uniformly among the feasible neighbours; with none (every
  one-edit change breaks the budget) it draws a fresh feasible architecture instead.

Without a constraint every call is the space's own, so a seed draws exactly what it drew before.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable

from zcnas.errors import ConfigError
from zcnas.spaces.base import SearchSpace

MAX_DRAWS = 100_000


class SpaceView:
    def __init__(self, space: SearchSpace, feasible: Callable[[Hashable], bool] | None = None):
        self.space = space
        self.feasible = feasible

    def sample(self, rng: random.Random) -> Hashable:
        if self.feasible is None:
            return self.space.sample(rng)
        for _ in range(MAX_DRAWS):
            arch = self.space.sample(rng)
            if self.feasible(arch):
                return arch
        raise ConfigError(f"no architecture of {self.space.name} drawn in {MAX_DRAWS:,} tries meets the search's "
                          "constraint (search.max_cost); loosen the budget")

    def neighbours(self, arch: Hashable) -> list[Hashable]:
        found = self.space.neighbours(arch)
        return found if self.feasible is None else [n for n in found if self.feasible(n)]

    def random_neighbour(self, arch: Hashable, rng: random.Random) -> Hashable:
        if self.feasible is None:
            return self.space.random_neighbour(arch, rng)
        options = self.neighbours(arch)
        return rng.choice(options) if options else self.sample(rng)
