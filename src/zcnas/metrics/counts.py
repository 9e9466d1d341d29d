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
"""

from __future__ import annotations

import math

import torch
from torch import nn

from zcnas.metrics.base import Metric
from zcnas.network import build_network
from zcnas.space import Cell


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


class Params(Metric):
    name = "params"

    def score_cell(self, cell: Cell) -> float:
        return params_score(build_network(cell, self.context.num_classes, seed=self.context.seed))


class Flops(Metric):
    name = "flops"

    def score_cell(self, cell: Cell) -> float:
        ctx = self.context
        return flops_score(build_network(cell, ctx.num_classes, seed=ctx.seed), ctx.input_shape)
