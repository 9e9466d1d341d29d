"""Your own search space, in one file: a plain CNN whose four layer widths are searched.

Run a search in it from the repository root (``examples/`` must be importable):

    PYTHONPATH=examples python run.py space=custom space._target_=width_space.WidthSpace \
        metric=synflow search=aging_warmup benchmark=none

A network is four conv3x3 + BatchNorm + ReLU layers (stride 2 at layers 2 and 4), a global average
pool and a linear classifier.  Each layer's width is one of ``WIDTHS``, so the space holds
4^4 = 256 architectures.  An architecture is the tuple of the four widths, written "16-32-32-64".
The choices are a keyword option: ``+space.options.widths=[16,32,64,128]`` (rosters record it).
docs/spaces.md explains what each method must guarantee.
"""

from __future__ import annotations

import random

from zcnas.errors import ArchError, ConfigError
from zcnas.spaces.base import SearchSpace, seeded

WIDTHS = (8, 16, 32, 64)  # the choices of every layer, unless the option widths gives others
STRIDES = (1, 2, 1, 2)  # one per layer: layers 2 and 4 halve the image
LAYERS = len(STRIDES)


class WidthSpace(SearchSpace):
    name = "width"  # what results and rosters record as their space
    example = "16-32-32-64"  # shown in error messages

    def __init__(self, widths=WIDTHS):
        # a keyword option (space.options): make_space passes it, rosters record it and rebuild with it
        if not isinstance(widths, (list, tuple)) or not widths or not all(
                isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in widths):
            raise ConfigError(f"space option widths must be a list of positive integers, e.g. [8,16,32,64], "
                              f"got {widths!r}")
        self.widths = tuple(sorted(set(widths)))
        # 4^4 = 256 by default; a size with index/from_index makes the space enumerable
        self.size = len(self.widths) ** LAYERS
        self._by_text = {str(w): w for w in self.widths}  # "16" -> 16: only the canonical spelling parses
        if self.widths != WIDTHS:
            self.example = self.format((self.widths[-1],) * LAYERS)

    # --- strings: parse(format(a)) == a; a bad string is a one-line ArchError ----------------
    def parse(self, text: str) -> tuple[int, ...]:
        arch = tuple(self._by_text.get(part) for part in str(text).strip().split("-"))
        if len(arch) != LAYERS or None in arch:
            raise ArchError(f"architecture {text!r} of space {self.name}: expected {LAYERS} widths from "
                            f"{', '.join(self._by_text)} joined by '-', e.g. {self.example}")
        return arch

    def format(self, arch: tuple[int, ...]) -> str:
        return "-".join(str(w) for w in arch)

    # --- optional integer index: base len(widths), the first layer most significant -----------
    def index(self, arch: tuple[int, ...]) -> int:
        value = 0
        for width in arch:
            value = value * len(self.widths) + self.widths.index(width)
        return value

    def from_index(self, index: int) -> tuple[int, ...]:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < self.size:
            raise ArchError(f"index {index!r} is not an architecture of space {self.name} (0..{self.size - 1})")
        widths = []
        for _ in range(LAYERS):
            index, digit = divmod(index, len(self.widths))
            widths.append(self.widths[digit])
        return tuple(reversed(widths))

    # --- sampling and mutation: only through the rng the search passes ----------------------
    def sample(self, rng: random.Random) -> tuple[int, ...]:
        return tuple(rng.choice(self.widths) for _ in range(LAYERS))  # independent layers: uniform

    def neighbours(self, arch: tuple[int, ...]) -> list[tuple[int, ...]]:
        """The architectures that differ in one layer's width (12 of the default widths), layer by layer,
        widths ascending."""
        return [arch[:i] + (w,) + arch[i + 1:] for i in range(LAYERS) for w in self.widths if w != arch[i]]

    # --- the network: torch is imported here only, so the space itself stays plain Python ----
    def build_network(self, arch, num_classes: int, input_size: int, seed: int | None = None, prune: bool = False):
        from torch import nn

        arch = self.to_arch(arch)  # a string, an index or a tuple
        layers, channels = [], 3
        with seeded(seed):  # the same seed, the same initial weights; the caller's random state is kept
            for width, stride in zip(arch, STRIDES):
                layers += [nn.Conv2d(channels, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
                channels = width
            # global pooling: any input_size works; prune has nothing to skip here
            return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes))
