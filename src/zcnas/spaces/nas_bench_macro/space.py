"""NAS-Bench-Macro as a ``SearchSpace`` (Su et al., "Prioritized Architecture Sampling with
Monte-Carlo Tree Search", CVPR 2021).

A network has 8 searchable layers in three stages of 2, 3 and 3 layers; each layer is ``0``
identity, ``1`` an inverted residual with expansion 3 and kernel 3, or ``2`` one with expansion 6
and kernel 5.  An architecture is the tuple of the 8 codes, written as the 8-digit string
(``"01201120"``); its index is that string read in base 3, the first layer most significant,
which is the row order of the benchmark table.  Plain Python: the torch network lives in
``zcnas.spaces.nas_bench_macro.network``, imported only by ``build_network``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from zcnas.errors import ArchError
from zcnas.spaces.base import SearchSpace, seeded

Arch = tuple[int, ...]

NUM_LAYERS = 8
OPS = (0, 1, 2)
#: op code -> (expansion, kernel) of its inverted residual; 0 is the identity
MBCONV = {1: (3, 3), 2: (6, 5)}
STAGES = (2, 3, 3)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
_HELP = "expected 8 digits 0/1/2 (0 identity, 1 MBConv e3 k3, 2 MBConv e6 k5), e.g. 01201120"


def layer_plan() -> list[tuple[int, int, int]]:
    """(in channels, out channels, stride) of the 8 layers: each stage opens with stride 2 and
    doubles the channels (32 -> 64 -> 128 -> 256); its other layers keep both."""
    plan, channels = [], STEM_CHANNELS
    for depth in STAGES:
        plan.append((channels, 2 * channels, 2))
        channels *= 2
        plan += [(channels, channels, 1)] * (depth - 1)
    return plan


PLAN = layer_plan()
#: positions of the stride-2 layers that open a stage (an identity there is a 1x1 conv)
STAGE_STARTS = tuple(i for i, (_, _, stride) in enumerate(PLAN) if stride == 2)


def macro_flops(arch: Arch, num_classes: int = 10, input_size: int = 32) -> int:
    """Multiply-adds for one image: convs k*k*C_in/groups*C_out*H_out*W_out, the classifier
    in*out; BN, ReLU and the residual adds are not counted.  For 32x32 inputs and 10 classes this
    equals the benchmark table's ``flops`` for all 6,561 architectures."""
    size = input_size  # the stem keeps the size (3x3, padding 1)
    total = 3 * 3 * 3 * STEM_CHANNELS * size * size
    for op, (c_in, c_out, stride) in zip(arch, PLAN):
        size_in, size = size, (size - 1) // stride + 1  # 1x1 conv or kxk with padding k//2
        if op == 0:
            total += c_in * c_out * size * size if stride != 1 or c_in != c_out else 0
        else:
            expansion, kernel = MBCONV[op]
            hidden = expansion * c_in
            total += c_in * hidden * size_in * size_in  # the 1x1 expansion runs before the stride
            total += kernel * kernel * hidden * size * size + hidden * c_out * size * size
    return total + PLAN[-1][1] * HEAD_CHANNELS * size * size + HEAD_CHANNELS * num_classes


class NasBenchMacro(SearchSpace):
    name = "nas_bench_macro"
    example = "01201120"
    size = len(OPS) ** NUM_LAYERS  # 6,561

    # --- strings ----------------------------------------------------------------------------
    def parse(self, text: str) -> Arch:
        if not isinstance(text, str):
            raise ArchError(f"an architecture of {self.name} is a string of 8 digits, got {text!r}; {_HELP}")
        digits = text.strip()
        if digits.startswith("|") or "~" in digits:
            raise ArchError(f"architecture {text!r} is a NATS-Bench cell, not one of {self.name}; {_HELP}")
        if len(digits) != NUM_LAYERS:
            raise ArchError(f"architecture {text!r} of {self.name} has {len(digits)} layers, {_HELP}")
        bad = sorted({c for c in digits if c not in "012"})
        if bad:
            raise ArchError(f"architecture {text!r} of {self.name} has unknown layer code(s) "
                            f"{', '.join(map(repr, bad))}; {_HELP}")
        return tuple(int(c) for c in digits)

    def format(self, arch: Arch) -> str:
        return "".join(str(op) for op in arch)

    # --- index: base 3, first layer most significant (the table's row order) ------------------
    def index(self, arch: Arch) -> int:
        value = 0
        for op in arch:
            value = 3 * value + op
        return value

    def from_index(self, index: int) -> Arch:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < self.size:
            raise ArchError(f"index {index!r} is not an architecture of {self.name}: "
                            f"give an integer 0..{self.size - 1} or an 8-digit string, e.g. {self.example}")
        ops = []
        for _ in range(NUM_LAYERS):
            index, op = divmod(index, 3)
            ops.append(op)
        return tuple(reversed(ops))

    def all_archs(self) -> Iterator[Arch]:
        return (self.from_index(i) for i in range(self.size))

    # --- sampling and mutation --------------------------------------------------------------
    def sample(self, rng: random.Random) -> Arch:
        return tuple(rng.choice(OPS) for _ in range(NUM_LAYERS))  # independent layers: uniform

    def neighbours(self, arch: Arch) -> list[Arch]:
        """The 16 architectures differing in one layer, layer by layer, ops ascending."""
        return [arch[:i] + (op,) + arch[i + 1:] for i in range(NUM_LAYERS) for op in OPS if op != arch[i]]

    def identity_key(self, arch: Arch) -> str:
        """An identity after a stage's first layer passes its input through, so within a stage
        only the order of the non-identity layers matters ("01" and "10" build the same network):
        the key moves those identities to the end of their stage.  3,969 keys; the benchmark table
        gives every architecture sharing a key the very same three accuracies."""
        ops = list(arch)
        for start, end in zip(STAGE_STARTS, [*STAGE_STARTS[1:], NUM_LAYERS]):
            rest = [op for op in ops[start + 1:end] if op != 0]
            ops[start + 1:end] = rest + [0] * (end - start - 1 - len(rest))
        return self.format(tuple(ops))

    # --- networks ---------------------------------------------------------------------------
    def build_network(self, arch: Arch, num_classes: int, input_size: int = 32, seed: int | None = None,
                      prune: bool = False):
        """The network of ``arch``; any input size (global pooling).  ``prune`` does nothing here:
        this space has no zero operations to skip."""
        from zcnas.spaces.nas_bench_macro.network import MacroNetwork

        arch = self.to_arch(arch)
        with seeded(seed):
            return MacroNetwork(arch, num_classes, input_size)
