"""params and flops: the model-size baselines of the zero-cost proxy
literature (Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR
2021; Ning et al., "Evaluating Efficient Performance Estimators of Neural
Architectures", NeurIPS 2021).  Neither needs data nor depends on the weights'
values.  Higher is better (bigger networks of a space tend to be more
accurate; that is the baseline every proxy should beat).

params
    The number of scalar parameters, Σ over ``model.parameters()`` of
    ``numel`` (every weight, bias and BatchNorm affine parameter; a shared
    parameter counts once; buffers such as running statistics do not count).
    For NATS cells it equals NATS-Bench's own count (in units, not MB).

flops
    The multiply-accumulates (MACs) of one forward pass of **one** input of
    the given shape (batch size 1), counting exactly:

    * ``nn.Conv1d/2d/3d``: (output elements) × (in_channels / groups) ×
      (kernel elements); ``nn.ConvTranspose*d``: (input elements) ×
      (out_channels / groups) × (kernel elements);
    * ``nn.Linear``: (output elements) × in_features;

    and nothing else: no bias additions, BatchNorm, activations, pooling,
    the additions that merge a cell's edges, or the ``none`` edges' zeroing.
    Every call of a module counts (a module used twice counts twice), and
    what runs is counted even if it cannot reach the output (a conv on an
    edge of a disconnected NATS cell still runs).  The forward pass runs in
    eval mode without gradients; the model's modes are restored.

NATS-Bench TSS cells (the ``@engine`` of ``Params``/``Flops`` for that space): both counts are sums over
modules, and every edge of every cell of a stage holds the same operation
module whatever its position, so a cell's count is affine in its six
operation choices: count(cell) = count(all-none) + Σ_e d(op_e), where
d(op) = (count(all-op) − count(all-none)) / 6.  The metrics count five probe
networks once per (classes, input shape) and then add; ``tests/test_zoo.py``
checks the sum against counting the built network.  A whole-space roster
takes seconds instead of building 15,625 networks.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
from torch import nn

from zcnas.metrics.base import NETWORK, SHAPE, Metric, declare, engine
from zcnas.spaces.nats_tss.network import build_network
from zcnas.spaces.nats_tss.cells import OPS, Cell
from zcnas.spaces.nats_tss.space import NatsTss


def params_score(model: nn.Module) -> float:
    """The number of scalar parameters of ``model`` (each shared parameter once)."""
    return float(sum(p.numel() for p in model.parameters()))


def _macs(module: nn.Module, inputs: tuple, output: torch.Tensor) -> int:
    if isinstance(module, nn.modules.conv._ConvTransposeNd):
        return (inputs[0][0].numel() * (module.out_channels // module.groups)
                * math.prod(module.kernel_size))
    if isinstance(module, nn.modules.conv._ConvNd):
        return output[0].numel() * (module.in_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, nn.Linear):
        return output[0].numel() * module.in_features
    return 0


def flops_score(model: nn.Module, input_shape: tuple[int, ...], device: str | torch.device | None = None) -> float:
    """Multiply-accumulates of conv and linear layers for one input of ``input_shape`` (no batch dimension)."""
    if device is None:
        param = next(iter(model.parameters()), None)
        device = param.device if param is not None else "cpu"
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    total = 0

    def count(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        total += _macs(module, inputs, output)

    layers = [m for m in model.modules() if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear))]
    modes = {m: m.training for m in model.modules()}
    handles = [m.register_forward_hook(count) for m in layers]
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros((1, *input_shape), dtype=dtype, device=device))
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes.items():
            m.train(mode)
    return float(total)


@lru_cache(maxsize=None)
def op_counts(kind: str, num_classes: int, input_shape: tuple[int, ...]) -> tuple[int, dict[str, int]]:
    """(count of the all-none network, {op: what one edge holding op adds}) for kind params or flops."""
    def count(op: str) -> int:
        net = build_network(Cell((op,) * 6), num_classes, seed=0)
        return int(params_score(net) if kind == "params" else flops_score(net, input_shape))

    base = count("none")
    per_edge = {}
    for op in OPS:
        added, rest = divmod(count(op) - base, 6)
        assert rest == 0, f"{kind} of {op} is not the same on every edge"
        per_edge[op] = added
    return base, per_edge


def cell_count(kind: str, cell: Cell, num_classes: int, input_shape: tuple[int, ...]) -> float:
    """params or flops of the NATS network of ``cell``, summed from ``op_counts`` (exact integers)."""
    base, per_edge = op_counts(kind, num_classes, tuple(input_shape))
    return float(base + sum(per_edge[op] for op in cell.ops))


@declare(needs=SHAPE, model_score=lambda model, x: params_score(model),
         fusion=NETWORK)
class Params(Metric):
    @engine(NatsTss)  # analytic: affine in the six operation choices
    def count_cell(self, cell: Cell) -> float:
        # the input size does not change the parameter count; any shape gives the same table
        return cell_count("params", cell, self.context.num_classes, self.context.input_shape)

    def score_network(self, net) -> float:
        return params_score(net)


@declare(needs=SHAPE, model_score=lambda model, x: flops_score(model, tuple(x.shape[1:]), x.device),
         fusion=NETWORK)
class Flops(Metric):
    @engine(NatsTss)  # analytic: affine in the six operation choices
    def count_cell(self, cell: Cell) -> float:
        return cell_count("flops", cell, self.context.num_classes, self.context.input_shape)

    def score_network(self, net) -> float:
        return flops_score(net, self.context.input_shape, self.context.device)
