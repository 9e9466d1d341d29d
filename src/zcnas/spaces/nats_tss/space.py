"""NATS-Bench topology search space as a ``SearchSpace``: the cells of ``cells`` and the networks of
``network`` (this package), called as they are, so every committed table regenerates identically.

Architectures are ``cells.Cell``; the index is NATS-Bench's; the identity key is the isomorphism key
behind NATS-Bench's 6,466 distinct cells.  Sampling and mutation are ``cells``'s own functions, so a
seed draws the cells of the committed searches.
"""

from __future__ import annotations

import random
from functools import lru_cache

from zcnas.spaces.nats_tss import cells
from zcnas.spaces.base import SearchSpace


class NatsTss(SearchSpace):
    name = "nats_tss"
    example = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|"
    size = cells.NUM_CELLS
    records_name = False  # its rosters and results predate the other spaces: they name none
    benchmark_group = True  # NATS-Bench's table or official files (benchmark=auto|table|nats_bench)
    rows_by_index = True
    network_sizes = {"C": 16, "N": 5}  # the benchmark's networks: 16 channels, 5 cells per stage

    def parse(self, text: str) -> cells.Cell:
        return cells.parse_arch(text)

    def format(self, arch: cells.Cell) -> str:
        return cells.format_arch(arch)

    def sample(self, rng: random.Random) -> cells.Cell:
        return cells.sample_cell(rng)

    def neighbours(self, arch: cells.Cell) -> list[cells.Cell]:
        return cells.neighbours(arch)

    def random_neighbour(self, arch: cells.Cell, rng: random.Random) -> cells.Cell:
        return cells.random_neighbour(arch, rng)

    def identity_key(self, arch: cells.Cell) -> str:
        return cells.isomorphism_key(arch)

    def build_network(self, arch, num_classes: int, input_size: int = 32, seed: int | None = None,
                      prune: bool = False):
        from zcnas.spaces.nats_tss.network import build_network

        return build_network(arch, num_classes, seed=seed, prune=prune)  # any input size (global pool)

    def sized_network(self, arch, num_classes: int, resolution: int, seed: int | None = None, C: int = 16,
                      N: int = 5):
        from zcnas.spaces.nats_tss.network import build_network

        return build_network(self.to_arch(arch), num_classes, seed=seed, channels=C, cells_per_stage=N,
                             resolution=resolution)

    def hardware_costs(self, source: str, dataset: str, key: str = "hw_costs"):
        from zcnas.spaces.nats_tss.hw_costs import read_hw_costs

        return read_hw_costs(source, dataset, key=key)

    def hardware_costs_file(self, source: str, dataset: str) -> str:
        from zcnas.spaces.nats_tss.hw_costs import csv_path

        return str(csv_path(source, dataset))

    def index_strings(self) -> tuple[str, ...]:
        return index_strings()

    def index(self, arch: cells.Cell) -> int:
        return cells.arch_index(arch)

    def from_index(self, index: int) -> cells.Cell:
        return cells.arch_from_index(index)

    def all_archs(self):
        return iter(cells.all_cells())

    def to_arch(self, value) -> cells.Cell:
        return value if isinstance(value, cells.Cell) else super().to_arch(value)


@lru_cache(maxsize=1)
def index_strings() -> tuple[str, ...]:
    """The string of every index, once for the process (every instance of the space shares it)."""
    return tuple(cells.format_arch(cells.arch_from_index(i)) for i in range(cells.NUM_CELLS))


NATS_TSS = NatsTss()
