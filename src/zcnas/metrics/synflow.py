"""synflow (Tanaka et al., NeurIPS 2020; used as a NAS proxy by Abdelfattah et al., ICLR 2021).

Paper section III-A: S = sum over conv and linear weights of |theta * dR/dtheta|,
where R is the sum of the outputs of the network with every parameter made
non-negative, in double precision, BatchNorm disabled (identity), for one
all-ones input.  No data is needed.  The model passed in is left untouched:
the computation runs on a copy.

Engine (``Synflow.score_cell``): the network of a cell is never built as
modules.  :func:`zcnas.network.draw_weights` draws the same weights as
``build_network(cell, classes, seed)`` (same init calls, same order), and
:func:`synflow_cell` runs the same double-precision convolutions, pools and
sums functionally, skipping what contributes exact zeros (``none`` edges,
zero nodes, operations that only feed ``none`` edges).  A disconnected cell
passes no signal: every weight gradient is zero and the score is 0.0
exactly, as in the full computation.  The result equals
``synflow_score(build_network(cell, classes, seed), input_shape)``
(tests/test_engine.py checks bit equality on a sample).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from zcnas.metrics.base import SHAPE, Metric, register
from zcnas.network import _avg_pool, cell_plan, draw_weights, weight_layout
from zcnas.space import EDGES, NUM_NODES, Cell, is_disconnected


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


_POOL = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)  # the cells' avg_pool_3x3


def _used_weights(ops: tuple[str, ...], num_classes: int) -> set[str]:
    """Names of the weights that the pruned computation touches."""
    plan = cell_plan(ops)
    used = set()
    for name, _ in weight_layout(ops, num_classes):
        if ".edges." in name:
            edge = int(name.split(".edges.")[1].split(".")[0])
            if edge not in plan.full:
                continue
        used.add(name)
    return used


def synflow_cell(cell: Cell, num_classes: int, input_shape: tuple[int, int, int], seed: int,
                 device: str | torch.device = "cpu") -> float:
    """synflow of ``build_network(cell, num_classes, seed)`` without building it (see module docstring)."""
    if is_disconnected(cell):
        return 0.0
    ops = cell.ops
    plan = cell_plan(ops)
    drawn = draw_weights(cell, num_classes, seed)
    used = _used_weights(ops, num_classes)
    w = {name: t.to(device=device, dtype=torch.float64).abs_().requires_grad_(True)
         for name, t in drawn.items() if name in used}

    def conv(x, name, stride=1):
        k = w[name].shape[-1]
        return F.conv2d(x, w[name], None, (stride, stride), (k // 2, k // 2), (1, 1), 1)

    x = conv(torch.ones((1, *input_shape), dtype=torch.float64, device=device), "stem.0.weight")
    index = 0
    for stage in range(3):
        if stage > 0:
            p = f"cells.{index}"
            shortcut = F.conv2d(F.avg_pool2d(x, 2, 2, 0, False, True, None), w[f"{p}.shortcut.1.weight"],
                                None, (1, 1), (0, 0), (1, 1), 1)
            a = conv(torch.relu(x), f"{p}.conv_a.1.weight", stride=2)
            x = shortcut + conv(torch.relu(a), f"{p}.conv_b.1.weight")
            index += 1
        for _ in range(5):
            nodes: list[torch.Tensor | None] = [x] + [None] * (NUM_NODES - 1)
            for node in range(1, NUM_NODES):
                total = None
                for e, (to, frm) in enumerate(EDGES):
                    if to != node or e not in plan.full:
                        continue
                    op, src = ops[e], nodes[frm]
                    if op == "skip_connect":
                        out = src
                    elif op == "avg_pool_3x3":
                        out = _avg_pool(_POOL, src)  # = F.avg_pool2d(src, 3, 1, 1, False, False), faster
                    else:  # a conv edge: ReLU -> conv -> (BatchNorm removed)
                        out = conv(torch.relu(src), f"cells.{index}.edges.{e}.1.weight")
                    total = out if total is None else total + out
                nodes[node] = total
            x = nodes[-1]
            index += 1
    x = F.adaptive_avg_pool2d(torch.relu(x), 1).flatten(1)
    F.linear(x, w["classifier.weight"], w["classifier.bias"]).sum().backward()
    total = torch.zeros((), dtype=torch.float64, device=device)
    for name, _ in weight_layout(ops, num_classes):
        if name in w and name != "classifier.bias" and w[name].grad is not None:
            total += (w[name] * w[name].grad).abs().sum()
    return float(total.detach())


@register("synflow", needs=SHAPE, higher_is_better=True,
          model_score=lambda model, x: synflow_score(model, tuple(x.shape[1:]), x.device))
class Synflow(Metric):
    def score_cell(self, cell: Cell) -> float:
        ctx = self.context
        return synflow_cell(cell, ctx.num_classes, ctx.input_shape, ctx.seed, ctx.device)

    def score_network(self, net) -> float:
        return synflow_score(net, self.context.input_shape, self.context.device)
