"""PyTorch networks of the NATS-Bench topology space (``infer.tiny``, C=16, N=5 by default).

Macro skeleton (Dong et al., NATS-Bench; identical parameter counts):
stem 3x3 conv + BN -> N cells (C) -> reduction block -> N cells (2C) ->
reduction block -> N cells (4C) -> BN -> ReLU -> global average pool -> linear.
The paper's C=16, N=5 are what every score and benchmark accuracy refers to;
other widths and depths are for training on a user's task.  Any input
resolution that is a multiple of 4 works (two reductions, global pooling).

TorchScript: ``torch.jit.script`` compiles the full (unpruned) pass; the
pruned pass and the broadcast shortcut of ``ReLU`` are eager-only.

Construction draws the initial weights from torch's global RNG in module
order; ``build_network(cell, classes, seed)`` therefore fixes every weight,
and :func:`draw_weights` reproduces the same tensors without building modules.

Pruned forward pass (opt-in)
----------------------------
Every module of the cell is built (so the RNG is consumed as by the full pass:
the weights do not depend on ``prune``).
With ``prune=True`` (``build_network(..., prune=True)``, what the engine of
hook_logdet and snip uses; synflow's engine follows the same :func:`cell_plan`
functionally) the forward pass skips work that cannot change its result:

* ``none`` edges (they add exact zeros: ``a + 0*x == a``);
* nodes not reachable from the cell input by non-``none`` edges, which are
  exactly zero, and every operation applied to them (each operation maps an
  all-zero input to zero, see below); after a disconnected cell everything
  up to the classifier is zero, so the classifier sees zero features;
* operations whose output only reaches the cell output through ``none``
  edges (their result is multiplied by zero).

What stays observable is kept: every ``nn.ReLU`` that the full pass calls is
still called with the same values whenever a ReLU carries a forward hook (as
``hook_logdet`` registers), so hooks see exactly what they see in the full pass.  On a
zero node the ReLU receives a broadcast zero tensor (all strides 0) instead
of a materialized one; only the convolutions and BatchNorms whose result is
unused or known to be zero are skipped.  Any other hook (on another module,
a backward hook, or a global module hook) could observe the skipped modules,
so the pass then falls back to the full computation; so it does when
pruning would not be exact (below).  Skipped weights get no gradient (None)
where the full pass gives them an all-zero one.

Skipping is exact only when operations map zero to zero: bias-free convs
(always), and BatchNorm whose output for a zero input is zero (its bias is 0
in training mode -- true for a fresh network -- and additionally
``bias - running_mean * weight / sqrt(running_var + eps) == 0`` in eval
mode).  The forward pass checks this (and that every module is one of the
known kinds) and falls back to the full computation otherwise.  ``prune=False``,
the default, gives the full pass unconditionally (the reference computation,
see ``tests/reference_metrics.py``), so metrics that hook or inspect every
module see every module run on its real input.  The pruned pass also runs the
cells' 3x3 average pools in channels-last layout on the CPU (bit-identical,
see :func:`avg_pool_channels_last`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import nn
from torch.nn.modules import module as _module

from zcnas.spaces.base import seeded
from zcnas.spaces.nats_tss.cells import EDGES, NUM_NODES, Cell, to_cell

CONV_OPS = ("nor_conv_1x1", "nor_conv_3x3")


class ReLU(nn.ReLU):
    """``nn.ReLU`` that keeps a broadcast constant input broadcast (no full-size output)."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_scripting() and _broadcast_constant(input):
            return torch.relu(input.as_strided((), ())).expand(input.shape)
        return torch.relu(input)  # what nn.ReLU(inplace=False) computes


def _broadcast_constant(input: torch.Tensor) -> bool:
    return bool(input.dim() and input.numel() and not any(input.stride()))


class ReLUConvBN(nn.Sequential):
    """``nor_conv_k``: ReLU -> k x k conv (no bias) -> BN (affine, running stats)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1):
        super().__init__(
            ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
        )


class Zero(nn.Module):
    """``none``: the edge contributes zeros (kept as a module so forward is uniform)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def make_op(name: str, channels: int) -> nn.Module:
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown operation {name!r}")


# --- which parts of a cell matter -----------------------------------------

@dataclass(frozen=True)
class CellPlan:
    """What a cell's pruned forward pass computes, for a given input and observation.

    ``live[j]``: node j may be non-zero (reachable from a non-zero input by
    non-``none`` edges).  ``needed[j]``: node j's value is used -- it reaches
    the cell output through non-``none`` edges, or (``observe``) it is the
    input of a conv edge, whose ReLU is observed by hooks.
    ``full``: edges whose operation is applied and summed into their node;
    ``relu_only``: conv edges whose ReLU is called for the hooks only (their
    input is zero, or their output is unused).
    """

    live: tuple[bool, ...]
    needed: tuple[bool, ...]
    full: tuple[int, ...]
    relu_only: tuple[int, ...]


@lru_cache(maxsize=None)
def cell_plan(ops: tuple[str, ...], input_live: bool = True, observe: bool = False) -> CellPlan:
    live = [input_live] + [False] * (NUM_NODES - 1)
    for e, (to, frm) in enumerate(EDGES):
        if ops[e] != "none" and live[frm]:
            live[to] = True
    needed = [False] * (NUM_NODES - 1) + [True]
    for node in range(NUM_NODES - 2, -1, -1):
        for e, (to, frm) in enumerate(EDGES):
            if frm != node or ops[e] == "none":
                continue
            if needed[to] or (observe and ops[e] in CONV_OPS):
                needed[node] = True
    full, relu_only = [], []
    for e, (to, frm) in enumerate(EDGES):
        if ops[e] == "none":
            continue
        if live[frm] and needed[to]:
            full.append(e)
        elif observe and ops[e] in CONV_OPS and needed[frm]:
            relu_only.append(e)
    return CellPlan(tuple(live), tuple(needed), tuple(full), tuple(relu_only))


def _zeros(like: torch.Tensor, shape) -> torch.Tensor:
    """An all-zero tensor of ``shape`` that owns one element (all strides 0)."""
    return like.new_zeros(()).expand(*shape)


def avg_pool_channels_last(pool: nn.AvgPool2d, x: torch.Tensor) -> torch.Tensor:
    """``pool(x)`` computed in channels-last layout on the CPU, returned contiguous.

    PyTorch's CPU kernel for a contiguous (NCHW) input sums each window element
    by element; the channels-last kernel sums the same window elements in the
    same order, vectorized over channels, and divides by the same count, so
    the values are bit-identical (checked in tests/test_fast_paths.py) at a third
    of the time for the cells' 3x3 pools.  Its gradient is made contiguous
    again: a channels-last gradient reaching the convolutions upstream would
    select other kernels (same values up to rounding).
    """
    if x.device.type != "cpu" or x.dim() != 4 or not x.is_contiguous():
        return pool(x)
    xc = x.contiguous(memory_format=torch.channels_last)
    out = pool(xc)
    if out.requires_grad:
        # the backward pass runs in channels-last too, and hands the gradient
        # back in x's layout, as the NCHW kernel does
        out.register_hook(_channels_last)
        xc.register_hook(_contiguous)
    return out.contiguous()


def _channels_last(grad: torch.Tensor) -> torch.Tensor:
    return grad.contiguous(memory_format=torch.channels_last)


def _contiguous(grad: torch.Tensor) -> torch.Tensor:
    return grad.contiguous()


def _observation(root: nn.Module) -> bool | None:
    """None when something besides ReLU forward hooks may observe the pass; else whether a ReLU is hooked."""
    if (_module._global_forward_hooks or _module._global_forward_pre_hooks
            or _module._global_backward_hooks or _module._global_backward_pre_hooks):
        return None
    relu_hooked = False
    for m in root.modules():
        if m._backward_hooks or m._backward_pre_hooks:
            return None
        if m._forward_hooks or m._forward_pre_hooks:
            if not isinstance(m, nn.ReLU):
                return None
            relu_hooked = True
    return relu_hooked


class CellModule(nn.Module):
    """A cell: node j = sum over i < j of op_{j<-i}(node i); node 3 is the output."""

    def __init__(self, cell: Cell, channels: int):
        super().__init__()
        self.cell = cell
        self.edges = nn.ModuleList(make_op(op, channels) for op in cell.ops)
        self.prune = False
        # plain int lists, which TorchScript reads as module attributes
        self.targets = [to for to, _ in EDGES]
        self.sources = [frm for _, frm in EDGES]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.prune and not torch.jit.is_scripting():
            return self._pruned_or_full(x)
        return self.full_forward(x)

    @torch.jit.unused
    def _pruned_or_full(self, x: torch.Tensor) -> torch.Tensor:
        observe = _observation(self)
        if observe is None or not _zero_preserving(self):
            return self.full_forward(x)
        out, zero = self.pruned_forward(x, False, observe)
        return torch.zeros_like(x) if zero else out

    def full_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The unpruned pass: every edge, ``none`` included, in edge order."""
        # EDGES is ordered by target node, so a node's sum is complete before an edge reads it;
        # each node sums its edges left to right, in edge order
        nodes = [x]
        total = x
        for e, op in enumerate(self.edges):
            first = e == 0 or self.targets[e] != self.targets[e - 1]  # the first edge into its node
            if first and e > 0:
                nodes.append(total)
            out = op(nodes[self.sources[e]])
            total = out if first else total + out
        return total

    def pruned_forward(self, x: torch.Tensor, x_zero: bool, observe: bool) -> tuple[torch.Tensor, bool]:
        """(output, output is all zero); ``x_zero`` says the input is all zero (``x`` may be broadcast)."""
        plan = cell_plan(self.cell.ops, not x_zero, observe)
        nodes: list[torch.Tensor | None] = [x] + [None] * (NUM_NODES - 1)
        for node in range(1, NUM_NODES):
            total = None
            for e, (to, frm) in enumerate(EDGES):
                if to != node:
                    continue
                if e in plan.full:
                    op = self.edges[e]
                    out = avg_pool_channels_last(op, nodes[frm]) if isinstance(op, nn.AvgPool2d) else op(nodes[frm])
                    total = out if total is None else total + out
                elif e in plan.relu_only:
                    src = nodes[frm] if plan.live[frm] else _zeros(x, x.shape)
                    self.edges[e][0](src)  # for the hooks; the conv's result is unused or zero
            nodes[node] = total
        out = nodes[-1]
        return (out, False) if out is not None else (_zeros(x, x.shape), True)


class ReductionBlock(nn.Module):
    """Residual block halving resolution between stages (ResNet basic block)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride=2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3)
        self.shortcut = nn.Sequential(
            nn.AvgPool2d(2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))

    def zero_forward(self, x: torch.Tensor, observe: bool) -> torch.Tensor:
        """The (all-zero) output for an all-zero input ``x``; calls the ReLUs for their hooks."""
        n, _, h, w = x.shape
        c_out = self.conv_b[1].out_channels
        mid = (n, c_out, (h + 2 - 3) // 2 + 1, (w + 2 - 3) // 2 + 1)
        if observe:
            self.conv_a[0](x)
            self.conv_b[0](_zeros(x, mid))
        return _zeros(x, (n, c_out, h // 2, w // 2))


class TinyNetwork(nn.Module):
    """The NATS-Bench TSS network for one cell: ``channels`` C and ``cells_per_stage`` N (the paper's
    C=16, N=5 by default), for images of ``resolution`` x ``resolution`` (a multiple of 4)."""

    def __init__(self, cell: Cell | str | int, num_classes: int, channels: int = 16, cells_per_stage: int = 5,
                 prune: bool = False, resolution: int = 32):
        super().__init__()
        check_size(num_classes, channels, cells_per_stage, resolution)
        self.cell = to_cell(cell)
        self.resolution = resolution
        c = channels
        self.stem = nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        layers: list[nn.Module] = []
        for stage in range(3):
            if stage > 0:
                layers.append(ReductionBlock(c, 2 * c))
                c *= 2
            layers.extend(CellModule(self.cell, c) for _ in range(cells_per_stage))
        self.cells = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.BatchNorm2d(c), ReLU(inplace=False))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)
        self.prune = prune

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.prune and not torch.jit.is_scripting():
            return self._pruned_or_full(x)
        return self.full_forward(x)

    @torch.jit.unused
    def _pruned_or_full(self, x: torch.Tensor) -> torch.Tensor:
        observe = _observation(self)
        if observe is None or not _zero_preserving(self):
            return self.full_forward(x)
        x = self.stem(x)
        zero = False
        for layer in self.cells:
            if isinstance(layer, CellModule):
                x, zero = layer.pruned_forward(x, zero, observe)
            elif zero:
                x = layer.zero_forward(x, observe)
            else:
                x = layer(x)
        if not zero:
            x = self.head(x)
            return self.classifier(self.pool(x).flatten(1))
        if observe:
            self.head[1](x)
        return self.classifier(x.new_zeros(x.shape[:2]))

    def full_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The unpruned pass (``none`` edges and zero branches computed)."""
        x = self.stem(x)
        for layer in self.cells:
            x = layer.full_forward(x) if isinstance(layer, CellModule) else layer(x)
        x = self.head(x)
        return self.classifier(self.pool(x).flatten(1))


# --- when pruning is exact --------------------------------------------------

_KNOWN = (nn.Sequential, nn.ModuleList, CellModule, ReductionBlock, TinyNetwork, nn.Identity,
          nn.AvgPool2d, nn.ReLU, Zero, nn.AdaptiveAvgPool2d)


def _zero_preserving(root: nn.Module) -> bool:
    """Every module maps an all-zero input to zero (bias-free convs, BatchNorm giving 0 at 0)."""
    outputs_at_zero = []
    for m in root.modules():
        if isinstance(m, nn.Conv2d):
            if m.bias is not None:
                return False
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            value = _batchnorm_at_zero(m)
            if value is not None:
                outputs_at_zero.append(value.reshape(-1))
        elif isinstance(m, nn.Linear):
            if m is not getattr(root, "classifier", None):
                return False
        elif not isinstance(m, _KNOWN):
            return False
    return not outputs_at_zero or not bool(torch.cat(outputs_at_zero).any())  # one check (one sync on a GPU)


def _batchnorm_at_zero(bn: nn.modules.batchnorm._BatchNorm) -> torch.Tensor | None:
    """BatchNorm's output for an all-zero input (per channel), or None when it is 0 without computing."""
    shift = bn.bias.detach() if bn.affine else None
    if bn.training or bn.running_mean is None:  # batch statistics: (0 - 0) * invstd * w + b = b
        return shift
    scale = (bn.running_var + bn.eps).rsqrt()
    if bn.affine:
        scale = scale * bn.weight.detach()
    value = -bn.running_mean * scale
    return value if shift is None else value + shift


def check_size(num_classes: int, channels: int, cells_per_stage: int, resolution: int) -> None:
    """A one-line ``ConfigError`` for a network size that cannot be built."""
    from zcnas.errors import ConfigError

    for name, value, low in (("num_classes", num_classes, 1), ("C (channels)", channels, 1),
                             ("N (cells per stage)", cells_per_stage, 0), ("resolution", resolution, 4)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"{name} of a NATS-Bench network must be an integer >= {low}, got {value!r}")
    if resolution % 4:
        raise ConfigError(f"resolution {resolution}: a NATS-Bench network halves the image twice, so the "
                          "resolution must be a multiple of 4 (e.g. dataset.resolution=32)")


def build_network(cell: Cell | str | int, num_classes: int, seed: int | None = None,
                  prune: bool = False, channels: int = 16, cells_per_stage: int = 5,
                  resolution: int = 32) -> TinyNetwork:
    """A freshly initialized network; with ``seed`` its weights are reproducible.

    ``prune=True`` turns on the pruned forward pass (module docstring); the
    weights do not depend on it.  ``channels`` (C) and ``cells_per_stage`` (N)
    default to the paper's 16 and 5.
    """
    size = dict(channels=channels, cells_per_stage=cells_per_stage, prune=prune, resolution=resolution)
    with seeded(seed):
        return TinyNetwork(cell, num_classes, **size)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --- the weights without the modules ----------------------------------------

@lru_cache(maxsize=None)
def weight_layout(ops: tuple[str, ...], num_classes: int, channels: int = 16,
                  cells_per_stage: int = 5) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """(parameter name, shape) of every randomly initialized tensor, in the order construction draws them.

    Conv weights and the classifier's weight and bias; BatchNorm parameters
    are initialized to constants and draw nothing.  The names are those of
    ``TinyNetwork.named_parameters()``.
    """
    layout = [("stem.0.weight", (channels, 3, 3, 3))]
    c, index = channels, 0
    for stage in range(3):
        if stage > 0:
            p = f"cells.{index}"
            layout += [(f"{p}.conv_a.1.weight", (2 * c, c, 3, 3)), (f"{p}.conv_b.1.weight", (2 * c, 2 * c, 3, 3)),
                       (f"{p}.shortcut.1.weight", (2 * c, c, 1, 1))]
            c, index = 2 * c, index + 1
        for _ in range(cells_per_stage):
            for e, op in enumerate(ops):
                if op in CONV_OPS:
                    k = 1 if op == "nor_conv_1x1" else 3
                    layout.append((f"cells.{index}.edges.{e}.1.weight", (c, c, k, k)))
            index += 1
    layout += [("classifier.weight", (num_classes, c)), ("classifier.bias", (num_classes,))]
    return tuple(layout)


def draw_weights(cell: Cell | str | int, num_classes: int, seed: int) -> dict[str, torch.Tensor]:
    """The randomly initialized tensors of ``build_network(cell, num_classes, seed)``, without building it.

    Makes the same ``torch.nn.init`` calls on tensors of the same shapes in
    the same order as module construction, so the values are identical
    (tested against ``build_network``).
    """
    cell = to_cell(cell)
    out: dict[str, torch.Tensor] = {}
    with seeded(seed), torch.no_grad():
        for name, shape in weight_layout(cell.ops, num_classes):
            t = torch.empty(shape)
            if name == "classifier.bias":
                fan_in = out["classifier.weight"].shape[1]
                bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
                nn.init.uniform_(t, -bound, bound)
            else:
                nn.init.kaiming_uniform_(t, a=math.sqrt(5))
            out[name] = t
    return out
