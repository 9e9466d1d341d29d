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
exactly, as in the full computation.

It needs no weight gradients.  A layer's output z = θ ∗ a is linear in its
weights θ, so Σ_i θ_i ∂R/∂θ_i = <∂R/∂z, z> (Euler's identity for a function
of degree 1 in θ).  And every term θ_i ∂R/∂θ_i is ≥ 0 -- θ ≥ 0, the all-ones
input and every activation a ≥ 0, ∂R/∂z ≥ 0 (positive linear maps and ReLU
masks carry the all-ones seed back) -- so the sum of |θ ⊙ ∂R/∂θ| equals
Σ_layers <∂R/∂z, z>.  The backward pass then only carries ∂R/∂z from layer to
layer: the weight-gradient half of each convolution's backward is skipped
(4.5-4.8x the straightforward code's speed instead of 3.2x,
results/bench/README.md).  Being a different order of the same sums, the
result equals ``synflow_score(build_network(cell, classes, seed), input_shape)``
up to float64 rounding (at most 4.2e-16 relative on 50 cells, 16 of them
bit-identical; tests/test_engine.py allows 1e-13).
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
    w = {name: t.to(device=device, dtype=torch.float64).abs_() for name, t in drawn.items() if name in used}
    outputs: list[torch.Tensor] = []  # every conv's output z, for Σ θ·∂R/∂θ = <∂R/∂z, z>

    def conv(x, name, stride=1):
        k = w[name].shape[-1]
        z = F.conv2d(x, w[name], None, (stride, stride), (k // 2, k // 2), (1, 1), 1)
        outputs.append(z)
        return z

    # the stem's output is the leaf of the graph: no gradient to the input image is needed
    x = F.conv2d(torch.ones((1, *input_shape), dtype=torch.float64, device=device), w["stem.0.weight"],
                 None, (1, 1), (1, 1), (1, 1), 1).requires_grad_(True)
    outputs.append(x)
    index = 0
    for stage in range(3):
        if stage > 0:
            p = f"cells.{index}"
            shortcut = F.conv2d(F.avg_pool2d(x, 2, 2, 0, False, True, None), w[f"{p}.shortcut.1.weight"],
                                None, (1, 1), (0, 0), (1, 1), 1)
            outputs.append(shortcut)
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
    # R = Σ_k (W x + b)_k: ∂R/∂(W x) is all ones, so the classifier weight's term is Σ_k (W x)_k
    wx = F.linear(x, w["classifier.weight"])
    classifier_term = wx.sum()
    deltas = torch.autograd.grad(classifier_term, outputs, allow_unused=True)
    with torch.no_grad():
        total = classifier_term.detach()
        for z, delta in zip(outputs, deltas):
            if delta is not None:
                total = total + (z * delta).sum()
    return float(total)


@register("synflow", needs=SHAPE, higher_is_better=True,
          model_score=lambda model, x: synflow_score(model, tuple(x.shape[1:]), x.device))
class Synflow(Metric):
    def score_cell(self, cell: Cell) -> float:
        ctx = self.context
        return synflow_cell(cell, ctx.num_classes, ctx.input_shape, ctx.seed, ctx.device)

    def score_network(self, net) -> float:
        return synflow_score(net, self.context.input_shape, self.context.device)
