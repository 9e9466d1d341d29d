"""synflow (Tanaka et al., NeurIPS 2020; used as a NAS proxy by Abdelfattah et al., ICLR 2021).

Paper section III-A: S = sum over conv and linear weights of |theta * dR/dtheta|,
where R is the sum of the outputs of the network with every parameter made
non-negative, in double precision, BatchNorm disabled (identity), for one
all-ones input.  No data is needed.  The model passed in is left untouched:
the computation runs on a copy.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from zcnas.metrics.base import Metric
from zcnas.network import build_network
from zcnas.space import Cell


def _without_batchnorm(model: nn.Module) -> nn.Module:
    for name, child in model.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            setattr(model, name, nn.Identity())
        else:
            _without_batchnorm(child)
    return model


def synflow_score(model: nn.Module, input_shape: tuple[int, ...], device: str | torch.device = "cpu") -> float:
    """synflow of ``model`` for inputs of shape ``input_shape`` (without the batch dimension)."""
    net = _without_batchnorm(copy.deepcopy(model)).to(device=device, dtype=torch.float64)
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    net.zero_grad(set_to_none=True)
    ones = torch.ones((1, *input_shape), dtype=torch.float64, device=device)
    net(ones).sum().backward()
    total = torch.zeros((), dtype=torch.float64, device=device)
    for module in net.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)) and module.weight.grad is not None:
            total += (module.weight * module.weight.grad).abs().sum()
    return float(total.detach())


class Synflow(Metric):
    name = "synflow"

    def score_cell(self, cell: Cell) -> float:
        ctx = self.context
        net = build_network(cell, ctx.num_classes, seed=ctx.seed)
        return synflow_score(net, ctx.input_shape, ctx.device)
