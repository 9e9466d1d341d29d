"""NATS-Bench topology search space as a ``SearchSpace``: the cells of ``zcnas.space`` and the
networks of ``zcnas.network``, called as they are, so every committed table regenerates identically.

Architectures are ``zcnas.space.Cell``; the index is NATS-Bench's; the identity key is the
isomorphism key behind NATS-Bench's 6,466 distinct cells.  Sampling and mutation are
``zcnas.space``'s own functions, so a seed draws the cells of the committed searches.
"""

from __future__ import annotations

import random

from zcnas import space as cells
from zcnas.spaces.base import SearchSpace


class NatsTss(SearchSpace):
    name = "nats_tss"
    example = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|"
    size = cells.NUM_CELLS
    cell_engines = True  # the metrics' score_cell takes these cells

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
        from zcnas.network import build_network

        return build_network(arch, num_classes, seed=seed, prune=prune)  # any input size (global pool)

    def index(self, arch: cells.Cell) -> int:
        return cells.arch_index(arch)

    def from_index(self, index: int) -> cells.Cell:
        return cells.arch_from_index(index)

    def all_archs(self):
        return iter(cells.all_cells())

    def to_arch(self, value) -> cells.Cell:
        return value if isinstance(value, cells.Cell) else super().to_arch(value)


NATS_TSS = NatsTss()
