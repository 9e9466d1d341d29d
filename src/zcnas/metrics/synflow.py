"""synflow (Tanaka et al., NeurIPS 2020; used as a NAS proxy by Abdelfattah et al., ICLR 2021).

Paper section III-A: S = sum over conv and linear weights of |theta * dR/dtheta|,
where R is the sum of the outputs of the network with every parameter made
non-negative, in double precision, BatchNorm disabled (identity), for one
all-ones input.  No data is needed.  The model passed in is left untouched:
the computation runs on a copy.

Engine for NATS-Bench TSS cells (``Synflow.score_nats_cell``, an ``@engine``
of that space; other spaces' networks are scored by ``synflow_score``): the
network of a cell is never built as modules.
:func:`zcnas.spaces.nats_tss.network.draw_weights` draws the same weights as
``build_network(cell, classes, seed)`` (same init calls, same order), and
:func:`synflow_cell` runs the same double-precision convolutions, pools and
sums functionally, skipping what contributes exact zeros (``none`` edges,
zero nodes, operations that only feed ``none`` edges).  A disconnected cell
passes no signal: every weight gradient is zero and the score is 0.0
exactly, as in the full computation.

It needs no backward pass.  All weights θ ≥ 0, the input and every
activation are ≥ 0, and ∂R/∂θ ≥ 0 (positive linear maps and ReLU masks), so
Σ |θ ⊙ ∂R/∂θ| = Σ θ ⊙ ∂R/∂θ over the conv and linear weights, which is the
derivative d/dt R((1 + t)θ) at t = 0 -- R is a sum over the network's paths of
the product of their weights, and scaling every weight by (1 + t) multiplies
a path of L weighted layers by (1 + t)^L.  The engine computes that derivative
in the forward pass itself (forward-mode differentiation): each tensor travels
with its derivative u, and a layer v' = θ∗v gives u' = θ∗(u + v), both in one
convolution of a batch of two.  No graph is recorded and no weight or input
gradient is formed, and the batch of two lets a second thread work: 4.1-4.8x
the straightforward code's speed at idle with 2 threads and 3.95x with 1 thread
beside a busy loop, against 3.2-3.3x and 3.0x with weight gradients
(results/bench/README.md).  Being other sums of the same
products, the result equals ``synflow_score(build_network(cell, classes,
seed), input_shape)`` up to float64 rounding (at most 6.3e-16 relative on 50
cells; tests/test_fast_paths.py allows 1e-13).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from zcnas.metrics.base import NETWORK, SHAPE, Metric, declare, engine
from zcnas.spaces.nats_tss.network import avg_pool_channels_last, cell_plan, draw_weights, weight_layout
from zcnas.spaces.nats_tss.cells import EDGES, NUM_NODES, Cell, is_disconnected
from zcnas.spaces.nats_tss.space import NatsTss


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

    # Every tensor below is a pair T = [v; u] along the batch dimension: v the network's value,
    # u its derivative d/dt as every conv/linear weight θ becomes (1 + t)θ (see the module docstring).
    def conv(t, name, stride=1):  # v' = θ∗v, u' = θ∗u + θ∗v = θ∗(u + v): one call for both
        k = w[name].shape[-1]
        return F.conv2d(torch.cat([t[:1], t[:1] + t[1:]]), w[name], None, (stride, stride), (k // 2, k // 2),
                        (1, 1), 1)

    def relu(t):  # u' = relu'(v)·u, relu'(0) = 0 as autograd has it
        return torch.cat([torch.relu(t[:1]), t[1:] * (t[:1] > 0)])

    with torch.no_grad():
        stem = F.conv2d(torch.ones((1, *input_shape), dtype=torch.float64, device=device), w["stem.0.weight"],
                        None, (1, 1), (1, 1), (1, 1), 1)
        x = torch.cat([stem, stem])  # the input is constant in t: u = 0 + θ∗ones = v
        index = 0
        for stage in range(3):
            if stage > 0:
                p = f"cells.{index}"
                shortcut = conv(F.avg_pool2d(x, 2, 2, 0, False, True, None), f"{p}.shortcut.1.weight")
                a = conv(relu(x), f"{p}.conv_a.1.weight", stride=2)
                x = shortcut + conv(relu(a), f"{p}.conv_b.1.weight")
                index += 1
            for _ in range(5):
                nodes: list[torch.Tensor | None] = [x] + [None] * (NUM_NODES - 1)
                activated: dict[int, torch.Tensor] = {}  # relu of a node, shared by its conv edges
                for node in range(1, NUM_NODES):
                    total = None
                    for e, (to, frm) in enumerate(EDGES):
                        if to != node or e not in plan.full:
                            continue
                        op, src = ops[e], nodes[frm]
                        if op == "skip_connect":
                            out = src
                        elif op == "avg_pool_3x3":
                            out = avg_pool_channels_last(_POOL, src)  # _POOL(src) bit for bit, faster
                        else:  # a conv edge: ReLU -> conv -> (BatchNorm removed)
                            if frm not in activated:
                                activated[frm] = relu(src)
                            out = conv(activated[frm], f"cells.{index}.edges.{e}.1.weight")
                        total = out if total is None else total + out
                    nodes[node] = total
                x = nodes[-1]
                index += 1
        x = F.adaptive_avg_pool2d(relu(x), 1).flatten(1)
        # R = Σ_k (W x + b)_k; the bias is not a weight of synflow's sum: dR/dt = Σ_k (W (x_v + x_u))_k
        return float(F.linear(x[:1] + x[1:], w["classifier.weight"]).sum())


@declare(needs=SHAPE, model_score=lambda model, x: synflow_score(model, tuple(x.shape[1:]), x.device),
         fusion=NETWORK)
class Synflow(Metric):
    @engine(NatsTss)  # network-free: the same sums on the weights build_network would draw
    def score_nats_cell(self, cell: Cell) -> float:
        ctx = self.context
        return synflow_cell(cell, ctx.num_classes, ctx.input_shape, ctx.seed, ctx.device)

    def score_network(self, net) -> float:
        return synflow_score(net, self.context.input_shape, self.context.device)
