"""The search-space interface: what every space (NATS-Bench TSS, NAS-Bench-Macro, NAS-Bench-101,
a user's own) provides, so that metrics, rosters, studies and searches need no space-specific code.

An architecture is whatever immutable, hashable value the space chooses (a tuple, a frozen
dataclass); everything outside the space handles it only through these methods and its string.
Plain Python: torch is imported only when a network is built (``build_network``, ``seeded``).
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any

from zcnas.errors import ArchError


@contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """With a seed, torch draws inside come from ``torch.manual_seed(seed)`` and the caller's
    random state is put back after: a network built with a seed is reproducible without moving
    the caller's stream.  ``None``: nothing changes (draws advance the caller's stream)."""
    if seed is None:
        yield
        return
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


#: what a custom space class must define (the abstract methods below); checked when it is loaded
REQUIRED = ("parse", "format", "sample", "neighbours", "build_network")


class SearchSpace(ABC):
    """One search space.  Subclass it, set ``name`` and ``example``, implement the abstract methods.

    Optional: ``size`` with ``from_index``/``index`` (an integer index 0..size-1, which rosters
    record and which makes the space enumerable for whole-space scoring), ``identity_key`` (a
    key shared by architectures that compute the same function, for ``share_isomorphic``) and
    ``random_neighbour`` (defaults to a uniform choice among ``neighbours``).
    """

    #: the name rosters and results record (``space=<name>``)
    name: str = ""
    #: an architecture string of this space, shown in error messages
    example: str = ""
    #: number of architectures when the space has an integer index, else None
    size: int | None = None
    #: the keyword arguments the space was built with (a custom space's ``space.options``), set by
    #: ``zcnas.spaces.make_space``; rosters of a custom space record them, and are read back with them
    space_options: dict = {}
    #: whether results and rosters record ``space=<name>``.  NATS-Bench TSS's record no space (they were
    #: written before there were others and stay as they were): a record naming none is of ``spaces.UNNAMED``
    records_name: bool = True
    #: whether the ground truth is the ``benchmark`` config group (NATS-Bench's table or official files);
    #: any other space reads its own table (``space.table``, or ``benchmark.path=<table>``)
    benchmark_group: bool = False
    #: how a roster's rows are checked: by index (True: the ``arch`` column must be that index's string, one
    #: vectorized pass, the index within 0..size-1) or by string (False: each ``arch`` parsed and written
    #: canonically, the index that of the string)
    rows_by_index: bool = False
    #: the size options its networks take (``zcnas.build``, ``task=train``) and the values the benchmark
    #: trained (NATS-Bench's C channels and N cells per stage); {} when its networks have fixed sizes
    network_sizes: dict = {}

    # --- strings --------------------------------------------------------------------------
    @abstractmethod
    def parse(self, text: str) -> Hashable:
        """The architecture an architecture string names; a one-line ``ArchError`` if it names none."""

    @abstractmethod
    def format(self, arch: Hashable) -> str:
        """The canonical string of ``arch`` (``parse(format(a)) == a``)."""

    # --- sampling and mutation -----------------------------------------------------------
    @abstractmethod
    def sample(self, rng: random.Random) -> Hashable:
        """An architecture drawn uniformly from the space, using only ``rng``."""

    @abstractmethod
    def neighbours(self, arch: Hashable) -> list[Hashable]:
        """The architectures one edit away, in a fixed order (the aging search's zero-cost move)."""

    def random_neighbour(self, arch: Hashable, rng: random.Random) -> Hashable:
        """A uniformly chosen one-edit mutation (the aging search's random move)."""
        return rng.choice(self.neighbours(arch))

    def identity_key(self, arch: Hashable) -> Hashable:
        """Shared by architectures that compute the same function (default: the string itself)."""
        return self.format(arch)

    def identity_classes(self) -> Callable[[int | str], Hashable]:
        """A function: roster key (``key``) -> the ``identity_key`` of the architecture it names.

        ``share_isomorphic`` scores one member per class and the roster metric charges shared rows
        by it; each key's class is computed once per function, since callers ask several times.
        """
        cache: dict = {}

        def of(key: int | str) -> Hashable:
            if key not in cache:
                cache[key] = self.identity_key(self.from_key(key))
            return cache[key]

        return of

    # --- networks --------------------------------------------------------------------------
    @abstractmethod
    def build_network(self, arch: Hashable, num_classes: int, input_size: int, seed: int | None = None,
                      prune: bool = False) -> Any:
        """The ``torch.nn.Module`` of ``arch`` for a dataset; ``seed`` fixes its initial weights.

        ``prune`` asks for a forward pass that skips work known to be zero where the space has one
        (NATS-Bench TSS); spaces without one ignore it.
        """

    def sized_network(self, arch: Hashable, num_classes: int, resolution: int, seed: int | None = None,
                      **sizes) -> Any:
        """The network ``zcnas.build`` and ``task=train`` give: sized by ``sizes`` (the options of
        ``network_sizes``) for ``resolution`` x ``resolution`` images.  Default: ``build_network``'s,
        drawn without touching the caller's random state."""
        import torch

        with torch.random.fork_rng(devices=[]):
            return self.build_network(self.to_arch(arch), num_classes, resolution, seed=seed)

    # --- optional hardware costs -----------------------------------------------------------
    def hardware_costs(self, source: str, dataset: str, key: str = "hw_costs") -> Any:
        """Measured hardware costs of every architecture on ``dataset``'s networks, read from ``source``
        (``cost(name, index)``, ``check_cost_name``: ``zcnas.spaces.nats_tss.hw_costs.HwCosts``); None
        when the space has none.  ``key``: the config key ``source`` came from, for messages."""
        return None

    def hardware_costs_file(self, source: str, dataset: str) -> str | None:
        """The file ``hardware_costs`` reads for ``dataset`` (a job records its content); None without costs."""
        return None

    # --- optional enumeration --------------------------------------------------------------
    @property
    def indexed(self) -> bool:
        return self.size is not None

    def index(self, arch: Hashable) -> int | None:
        """The integer index of ``arch``, or None when the space has no index."""
        return None

    def from_index(self, index: int) -> Hashable:
        raise ArchError(f"space {self.name} has no integer index: name architectures by their string "
                        f"(e.g. {self.example})")

    def all_archs(self) -> Iterator[Hashable]:
        """Every architecture in index order (only for spaces with an index)."""
        if self.size is None:
            raise ArchError(f"space {self.name} cannot be enumerated: score a sample (sample=N) or "
                            "the architectures of its benchmark table")
        return (self.from_index(i) for i in range(self.size))

    def index_strings(self) -> tuple[str, ...]:
        """The canonical string of every index, computed once (checking a whole roster needs all of them)."""
        cached = self.__dict__.get("_index_strings")
        if cached is None:
            cached = self.__dict__["_index_strings"] = tuple(self.format(a) for a in self.all_archs())
        return cached

    # --- conveniences built on the above ---------------------------------------------------
    def key(self, arch: Hashable) -> int | str:
        """What names an architecture's roster row: its index, or its canonical string without one."""
        return self.index(arch) if self.indexed else self.format(arch)

    def from_key(self, key: int | str) -> Hashable:
        return self.from_index(key) if self.indexed else self.parse(key)

    def to_arch(self, value: Any) -> Hashable:
        """An architecture from its string, its index (indexed spaces) or itself."""
        if isinstance(value, str):
            return self.parse(value)
        if isinstance(value, bool):
            raise ArchError(f"an architecture of {self.name} is a string like {self.example}, got {value!r}")
        if isinstance(value, int):
            return self.from_index(value)
        try:
            return self.parse(self.format(value))  # one of ours: round-trips
        except Exception:
            raise ArchError(f"{value!r} is not an architecture of space {self.name} "
                            f"(give its string, e.g. {self.example})") from None

    def canonical(self, text: str) -> str:
        return self.format(self.parse(text))

    def __repr__(self) -> str:
        return f"<search space {self.name}>"
